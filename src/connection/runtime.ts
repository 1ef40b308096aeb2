import type { AnyActorRef, SnapshotFrom } from 'xstate';
import type { ConnectionContext, ConnectionEvent, Failure, TokenReason } from '../../machines/connection.types.js';
import type { ConnectionMachine } from '../../machines/connection.machine.js';
import type { OutgoingFrame } from '../protocol/adapter.js';
import { classifyClose, classifyErrorFrame } from '../protocol/close-codes.js';
import { closeRuleOf, operationCodecOf } from '../protocol/capabilities.js';
import { exactBytes } from '../protocol/frame-bytes.js';
import type { Operations } from '../protocol/operations.js';
import { ErrorCode, SocketchartError, closedError, isSocketchartError, releaseFrames, type Recovery } from '../protocol/errors.js';
import { redactDeep, redactUrl, secretRedactor } from '../protocol/redact.js';
import { ConnectionMetrics } from '../metrics/connection-metrics.js';
import { Emitter, attempt } from '../events/emitter.js';
import { releaseActor } from './actor-system.js';
import type { EnvironmentEvent } from '../environment/environment.js';
import type { TimerHandle } from '../environment/clock.js';
import type { SocketCallbacks } from '../transport/socket-actor.js';
import { ReadyState, type WebSocketLike } from '../transport/websocket-like.js';
import type { ConnectionEvents } from './events.js';
import { Inbound } from './inbound.js';
import { DISPOSED, IDLE, linkStateOf, type LinkState } from './link-state.js';
import type { ResolvedOptions } from './options.js';
import { missingFeature, type FeatureSet } from './features.js';
import { Outbound } from './outbound.js';
import { Router } from './router.js';
import { connectionStatuses } from './types.js';

export type ConnectionSnapshot = SnapshotFrom<ConnectionMachine>;

const envEventTypes: Record<EnvironmentEvent, ConnectionEvent['type']> = {
  online: 'env.online',
  offline: 'env.offline',
  hidden: 'page.hidden',
  visible: 'page.visible',
  freeze: 'page.freeze',
  resume: 'page.resume',
};

const failureStatuses = new Set(['reconnecting', 'circuitOpen', 'failed']);

/** A machine failure as the app sees it: a `SocketchartError`. */
export function errorOf(failure: Failure): SocketchartError {
  if (isSocketchartError(failure)) return failure;
  return new SocketchartError(failure.code as ErrorCode, {
    message: failure.message,
    recovery: failure.recovery as Recovery,
    retryAfterMs: failure.retryAfterMs,
  });
}

/** The name of what was thrown (its message may hold a secret). */
const kindOf = (cause: unknown): string => (cause instanceof Error ? cause.name : typeof cause);

/**
 * Everything one connection owns around its statechart: the socket, the token, the data plane (inbound
 * and outbound), metrics, listeners and logs. It carries out what the machine asks (the effects supplied
 * with `.provide()`), tells the machine what happens (events), and reads what a state allows from each
 * snapshot (`link`). It never decides state.
 */
export class ConnectionRuntime implements SocketCallbacks {
  readonly options: ResolvedOptions;
  /** The optional parts this connection has. */
  readonly features: FeatureSet;
  readonly metrics: ConnectionMetrics;
  readonly events = new Emitter<ConnectionEvents>();
  readonly inbound: Inbound;
  /** The live operations, for a protocol that runs them. */
  readonly operations: Operations | undefined;
  actor: AnyActorRef | undefined;
  /** What the state allows, as of the machine's last transition. */
  link: LinkState = IDLE;
  /** The open socket, if any. */
  ws: WebSocketLike | null = null;
  /** Id of the socket actor whose socket is open. */
  socketId = 0;
  /** Sockets this connection has dialed (invariant checks). */
  dials = 0;
  #currentToken: string | undefined;
  /** The url of the last dial (the url function's answer, before a query token). */
  dialedUrl: string | undefined;
  #freshToken: string | undefined;
  private context: ConnectionContext | undefined;
  private pingAt: number | undefined;
  private routes_: Router | undefined;
  private outbound_: Outbound | undefined;
  private releaseEnvironment: (() => void) | undefined;
  /**
   * A connection of the shared parent lets go of its actor at rest (closed, failed), so that nothing but
   * its handle keeps it; the handle starts a fresh actor when it starts again.
   */
  private restingOwner: AnyActorRef | undefined;
  /** The actor is being released at rest: its stop is not the end of the connection. */
  private releasing = false;
  /** Channels whose subscribe the server's control rate limit refused, asked again when `resubscribeTimer` fires. */
  private refusedSubscribes: Set<string> | undefined;
  private resubscribeTimer: TimerHandle;
  /** Calls of the connection's own that error frames may concern (presence requests). */
  private claims: Array<(error: SocketchartError) => boolean> | undefined;

  constructor(options: ResolvedOptions, features: FeatureSet) {
    this.options = options;
    this.features = features;
    this.metrics = new ConnectionMetrics(connectionStatuses, options.clock);
    this.metrics.onState(IDLE.status);
    this.inbound = new Inbound(this);
    if (options.store) this.outbound_ = new Outbound(this);
    const codec = operationCodecOf(options.protocol);
    if (codec !== undefined && features.operations === undefined) throw missingFeature('operations', `the ${options.protocol.name} protocol's operations`);
    this.operations = codec === undefined ? undefined : features.operations!.engine(this, codec);
  }

  /** The outbound data plane, created when something is first sent (at once with a persistence store, whose outbox loads). */
  get outbound(): Outbound {
    return (this.outbound_ ??= new Outbound(this));
  }

  /** Messages waiting in the outbound queue. */
  get queued(): number {
    return this.outbound_?.size ?? 0;
  }

  /** The subscription router, created when something first listens. */
  get router(): Router {
    return (this.routes_ ??= new Router(this.operations && ((channel) => this.operations!.release(channel))));
  }

  get routes(): Router | undefined {
    return this.routes_;
  }

  get status() {
    return this.link.status;
  }

  /** The session the server confirmed on this socket (its user id), if any. */
  get session(): ConnectionContext['session'] {
    return this.context?.session ?? null;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.options.name, status: this.link.status, queued: this.queued };
  }

  /** Runs the connection's actor: follows its snapshots. */
  attach(actor: AnyActorRef): void {
    this.actor = actor;
    actor.subscribe(this);
  }

  /** At rest, the actor is released by `owner` (the shared parent); see `restingOwner`. */
  releaseAtRest(owner: AnyActorRef): void {
    this.restingOwner = owner;
  }

  get releasesAtRest(): boolean {
    return !!this.restingOwner;
  }

  /** Follows the connection actor: what each state allows, metrics, logs and `state` / `failover` / `snapshot` events. */
  next(snapshot: ConnectionSnapshot): void {
    this.following = true;
    this.follow(snapshot);
    this.following = false;
    this.disposing?.();
  }

  /** Set while a snapshot is followed: its events reach every listener before those of a dispose one of them made. */
  private following = false;
  private disposing: (() => void) | undefined;

  private follow(snapshot: ConnectionSnapshot): void {
    const before = this.link;
    // disposed from a listener, the actor may still take what waited in its mailbox: it stays closed
    const link = before === DISPOSED ? before : linkStateOf(snapshot);
    this.link = link;
    if (this.events.has('snapshot')) this.events.emit('snapshot', snapshot);
    const previous = this.context;
    const context = (this.context = snapshot.context);
    if (previous && previous.urlIndex !== context.urlIndex) this.announceFailover(previous.urlIndex, context.urlIndex);
    if (link.writable && !before.writable) this.outbound_?.endThrottle();
    if (before.settled && !link.settled) this.outbound_?.reopened();
    const { status } = link;
    if (status === before.status) return;
    this.metrics.onState(status);
    this.log('debug', `${before.status} → ${status}`);
    if (status === 'reconnecting') this.log('info', `reconnecting in ${Math.max(0, context.retryAt - this.options.clock.now())} ms`, { attempt: context.attempt, kind: context.retryKind });
    if (status === 'circuitOpen') this.log('warn', 'circuit open', { trips: context.circuit.trips, failures: context.circuit.failures });
    if (this.events.has('state')) {
      const reason = failureStatuses.has(status) && context.lastError ? this.redact(context.lastError.message) : undefined;
      this.events.emit('state', { status, previous: before.status, reason });
    }
    if (this.restingOwner && link.settled) {
      // once the listeners are done: a start() or retry() one of them made waits in the actor's mailbox
      queueMicrotask(() => {
        if (!this.link.settled || this.actor!.getSnapshot().status !== 'active') return;
        this.releasing = true;
        releaseActor(this.actor!, this.restingOwner!);
      });
    }
  }

  /** The actor stopped (disposed, or stopped by the app that embeds it): nothing it holds outlives it. */
  complete(): void {
    if (this.releasing) this.releasing = false;
    else this.dispose();
  }

  /** The actor failed (an exception thrown inside it): over as if stopped; the exception is still reported as unhandled. */
  error(error: unknown): void {
    this.dispose();
    throw error;
  }

  toMachine(event: ConnectionEvent): void {
    this.actor?.send(event);
  }

  /** Something waits in the outbound queue. */
  wake(): void {
    this.toMachine({ type: 'queue.pending' });
  }

  // Environment

  /** Listens to the environment, and tells the machine any fact that changed while it was not listening. */
  watchEnvironment(): void {
    if (this.releaseEnvironment) return;
    const env = this.options.environment;
    this.releaseEnvironment = env.subscribe((event) => {
      // the answer to a ping in flight as the page freezes would time the freeze, not a round trip
      if (event === 'freeze') this.pingAt = undefined;
      this.toMachine({ type: envEventTypes[event] } as ConnectionEvent);
    });
    const context = this.context;
    const online = env.isOnline?.() ?? true;
    const hidden = env.isHidden?.() ?? false;
    if (context && context.online !== online) this.toMachine({ type: online ? 'env.online' : 'env.offline' });
    if (context && context.hidden !== hidden) this.toMachine({ type: hidden ? 'page.hidden' : 'page.visible' });
  }

  unwatchEnvironment(): void {
    this.releaseEnvironment?.();
    this.releaseEnvironment = undefined;
  }

  private announceFailover(from: number, to: number): void {
    const urls = this.options.urls;
    if (!urls) return;
    const event = { from, to, url: this.redact(urls[to]!) };
    this.log('warn', to === 0 ? 'back on the primary url' : 'failing over', event);
    this.events.emit('failover', event);
  }

  // Tokens

  async obtainToken(reason: TokenReason): Promise<string | undefined> {
    const auth = this.options.auth;
    if (!auth) return undefined;
    let token: string | undefined;
    try {
      token = typeof auth.token === 'string' ? auth.token : await auth.token({ reason });
    } catch (cause) {
      // what the provider threw (its message may quote a token) is only the cause, which inspection never shows;
      // a SocketchartError of its own is redacted
      throw isSocketchartError(cause)
        ? this.redactError(cause)
        : new SocketchartError(ErrorCode.AUTHENTICATION_FAILED, { message: 'The token provider failed', recovery: 'retry', cause });
    }
    if (typeof token !== 'string' || token === '') {
      throw new SocketchartError(ErrorCode.AUTHENTICATION_FAILED, { message: 'The token provider returned no token', recovery: 'retry' });
    }
    return token;
  }

  /** The in-band refresh, first step: a fresh token, kept here (never in the machine); one that comes after its socket is gone is dropped. */
  async fetchRefreshToken(socket = this.socketId): Promise<void> {
    const token = await this.obtainToken('refresh');
    if (socket === this.socketId) this.#freshToken = token;
  }

  /** The in-band refresh, second step: the fresh token, sent on the open socket. */
  sendRefreshedToken(): void {
    const token = this.#freshToken;
    this.#freshToken = undefined;
    if (token === undefined) return;
    this.useToken(token);
    this.write(attempt(() => this.options.protocol.refreshFrame(token)));
  }

  // The socket actor's callbacks

  token(reason: TokenReason): string | undefined | Promise<string | undefined> {
    const auth = this.options.auth;
    if (!auth || typeof auth.token === 'string') return auth?.token as string | undefined;
    return this.obtainToken(reason);
  }

  open(token: string | undefined, urlIndex: number): WebSocketLike {
    const { options } = this;
    const auth = options.auth;
    const mode = auth?.mode ?? 'message';
    const urls = options.urls;
    let url: string;
    try {
      url = urls ? urls[Math.min(urlIndex, urls.length - 1)]! : typeof options.url === 'string' ? options.url : options.url();
    } catch (cause) {
      throw new SocketchartError(ErrorCode.CONNECTION_FAILED, { message: `The url provider failed (${kindOf(cause)})`, recovery: 'retry' });
    }
    this.dialedUrl = url;
    if (auth && mode === 'query' && token !== undefined) {
      url += `${url.includes('?') ? '&' : '?'}${encodeURIComponent(auth.queryParam)}=${encodeURIComponent(token)}`;
    }
    const protocols = [...options.protocols, ...(options.protocol.subprotocols({ mode, token }) ?? [])];
    this.useToken(token);
    this.dials++;
    this.log('debug', 'dial', { url: this.redact(url) });
    return protocols.length > 0 ? new options.WebSocket(url, protocols) : new options.WebSocket(url);
  }

  opened(ws: WebSocketLike, socket: number): void {
    this.ws = ws;
    this.socketId = socket;
  }

  message(data: string | ArrayBuffer, size?: number): void {
    this.inbound.receive(data, size);
  }

  released(ws: WebSocketLike): void {
    if (this.ws === ws) this.ws = null;
  }

  /** A close as the app sees it: the code received, classified by the protocol's rules (or the common table). */
  describeClose(code: number, reason: string) {
    const redacted = this.redact(reason);
    const { action, error } = classifyClose({ code, reason: redacted }, attempt(() => closeRuleOf(this.options.protocol, code)));
    if (error.code === ErrorCode.MESSAGE_TOO_LARGE && !this.outbound_?.refusedTooLarge()) this.operations?.refusedTooLarge(this.inbound);
    return { code, reason: redacted, action, error: releaseFrames(this.redactError(error)) };
  }

  /** `cause`: what `obtainToken` threw, always a SocketchartError. */
  describeTokenFailure(cause: unknown) {
    return this.failureOf(cause as SocketchartError);
  }

  describeOpenFailure(cause: unknown) {
    return this.failureOf(
      isSocketchartError(cause)
        ? cause
        : new SocketchartError(ErrorCode.CONNECTION_FAILED, {
            message: `The WebSocket could not be created (${kindOf(cause)}): its url or subprotocols are not valid (in auth mode 'subprotocol' the token must be a valid subprotocol name)`,
            recovery: 'fail',
          }),
    );
  }

  /** What `error` asks of the connection; redacted. */
  private failureOf(error: SocketchartError) {
    return { action: classifyErrorFrame(error), error: releaseFrames(this.redactError(error)) };
  }

  // Effects the machine asks for

  /**
   * Writes a control frame now (auth, ping, subscribe); control frames never queue. A socket whose write
   * throws is broken: it is dropped, and the next one is sent everything again; unless `rethrow`, for the
   * caller to keep the frame.
   */
  write(frame: OutgoingFrame | undefined, rethrow?: boolean): boolean {
    const ws = this.ws;
    if (frame === undefined || !ws || ws.readyState !== ReadyState.OPEN) return false;
    try {
      ws.send(frame);
    } catch (error) {
      if (rethrow) throw error;
      this.socketGone();
      return false;
    }
    return true;
  }

  /**
   * Writes a data frame now: an operation's start, as a control frame, or an acknowledged message `again`,
   * whose write may throw (it stays in flight). Its bytes count out, and it counts as a message unless `again`.
   */
  writeData(frame: OutgoingFrame, again = false): boolean {
    if (!this.write(frame, again)) return false;
    if (!again) this.metrics.messagesOut++;
    this.metrics.bytesOut += exactBytes(frame);
    return true;
  }

  /** The socket failed under us: the machine hears it closed abnormally (1006), and lets it go. */
  private socketGone(): void {
    this.toMachine({ type: 'socket.close', socket: this.socketId, wasClean: false, ...this.describeClose(1006, '') });
  }

  authenticate(): void {
    const mode = this.options.auth?.mode ?? 'message';
    this.write(attempt(() => this.options.protocol.authFrame({ mode, token: this.#currentToken })));
  }

  /** The link is up: every channel is subscribed again from its last sequence number, and the outbound side resumes. */
  resume(): void {
    this.resubscribe();
    this.operations?.resume();
    this.outbound_?.resume((frame) => this.writeData(frame, true));
  }

  /** Subscribes every channel (in `only`, when given) again from its last sequence number. */
  private resubscribe(only?: Set<string>): void {
    const { protocol } = this.options;
    const router = this.routes_;
    if (router) {
      for (const channel of router.channelNames(!only)) if (!only || only.has(channel)) this.write(attempt(() => protocol.subscribeFrame(channel, router.lastSeq(channel))));
    }
  }

  /** The server's control rate limit refused a subscribe of `channel`: asked again after `ms`, one timer for every such channel; a drop cancels it. */
  subscribeLater(channel: string, ms = this.options.reconnect.baseMs): void {
    if (!this.refusedSubscribes) {
      const channels = (this.refusedSubscribes = new Set());
      this.resubscribeTimer = this.options.clock.setTimeout(() => {
        this.refusedSubscribes = undefined;
        this.resubscribe(channels);
      }, ms);
    }
    this.refusedSubscribes.add(channel);
  }

  private forgetRefusedSubscribes(): void {
    if (!this.refusedSubscribes) return;
    this.options.clock.clearTimeout(this.resubscribeTimer);
    this.refusedSubscribes = undefined;
  }

  /** `stopped`: the app called `stop()` (operations that must not run twice end with CLOSED). */
  leaveConnected(stopped = false): void {
    this.forgetRefusedSubscribes();
    this.pingAt = undefined;
    this.outbound_?.leaveConnected();
    this.operations?.dropped(stopped);
  }

  sendPing(): void {
    const now = this.options.clock.now();
    this.pingAt = now;
    this.inbound.pinged();
    this.write(attempt(() => this.options.protocol.pingFrame(now)));
  }

  /** A pong: stale when it echoes an earlier ping; an answer to the ping in flight is an RTT sample. */
  pong(ts: number | undefined): void {
    const stale = ts !== undefined && this.pingAt !== undefined && ts < this.pingAt;
    if (!stale && this.pingAt !== undefined) {
      this.metrics.recordRtt(this.options.clock.now() - this.pingAt);
      this.pingAt = undefined;
    }
    this.toMachine(stale ? { type: 'heartbeat.pong', stale } : { type: 'heartbeat.pong' });
  }

  /** Starts the close handshake in `closing`; `socket.close` or the close timeout ends it. */
  closeSocket(code: number, reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    try {
      ws.close(code, reason);
    } catch {
      this.socketGone();
    }
  }

  /** Closed or failed: the environment is let go and every queued send rejects. */
  settle(error: SocketchartError): void {
    this.unwatchEnvironment();
    this.outbound_?.settle(error);
    this.operations?.endAll(error);
  }

  /** Disposed (by the handle's `dispose()`, or its actor stopped): nothing happens on it any more. */
  disposed = false;

  /**
   * For good, once: `stop` first (what the handle stops), then the environment let go, every message
   * settled, the connection closed, and `disposed` emitted.
   */
  dispose(stop?: () => void): void {
    if (this.disposed) return;
    this.disposed = true;
    stop?.();
    this.unwatchEnvironment();
    // an actor stopped while connected does not leave it (no exit action runs)
    this.forgetRefusedSubscribes();
    this.outbound.dispose();
    this.operations?.endAll(closedError('disposed'));
    const before = this.link;
    this.link = DISPOSED;
    this.disposing = () => {
      this.disposing = undefined;
      if (before.status !== 'closed') {
        this.metrics.onState('closed');
        this.events.emit('state', { status: 'closed', previous: before.status });
      }
      this.events.emit('disposed', { name: this.options.name });
      // nothing is told once disposed
      this.events.clear();
    };
    if (!this.following) this.disposing();
  }

  // Errors and logs

  /** Hands server error frames to `claim` first; returns the function that stops. */
  claimErrors(claim: (error: SocketchartError) => boolean): () => void {
    const claims = (this.claims ??= []);
    claims.push(claim);
    return () => {
      const index = claims.indexOf(claim);
      if (index >= 0) claims.splice(index, 1);
    };
  }

  claimed(error: SocketchartError): boolean {
    const claims = this.claims;
    if (claims === undefined) return false;
    for (const claim of claims) if (claim(error)) return true;
    return false;
  }

  /** The error with the token and secret URL parameters removed from its message and details (a copy, when there was one to remove). */
  redactError(error: SocketchartError): SocketchartError {
    const message = this.redact(error.message);
    const details = redactDeep(error.details, this.redact);
    return message === error.message && details === error.details ? error : error.with({ message, details });
  }

  /** An error frame nothing waited for: reported; only a rate limit the connection follows makes it wait. */
  reportServerError(error: SocketchartError): void {
    const followsServer = error.code === ErrorCode.RATE_LIMIT_EXCEEDED && this.options.rateLimit.followServer;
    this.reportError(error.with({ recovery: followsServer ? 'retry' : 'none' }));
  }

  reportError(error: SocketchartError): void {
    error = this.redactError(error);
    this.metrics.recordError();
    this.log('warn', error.message, { code: error.code });
    this.events.emit('error', error);
  }

  /**
   * The token's redactor, made when the token changes, for it and the token it replaced (an error frame or a close
   * reason after an in-band refresh may quote that one); nothing else keeps a copy of them.
   */
  #tokenRedactor: { token: string; own: (text: string) => string; redact: (text: string) => string } | undefined;

  private useToken(token: string | undefined): void {
    this.#currentToken = token;
    const last = this.#tokenRedactor;
    if (token === undefined || last?.token === token) return;
    const own = secretRedactor(token);
    this.#tokenRedactor = { token, own, redact: last ? (text) => own(last.own(text)) : own };
  }

  readonly redact = (text: string): string => {
    text = redactUrl(text, this.options.auth?.queryParam);
    return this.#tokenRedactor?.redact(text) ?? text;
  };

  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, details?: Record<string, unknown>): void {
    const logger = this.options.logger;
    const fn = logger?.[level];
    if (!fn) return;
    const safe = details ? (redactDeep(details, this.redact) as Record<string, unknown>) : undefined;
    attempt(() => fn.call(logger, this.redact(`[${this.options.name}] ${message}`), safe));
  }
}
