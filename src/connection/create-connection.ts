import { createActor, type Actor, type AnyActorRef } from 'xstate';
import { releaseActor, sharedParent } from './actor-system.js';
import { connectionMachine, type ConnectionMachine } from '../../machines/connection.machine.js';
import type { MessageListener } from './router.js';
import type { ConnectionMetricsSnapshot } from '../metrics/connection-metrics.js';
import type { SessionInfo } from '../protocol/adapter.js';
import type { AckInfo } from '../queue/ack-tracker.js';
import type { SocketchartError } from '../protocol/errors.js';
import { resolveOptions, type ConnectionOptions } from './options.js';
import { ConnectionRuntime, type ConnectionEvents, type SendOptions } from './runtime.js';
import type { ConnectionStatus } from './types.js';
import type { ConnectionSnapshot } from './status.js';

export { statusOf, type ConnectionSnapshot } from './status.js';

/** One WebSocket connection driven by its statechart. */
export class Connection {
  /** The XState actor (for inspection and the React/Vue bindings). */
  readonly actor: Actor<ConnectionMachine>;
  readonly name: string;
  private readonly rt: ConnectionRuntime;
  private readonly parent: AnyActorRef | undefined;
  private userStopped = false;

  /** @param owner the actor that owns this connection (a pool); by default connections share one per clock. */
  constructor(options: ConnectionOptions, owner?: AnyActorRef) {
    const resolved = resolveOptions(options);
    this.name = resolved.name;
    this.rt = new ConnectionRuntime(resolved);
    this.parent = owner ?? (resolved.inspect ? undefined : sharedParent(resolved.clock));
    this.actor = createActor(connectionMachine, {
      input: { rt: this.rt },
      clock: resolved.clock,
      id: resolved.name,
      ...(this.parent ? { parent: this.parent } : { inspect: resolved.inspect }),
    });
    this.rt.actor = this.actor;
    this.actor.subscribe(this.rt);
    this.actor.start();
  }

  /** Dials (from `idle` or `closed`); does nothing while already running. */
  start(): this {
    this.userStopped = false;
    this.rt.watchEnvironment();
    this.actor.send({ type: 'connection.start' });
    return this;
  }

  /** Closes the connection (code 1000); nothing reopens it but `start()`. Queued sends reject with CLOSED. */
  stop(options: { code?: number; reason?: string } = {}): this {
    this.userStopped = true;
    this.actor.send({ type: 'connection.stop', ...options });
    return this;
  }

  /** Starts on behalf of the owner (a pool): does nothing to a connection its user stopped. */
  startForOwner(): void {
    if (this.userStopped) return;
    this.rt.watchEnvironment();
    this.actor.send({ type: 'connection.start' });
  }

  /** Stops on behalf of the owner (a pool), leaving the user's own intent as it was. */
  stopForOwner(): void {
    this.actor.send({ type: 'connection.stop' });
  }

  /** Dials again now: leaves `failed`, or skips a backoff or an open circuit. */
  retry(): this {
    if (this.rt.status === 'failed') this.rt.watchEnvironment();
    this.actor.send({ type: 'connection.retry' });
    return this;
  }

  /**
   * Sends application data: written at once when connected and the socket is not backed up,
   * queued otherwise. Resolves when written; rejects with a SocketchartError (QUEUE_OVERFLOW,
   * MESSAGE_EXPIRED, MESSAGE_TOO_LARGE, CLOSED, INVALID_MESSAGE_FORMAT).
   */
  send(data: unknown, options?: SendOptions): Promise<void> {
    return this.rt.send(data, options);
  }

  /**
   * Sends a message that needs an answer: it carries an id, is kept until the server answers for that id,
   * is written again after a reconnect or `acks.timeoutMs`, and resolves with the server's reply (its ack:
   * the id, the sequence number the message got, whether it was a duplicate, and any `data` it carries).
   * Rejects with the server's error, TIMEOUT after `acks.maxAttempts` writes, or CLOSED.
   */
  request(data: unknown, options: Omit<SendOptions, 'ack'> & { channel: string }): Promise<AckInfo> {
    return this.rt.sendAcked(data, { ...options, ack: true });
  }

  /** Listens to one channel; the server is asked to (re)subscribe on every connect. Returns the unsubscribe function. */
  subscribe<T = unknown>(channel: string, listener: MessageListener<T>): () => void {
    const { first, unsubscribe } = this.rt.router.subscribe(channel, listener as MessageListener);
    const { protocol } = this.rt.options;
    if (first && this.rt.status === 'connected') this.rt.write(protocol.subscribeFrame(channel, undefined));
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      if (unsubscribe() && this.rt.status === 'connected') this.rt.write(protocol.unsubscribeFrame(channel));
    };
  }

  /** Listens to `state`, `error`, `message` (every inbound message) or `control` frames. Returns the remover. */
  on<K extends keyof ConnectionEvents>(event: K, listener: (payload: ConnectionEvents[K]) => void): () => void {
    return this.rt.on(event, listener);
  }

  get status(): ConnectionStatus {
    return this.rt.status as ConnectionStatus;
  }

  get isConnected(): boolean {
    return this.rt.status === 'connected';
  }

  get snapshot(): ConnectionSnapshot {
    return this.actor.getSnapshot();
  }

  get lastError(): SocketchartError | null {
    return this.actor.getSnapshot().context.lastError;
  }

  get session(): SessionInfo | null {
    return this.actor.getSnapshot().context.session;
  }

  /** Messages waiting in the outbound queue. */
  get queued(): number {
    return this.rt.queuedCount;
  }

  /** Queued messages wait for a rate limit (`link.connected.outbound.throttled`). */
  get throttled(): boolean {
    return this.actor.getSnapshot().matches({ link: { connected: { outbound: 'throttled' } } });
  }

  /** Sockets this connection has dialed so far. */
  get dials(): number {
    return this.rt.dials;
  }

  /** The last heartbeat round-trip time in ms, or `null` before the first pong. */
  get rttMs(): number | null {
    return this.rt.metrics.lastRtt;
  }

  /** The url the connection dials now (redacted). */
  get url(): string {
    const { urls, url } = this.rt.options;
    return this.rt.redact(urls ? urls[this.actor.getSnapshot().context.urlIndex]! : typeof url === 'string' ? url : url());
  }

  metrics(): ConnectionMetricsSnapshot {
    const { depth, capacity } = this.rt.queueSnapshot();
    return this.rt.metrics.snapshot({ queueDepth: depth, queueCapacity: capacity });
  }

  /** Stops the actor for good: closes the socket, clears every timer, rejects queued sends. */
  dispose(): void {
    if (this.actor.getSnapshot().status === 'active') this.actor.send({ type: 'connection.stop' });
    this.rt.unwatchEnvironment();
    releaseActor(this.actor, this.parent);
    this.rt.disposeQueue();
  }
}

/** Creates a connection (not started: call `start()`). Options are validated here. */
export function createConnection(options: ConnectionOptions): Connection {
  return new Connection(options);
}
