import { createActor, type Actor, type AnyActorRef, type Snapshot } from 'xstate';
import { releaseActor, sharedParent, tuneSystem } from './actor-system.js';
import type { MessageListener } from './router.js';
import type { ConnectionMetricsSnapshot } from '../metrics/connection-metrics.js';
import type { SessionInfo } from '../protocol/adapter.js';
import type { AckInfo } from '../queue/ack-tracker.js';
import { ErrorCode, InvalidOptionError, SocketchartError } from '../protocol/errors.js';
import { utf8Length } from '../protocol/frame-bytes.js';
import { resolveOptions, type ConnectionOptions } from './options.js';
import { ConnectionRuntime, errorOf, type ConnectionSnapshot } from './runtime.js';
import type { ConnectionEvents } from './events.js';
import type { SendOptions } from './outbound.js';
import type { ConnectionStatus } from './types.js';
import { bindRuntime, boundConnectionMachine, connectionInput, findRuntime } from './implementations.js';
import type { OperationOptions, OperationSink } from '../protocol/operations.js';
import type { IterateOptions, OperationCallHost, OperationCallOptions } from '../protocol/operation-calls.js';
import type { ChannelIterator, ChannelIteratorOptions } from './channel-iterator.js';
import type { PresenceSession } from './presence.js';
import { missingFeature, resolveFeatures, type ConnectionFeature, type FeatureSet, type OperationsFeatureParts } from './features.js';
import { allFeatures } from './optional-features.js';
import { onceEvent, untilReady, type OnceOptions } from './waiting.js';
import { attempt } from '../events/emitter.js';

export { statusOf } from './status.js';
export type { ConnectionSnapshot } from './runtime.js';

type ConnectionActor = Actor<typeof boundConnectionMachine>;

/** One WebSocket connection driven by its statechart. */
export class Connection {
  readonly name: string;
  /** The actor, or what makes it (an inspected connection's, made at its first use: one made and dropped unused is never announced). */
  private current: ConnectionActor | (() => ConnectionActor);
  private readonly rt: ConnectionRuntime;
  /** Who stops the actor on `dispose()`: its owner (a pool, or the shared parent), itself (`null`), or the app that embeds it (`undefined`). */
  private readonly owner: AnyActorRef | null | undefined;
  /** The current actor has been started (a connection of the shared parent starts its actor on `start()`). */
  private started: boolean;
  private userStopped = false;
  private presence_: PresenceSession | undefined;

  /** @internal Use `createConnection()`, or `connectionOf(actor)` for an actor of `connectionLogic()`. */
  constructor(runtime: ConnectionRuntime, actor: ConnectionActor | (() => ConnectionActor), owner: AnyActorRef | null | undefined, started = true) {
    this.rt = runtime;
    this.current = actor;
    this.owner = owner;
    this.started = started;
    this.name = runtime.options.name;
  }

  /**
   * The XState actor (for inspection and the bindings). A connection created by `createConnection()`
   * lets go of its actor when it comes to rest (closed or failed), so that a connection nobody references
   * can be collected; `start()`, `retry()` or `stop()` then run a new one that goes on from there.
   */
  get actor(): ConnectionActor {
    if (typeof this.current === 'function') this.current = this.current();
    return this.current;
  }

  /** The actor to send to: started if it was not; one that goes on from the last one's state when that one was let go at rest. */
  private running(): ConnectionActor {
    if (this.rt.disposed) throw new SocketchartError(ErrorCode.CLOSED, { message: `The connection "${this.name}" was disposed` });
    if (this.started && this.actor.getSnapshot().status === 'stopped' && this.rt.releasesAtRest) {
      const rested = this.actor.getPersistedSnapshot() as Snapshot<unknown>;
      this.current = spawnConnectionActor(this.rt, this.owner ?? undefined, { ...rested, status: 'active' } as Snapshot<unknown>);
      this.started = false;
    }
    if (!this.started) {
      this.started = true;
      this.actor.start();
    }
    return this.actor;
  }

  /** Closed, with its actor let go at rest: `stop()` and `retry()` have nothing to do (and need no new actor). */
  private get restsClosed(): boolean {
    return !this.rt.disposed && this.started && this.rt.releasesAtRest && this.rt.link.status === 'closed' && this.actor.getSnapshot().status === 'stopped';
  }

  /** Dials (from `idle` or `closed`, and at once from `closing`: a `stop()` then `start()` comes back); does nothing while already running. */
  start(): this {
    this.userStopped = false;
    this.dial();
    return this;
  }

  /** `failed` is left only by `retry()`: a start there changes nothing (and watches nothing). */
  private dial(): void {
    if (!this.rt.disposed && this.rt.link.status === 'failed') return;
    const actor = this.running();
    this.rt.watchEnvironment();
    actor.send({ type: 'connection.start' });
  }

  /** Closes the connection (code 1000); nothing reopens it but `start()`. Queued sends reject with CLOSED. Does nothing after `dispose()`. */
  stop(options: { code?: number; reason?: string } = {}): this {
    const { code, reason } = options;
    if (code !== undefined && code !== 1000 && !(Number.isInteger(code) && code >= 3000 && code <= 4999)) throw new InvalidOptionError('code', 'a close code: 1000, or 3000 to 4999', code);
    if (reason !== undefined && !(typeof reason === 'string' && utf8Length(reason) <= 123)) throw new InvalidOptionError('reason', 'a string of at most 123 UTF-8 bytes', reason);
    this.userStopped = true;
    if (!this.rt.disposed && !this.restsClosed) this.running().send({ type: 'connection.stop', ...options });
    return this;
  }

  /** Starts on behalf of the owner (a pool): does nothing to a connection its user stopped. */
  startForOwner(): void {
    if (!this.userStopped) this.dial();
  }

  /** Stops on behalf of the owner (a pool), leaving the user's own intent as it was. */
  stopForOwner(): void {
    if (!this.rt.disposed && !this.restsClosed) this.running().send({ type: 'connection.stop' });
  }

  /** Dials again now: leaves `failed`, or skips a backoff or an open circuit. */
  retry(): this {
    if (this.restsClosed) return this;
    const actor = this.running();
    if (this.rt.link.status === 'failed') this.rt.watchEnvironment();
    actor.send({ type: 'connection.retry' });
    return this;
  }

  /**
   * Sends application data: written at once when connected and the socket is not backed up,
   * queued otherwise. With socketchart's protocol, data is published on `options.channel`; without a
   * channel only a string or binary frame is written, as it is. Resolves when written; rejects with a
   * SocketchartError (QUEUE_OVERFLOW, MESSAGE_EXPIRED, MESSAGE_TOO_LARGE, CLOSED, INVALID_MESSAGE_FORMAT).
   */
  send(data: unknown, options?: SendOptions): Promise<void> {
    return this.rt.outbound.send(data, options);
  }

  /**
   * Sends a message that needs an answer: it carries an id, is kept until the server answers for that id,
   * is written again after a reconnect or `acks.timeoutMs`, and resolves with the server's reply (its ack:
   * the id, the sequence number the message got, whether it was a duplicate, and any `data` it carries).
   * Rejects with the server's error, TIMEOUT after `acks.maxAttempts` writes, or CLOSED.
   */
  request(data: unknown, options: Omit<SendOptions, 'ack'> & { channel: string }): Promise<AckInfo> {
    return this.rt.outbound.sendAcked(data, { ...options, ack: true });
  }

  /**
   * Listens to one channel; the server is asked to (re)subscribe on every connect, until it refuses the
   * channel (a `refused` event: the channel is dropped; subscribe again to ask again); one its `control` rate limit
   * refused is asked again after `retry_after`. Returns the unsubscribe function.
   */
  subscribe<T = unknown>(channel: string, listener: MessageListener<T>): () => void {
    if (typeof channel !== 'string' || channel === '') throw new InvalidOptionError('channel', 'a non-empty channel name', channel);
    if (typeof listener !== 'function') throw new InvalidOptionError('listener', 'a function (data, message) => void', listener);
    const { first, unsubscribe } = this.rt.router.subscribe(channel, listener as MessageListener);
    const { protocol } = this.rt.options;
    if (first && this.rt.link.connected) this.rt.write(attempt(() => protocol.subscribeFrame(channel, undefined)));
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      const operation = this.rt.operations?.has(channel);
      if (!unsubscribe()) return;
      if (!operation && this.rt.link.connected) this.rt.write(attempt(() => protocol.unsubscribeFrame(channel)));
      // others typing are heard while anything subscribes the channel: told stopped once nothing does
      this.presence_?.untype(channel);
    };
  }

  /** Listens to one of the connection's events (`ConnectionEvents`: `state`, `error`, `message` for every inbound message, `control` frames, `gap`, `refused`…). Returns the remover. */
  on<K extends keyof ConnectionEvents>(event: K, listener: (payload: ConnectionEvents[K]) => void): () => void {
    if (typeof listener !== 'function') throw new InvalidOptionError('listener', 'a function (payload) => void', listener);
    if (event === 'message') return this.rt.router.onAny((_, message) => (listener as (payload: ConnectionEvents['message']) => void)(message));
    return this.rt.events.on(event, listener);
  }

  /**
   * The next `event` (that `filter` accepts), as a promise; rejects with the signal's reason when it is
   * aborted first, with CLOSED (as `ready()`) when the connection is disposed first or already. The listener is removed either way.
   */
  once<K extends keyof ConnectionEvents>(event: K, options?: OnceOptions<ConnectionEvents[K]>): Promise<ConnectionEvents[K]> {
    return onceEvent(this, event, options);
  }

  /**
   * Resolves when the connection is `connected` (at once if it is). Rejects with the failure when it fails,
   * with CLOSED when it is stopped or disposed (at once if it is closed or failed already: `start()` or
   * `retry()` first), and with the signal's reason when aborted. An `idle` connection is waited for.
   */
  ready(options: { signal?: AbortSignal } = {}): Promise<void> {
    return untilReady(this, options.signal);
  }

  /**
   * The channel's messages as an async iterator (`for await (const message of connection.channel('x'))`):
   * subscribed at once, buffered up to `bufferSize` for a slow reader, unsubscribed on `break`. The iteration
   * ends when the connection is closed or disposed, throws when it fails (at once when it is already) and
   * when the server refuses the channel (AUTHORIZATION_FAILED).
   */
  channel<T = unknown>(channel: string, options?: ChannelIteratorOptions): ChannelIterator<T> {
    if (typeof channel !== 'string' || channel === '') throw new InvalidOptionError('channel', 'a non-empty channel name', channel);
    const feature = this.rt.features.channelIteration;
    if (!feature) throw missingFeature('channelIteration', 'connection.channel()');
    return feature.iterate<T>(this, channel, options);
  }

  /**
   * Presence and typing on this connection's channels (with a protocol that has them: the default one,
   * against the reference server): `join`, `leave`, `list`, `members`, `watch`, `startTyping`,
   * `stopTyping`, `typingUsers`; changes arrive as `presence` and `typing` events.
   */
  get presence(): PresenceSession {
    if (this.presence_) return this.presence_;
    const feature = this.rt.features.presence;
    if (!feature) throw missingFeature('presence', 'connection.presence');
    return (this.presence_ = feature.session(this.rt));
  }

  get status(): ConnectionStatus {
    return this.rt.link.status;
  }

  get isConnected(): boolean {
    return this.rt.link.connected;
  }

  get snapshot(): ConnectionSnapshot {
    return this.actor.getSnapshot();
  }

  get lastError(): SocketchartError | null {
    const failure = this.actor.getSnapshot().context.lastError;
    return failure ? errorOf(failure) : null;
  }

  get session(): SessionInfo | null {
    return this.actor.getSnapshot().context.session;
  }

  /** Messages waiting in the outbound queue. */
  get queued(): number {
    return this.rt.queued;
  }

  /** Queued messages wait for a rate limit (`link.connected.outbound.throttled`). */
  get throttled(): boolean {
    return this.actor.getSnapshot().hasTag('throttled');
  }

  /** Sockets this connection has dialed so far. */
  get dials(): number {
    return this.rt.dials;
  }

  /** The last heartbeat round-trip time on the current link in ms, or `null` before its first pong. */
  get rttMs(): number | null {
    return this.rt.metrics.lastRtt;
  }

  /** The url the connection dials now (redacted); with a url function, the one it answered for the last dial (`''` before the first). */
  get url(): string {
    const { urls, url } = this.rt.options;
    return this.rt.redact(urls ? urls[this.actor.getSnapshot().context.failover.dialIndex]! : typeof url === 'string' ? url : (this.rt.dialedUrl ?? ''));
  }

  metrics(): ConnectionMetricsSnapshot {
    return this.rt.metrics.snapshot({ queueDepth: this.rt.queued, queueCapacity: this.rt.options.queue.maxMessages });
  }

  /** `using connection = createConnection(…)`: disposes the connection at the end of the scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** `await using connection = …`: stops (the close handshake, at most `closeTimeoutMs`), then disposes. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.rt.disposed) return;
    if (!this.rt.link.settled && this.rt.link.status !== 'idle') {
      const closed = this.once('state', { filter: ({ status }) => status === 'closed' || status === 'failed' });
      this.stop();
      if (!this.rt.link.settled) await closed;
    }
    this.dispose();
  }

  /** Stops the actor for good: closes the socket, clears every timer, rejects queued sends. The connection is then closed; `start()` refuses. */
  dispose(): void {
    this.rt.dispose(() => {
      this.presence_?.dispose();
      const actor = this.actor;
      if (this.started && actor.getSnapshot().status === 'active') actor.send({ type: 'connection.stop' });
      if (this.owner !== undefined) releaseActor(actor, this.owner ?? undefined);
    });
  }

  /** `dispose()` was called (or the connection's actor stopped): it cannot start again. */
  get isDisposed(): boolean {
    return this.rt.disposed;
  }

  /** What the operation calls read of this connection. */
  private get operationHost(): OperationCallHost {
    const rt = this.rt;
    return { operations: rt.operations, protocolName: rt.options.protocol.name, link: rt.link };
  }

  private operationCalls(call: string): OperationsFeatureParts {
    const feature = this.rt.features.operations;
    if (!feature) throw missingFeature('operations', call);
    return feature;
  }

  /**
   * Starts an operation of the protocol (a graphql-transport-ws `subscribe`) whose results go to `sink.next`
   * until the server completes it (`sink.complete`) or fails it (`sink.error`). It is
   * written once when the link is up and started again after a reconnect while it is live. Returns the
   * function that stops it (the server is told; `sink.complete` is called). Throws InvalidOptionError for a
   * protocol without operations or a bad sink, a SocketchartError for a payload the protocol refuses or an
   * id already running, CLOSED when the connection is closed or failed.
   */
  operation<T = unknown>(payload: unknown, sink: OperationSink<T>, options?: OperationOptions): () => void {
    return this.operationCalls('operation()').run(this.operationHost, payload, sink, options);
  }

  /**
   * Runs a one-shot operation (a query or a mutation) and resolves with its result; a reconnect before the
   * result starts it again unless `restart: false`. Rejects with the server's error (SERVER_ERROR, its
   * errors in `details`), CLOSED if the connection closes or fails first, `signal.reason` on abort.
   */
  execute<T = unknown>(payload: unknown, options?: OperationCallOptions): Promise<T> {
    return this.operationCalls('execute()').execute<T>(this.operationHost, payload, options);
  }

  /**
   * The results of an operation as an async iterator (`for await … of`): it ends when the server completes
   * the operation, throws its error, and a `break` (or `return()`) stops it. A reader `bufferSize` results
   * behind (1000) ends it with QUEUE_OVERFLOW, or drops results with `overflow: 'drop-oldest' | 'drop-newest'`.
   */
  iterate<T = unknown>(payload: unknown, options?: IterateOptions): AsyncIterableIterator<T> {
    return this.operationCalls('iterate()').iterate<T>(this.operationHost, payload, options);
  }
}

/** A connection actor for `runtime`, a child of `parent` (or a root actor with its own system), not started; from `snapshot` when given. */
function spawnConnectionActor(runtime: ConnectionRuntime, parent: AnyActorRef | undefined, snapshot?: Snapshot<unknown>): ConnectionActor {
  const { options } = runtime;
  const actor = createActor(boundConnectionMachine, {
    input: connectionInput(options),
    clock: options.clock,
    id: options.name,
    snapshot,
    ...(parent ? { parent } : { inspect: options.inspect }),
  });
  bindRuntime(actor, runtime);
  return actor;
}

/**
 * @internal Creates a connection whose actor is a child of `owner` (a pool), or of the shared parent.
 * An actor of the shared parent starts with the connection, and is let go of at rest: the shared parent
 * then holds nothing of a connection nobody references.
 */
export function createOwnedConnection(options: ConnectionOptions, owner: AnyActorRef | undefined, features: FeatureSet): Connection {
  const resolved = resolveOptions(options);
  const runtime = new ConnectionRuntime(resolved, features);
  const shared = owner === undefined && !resolved.inspect;
  const parent = shared ? sharedParent(resolved.clock) : owner;
  const make = () => {
    const actor = spawnConnectionActor(runtime, parent);
    if (!parent) tuneSystem(actor);
    if (shared) runtime.releaseAtRest(parent!);
    else actor.start();
    return actor;
  };
  return new Connection(runtime, parent ? make() : make, parent ?? null, !shared);
}

/** Creates a connection (not started: call `start()`), with every feature. Options are validated here. */
export function createConnection(options: ConnectionOptions): Connection {
  return createOwnedConnection(options, undefined, allFeatures);
}

export interface BaseConnectionOptions extends ConnectionOptions {
  /** The optional parts the connection has: `PresenceFeature`, `OperationsFeature`, `ChannelIterationFeature`. @default [] */
  features?: readonly ConnectionFeature[];
}

/**
 * Creates a connection with only the `features` named: a browser bundle then holds nothing of the others.
 * Everything else is as `createConnection()`; a call that needs a feature left out throws InvalidOptionError.
 */
export function createBaseConnection(options: BaseConnectionOptions): Connection {
  if (typeof options !== 'object' || options === null) return createOwnedConnection(options, undefined, {});
  const { features, ...rest } = options;
  return createOwnedConnection(rest, undefined, resolveFeatures(features));
}

const handles = new WeakMap<AnyActorRef, Connection>();

/**
 * The handle of a connection actor run from `connectionLogic()` (invoked, spawned or created by the app):
 * `send`, `subscribe`, `metrics`… The actor's own parent owns its lifetime: `dispose()` only settles its messages.
 */
export function connectionOf(actor: AnyActorRef): Connection {
  let handle = handles.get(actor);
  if (handle) return handle;
  const runtime = findRuntime(actor);
  if (!runtime) throw new TypeError('connectionOf() needs an actor of connectionLogic()');
  handle = new Connection(runtime, actor as ConnectionActor, undefined);
  handles.set(actor, handle);
  return handle;
}
