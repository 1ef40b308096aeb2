import type { OutgoingFrame } from '../protocol/adapter.js';
import { ErrorCode, InvalidOptionError, SocketchartError, checkSignal, closedError, finalFormatError } from '../protocol/errors.js';
import { OutboundQueue, priorityError, type Priority, type QueuedMessage } from '../queue/outbound-queue.js';
import { AckTracker, type AckInfo } from '../queue/ack-tracker.js';
import { RateLimiter, Take, channelType } from '../policy/rate-limiter.js';
import { Outbox } from '../storage/outbox.js';
import type { StoredMessage } from '../storage/message-store.js';
import type { ConnectionMetrics } from '../metrics/connection-metrics.js';
import type { Emitter } from '../events/emitter.js';
import { ReadyState, type WebSocketLike } from '../transport/websocket-like.js';
import type { ConnectionEvents } from './events.js';
import type { ResolvedOptions } from './options.js';
import type { Router } from './router.js';
import type { Operations } from '../protocol/operations.js';
import { acknowledgesOf } from '../protocol/capabilities.js';
import type { LinkState } from './link-state.js';
import { MAX_TIMER_MS, type TimerHandle } from '../environment/clock.js';
import { exactBytes, frameBytes } from '../protocol/frame-bytes.js';
import { MAX_MESSAGE_ID_LENGTH } from '../protocol/wire.js';

export interface SendOptions {
  /** Queue priority when the message cannot be written at once. @default 'normal' */
  priority?: Priority;
  /** Time-to-live while queued, in ms (`0`: none); the promise rejects with MESSAGE_EXPIRED after it. @default queue.defaultTtlMs */
  ttl?: number;
  /** Channel to publish on (default protocol: a `publish` frame). @default undefined */
  channel?: string;
  /** Application event name carried with the message. @default undefined */
  event?: string;
  /** Message id carried with the message (acks and dedup build on it): 1 to 128 characters. @default a fresh id when `ack` is set */
  id?: string;
  /**
   * Keep the message until the server acknowledges it: the promise resolves with the ack (not on write),
   * the message is written again after a reconnect and after `acks.timeoutMs`, and the promise rejects
   * with TIMEOUT after `acks.maxAttempts` writes, or with the server's error. Needs a `channel`.
   * @default false
   */
  ack?: boolean;
  /**
   * Aborting it gives the message up: a queued message leaves the queue, an acknowledged one is no longer
   * waited for or written again, and the promise rejects with the signal's reason. A message already
   * written stays written (with `ack`, the server may still apply it).
   * @default undefined
   */
  signal?: AbortSignal;
}

/** What the outbound side needs of its connection. */
export interface OutboundHost {
  readonly options: ResolvedOptions;
  readonly metrics: ConnectionMetrics;
  readonly events: Emitter<ConnectionEvents>;
  /** What the machine's state allows, as of its last transition. */
  readonly link: LinkState;
  /** The open socket, if any. */
  readonly ws: WebSocketLike | null;
  /** The channel router, when something listens. */
  readonly routes: Router | undefined;
  /** The live operations, for a protocol that runs them. */
  readonly operations: Operations | undefined;
  /** Writes a control frame now; false when there is no open socket. */
  write(frame: OutgoingFrame | undefined): boolean;
  /** Writes a data frame now, counting its bytes out (and a message, unless written `again`); false when there is no open socket. */
  writeData(frame: OutgoingFrame, again?: boolean): boolean;
  /** Tells the machine something waits in the queue (`queue.pending`). */
  wake(): void;
  reportError(error: SocketchartError): void;
}

/** How a drain ended. */
export type DrainResult = { readonly outcome: 'empty' | 'blocked' } | { readonly outcome: 'throttled'; readonly waitMs: number };

const RESOLVED: Promise<void> = /* @__PURE__ */ Promise.resolve();
const NO_SEND_OPTIONS: SendOptions = /* @__PURE__ */ Object.freeze({});
const EMPTY: DrainResult = /* @__PURE__ */ Object.freeze({ outcome: 'empty' });
const BLOCKED: DrainResult = /* @__PURE__ */ Object.freeze({ outcome: 'blocked' });

const numberOrNothing = (value: unknown) => (typeof value === 'number' ? value : undefined);

/** `bufferedAmount` is missing on some WebSocket stand-ins: count it as empty. */
const belowHighWater = (ws: WebSocketLike, highWaterMark: number) => !(ws.bufferedAmount >= highWaterMark);

/**
 * The outbound data plane: `send()` writes directly while the state allows it (`writable`), the queue is
 * empty, the rate limit has a token and the socket is not backed up; otherwise it queues and wakes the
 * flusher. Acknowledged messages, the rate limiter and the persistence outbox live here.
 */
export class Outbound {
  private queue: OutboundQueue | undefined;
  private acks: AckTracker | undefined;
  private limiter: RateLimiter | undefined;
  private readonly outbox: Outbox | undefined;
  /** A rate-limit wait is in progress (from the first throttled drain until the fast path reopens or the link goes). */
  private throttling = false;
  /** What the store held when it loaded while the connection was closed: queued when it starts again. */
  private unrestored: readonly StoredMessage[] | undefined;
  /** The store has not answered its load yet (for `connectTimeoutMs` at most): nothing is written, so that what a previous run left goes first. */
  private loading: boolean;
  private loadTimer: TimerHandle;

  constructor(private readonly host: OutboundHost) {
    const { options } = host;
    if (options.rateLimit.configured) this.limiter = new RateLimiter(options.clock, options.rateLimit);
    this.loading = options.store !== undefined;
    if (options.store) {
      const outbox = (this.outbox = new Outbox(options.store, options.clock, (what, cause) => this.failed(`could not ${what}`, cause), (key) => this.acks?.has(key)));
      this.awaitLoad();
      outbox.load().then(
        // answered after the timer: behind what this run queued
        (messages) => this.restore(messages, this.loading),
        (cause) => this.giveUp('could not be loaded', cause),
      );
    }
  }

  private failed(what: string, cause?: unknown): void {
    this.host.reportError(new SocketchartError(ErrorCode.SERVER_ERROR, { message: `The persistence store ${what}`, recovery: 'none', cause }));
  }

  /** This run's messages go on without what the store holds. */
  private giveUp(what: string, cause?: unknown): void {
    this.failed(what, cause);
    this.loaded();
    if (this.size > 0) this.wakeFlusher();
  }

  /** While the store loads, its answer is awaited for `connectTimeoutMs` at most. */
  private awaitLoad(): void {
    if (this.loading) this.loadTimer = this.host.options.clock.setTimeout(() => this.giveUp('did not answer its load'), this.host.options.connectTimeoutMs);
  }

  /** The store answered its load, or was given up on. */
  private loaded(): void {
    if (this.loading) this.host.options.clock.clearTimeout(this.loadTimer);
    this.loading = false;
  }

  get size(): number {
    return this.queue?.size ?? 0;
  }

  send(data: unknown, options: SendOptions | undefined): Promise<void> {
    if (options?.ack) return this.sendAcked(data, options).then(() => undefined);
    return this.sendFrame(data, options ?? NO_SEND_OPTIONS);
  }

  /** Sends and resolves with the server's ack (see `SendOptions.ack`). */
  sendAcked(data: unknown, options: SendOptions): Promise<AckInfo> {
    if (options.channel === undefined) {
      return Promise.reject(finalFormatError('A message sent with `ack` needs a `channel`'));
    }
    const { protocol } = this.host.options;
    if (!acknowledgesOf(protocol)) {
      const instead = this.host.operations ? ': execute() runs a query or mutation and resolves with its result' : '';
      return Promise.reject(
        finalFormatError(`The ${protocol.name} protocol has no acknowledgements (ack: true, request())${instead}`),
      );
    }
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const acks = this.ackTracker();
    const id = options.id ?? acks.nextId();
    if (acks.has(id)) {
      return Promise.reject(finalFormatError(`Message id "${id}" is already in flight`, { messageId: id }));
    }
    let acked: Promise<AckInfo> | undefined;
    const written = this.sendFrame(data, { ...options, id }, (frame) => (acked = acks.track(id, frame, options.channel)));
    // refused before it was tracked
    if (!acked) return written as Promise<never>;
    // an abort, a stop or a dispose gave it up at once (the tracker rejected it): its id may be in flight again, for another message
    written.then(
      () => signal?.aborted || acks.written(id),
      (error: SocketchartError) => error === signal?.reason || error.code === ErrorCode.CLOSED || acks.fail(id, error),
    );
    if (signal) {
      const onAbort = () => acks.fail(id, signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const done = () => signal.removeEventListener('abort', onAbort);
      acked.then(done, done);
    }
    return acked;
  }

  /** `track`: an acknowledged message's tracking starts once it is encoded; it is kept in the store until acknowledged, not written. */
  private sendFrame(data: unknown, options: SendOptions, track?: (frame: OutgoingFrame) => Promise<unknown>): Promise<void> {
    const { host } = this;
    const { signal, priority = 'normal', ttl, id, channel } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { protocol, maxMessageBytes: limit, queue: queueOptions } = host.options;
    if (priority !== 'normal') {
      const invalid = priorityError(priority);
      if (invalid) return Promise.reject(invalid);
    }
    if (ttl !== undefined && !(typeof ttl === 'number' && ttl >= 0)) {
      return Promise.reject(new InvalidOptionError('ttl', 'a number of ms, 0 or more (0: none)', ttl));
    }
    if (id !== undefined && !(typeof id === 'string' && id !== '' && id.length <= MAX_MESSAGE_ID_LENGTH)) {
      return Promise.reject(new InvalidOptionError('id', `a non-empty string of at most ${MAX_MESSAGE_ID_LENGTH} characters`, id));
    }
    if (channel !== undefined && (typeof channel !== 'string' || !channel)) return Promise.reject(new InvalidOptionError('channel', 'a non-empty channel name', channel));
    if (typeof Blob !== 'undefined' && data instanceof Blob) {
      return Promise.reject(finalFormatError('A Blob is not sent: send its bytes (await blob.arrayBuffer())'));
    }
    let frame: OutgoingFrame;
    try {
      // a signal that is not one is refused as the other options are, not thrown while queueing
      checkSignal(signal);
      frame = protocol.encode(data, options);
    } catch (cause) {
      return Promise.reject(
        cause instanceof SocketchartError ? cause : finalFormatError('The message cannot be encoded', { cause }),
      );
    }
    const bytes = frameBytes(frame, limit);
    if (bytes > limit) {
      host.metrics.drops++;
      return Promise.reject(
        new SocketchartError(ErrorCode.MESSAGE_TOO_LARGE, { message: `Message of ${bytes} bytes exceeds maxMessageBytes (${limit})`, details: { bytes, limit } }),
      );
    }
    const link = host.link;
    if (link.settled) return Promise.reject(closedError(link.status));
    const ttlMs = ttl ?? queueOptions.defaultTtlMs;
    const acked = track?.(frame);
    const keep = (settled: Promise<unknown>) => this.outbox?.keepUntil(settled, frame, { key: acked && id, channel, priority, ttlMs, ack: !!acked });
    if (acked) keep(acked);
    if (host.operations !== undefined && channel !== undefined) return host.operations.startBound(channel, frame, signal);
    const ws = host.ws;
    if (
      link.writable &&
      !this.loading &&
      ws !== null &&
      ws.readyState === ReadyState.OPEN &&
      (this.queue === undefined || this.queue.size === 0) &&
      belowHighWater(ws, queueOptions.highWaterMark) &&
      (this.limiter === undefined || this.limiter.take(channel) === Take.ok)
    ) {
      try {
        ws.send(frame);
        host.metrics.messagesOut++;
        host.metrics.bytesOut += exactBytes(frame);
        return RESOLVED;
      } catch {
        // queued, as drain() does: it goes on a later write
      }
    }
    const promise = this.enqueue(frame, priority, ttlMs, id, channel, signal);
    if (!acked) keep(promise);
    this.wakeFlusher();
    return promise;
  }

  private enqueue(
    frame: OutgoingFrame,
    priority: Priority,
    ttl: number | undefined,
    id: string | undefined,
    channel: string | undefined,
    signal?: AbortSignal,
    first?: boolean,
  ): Promise<void> {
    const queue = (this.queue ??= new OutboundQueue(this.host.options.queue, this.host.options.clock, (count) => (this.host.metrics.drops += count)));
    // ttl 0: none
    return queue.enqueue({ payload: frame, bytes: exactBytes(frame), priority, ttlMs: ttl! > 0 ? ttl : undefined, id, channel, signal, first });
  }

  /** Something was queued: the flusher runs when the fast path was open, or to get past messages held by a rate limit. */
  private wakeFlusher(): void {
    const link = this.host.link;
    if (link.writable || link.throttled) this.host.wake();
  }

  /** The link is up: acknowledged messages written before go again in order, and what queued meanwhile is flushed. */
  resume(write: (frame: OutgoingFrame) => boolean): void {
    this.acks?.resendWritten((frame, channel) => this.writeLimited(frame, channel, write));
    if (this.size > 0) this.host.wake();
  }

  /**
   * Queues again what a previous run left in the persistence store, oldest first and ahead of what this run
   * queued (behind it unless `first`); when they do not all fit, the newest are refused.
   */
  private restore(messages: readonly StoredMessage[], first = true): void {
    const outbox = this.outbox!;
    this.loaded();
    const { clock, maxMessageBytes: limit } = this.host.options;
    const now = clock.now();
    let kept = 0;
    let expired = 0;
    for (const message of messages) {
      // closed or disposed (an error listener may stop it): the rest is queued when it starts again
      if (this.host.link.settled) {
        this.unrestored = messages.slice(messages.indexOf(message));
        return;
      }
      const { key, expiresAt } = message;
      // no longer than the TTL it was sent with, whatever the wall clock did since
      const ttl = expiresAt === undefined ? undefined : Math.min(expiresAt - now, expiresAt - message.sentAt);
      if (ttl !== undefined && !(ttl > 0)) {
        outbox.forget(key);
        expired++;
        continue;
      }
      const bytes = frameBytes(message.frame, limit);
      if (bytes > limit) {
        outbox.forget(key);
        this.host.metrics.drops++;
        this.host.reportError(new SocketchartError(ErrorCode.MESSAGE_TOO_LARGE, { message: `A stored message of ${bytes} bytes exceeds maxMessageBytes (${limit})`, details: { bytes, limit, key } }));
        continue;
      }
      if (message.ack && this.acks?.has(key)) continue;
      kept++;
      const acked = message.ack ? this.ackTracker().track(key, message.frame, message.channel) : undefined;
      const queued = this.enqueue(message.frame, message.priority, ttl, message.ack ? key : undefined, message.channel, undefined, first);
      queued.catch(() => kept--);
      if (acked) {
        const acks = this.acks!;
        queued.then(
          () => acks.written(key),
          // CLOSED: stopped or disposed, the tracker rejected it at once (its id may be in flight again)
          (error: SocketchartError) => error.code === ErrorCode.CLOSED || acks.fail(key, error),
        );
      }
      outbox.forgetWhenSettled(key, acked ?? queued);
      (acked ?? queued).catch((error: SocketchartError) => this.host.reportError(error));
    }
    // told once the queue's refusals and evictions of these messages have settled
    void Promise.resolve().then(() => this.host.events.emit('restored', { messages: kept, expired }));
    if (this.size > 0) this.wakeFlusher();
  }

  /**
   * Writes queued messages in priority order while the socket and the rate limits accept them. A message
   * whose channel type is out of tokens waits, with every later message of that type, while others go on.
   */
  drain(): DrainResult {
    const queue = this.queue;
    if (!queue || queue.size === 0) return EMPTY;
    if (this.loading) return BLOCKED;
    const ws = this.host.ws;
    if (!ws || ws.readyState !== ReadyState.OPEN) return BLOCKED;
    const { metrics } = this.host;
    const highWaterMark = this.host.options.queue.highWaterMark;
    const limiter = this.limiter;
    let held: QueuedMessage[] | undefined;
    let heldScopes: Set<string> | undefined;
    let connectionWaitMs: number | undefined;
    let result: DrainResult = EMPTY;
    while (queue.size > 0) {
      if (!belowHighWater(ws, highWaterMark)) {
        result = BLOCKED;
        break;
      }
      const message = queue.shift();
      if (!message) break;
      if (limiter !== undefined) {
        const scope = limiter.scopeOf(message.channel);
        const taken = scope !== undefined && heldScopes?.has(scope) ? Take.channelEmpty : limiter.take(message.channel);
        if (taken === Take.connectionEmpty) {
          queue.unshift(message);
          connectionWaitMs = limiter.connectionWaitMs();
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
        result = BLOCKED;
        break;
      }
      metrics.messagesOut++;
      metrics.bytesOut += message.bytes;
      message.resolve();
    }
    if (held !== undefined) for (let i = held.length - 1; i >= 0; i--) queue.unshift(held[i]!);
    if (connectionWaitMs !== undefined) result = this.throttle(connectionWaitMs, 'connection');
    else if (held !== undefined && result === EMPTY) {
      let wait = Infinity;
      for (const message of held) wait = Math.min(wait, limiter!.waitMs(message.channel));
      result = this.throttle(wait, channelType(held[0]!.channel ?? 'connection'));
    }
    return result;
  }

  private throttle(waitMs: number, scope: string): DrainResult {
    const wait = Math.max(1, Math.min(waitMs, MAX_TIMER_MS));
    if (!this.throttling) {
      this.throttling = true;
      this.host.metrics.onThrottle(true);
      if (this.host.events.has('throttled')) this.host.events.emit('throttled', { scope, waitMs: wait, queued: this.size });
    }
    return { outcome: 'throttled', waitMs: wait };
  }

  /** The connection left `closed` or `failed`: what the store loaded meanwhile is queued now, or its load is awaited again. */
  reopened(): void {
    const messages = this.unrestored;
    this.unrestored = undefined;
    if (messages) this.restore(messages);
    this.awaitLoad();
  }

  /** The fast path reopened, or the link is gone: the wait for the rate limit is over. */
  endThrottle(): void {
    if (!this.throttling) return;
    this.throttling = false;
    this.host.metrics.onThrottle(false);
  }

  /** Leaving `connected`: the server's holds (`retry_after`) end with the socket they were answered on. */
  leaveConnected(): void {
    this.limiter?.liftHolds();
    this.endThrottle();
  }

  // What inbound control frames tell the outbound side

  /** The server's `rate_limit_status`: follow it at a share of its rate. */
  adoptServerLimit(frame: Readonly<Record<string, unknown>>): void {
    const { limit, scope, window_seconds: windowSeconds } = frame;
    if (typeof limit !== 'number') return;
    this.rateLimiter().adopt({
      limit,
      scope: typeof scope === 'string' ? scope : undefined,
      burst: numberOrNothing(frame.burst),
      remaining: numberOrNothing(frame.remaining),
      windowSeconds: typeof windowSeconds === 'number' && windowSeconds > 0 ? windowSeconds : undefined,
    });
  }

  /** The server closed the link on a message too large for it (1009): the largest acknowledged one written fails, instead of being written again; false when there was none. */
  refusedTooLarge(): boolean {
    const id = this.acks?.largestWritten();
    return id !== undefined && this.acks!.fail(id, new SocketchartError(ErrorCode.MESSAGE_TOO_LARGE, { message: 'The server closed the link on a message too large for it (1009)', recovery: 'fail', messageId: id }));
  }

  acked(info: AckInfo): void {
    this.acks?.ack(info);
  }

  /** The server refused one message: its promise rejects (recovery `fail`). False when it was not in flight. */
  refused(error: SocketchartError): boolean {
    return error.messageId !== undefined && this.acks?.fail(error.messageId, error.with({ recovery: 'fail' })) === true;
  }

  /**
   * The server refused a message for its rate limit: nothing more goes in that scope until its `retry_after`,
   * and an acknowledged message is written again then instead of failing (the app still hears of the error).
   * True when such a message was held.
   */
  holdForRateLimit(error: SocketchartError): boolean {
    const { clock, reconnect } = this.host.options;
    const until = clock.now() + (error.retryAfterMs ?? reconnect.baseMs);
    const details = error.details as { scope?: unknown } | undefined;
    this.rateLimiter().block(typeof details?.scope === 'string' ? details.scope : undefined, until);
    if (error.messageId === undefined || !this.acks?.holdUntil(error.messageId, until)) return false;
    this.host.reportError(error);
    return true;
  }

  private ackTracker(): AckTracker {
    return (this.acks ??= new AckTracker(this.host.options.clock, this.host.options.acks, (frame, channel) =>
      this.host.link.connected ? this.writeLimited(frame, channel, (f) => this.host.writeData(f, true)) : false,
    ));
  }

  /** A message written again takes its rate-limit token like any other: without one, the ms until it may go; when the write throws, `acks.timeoutMs`. */
  private writeLimited(frame: OutgoingFrame, channel: string | undefined, write: (frame: OutgoingFrame) => boolean): boolean | number {
    const limiter = this.limiter;
    if (limiter !== undefined && limiter.take(channel) !== Take.ok) return Math.max(1, limiter.waitMs(channel));
    try {
      return write(frame);
    } catch {
      return this.host.options.acks.timeoutMs;
    }
  }

  private rateLimiter(): RateLimiter {
    return (this.limiter ??= new RateLimiter(this.host.options.clock, this.host.options.rateLimit));
  }

  /** Closed or failed: every message waiting rejects, and the store's load is not awaited until the connection reopens. */
  settle(error: SocketchartError): void {
    if (this.loading) this.host.options.clock.clearTimeout(this.loadTimer);
    this.queue?.rejectAll(error);
    this.acks?.rejectAll(error);
  }

  dispose(): void {
    this.loaded();
    this.endThrottle();
    this.queue?.dispose();
    this.acks?.rejectAll(closedError('disposed'));
  }
}
