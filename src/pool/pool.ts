import { createActor, type Actor, type AnyActorRef, type SnapshotFrom } from 'xstate';
import type { Connection } from '../connection/connection.js';
import type { MessageListener } from '../connection/router.js';
import type { SendOptions } from '../connection/outbound.js';
import type { ConnectionStatus } from '../connection/types.js';
import type { ConnectionMetricsSnapshot } from '../metrics/connection-metrics.js';
import { ErrorCode, InvalidOptionError, SocketchartError } from '../protocol/errors.js';
import { resolvePoolOptions, type PoolOptions } from './options.js';
import { PoolRuntime, type PoolEvents, type PoolHealth } from './runtime.js';
import { bindPoolRuntime, boundPoolMachine, poolInput, poolRuntimeOf } from './implementations.js';
import { checkEndpoints } from './endpoint-options.js';
import { tuneSystem } from '../connection/actor-system.js';

type PoolActor = Actor<typeof boundPoolMachine>;

export interface PoolStatus {
  /** The pool machine's state: idle, starting, running, stopping or stopped. */
  state: string;
  /** All connections connected (`up`), some (`degraded`) or none (`down`). */
  health: PoolHealth;
  /** Each connection's status by endpoint name. */
  connections: Record<string, ConnectionStatus>;
}

export interface PoolMetrics {
  health: PoolHealth;
  /** Mean of the connections' health scores, 0–1. */
  healthScore: number;
  /** Sums over every connection. */
  totals: { connects: number; reconnects: number; messagesIn: number; messagesOut: number; bytesIn: number; bytesOut: number; drops: number; duplicates: number; errors: number; queueDepth: number };
  /** Dial permits granted so far and connections waiting for one. */
  dials: { granted: number; waiting: number };
  connections: Record<string, ConnectionMetricsSnapshot>;
}

/** Many connections under one parent statechart: staggered, herd-controlled, load-balanced. */
export class Pool {
  /** The actor, or what makes it: it is made and run, and the connections with it, at the first use of the pool, so that one made and dropped unused (a render React throws away) leaves nothing behind, not even for an inspector. */
  private machine: PoolActor | (() => PoolActor);
  private readonly rt: PoolRuntime;
  private readonly owned: boolean;

  /** @internal Use `createPool()`, or `poolOf(actor)` for an actor of `poolLogic()`. */
  constructor(runtime: PoolRuntime, actor: PoolActor | (() => PoolActor), owned: boolean) {
    this.rt = runtime;
    this.machine = actor;
    this.owned = owned;
  }

  /** The pool actor (its connections are its children, for inspection). */
  get actor(): PoolActor {
    if (typeof this.machine !== 'function') return this.machine;
    const actor = (this.machine = this.machine());
    actor.start();
    try {
      bindPoolRuntime(actor, this.rt);
    } catch (error) {
      actor.stop();
      throw error;
    }
    if (this.rt.isDisposed) actor.stop();
    return actor;
  }

  /** The runtime, with the actor running and the connections made. */
  private get live(): PoolRuntime {
    void this.actor;
    return this.rt;
  }

  /** Starts the connections in priority order, `staggerMs` apart. Throws CLOSED once the pool is disposed. */
  start(): this {
    if (this.rt.isDisposed) throw new SocketchartError(ErrorCode.CLOSED, { message: 'The pool was disposed' });
    this.actor.send({ type: 'pool.start' });
    return this;
  }

  /** Closes every connection (1000); nothing reopens them but `start()`. Does nothing once the pool is disposed. */
  stop(): this {
    if (!this.rt.isDisposed) this.actor.send({ type: 'pool.stop' });
    return this;
  }

  connection(name: string): Connection | undefined {
    return this.live.connections.get(name);
  }

  get connections(): readonly Connection[] {
    return this.live.order;
  }

  /**
   * Sends through one endpoint, or through a group: a healthy member picked by the pool's balancing
   * strategy (round-robin, least-pending or random).
   */
  send(target: string, data: unknown, options?: SendOptions): Promise<void> {
    const rt = this.live;
    const direct = rt.connections.get(target);
    if (direct) return direct.send(data, options);
    const members = rt.groups.get(target);
    if (!members) return Promise.reject(new SocketchartError(ErrorCode.INVALID_OPTION, { message: `No endpoint or group named "${target}"`, recovery: 'fail' }));
    const member = rt.balancer.pick(members);
    if (!member) return Promise.reject(new SocketchartError(ErrorCode.CLOSED, { message: `Every member of group "${target}" is closed or failed` }));
    return member.send(data, options);
  }

  /** Listens to one endpoint's channel, or to all its messages; returns the unsubscribe function. */
  subscribe<T = unknown>(endpoint: string, channel: string, listener: MessageListener<T>): () => void;
  subscribe<T = unknown>(endpoint: string, listener: MessageListener<T>): () => void;
  subscribe<T = unknown>(endpoint: string, channelOrListener: string | MessageListener<T>, maybeListener?: MessageListener<T>): () => void {
    const connection = this.live.connections.get(endpoint);
    if (!connection) throw new SocketchartError(ErrorCode.INVALID_OPTION, { message: `No endpoint named "${endpoint}"`, recovery: 'fail' });
    if (typeof channelOrListener === 'string') {
      if (!maybeListener) throw new SocketchartError(ErrorCode.INVALID_OPTION, { message: 'subscribe(endpoint, channel, listener) needs a listener', recovery: 'fail' });
      return connection.subscribe(channelOrListener, maybeListener);
    }
    const listener = channelOrListener;
    if (typeof listener !== 'function') throw new InvalidOptionError('listener', 'a function (data, message) => void', listener);
    return connection.on('message', (message) => listener(message.data as T, message as never));
  }

  /** Listens to `state` (any connection), `health` (aggregate) or `failover`; returns the remover. */
  on<K extends keyof PoolEvents>(event: K, listener: (payload: PoolEvents[K]) => void): () => void {
    if (typeof listener !== 'function') throw new InvalidOptionError('listener', 'a function (payload) => void', listener);
    return this.rt.events.on(event, listener);
  }

  get snapshot(): SnapshotFrom<PoolActor> {
    return this.actor.getSnapshot();
  }

  status(): PoolStatus {
    // not used yet: read without making the actor (a server render reads it, and never disposes the pool)
    if (typeof this.machine === 'function' && !this.rt.isDisposed) {
      return { state: 'idle', health: this.rt.health, connections: Object.fromEntries(this.rt.startOrder().map(({ endpoint }) => [endpoint.name, 'idle'])) };
    }
    const connections: Record<string, ConnectionStatus> = Object.fromEntries(this.live.order.map((connection) => [connection.name, connection.status]));
    const { value, status } = this.actor.getSnapshot();
    const state = status !== 'active' ? 'stopped' : typeof value === 'string' ? value : Object.keys(value)[0]!;
    return { state, health: this.rt.health, connections };
  }

  metrics(): PoolMetrics {
    const connections: Array<[string, ConnectionMetricsSnapshot]> = [];
    const totals = { connects: 0, reconnects: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, drops: 0, duplicates: 0, errors: 0, queueDepth: 0 };
    let score = 0;
    for (const connection of this.live.order) {
      const m = connection.metrics();
      connections.push([connection.name, m]);
      for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] += m[key];
      score += m.healthScore;
    }
    return {
      health: this.live.health,
      healthScore: this.rt.order.length === 0 ? 0 : score / this.rt.order.length,
      totals,
      dials: { granted: this.rt.budget?.granted ?? 0, waiting: this.rt.budget?.queued ?? 0 },
      connections: Object.fromEntries(connections),
    };
  }

  /** `using pool = createPool(…)`: disposes the pool at the end of the scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** `await using pool = …`: stops every connection (waiting at most `stopTimeoutMs` for them to close), then disposes. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.isDisposed) return;
    if (typeof this.machine === 'function') return this.dispose();
    if (this.actor.getSnapshot().status === 'active') {
      await new Promise<void>((resolve) => {
        const subscription = this.actor.subscribe({
          next: (snapshot) => {
            if (snapshot.value !== 'stopped') return;
            queueMicrotask(() => subscription.unsubscribe());
            resolve();
          },
          complete: () => resolve(),
          error: () => resolve(),
        });
        this.stop();
      });
    }
    this.dispose();
  }

  /** `dispose()` was called (or the pool's actor stopped): it cannot start again. */
  get isDisposed(): boolean {
    return this.rt.isDisposed;
  }

  /** Stops everything for good: every connection actor, the budget timer, the environment listener. */
  dispose(): void {
    if (typeof this.machine === 'function') return this.rt.dispose();
    const { status } = this.actor.getSnapshot();
    if (status === 'stopped') return;
    this.rt.dispose();
    if (!this.owned || status !== 'active') return;
    // Called from inside the pool actor (one of its listeners), the connections' last states and releases wait in its mailbox, which stop() empties.
    if (this.rt.order.some((connection) => connection.actor.getSnapshot().status === 'active')) queueMicrotask(() => this.actor.stop());
    else this.actor.stop();
  }
}

/** Creates a pool (not started: call `start()`; nothing runs before the pool is first used). Options, and every endpoint's options, are validated here. */
export function createPool(options: PoolOptions): Pool {
  const resolved = resolvePoolOptions(options);
  checkEndpoints(resolved);
  const make = () => {
    const actor = createActor(boundPoolMachine, {
      input: poolInput(resolved),
      clock: resolved.clock,
      ...(resolved.inspect ? { inspect: resolved.inspect } : {}),
    });
    tuneSystem(actor);
    return actor;
  };
  return new Pool(new PoolRuntime(resolved), make, true);
}

const handles = new WeakMap<AnyActorRef, Pool>();

/** The handle of a pool actor run from `poolLogic()`: `connection(name)`, `send`, `subscribe`, `metrics`… */
export function poolOf(actor: AnyActorRef): Pool {
  let handle = handles.get(actor);
  if (handle) return handle;
  const runtime = poolRuntimeOf(actor);
  if (!runtime) throw new TypeError('poolOf() needs an actor of poolLogic()');
  handle = new Pool(runtime, actor as PoolActor, false);
  handles.set(actor, handle);
  return handle;
}
