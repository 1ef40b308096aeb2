import { randomUUID } from 'node:crypto';
import { WebSocket, type RawData } from 'ws';
import type { Clock } from '../environment/clock.js';
import { AuthenticationError, type Authenticate, type Identity } from './auth.js';
import type { ChannelAction } from './channels.js';
import type { Hub, HubClient } from './hub.js';
import { BacklogWatch } from './backlog-watch.js';
import { corkedBytes, writeCorked } from './corked-writes.js';
import { errorText, type Logger } from './logger.js';
import { closeCodeLabel, type ServerMetrics } from './metrics.js';
import { CONTROL_SCOPE, type ConnectionLimits, type Refusal, type ServerRateLimits, type Subject, type Verdict } from './rate-limit.js';
import { CloseCode, ErrorCode, type ClientFrame, type ClientFrameType, type ErrorFrame, type PresenceMember, type ServerFrame } from '../protocol/wire.js';
import { parseClientFrame } from './schema.js';
import type { Subscription } from './subscription.js';
import type { ResolvedServerOptions } from './options.js';

export interface ConnectionContext {
  options: ResolvedServerOptions;
  hub: Hub;
  metrics: ServerMetrics;
  logger: Logger;
  authenticate: Authenticate;
  limits: ServerRateLimits;
  /** The node's time, which never goes back: the idle timeout, the heartbeat and stalled backlogs are judged by it. */
  clock: Pick<Clock, 'now'>;
  onClosed(connection: ServerConnection): void;
}

/** The token check done at the upgrade, for tokens carried by the handshake; a `failed` or `timeout` one is already charged to the address. */
export type HandshakeAuth =
  | { kind: 'none' }
  | { kind: 'ok'; identity: Identity; mode: 'subprotocol' | 'query' }
  | { kind: 'failed'; reason: string; mode: 'subprotocol' | 'query' }
  | { kind: 'timeout'; mode: 'subprotocol' | 'query' };

const MAX_EARLY_FRAMES = 64;
const MAX_EARLY_BYTES = 1024 * 1024;
/** Largest frame an unauthenticated socket may send: an `auth` frame with the longest token. */
const MAX_UNAUTHENTICATED_BYTES = 20 * 1024;
const UNAUTHENTICATED_TYPES: ReadonlySet<ClientFrameType> = new Set<ClientFrameType>(['auth', 'ping']);
const AUTHENTICATE_FIRST = 'authenticate first: the first frame must be auth {token}';
const CLOSE_GRACE_MS = 2000;
const SLOW_CONSUMER_GRACE_MS = 1000;
/** How long a replay's backlog may stay unread when the heartbeat is off. */
const DEFAULT_STALL_MS = 30_000;
/** Frames (publishes, presence frames), and their bytes, that may wait their turn; beyond either, the socket is not read until some are answered. */
const MAX_WAITING_FRAMES = 1000;
const MAX_WAITING_BYTES = 1024 * 1024;
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The channel frame a refusal answers, named in its details: the channel and the action (the frame's type, or a
 * presence frame's `join`, `leave` or `list`; as AUTHORIZATION_FAILED names it when the refusal stands in for one).
 */
type ChannelFrame = { ch: string; action: string };

const NORMAL_CLOSURE: { readonly code: number; readonly reason: string } = { code: 1000, reason: '' };

/** The set without `item`; undefined once empty, so an idle connection holds no set. */
function without<T>(set: Set<T> | undefined, item: T): Set<T> | undefined {
  set?.delete(item);
  return set?.size ? set : undefined;
}

const truncateReason = (reason: string) => (Buffer.byteLength(reason) <= 123 ? reason : Buffer.from(reason).subarray(0, 120).toString());

/** One socket on the server: authentication, frame validation, rate limits, timers, and the hub operations it asks for. */
export class ServerConnection implements HubClient {
  readonly id = randomUUID();
  readonly key: string;
  readonly sessionId = randomUUID();
  readonly subscriptions = new Map<string, Subscription>();
  presence?: Map<string, PresenceMember>;
  typing?: Map<string, NodeJS.Timeout>;
  /** Set on every inbound frame or pong; cleared by each protocol-level ping. */
  alive = true;
  /** When the last frame came, in `ctx.clock` time (a wall clock stepped neither ages nor rejuvenates it). */
  lastFrameAt: number;
  /** `draining`: closing, once the publishes it accepted are answered; frames are no longer read. */
  private state: 'authenticating' | 'open' | 'draining' | 'closing' | 'closed' = 'authenticating';
  /** Publishes accepted and not yet answered; none while the set is absent. */
  private inflight: Set<Promise<void>> | undefined;
  /** Publishes waiting their turn (their bucket had no token when they arrived), and the last of them. */
  private waitingPublishes = 0;
  private publishTurn: Promise<void> = Promise.resolve();
  /** Frames waiting their turn (those publishes, and presence frames behind an unanswered one of their channel), and their bytes. */
  private waitingFrames = 0;
  private waitingBytes = 0;
  /** Per channel, the last presence frame not yet answered: the next one of the channel waits for it. */
  private presenceTurns: Map<string, Promise<void>> | undefined;
  /** Bytes held for the socket outside its send buffer (see `hold`). */
  private held = 0;
  /** Publishes charged to the connection's bucket whose append is not yet answered; none while the set is absent. */
  private charged: Set<Promise<void>> | undefined;
  /** A backlog replays wait on that the socket takes none of for a heartbeat interval is a slow consumer's, even one that keeps sending frames. */
  private readonly backlog: BacklogWatch;
  private currentIdentity: Identity | undefined;
  /** Refreshes received, and the number of the last one applied: one verified after a later one is stale. */
  private refreshes = 0;
  private refreshApplied = 0;
  /** Refreshes whose token is being verified: an expiry waits for their answer, at most `auth.timeoutMs`. */
  private verifying = 0;
  private expiryWaits = false;
  private attached = false;
  private authPending = false;
  /** Frames that arrived while the token of an `auth` frame was being verified, not yet parsed (a binary one without its text). */
  private early: { text: string | undefined; bytes: number }[] | undefined;
  private earlyBytes = 0;
  private readonly limits: ConnectionLimits;
  private authTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private killAt = Infinity;
  private closingWith = NORMAL_CLOSURE;
  private resolveClosed!: () => void;
  /** Settles once the socket is closed and its presence, typing and subscriptions are cleaned up. */
  readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: ConnectionContext,
    nodeId: string,
    /** The client's address (behind a trusted proxy, the one it forwards), which unauthenticated traffic is charged to. */
    private readonly address: string,
  ) {
    this.key = `${nodeId}:${this.id}`;
    this.lastFrameAt = ctx.clock.now();
    this.limits = ctx.limits.newConnection();
    this.backlog = new BacklogWatch(
      () => ({ waiting: this.state === 'open' && this.backlogged, buffered: this.ws.bufferedAmount }),
      ctx.options.heartbeatIntervalMs || DEFAULT_STALL_MS,
      () => this.slowConsumer(),
      ctx.clock,
    );
    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    ws.on('pong', () => (this.alive = true));
    ws.on('error', (error: Error & { code?: string }) => this.onSocketError(error));
    ws.on('close', (code, reason) => {
      try {
        this.onClose(code, reason.toString());
      } catch (error) {
        this.logError('close handling failed', error);
        this.resolveClosed();
      }
    });
  }

  get identity(): Identity {
    if (!this.currentIdentity) throw new Error('connection is not authenticated');
    return this.currentIdentity;
  }

  get userId(): string | undefined {
    return this.currentIdentity?.userId;
  }

  get open(): boolean {
    return (this.state === 'open' || this.state === 'authenticating' || this.state === 'draining') && this.ws.readyState === WebSocket.OPEN;
  }

  get isAuthenticated(): boolean {
    return this.state === 'open';
  }

  start(handshake: HandshakeAuth): void {
    if (handshake.kind === 'ok') {
      this.accept(handshake.identity);
    } else if (handshake.kind === 'failed') {
      this.rejectAuth(handshake.reason, false);
    } else if (handshake.kind === 'timeout') {
      this.timeoutAuth(false);
    } else if (this.ctx.options.auth.modes.has('message')) {
      this.authTimer = setTimeout(() => this.timeoutAuth(), this.ctx.options.auth.timeoutMs);
    } else {
      this.rejectAuth('a token is required in the handshake');
    }
  }

  get backlogged(): boolean {
    return this.ws.bufferedAmount - corkedBytes(this.ws) > this.ctx.options.maxBufferedBytes / 2;
  }

  writable(): Promise<void> {
    return this.backlog.next();
  }

  sendText(text: string | Buffer, type: string): void {
    if (!this.open) return;
    if (this.ws.bufferedAmount - corkedBytes(this.ws) + this.held > this.ctx.options.maxBufferedBytes) {
      this.slowConsumer();
      return;
    }
    const bytes = typeof text === 'string' ? Buffer.from(text) : text;
    writeCorked(this.ws, bytes);
    this.ctx.metrics.countOut(type, bytes.length);
  }

  send(frame: ServerFrame): void {
    this.sendText(JSON.stringify(frame), frame.type);
  }

  hold(bytes: number): boolean {
    if (!this.open) return false;
    this.held += bytes;
    if (bytes > 0 && this.ws.bufferedAmount - corkedBytes(this.ws) + this.held > this.ctx.options.maxBufferedBytes) this.slowConsumer();
    return this.open;
  }

  sendError(code: ErrorCode, message: string, extra: Omit<Partial<ErrorFrame>, 'type' | 'code' | 'message'> = {}): void {
    this.ctx.metrics.errors.labels(code).inc();
    this.send({ type: 'error', code, message, ...extra });
  }

  /**
   * Closes the socket: at once when nothing is pending, otherwise once every publish it accepted is answered;
   * a socket whose close handshake has not ended `graceMs` after the call is terminated.
   */
  closeWith(code: number, reason: string, error?: { code: ErrorCode; message: string }, graceMs = CLOSE_GRACE_MS): void {
    if (this.state === 'closed') return;
    if (this.state === 'draining' || this.state === 'closing') {
      this.endWithin(graceMs);
      return;
    }
    if (error) this.sendError(error.code, error.message);
    this.clearTimers();
    this.logged('info', 'closing connection', { code, reason });
    this.closingWith = { code, reason };
    this.endWithin(graceMs);
    if (!this.inflight || code === CloseCode.SlowConsumer) {
      this.closeSocket();
      return;
    }
    this.state = 'draining';
    this.answered()
      .then(() => this.closeSocket())
      .catch((error: unknown) => this.logError('closing failed', error));
  }

  /** Resolves once no accepted publish is pending, counting those a waiting publish starts meanwhile. */
  private async answered(): Promise<void> {
    while (this.inflight && this.state === 'draining') await Promise.allSettled([...this.inflight]);
  }

  /** The socket is gone `graceMs` from now at the latest: closed if it still drains, then terminated. A later, longer grace changes nothing. */
  private endWithin(graceMs: number): void {
    const at = this.ctx.clock.now() + graceMs;
    if (at >= this.killAt) return;
    this.killAt = at;
    clearTimeout(this.killTimer);
    this.killTimer = setTimeout(() => {
      if (this.state !== 'draining') return this.ws.terminate();
      this.closeSocket();
      this.killTimer = setTimeout(() => this.ws.terminate(), 0);
      this.killTimer.unref();
    }, graceMs);
    this.killTimer.unref();
  }

  private closeSocket(): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    try {
      this.ws.close(this.closingWith.code, truncateReason(this.closingWith.reason));
    } catch {
      this.ws.terminate();
    }
  }

  /**
   * Protocol-level liveness for quiet sockets: terminates one that did not answer the previous ping, then pings.
   * A socket this node stopped reading cannot show a pong, so it is judged again only once it is read. `now` in `ctx.clock` time.
   */
  ping(now: number, intervalMs: number): void {
    if (this.state === 'closed') return;
    if (this.ws.isPaused || now - this.lastFrameAt < intervalMs) {
      this.alive = true;
      return;
    }
    if (!this.alive) {
      this.logged('info', 'no pong since the last ping; terminating');
      this.ws.terminate();
      return;
    }
    this.alive = false;
    this.ws.ping();
  }

  /** Closes with 1001 a socket no frame has come from for more than `idleTimeoutMs`, not counting while it went unread; `now` in `ctx.clock` time. */
  closeIfIdle(now: number, idleTimeoutMs: number): void {
    if (this.state === 'open' && !this.ws.isPaused && now - this.lastFrameAt > idleTimeoutMs) this.closeWith(CloseCode.GoingAway, 'idle timeout');
  }

  private clearTimers(): void {
    this.clearAuthTimer();
    clearTimeout(this.expiryTimer);
  }

  private clearAuthTimer(): void {
    clearTimeout(this.authTimer);
    this.authTimer = undefined;
  }

  /** A line of the node's logger naming this connection and, once authenticated, its user. */
  private logged(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    const userId = this.currentIdentity?.userId;
    this.ctx.logger[level]({ conn: this.id, ...(userId === undefined ? {} : { userId }), ...fields }, msg);
  }

  private logError(msg: string, error: unknown): void {
    this.logged('error', msg, { err: errorText(error) });
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    try {
      this.receive(data, isBinary);
    } catch (error) {
      this.fail(error);
    }
  }

  /** Contains a failure of the server itself: logged, and this socket (only) is closed with 1011. */
  fail(error: unknown): void {
    this.logError('internal error', error);
    this.closeWith(CloseCode.InternalError, 'internal error', { code: ErrorCode.SERVER_ERROR, message: 'internal error' });
  }

  private receive(data: RawData, isBinary: boolean): void {
    if (this.state === 'draining' || this.state === 'closing' || this.state === 'closed') return;
    this.alive = true;
    this.lastFrameAt = this.ctx.clock.now();
    const bytes = Buffer.isBuffer(data) ? data.length : Array.isArray(data) ? data.reduce((sum, part) => sum + part.length, 0) : data.byteLength;
    if (this.authPending) this.holdEarly(isBinary ? undefined : data.toString(), bytes);
    else if (isBinary) this.receiveBinary(bytes);
    else if (this.state === 'open') this.receiveText(data.toString(), bytes);
    else this.receiveUnauthenticated(data, bytes);
  }

  private receiveBinary(bytes: number): void {
    this.ctx.metrics.countIn('binary', bytes);
    this.refuseInvalid('binary frames are not supported; send JSON text frames');
  }

  private receiveText(text: string, bytes: number): void {
    const parsed = parseClientFrame(text, this.ctx.options.frameBounds);
    this.ctx.metrics.countIn(parsed.ok ? parsed.frame.type : 'invalid', bytes);
    if (parsed.ok) this.dispatch(parsed.frame, bytes);
    else if ('notYet' in parsed) this.refuseInvalid(`unexpected "${parsed.type}" frame`);
    else this.refuseInvalid(parsed.message, parsed.details, parsed.id);
  }

  /** Before authentication only `auth` and `ping` are read; anything else closes the socket with 4001. */
  private receiveUnauthenticated(data: RawData, bytes: number): void {
    if (bytes > MAX_UNAUTHENTICATED_BYTES) {
      this.ctx.metrics.countIn('invalid', bytes);
      this.rejectAuth(AUTHENTICATE_FIRST);
      return;
    }
    const parsed = parseClientFrame(data.toString(), this.ctx.options.frameBounds, UNAUTHENTICATED_TYPES);
    this.ctx.metrics.countIn(parsed.ok ? parsed.frame.type : 'invalid', bytes);
    if (!parsed.ok) {
      if (!('notYet' in parsed)) this.sendError(ErrorCode.INVALID_MESSAGE_FORMAT, parsed.message, parsed.details === undefined ? {} : { details: parsed.details });
      this.rejectAuth(AUTHENTICATE_FIRST);
      return;
    }
    const frame = parsed.frame;
    if (frame.type === 'ping') {
      if (this.take(CONTROL_SCOPE, undefined)) this.send(frame.ts === undefined ? { type: 'pong' } : { type: 'pong', ts: frame.ts });
    } else if (frame.type === 'auth') {
      this.authenticate(frame.token).catch((error: unknown) => this.fail(error));
    }
  }

  /** `text` is undefined for a binary frame. */
  private holdEarly(text: string | undefined, bytes: number): void {
    if ((this.early?.length ?? 0) >= MAX_EARLY_FRAMES || this.earlyBytes + bytes > MAX_EARLY_BYTES) {
      this.rejectAuth('too many frames before authentication');
      return;
    }
    (this.early ??= []).push({ text, bytes });
    this.earlyBytes += bytes;
  }

  private refuseInvalid(message: string, details?: unknown, id?: string): void {
    if (this.state === 'authenticating') {
      this.sendError(ErrorCode.INVALID_MESSAGE_FORMAT, message, { ...(details === undefined ? {} : { details }) });
      this.rejectAuth(AUTHENTICATE_FIRST);
      return;
    }
    if (!this.take(CONTROL_SCOPE, id)) return;
    this.sendError(ErrorCode.INVALID_MESSAGE_FORMAT, message, { ...(details === undefined ? {} : { details }), ...(id === undefined ? {} : { id }) });
  }

  private get subject(): Subject {
    return this.currentIdentity ? { kind: 'user', id: this.currentIdentity.userId } : { kind: 'address', id: this.address };
  }

  /** Charges one frame of `scope` to the connection and to its user or address; refuses it when a bucket is empty. */
  private take(scope: string, id: string | undefined, frame?: ChannelFrame): boolean {
    return this.admitted(this.ctx.limits.take(this.limits, this.subject, scope), id, frame);
  }

  private admitted(verdict: Verdict, id: string | undefined, frame?: ChannelFrame): boolean {
    if (verdict.ok) {
      if (verdict.announce) this.send({ type: 'rate_limit_status', ...verdict.announce });
      return true;
    }
    this.refuseOverLimit(verdict, id, frame);
    return false;
  }

  private refuseOverLimit(verdict: Refusal, id: string | undefined, frame?: ChannelFrame): void {
    const { scope } = verdict.status;
    this.ctx.metrics.rateLimited.labels(scope).inc();
    const retryAfter = verdict.retryAfterMs / 1000;
    this.sendError(ErrorCode.RATE_LIMIT_EXCEEDED, `rate limit exceeded for ${scope}`, {
      retry_after: retryAfter,
      details: { ...verdict.status, ...frame, retry_after_ms: verdict.retryAfterMs },
      ...(id === undefined ? {} : { id }),
    });
    if (verdict.flooding) {
      this.logged('warn', 'flooding past the rate limit', { scope });
      this.closeWith(CloseCode.RateLimited, `rate limited; retry_after=${Math.max(1, Math.ceil(retryAfter))}`);
    }
  }

  /**
   * Authorizes a channel frame before any channel bucket is charged: a refused one costs a `control` token
   * and is answered with AUTHORIZATION_FAILED (or RATE_LIMIT_EXCEEDED once that budget is spent).
   */
  private authorized(ch: string, action: ChannelAction, id: string | undefined, event?: string): boolean {
    const verdict = this.ctx.hub.authorize(this.identity, ch, action, event);
    if (verdict.ok) return true;
    if (this.take(CONTROL_SCOPE, id, { ch, action })) this.sendError(ErrorCode.AUTHORIZATION_FAILED, verdict.reason, { details: { ch, action }, ...(id === undefined ? {} : { id }) });
    return false;
  }

  /**
   * A publish with an id its bucket has no token for waits for the publishes charged before it (one that
   * proves a repeat gives its token back), then is looked up: a repeat inside the dedup window is acked as a
   * duplicate, free. Publishes arriving meanwhile wait behind it, so none overtakes an earlier one (too many
   * waiting, and the socket is no longer read until they are answered).
   */
  private publish(frame: Extract<ClientFrame, { type: 'publish' }>, bytes: number): void {
    const scope = this.ctx.limits.scopeOf(frame.ch);
    const hasToken = () => this.ctx.limits.hasToken(this.limits, scope);
    if (this.waitingPublishes === 0 && (frame.id === undefined || hasToken())) {
      this.publishCharged(frame, scope);
      return;
    }
    this.waitingPublishes += 1;
    this.waitTurn(bytes);
    const turn = this.publishTurn.then(async () => {
      try {
        if (!hasToken()) await Promise.allSettled([...(this.charged ?? [])]);
        if (frame.id !== undefined && !hasToken() && (await this.answeredAsRepeat(frame.ch, frame.id))) return;
        this.publishCharged(frame, scope);
      } finally {
        this.waitingPublishes -= 1;
        this.turnTaken(bytes);
      }
    });
    this.publishTurn = turn.catch(() => undefined);
    this.answer(turn);
  }

  /** A frame waits its turn: with too many frames or bytes waiting, the socket is no longer read. */
  private waitTurn(bytes: number): void {
    this.waitingFrames += 1;
    this.waitingBytes += bytes;
    if (this.waitingFrames >= MAX_WAITING_FRAMES || this.waitingBytes >= MAX_WAITING_BYTES) this.ws.pause();
  }

  /** A waiting frame has its turn: the socket is read again once few enough wait. */
  private turnTaken(bytes: number): void {
    this.waitingFrames -= 1;
    this.waitingBytes -= bytes;
    if (this.waitingFrames < MAX_WAITING_FRAMES && this.waitingBytes < MAX_WAITING_BYTES && this.ws.isPaused) {
      this.lastFrameAt = this.ctx.clock.now();
      this.ws.resume();
    }
  }

  private async answeredAsRepeat(ch: string, id: string): Promise<boolean> {
    const seq = await this.ctx.hub.repeatOf(this, ch, id).catch(() => undefined);
    if (seq === undefined) return false;
    this.send({ type: 'ack', id, seq, duplicate: true });
    return true;
  }

  /** Charges the connection's bucket, then appends (the backend charges the user's); a repeat, or a publish the user's bucket refused, gives the token back. */
  private publishCharged(frame: Extract<ClientFrame, { type: 'publish' }>, scope: string): void {
    const { hub, limits } = this.ctx;
    const named = { ch: frame.ch, action: 'publish' };
    if (!this.admitted(limits.takePublish(this.limits, this.subject, scope, frame.id), frame.id, named)) return;
    const publishing = hub.publish(this, frame, limits.userCharge(this.identity.userId, scope)).then((result) => {
      if ((result?.outcome === 'stored' && result.duplicate) || result?.outcome === 'refused') limits.giveBack(this.limits, scope);
      if (result?.outcome === 'refused') this.refuseOverLimit(limits.refusedElsewhere(this.limits, this.subject, scope, result.retryAfterMs, frame.id), frame.id, named);
    });
    const settled = publishing.finally(() => (this.charged = without(this.charged, settled)));
    settled.catch(() => undefined);
    (this.charged ??= new Set()).add(settled);
    this.answer(publishing);
  }

  /** Tracks a publish until it is answered: a close waits for it. */
  private answer(publishing: Promise<void>): void {
    const answered = publishing.catch((error: unknown) => this.fail(error)).finally(() => (this.inflight = without(this.inflight, answered)));
    (this.inflight ??= new Set()).add(answered);
  }

  /**
   * Handles the presence frames of a channel one at a time, in the order they came: the wire has no request id,
   * so a client pairs each answer (`presence_state`, or a refusal naming the channel) with its oldest call on the
   * channel. A frame behind an unanswered one waits its turn and is authorized and charged only then, so that a
   * refusal decided at once does not overtake the answer to an earlier frame still waiting on the backend.
   */
  private presenceInOrder(frame: Extract<ClientFrame, { type: 'presence' }>, bytes: number): void {
    const { ch } = frame;
    this.presenceTurn(ch, () => (this.authorized(ch, 'presence', undefined) && this.take(CONTROL_SCOPE, undefined, { ch, action: frame.action }) ? this.ctx.hub.presence(this, frame) : undefined), bytes);
  }

  /** Runs `handle` once the presence frames of the channel received before are answered; a frame's `bytes` wait meanwhile. */
  presenceTurn(ch: string, handle: () => Promise<void> | undefined, bytes = 0): void {
    const before = this.presenceTurns?.get(ch);
    let turn: Promise<void> | undefined;
    if (before === undefined) {
      turn = handle();
    } else {
      this.waitTurn(bytes);
      turn = before.then(() => {
        this.turnTaken(bytes);
        return this.state === 'open' ? handle() : undefined;
      });
    }
    if (turn === undefined) return;
    const settled: Promise<void> = turn
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        if (this.presenceTurns?.get(ch) === settled) this.presenceTurns.delete(ch);
      });
    (this.presenceTurns ??= new Map()).set(ch, settled);
  }

  private dispatch(frame: ClientFrame, bytes: number): void {
    const { hub, limits } = this.ctx;
    const failed = (error: unknown) => this.fail(error);
    const named = 'ch' in frame ? { ch: frame.ch, action: frame.type === 'presence' ? frame.action : frame.type } : undefined;
    switch (frame.type) {
      case 'publish':
        if (this.authorized(frame.ch, 'publish', frame.id, frame.event)) this.publish(frame, bytes);
        return;
      case 'subscribe':
        if (this.authorized(frame.ch, 'subscribe', undefined) && this.take(CONTROL_SCOPE, undefined, named)) hub.subscribe(this, frame).catch(failed);
        return;
      case 'presence':
        this.presenceInOrder(frame, bytes);
        return;
      case 'typing':
        if (this.authorized(frame.ch, 'presence', undefined) && this.take(CONTROL_SCOPE, undefined, named)) hub.typing(this, frame).catch(failed);
        return;
    }
    if (!this.take(CONTROL_SCOPE, undefined, named)) return;
    switch (frame.type) {
      case 'auth':
        this.refresh(frame.token).catch(failed);
        return;
      case 'ping':
        this.send(frame.ts === undefined ? { type: 'pong' } : { type: 'pong', ts: frame.ts });
        return;
      case 'unsubscribe':
        hub.unsubscribe(this, frame);
        return;
      case 'pong':
        return;
    }
  }

  private async verify(token: string): Promise<Identity | string> {
    try {
      return await this.ctx.authenticate(token);
    } catch (error) {
      return error instanceof AuthenticationError ? error.message : 'token rejected';
    }
  }

  private async authenticate(token: string): Promise<void> {
    this.authPending = true;
    const result = await this.verify(token);
    this.authPending = false;
    if (this.state !== 'authenticating') return;
    if (typeof result === 'string') this.rejectAuth(result);
    else this.accept(result);
  }

  private accept(identity: Identity): void {
    const { hub, options } = this.ctx;
    if (hub.userConnectionCount(identity.userId) >= options.maxConnectionsPerUser) {
      this.closeWith(CloseCode.TryAgainLater, 'too many connections for this user', {
        code: ErrorCode.RATE_LIMIT_EXCEEDED,
        message: `at most ${options.maxConnectionsPerUser} connections per user`,
      });
      return;
    }
    this.clearAuthTimer();
    this.currentIdentity = identity;
    this.state = 'open';
    this.send({ type: 'auth_ok', userId: identity.userId, sessionId: this.sessionId, ...(identity.expiresAt === undefined ? {} : { expiresAt: identity.expiresAt }) });
    hub.attach(this);
    this.attached = true;
    this.scheduleExpiry();
    this.logged('info', 'authenticated');
    const early = this.early ?? [];
    this.early = undefined;
    this.earlyBytes = 0;
    for (const { text, bytes } of early) {
      if (this.state !== 'open') break;
      if (text === undefined) this.receiveBinary(bytes);
      else this.receiveText(text, bytes);
    }
  }

  private async refresh(token: string): Promise<void> {
    const order = ++this.refreshes;
    this.verifying += 1;
    const result = await this.verify(token);
    this.verifying -= 1;
    if (this.state !== 'open') return;
    const stale = order < this.refreshApplied;
    if (typeof result === 'string') {
      const charged = this.ctx.limits.chargeAddress(this.address);
      if (!charged.ok) this.closeWith(CloseCode.RateLimited, `rate limited; retry_after=${Math.max(1, Math.ceil(charged.retryAfterMs / 1000))}`);
      else if (!stale) this.sendError(ErrorCode.AUTHENTICATION_FAILED, `token refresh refused: ${result}`);
      if (this.expiryWaits && this.verifying === 0) this.expire();
      return;
    }
    if (result.userId !== this.identity.userId) {
      this.closeWith(CloseCode.Forbidden, 'token belongs to another user', {
        code: ErrorCode.AUTHENTICATION_FAILED,
        message: 'a refreshed token must belong to the same user',
      });
      return;
    }
    if (stale) return;
    this.refreshApplied = order;
    this.currentIdentity = result;
    this.scheduleExpiry();
    this.send({ type: 'auth_ok', userId: result.userId, sessionId: this.sessionId, ...(result.expiresAt === undefined ? {} : { expiresAt: result.expiresAt }) });
    this.ctx.hub.reauthorize(this);
    this.logged('info', 'token refreshed');
  }

  private scheduleExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.expiryWaits = false;
    const exp = this.currentIdentity?.expiresAt;
    if (exp === undefined) return;
    const expiresAt = exp + this.ctx.options.auth.clockToleranceSec * 1000;
    const delay = Math.min(Math.max(expiresAt - Date.now(), 0), MAX_TIMER_MS);
    this.expiryTimer = setTimeout(() => {
      if (Date.now() < expiresAt) this.scheduleExpiry();
      else this.expire();
    }, delay);
  }

  /** Ends the expired session, unless a refresh received before is still verified: then once it is refused, or `auth.timeoutMs` later. */
  private expire(): void {
    if (this.verifying > 0 && !this.expiryWaits) {
      this.expiryWaits = true;
      this.expiryTimer = setTimeout(() => this.expire(), this.ctx.options.auth.timeoutMs);
      return;
    }
    this.closeWith(CloseCode.Unauthorized, 'session expired', { code: ErrorCode.AUTHENTICATION_FAILED, message: 'session expired' });
  }

  private rejectAuth(reason: string, charge = true): void {
    if (charge) this.ctx.limits.chargeAddress(this.address);
    this.logged('info', 'authentication failed', { reason });
    this.closeWith(CloseCode.Unauthorized, reason, { code: ErrorCode.AUTHENTICATION_FAILED, message: reason });
  }

  private timeoutAuth(charge = true): void {
    if (charge) this.ctx.limits.chargeAddress(this.address);
    this.closeWith(CloseCode.Unauthorized, 'authentication timeout', { code: ErrorCode.TIMEOUT, message: 'authentication timeout' });
  }

  private slowConsumer(): void {
    this.ctx.metrics.slowConsumers.inc();
    this.logged('warn', 'slow consumer', { bufferedAmount: this.ws.bufferedAmount });
    this.closeWith(CloseCode.SlowConsumer, 'slow consumer', undefined, SLOW_CONSUMER_GRACE_MS);
  }

  private onSocketError(error: Error & { code?: string }): void {
    const code =
      error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
        ? ErrorCode.MESSAGE_TOO_LARGE
        : error.code === 'WS_ERR_INVALID_UTF8'
          ? ErrorCode.INVALID_MESSAGE_FORMAT
          : undefined;
    if (code) this.ctx.metrics.errors.labels(code).inc();
    this.logged('info', 'socket error', { err: error.message, code: error.code });
  }

  private onClose(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clearTimers();
    clearTimeout(this.killTimer);
    this.presenceTurns = undefined;
    this.ctx.metrics.connectionsClosed.labels(closeCodeLabel(code)).inc();
    this.logged('info', 'connection closed', { code, reason: reason.slice(0, 123) });
    this.ctx.onClosed(this);
    const cleanup = this.attached ? this.ctx.hub.detach(this) : Promise.resolve();
    cleanup.catch((error: unknown) => this.logError('cleanup failed', error)).finally(() => this.resolveClosed());
  }
}
