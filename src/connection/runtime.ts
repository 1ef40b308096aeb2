import type { AnyActorRef } from 'xstate';
import type { FrameSink, InboundMessage, OutgoingFrame, SessionInfo } from '../protocol/adapter.js';
import { ErrorCode, SocketchartError } from '../protocol/errors.js';
import { redactDeep, redactSecret, redactUrl } from '../protocol/redact.js';
import { OutboundQueue, type Priority, type QueuedMessage } from '../queue/outbound-queue.js';
import { AckTracker, type AckInfo } from '../queue/ack-tracker.js';
import { RateLimiter, Take, channelType } from '../policy/rate-limiter.js';
import { Outbox } from '../storage/outbox.js';
import type { StoredMessage } from '../storage/message-store.js';
import { ConnectionMetrics } from '../metrics/connection-metrics.js';
import type { EnvironmentEvent } from '../environment/environment.js';
import { ReadyState, type WebSocketLike } from '../transport/websocket-like.js';
import type { ResolvedOptions, TokenReason } from './options.js';
import { Router } from './router.js';
import { statusOf, type ConnectionSnapshot } from './status.js';
import { connectionStatuses, type ConnectionEvent } from './types.js';

export interface SendOptions {
  /** Queue priority when the message cannot be written at once. @default 'normal' */
  priority?: Priority;
  /** Time-to-live while queued, in ms; the promise rejects with MESSAGE_EXPIRED after it. @default queue.defaultTtlMs */
  ttl?: number;
  /** Channel to publish on (default protocol: a `publish` frame). @default undefined */
  channel?: string;
  /** Application event name carried with the message. @default undefined */
  event?: string;
  /** Message id carried with the message (acks and dedup build on it). @default a fresh id when `ack` is set */
  id?: string;
  /**
   * Keep the message until the server acknowledges it: the promise resolves with the ack (not on write),
   * the message is written again after a reconnect and after `acks.timeoutMs`, and the promise rejects
   * with TIMEOUT after `acks.maxAttempts` writes, or with the server's error. Needs a `channel`.
   * @default false
   */
  ack?: boolean;
}

/** Events `on()` can listen to. */
export interface ConnectionEvents {
  state: { status: string; previous: string };
  error: SocketchartError;
  message: InboundMessage;
  control: { type: string; frame: Readonly<Record<string, unknown>> };
  /** The connection moved to another of its urls (`to` 0: back on the primary). */
  failover: { from: number; to: number; url: string };
  /** Messages `from..to` of a subscribed channel can no longer be delivered (the server's history no longer reaches back). */
  gap: { ch: string; from: number; to: number };
  /** Queued messages wait for a rate limit (`scope`: the channel type, or `connection`); the flusher tries again after `waitMs`. */
  throttled: { scope: string; waitMs: number; queued: number };
  /** Messages a previous run left in the persistence store were queued again (`expired`: dropped, their TTL had passed). */
  restored: { messages: number; expired: number };
}

type Listener<K extends keyof ConnectionEvents> = (payload: ConnectionEvents[K]) => void;

const RESOLVED: Promise<void> = Promise.resolve();
const NO_SEND_OPTIONS: SendOptions = Object.freeze({});
const envEventTypes: Record<EnvironmentEvent, ConnectionEvent['type']> = {
  online: 'env.online',
  offline: 'env.offline',
  hidden: 'page.hidden',
  visible: 'page.visible',
  freeze: 'page.freeze',
  resume: 'page.resume',
};

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Exact size in bytes, except that a text frame which fits `limit` however it is encoded is counted by length. */
function frameBytes(frame: OutgoingFrame | ArrayBuffer, limit: number): number {
  if (typeof frame === 'string') return frame.length * 3 <= limit ? frame.length : utf8Length(frame);
  return frame.byteLength;
}

const exactBytes = (frame: OutgoingFrame) => (typeof frame === 'string' ? utf8Length(frame) : frame.byteLength);

/** `bufferedAmount` is missing on some WebSocket stand-ins: count it as empty. */
const belowHighWater = (ws: WebSocketLike, highWaterMark: number) => !(ws.bufferedAmount >= highWaterMark);

/**
 * Everything one connection owns outside its statechart: the socket, the data plane (router, queue,
 * fast path), metrics and listeners. The machine reaches it through its context; it never decides state.
 */
export class ConnectionRuntime implements FrameSink {
  readonly options: ResolvedOptions;
  readonly metrics: ConnectionMetrics;
  actor: AnyActorRef | undefined;
  ws: WebSocketLike | null = null;
  token: string | undefined;
  tokenReason: TokenReason = 'connect';
  /** Open only in `connected.outbound.streaming`: `send()` may write directly. */
  fastPath = false;
  /** Set while the machine waits for an answer to an auth frame. */
  awaitingAuth = false;
  /**
   * The link is ready for acknowledged messages to be written again: set as `connected` resends them in
   * order, cleared when a socket starts or goes. (An ack deadline that falls while a new socket
   * authenticates must not send one message ahead of older unacknowledged ones.)
   */
  private acksReady = false;
  online: boolean;
  hidden: boolean;
  status = 'idle';
  /** Socket dials made by this connection (invariant checks). */
  dials = 0;
  /** Index of the url the current socket was dialed to. */
  dialedUrl = 0;
  /** Id of the socket actor now running; events stamped with another id are stale. */
  currentSocket = 0;
  /** Set when the last drain stopped at a rate limit: how long until it may go on. */
  throttleDelayMs = 0;
  /** In `connected.outbound.throttled`: a message that queues wakes the flusher (it may go past the held ones). */
  throttled = false;
  private throttling = false;
  private queue: OutboundQueue | undefined;
  private acks: AckTracker | undefined;
  private limiter: RateLimiter | undefined;
  private outbox: Outbox | undefined;
  private disposed = false;
  private routes: Router | undefined;
  private listeners: Map<keyof ConnectionEvents, Set<Listener<never>>> | undefined;
  private releaseEnvironment: (() => void) | undefined;

  constructor(options: ResolvedOptions) {
    this.options = options;
    this.metrics = new ConnectionMetrics(connectionStatuses, options.clock);
    this.online = options.environment.isOnline?.() ?? true;
    this.hidden = options.environment.isHidden?.() ?? false;
    if (options.rateLimit.configured) this.limiter = new RateLimiter(options.clock, options.rateLimit);
    if (options.store) {
      const outbox = (this.outbox = new Outbox(options.store, options.clock));
      outbox.load().then(
        (messages) => this.restore(messages),
        (cause) => this.reportError(new SocketchartError(ErrorCode.SERVER_ERROR, { message: 'The persistence store could not be loaded', recovery: 'none', cause })),
      );
    }
  }

  /** The subscription router, created when something first listens. */
  get router(): Router {
    return (this.routes ??= new Router());
  }

  toJSON(): Record<string, unknown> {
    return { name: this.options.name, status: this.status, queued: this.queuedCount };
  }

  /** Observes the connection actor: follows its status (metrics, logs, `state` events). */
  next(snapshot: ConnectionSnapshot): void {
    const status = statusOf(snapshot);
    const previous = this.status;
    if (status === previous) return;
    this.status = status;
    this.metrics.onState(status);
    this.log('debug', `${previous} → ${status}`);
    this.emit('state', { status, previous });
  }

  private toMachine(event: ConnectionEvent): void {
    this.actor?.send(event);
  }

  // Environment

  watchEnvironment(): void {
    if (this.releaseEnvironment) return;
    const env = this.options.environment;
    this.online = env.isOnline?.() ?? true;
    this.hidden = env.isHidden?.() ?? false;
    this.releaseEnvironment = env.subscribe((event) => this.onEnvironment(event));
  }

  unwatchEnvironment(): void {
    this.releaseEnvironment?.();
    this.releaseEnvironment = undefined;
  }

  onEnvironment(event: EnvironmentEvent): void {
    if (event === 'online' || event === 'offline') this.online = event === 'online';
    else this.hidden = event === 'hidden' || event === 'freeze';
    this.toMachine({ type: envEventTypes[event] } as ConnectionEvent);
  }

  announceFailover(from: number, to: number): void {
    const urls = this.options.urls;
    if (!urls) return;
    const event = { from, to, url: this.redact(urls[to]!) };
    this.log('warn', to === 0 ? 'back on the primary url' : 'failing over', event);
    this.emit('failover', event);
  }

  // Tokens

  async obtainToken(reason: TokenReason): Promise<string | undefined> {
    const auth = this.options.auth;
    if (!auth) return undefined;
    const token = typeof auth.token === 'string' ? auth.token : await auth.token({ reason });
    if (typeof token !== 'string' || token === '') {
      throw new SocketchartError(ErrorCode.AUTHENTICATION_FAILED, { message: 'The token provider returned no token', recovery: 'retry' });
    }
    return token;
  }

  // Transport

  /** Called when a socket actor starts: every event its socket sends carries the returned id. */
  beginSocket(): number {
    this.acksReady = false;
    return ++this.currentSocket;
  }

  /** Opens the one socket of this connection; the socket actor owns its lifetime and its handlers. */
  openSocket(token: string | undefined, urlIndex = 0): WebSocketLike {
    const { options } = this;
    const auth = options.auth;
    const mode = auth?.mode ?? 'message';
    const urls = options.urls;
    this.dialedUrl = urls ? Math.min(urlIndex, urls.length - 1) : 0;
    let url = urls ? urls[this.dialedUrl]! : typeof options.url === 'string' ? options.url : options.url();
    if (auth && mode === 'query' && token !== undefined) {
      url += `${url.includes('?') ? '&' : '?'}${encodeURIComponent(auth.queryParam)}=${encodeURIComponent(token)}`;
    }
    const protocols = [...options.protocols, ...(options.protocol.subprotocols({ mode, token }) ?? [])];
    this.token = token;
    this.dials++;
    this.log('debug', 'dial', { url: this.redact(url) });
    return protocols.length > 0 ? new options.WebSocket(url, protocols) : new options.WebSocket(url);
  }

  socketOpened(ws: WebSocketLike): void {
    this.ws = ws;
    this.toMachine({ type: 'socket.open', socket: this.currentSocket });
  }

  socketClosed(ws: WebSocketLike, code: number, reason: string, wasClean: boolean): void {
    this.acksReady = false;
    if (this.ws === ws) this.ws = null;
    this.fastPath = false;
    code = this.options.protocol.normalizeCloseCode?.(code) ?? code;
    this.toMachine({ type: 'socket.close', socket: this.currentSocket, code, reason, wasClean });
  }

  /** One inbound frame (`size`: its bytes when the socket knows them). */
  receive(data: string | ArrayBuffer, size = frameBytes(data, this.options.maxInboundBytes)): void {
    if (size > this.options.maxInboundBytes) return this.tooLarge(size);
    this.metrics.messagesIn++;
    this.metrics.bytesIn += size;
    this.options.protocol.decode(data, this);
  }

  /** The socket actor lets go of its socket (it drops it and detaches its handlers). */
  releaseSocket(ws: WebSocketLike): void {
    if (this.ws === ws) this.ws = null;
    this.fastPath = false;
  }

  /** Starts the close handshake in `closing`; `socket.close` or the close timeout ends it. */
  closeSocket(code = 1000, reason = 'client closed'): void {
    this.awaitingAuth = false;
    const ws = this.ws;
    if (!ws) return;
    try {
      ws.close(code, reason);
    } catch {
      this.toMachine({ type: 'socket.close', socket: this.currentSocket, code: 1006, reason: '', wasClean: false });
    }
  }

  /** Writes a control frame immediately (auth, ping, subscribe); control frames never queue. */
  write(frame: OutgoingFrame | undefined): boolean {
    const ws = this.ws;
    if (frame === undefined || !ws || ws.readyState !== ReadyState.OPEN) return false;
    ws.send(frame);
    return true;
  }

  authenticate(): void {
    const auth = this.options.auth;
    const mode = auth?.mode ?? 'message';
    this.awaitingAuth = this.options.protocol.awaitsAuthAnswer({ mode, token: this.token });
    this.write(this.options.protocol.authFrame({ mode, token: this.token }));
  }

  sendRefreshedToken(token: string): void {
    this.token = token;
    this.awaitingAuth = true;
    this.write(this.options.protocol.refreshFrame(token));
  }

  canRefreshInBand(): boolean {
    return typeof this.options.auth?.token === 'function' && this.options.protocol.refreshFrame('') !== undefined;
  }

  resubscribe(): void {
    const { protocol } = this.options;
    const router = this.routes;
    if (router) {
      for (const channel of router.channelNames()) {
        this.write(protocol.subscribeFrame(channel, router.lastSeq(channel)));
        const operation = router.operation(channel) as OutgoingFrame | undefined;
        if (operation !== undefined) this.write(operation);
      }
    }
    this.acksReady = true;
    this.acks?.resendWritten();
  }

  // Frame sink (called by the protocol adapter for every inbound frame)

  data(message: InboundMessage): void {
    this.routes?.deliver(message);
  }

  authOk(session: SessionInfo): void {
    this.awaitingAuth = false;
    this.toMachine({ type: 'auth.ok', socket: this.currentSocket, session });
  }

  pong(ts: number | undefined): void {
    this.toMachine(ts === undefined ? { type: 'heartbeat.pong' } : { type: 'heartbeat.pong', ts });
  }

  ping(ts: number | undefined): void {
    this.write(this.options.protocol.pongFrame(ts));
  }

  serverError(error: SocketchartError): void {
    if (error.code === ErrorCode.RATE_LIMIT_EXCEEDED && this.options.rateLimit.followServer && this.holdForRateLimit(error)) return;
    if (error.messageId !== undefined && this.acks?.fail(error.messageId, this.redactError(error.with({ recovery: 'fail' })))) return;
    if (this.awaitingAuth && error.messageId === undefined) {
      this.awaitingAuth = false;
      this.toMachine({ type: 'auth.error', socket: this.currentSocket, error });
      return;
    }
    const heldByRateLimit = error.code === ErrorCode.RATE_LIMIT_EXCEEDED && this.options.rateLimit.followServer;
    this.reportError(error.with({ recovery: heldByRateLimit ? 'retry' : 'none' }));
  }

  control(type: string, frame: Readonly<Record<string, unknown>>): void {
    if (type === 'rate_limit_status' && this.options.rateLimit.followServer && typeof frame.limit === 'number') {
      this.rateLimiter().adopt({
        limit: frame.limit,
        ...(typeof frame.scope === 'string' ? { scope: frame.scope } : {}),
        ...(typeof frame.burst === 'number' ? { burst: frame.burst } : {}),
        ...(typeof frame.remaining === 'number' ? { remaining: frame.remaining } : {}),
        ...(typeof frame.window_seconds === 'number' && frame.window_seconds > 0 ? { windowSeconds: frame.window_seconds } : {}),
      });
    }
    if (type === 'subscribed' && typeof frame.ch === 'string' && typeof frame.seq === 'number') this.routes?.startAt(frame.ch, frame.seq);
    if (type === 'gap' && typeof frame.ch === 'string' && typeof frame.from === 'number' && typeof frame.to === 'number') {
      if (this.routes?.passGap(frame.ch, frame.to)) this.emit('gap', { ch: frame.ch, from: frame.from, to: frame.to });
    }
    if (type === 'ack' && typeof frame.id === 'string' && this.acks) {
      this.acks.ack({
        id: frame.id,
        ...(typeof frame.seq === 'number' ? { seq: frame.seq } : {}),
        ...(frame.duplicate === true ? { duplicate: true } : {}),
        ...(frame.data !== undefined ? { data: frame.data } : {}),
      });
    }
    if (this.listeners?.has('control')) this.emit('control', { type, frame });
  }

  private ackTracker(): AckTracker {
    return (this.acks ??= new AckTracker(this.options.clock, this.options.acks, (frame) => this.acksReady && this.write(frame)));
  }

  /**
   * Leaving `connected`: the fast path closes, acknowledged messages wait for the next link, and the
   * server's holds (`retry_after`) end with the socket they were answered on.
   */
  leaveConnected(): void {
    this.fastPath = false;
    this.awaitingAuth = false;
    this.acksReady = false;
    this.limiter?.liftHolds();
    this.endThrottle();
  }

  private rateLimiter(): RateLimiter {
    return (this.limiter ??= new RateLimiter(this.options.clock, this.options.rateLimit));
  }

  /**
   * The server refused a message for its rate limit: nothing more goes in that scope until its `retry_after`,
   * and an acknowledged message is written again then instead of failing. The app still hears of the error.
   */
  private holdForRateLimit(error: SocketchartError): boolean {
    const until = this.options.clock.now() + (error.retryAfterMs ?? this.options.reconnect.baseMs);
    const details = error.details as { scope?: unknown } | undefined;
    this.rateLimiter().block(typeof details?.scope === 'string' ? details.scope : undefined, until);
    if (error.messageId === undefined || !this.acks?.holdUntil(error.messageId, until)) return false;
    this.reportError(error);
    return true;
  }

  invalid(error: SocketchartError): void {
    this.reportError(error);
  }

  private tooLarge(size: number): void {
    this.reportError(
      new SocketchartError(ErrorCode.MESSAGE_TOO_LARGE, {
        message: `Inbound frame of ${size} bytes exceeds maxInboundBytes (${this.options.maxInboundBytes})`,
        recovery: 'none',
        details: { size, limit: this.options.maxInboundBytes },
      }),
    );
  }

  /** A copy of the error with the token removed from its message and details, when it appears there. */
  redactError(error: SocketchartError): SocketchartError {
    const token = this.token;
    if (!token || !(error.message.includes(token) || JSON.stringify(error.details ?? null).includes(token))) return error;
    return error.with({ message: this.redact(error.message), details: redactDeep(error.details, (text) => this.redact(text)) });
  }

  reportError(error: SocketchartError): void {
    error = this.redactError(error);
    this.metrics.recordError();
    this.log('warn', error.message, { code: error.code });
    this.emit('error', error);
  }

  // Data plane

  get queuedCount(): number {
    return this.queue?.size ?? 0;
  }

  send(data: unknown, options: SendOptions | undefined): Promise<void> {
    if (options?.ack) return this.sendAcked(data, options).then(() => undefined);
    return this.sendFrame(data, options ?? NO_SEND_OPTIONS);
  }

  /** Sends and resolves with the server's ack (see `SendOptions.ack`). */
  sendAcked(data: unknown, options: SendOptions): Promise<AckInfo> {
    if (options.channel === undefined) {
      return Promise.reject(new SocketchartError(ErrorCode.INVALID_MESSAGE_FORMAT, { message: 'A message sent with `ack` needs a `channel`', recovery: 'fail' }));
    }
    const acks = this.ackTracker();
    const id = options.id ?? acks.nextId();
    if (acks.has(id)) return Promise.reject(new SocketchartError(ErrorCode.INVALID_MESSAGE_FORMAT, { message: `Message id "${id}" is already in flight`, recovery: 'fail', messageId: id }));
    let acked: Promise<AckInfo> | undefined;
    const written = this.sendFrame(data, { ...options, id }, (frame) => {
      acked = acks.track(id, frame);
      this.outbox?.keepUntil(acked, frame, { key: id, channel: options.channel, priority: options.priority ?? 'normal', ttlMs: options.ttl, ack: true });
    });
    if (!acked) return written.then(() => Promise.reject(new SocketchartError(ErrorCode.INVALID_MESSAGE_FORMAT, { message: 'The message was not sent', recovery: 'fail' })));
    written.then(
      () => acks.written(id),
      (error: SocketchartError) => acks.fail(id, error),
    );
    return acked;
  }

  private sendFrame(data: unknown, options: SendOptions, encoded?: (frame: OutgoingFrame) => void): Promise<void> {
    let frame: OutgoingFrame;
    try {
      frame = this.options.protocol.encode(data, options);
    } catch (cause) {
      return Promise.reject(new SocketchartError(ErrorCode.INVALID_MESSAGE_FORMAT, { message: 'The message cannot be encoded', recovery: 'fail', cause }));
    }
    const limit = this.options.maxMessageBytes;
    const bytes = frameBytes(frame, limit);
    if (bytes > limit) {
      this.metrics.drops++;
      return Promise.reject(
        new SocketchartError(ErrorCode.MESSAGE_TOO_LARGE, { message: `Message of ${bytes} bytes exceeds maxMessageBytes (${limit})`, details: { bytes, limit } }),
      );
    }
    encoded?.(frame);
    if (this.options.protocol.startsOperations && options.channel !== undefined) {
      const remembered = this.routes?.rememberOperation(options.channel, frame) === true;
      if (remembered && this.status !== 'connected' && this.status !== 'closed' && this.status !== 'failed') return RESOLVED;
    }
    const ws = this.ws;
    if (
      this.fastPath &&
      ws !== null &&
      belowHighWater(ws, this.options.queue.highWaterMark) &&
      (this.limiter === undefined || this.limiter.take(options.channel) === Take.ok)
    ) {
      ws.send(frame);
      this.metrics.messagesOut++;
      this.metrics.bytesOut += bytes;
      return RESOLVED;
    }
    if (this.status === 'closed' || this.status === 'failed') {
      return Promise.reject(new SocketchartError(ErrorCode.CLOSED, { message: `The connection is ${this.status}` }));
    }
    const ttl = options.ttl ?? this.options.queue.defaultTtlMs;
    const promise = this.enqueue(frame, options.priority ?? 'normal', ttl, options.id, options.channel);
    if (this.outbox && !options.ack) this.outbox.keepUntil(promise, frame, { channel: options.channel, priority: options.priority ?? 'normal', ttlMs: ttl, ack: false });
    this.wakeFlusher();
    return promise;
  }

  private enqueue(frame: OutgoingFrame, priority: Priority, ttl: number | undefined, id: string | undefined, channel: string | undefined): Promise<void> {
    const queue = (this.queue ??= new OutboundQueue(this.options.queue, this.options.clock));
    return queue.enqueue({
      payload: frame,
      bytes: exactBytes(frame),
      priority,
      ...(ttl !== undefined && ttl > 0 ? { ttlMs: ttl } : {}),
      ...(id === undefined ? {} : { id }),
      ...(channel === undefined ? {} : { channel }),
    });
  }

  /** Something was queued: the flusher runs when the fast path was open, or to get past messages held by a rate limit. */
  private wakeFlusher(): void {
    if (this.fastPath || this.throttled) {
      this.fastPath = false;
      this.toMachine({ type: 'queue.pending' });
    }
  }

  /** Queues again what a previous run left in the persistence store, oldest first. */
  private restore(messages: readonly StoredMessage[]): void {
    const outbox = this.outbox!;
    if (this.disposed || this.status === 'closed' || this.status === 'failed') return;
    const now = this.options.clock.now();
    let restored = 0;
    let expired = 0;
    for (const message of messages) {
      if (message.expiresAt !== undefined && message.expiresAt <= now) {
        outbox.forget(message.key);
        expired++;
        continue;
      }
      if (message.ack && this.acks?.has(message.key)) continue;
      const ttl = message.expiresAt === undefined ? undefined : message.expiresAt - now;
      const queued = this.enqueue(message.frame, message.priority, ttl, message.ack ? message.key : undefined, message.channel);
      let settled: Promise<unknown> = queued;
      if (message.ack) {
        const acks = this.ackTracker();
        settled = acks.track(message.key, message.frame);
        queued.then(
          () => acks.written(message.key),
          (error: SocketchartError) => acks.fail(message.key, error),
        );
      }
      outbox.forgetWhenSettled(message.key, settled);
      settled.catch((error: SocketchartError) => this.reportError(error));
      restored++;
    }
    this.emit('restored', { messages: restored, expired });
    if (restored > 0) this.wakeFlusher();
  }

  /**
   * Writes queued messages in priority order while the socket and the rate limits accept them. A message
   * whose channel type is out of tokens waits, with every later message of that type, while others go on.
   */
  drain(): 'empty' | 'blocked' | 'throttled' {
    this.throttleDelayMs = 0;
    const queue = this.queue;
    if (!queue || queue.size === 0) return 'empty';
    const ws = this.ws;
    if (!ws || ws.readyState !== ReadyState.OPEN) return 'blocked';
    const highWaterMark = this.options.queue.highWaterMark;
    const limiter = this.limiter;
    let held: QueuedMessage[] | undefined;
    let heldScopes: Set<string> | undefined;
    let result: 'empty' | 'blocked' | 'throttled' = 'empty';
    while (queue.size > 0) {
      if (!belowHighWater(ws, highWaterMark)) {
        result = 'blocked';
        break;
      }
      const message = queue.shift();
      if (!message) break;
      if (limiter !== undefined) {
        const scope = limiter.scopeOf(message.channel);
        const taken = scope !== undefined && heldScopes?.has(scope) ? Take.channelEmpty : limiter.take(message.channel);
        if (taken === Take.connectionEmpty) {
          queue.unshift(message);
          this.throttle(limiter.connectionWaitMs(), 'connection');
          result = 'throttled';
          break;
        }
        if (taken === Take.channelEmpty) {
          (held ??= []).push(message);
          (heldScopes ??= new Set()).add(scope ?? 'connection');
          continue;
        }
      }
      try {
        ws.send(message.payload);
      } catch {
        queue.unshift(message);
        result = 'blocked';
        break;
      }
      this.metrics.messagesOut++;
      this.metrics.bytesOut += message.bytes;
      message.resolve();
    }
    if (held !== undefined) {
      for (let i = held.length - 1; i >= 0; i--) queue.unshift(held[i]!);
      if (result === 'empty') {
        let wait = Infinity;
        for (const message of held) wait = Math.min(wait, limiter!.waitMs(message.channel));
        this.throttle(wait, channelType(held[0]!.channel ?? 'connection'));
        result = 'throttled';
      }
    }
    return result;
  }

  private throttle(waitMs: number, scope: string): void {
    this.throttleDelayMs = Math.max(1, Math.min(waitMs, 2 ** 31 - 1));
    if (this.throttling) return;
    this.throttling = true;
    this.metrics.onThrottle(true);
    if (this.listeners?.has('throttled')) this.emit('throttled', { scope, waitMs: this.throttleDelayMs, queued: this.queuedCount });
  }

  /** The fast path reopened, or the socket is gone: the wait for the rate limit is over. */
  endThrottle(): void {
    if (!this.throttling) return;
    this.throttling = false;
    this.metrics.onThrottle(false);
  }

  /** Delay before the flusher tries again when the socket pushed back. */
  flushRetryDelay(): number {
    return 10;
  }

  rejectQueued(error: SocketchartError): void {
    this.queue?.rejectAll(error);
    this.acks?.rejectAll(error);
  }

  disposeQueue(): void {
    this.disposed = true;
    this.queue?.dispose();
    this.acks?.rejectAll(new SocketchartError(ErrorCode.CLOSED, { message: 'The connection was disposed' }));
  }

  queueSnapshot(): { depth: number; capacity: number } {
    return { depth: this.queue?.size ?? 0, capacity: this.options.queue.maxMessages };
  }

  // Listeners

  on<K extends keyof ConnectionEvents>(event: K, listener: Listener<K>): () => void {
    if (event === 'message') return this.router.onAny((_, message) => (listener as Listener<'message'>)(message));
    const listeners = (this.listeners ??= new Map());
    let set = listeners.get(event);
    if (!set) listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => {
      set.delete(listener as Listener<never>);
      if (set.size > 0 || listeners.get(event) !== set) return;
      listeners.delete(event);
      if (listeners.size === 0 && this.listeners === listeners) this.listeners = undefined;
    };
  }

  emit<K extends keyof ConnectionEvents>(event: K, payload: ConnectionEvents[K]): void {
    const set = this.listeners?.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<K>)(payload);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  // Logs

  redact(text: string): string {
    return redactSecret(redactUrl(text, this.options.auth?.queryParam), this.token);
  }

  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, details?: Record<string, unknown>): void {
    const logger = this.options.logger;
    const fn = logger?.[level];
    if (!fn) return;
    const safe = details ? (redactDeep(details, (text) => this.redact(text)) as Record<string, unknown>) : undefined;
    fn.call(logger, this.redact(`[${this.options.name}] ${message}`), safe);
  }
}
