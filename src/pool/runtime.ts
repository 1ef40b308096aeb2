import type { AnyActorRef } from 'xstate';
import { Connection } from '../connection/create-connection.js';
import type { ConnectionOptions } from '../connection/options.js';
import type { ConnectionStatus } from '../connection/types.js';
import { DialBudget } from '../policy/dial-budget.js';
import { InvalidOptionError } from '../protocol/errors.js';
import { Balancer } from './balancer.js';
import { EnvironmentFanout } from './environment-fanout.js';
import type { EndpointOptions, ResolvedPoolOptions } from './options.js';

/** All connections connected, some, or none. */
export type PoolHealth = 'up' | 'degraded' | 'down';

/** Events `pool.on()` can listen to. */
export interface PoolEvents {
  /** A connection changed state. */
  state: { name: string; status: ConnectionStatus; previous: ConnectionStatus };
  /** The aggregate status changed. */
  health: { health: PoolHealth; previous: PoolHealth };
  /** A connection moved to another of its urls. */
  failover: { name: string; from: number; to: number; url: string };
}

const resting = new Set<string>(['idle', 'closed', 'failed']);

function connectionOptions(endpoint: EndpointOptions, pool: ResolvedPoolOptions, rt: PoolRuntime): ConnectionOptions {
  const { name, priority, group: _group, ...own } = endpoint;
  const closeTimeoutMs = Math.min(own.closeTimeoutMs ?? pool.defaults.closeTimeoutMs ?? 2_000, pool.stopTimeoutMs);
  return {
    ...pool.defaults,
    ...own,
    url: own.url,
    closeTimeoutMs,
    name,
    priority: priority ?? 2,
    environment: rt.fanout,
    clock: pool.clock,
    random: pool.random,
    ...(rt.budget ? { dialGate: rt.budget } : {}),
  } as ConnectionOptions;
}

/** What a pool owns outside its statechart: the connections, the dial budget, the environment fan-out, counters. */
export class PoolRuntime {
  readonly fanout: EnvironmentFanout;
  readonly budget: DialBudget | undefined;
  readonly balancer: Balancer;
  readonly connections = new Map<string, Connection>();
  /** Connections in start order: priority first, then as listed. */
  order: Connection[] = [];
  readonly groups = new Map<string, Connection[]>();
  actor: AnyActorRef | undefined;
  started = 0;
  health: PoolHealth = 'down';
  private connected = 0;
  private active = 0;
  private listeners: Map<keyof PoolEvents, Set<(payload: never) => void>> | undefined;

  constructor(readonly options: ResolvedPoolOptions) {
    this.fanout = new EnvironmentFanout(options.environment);
    this.budget = options.dialBudget === false ? undefined : new DialBudget(options.dialBudget, options.clock, 10_000);
    this.balancer = new Balancer(options.balancing, options.health, options.random);
  }

  toJSON(): Record<string, unknown> {
    return { connections: this.connections.size, started: this.started, health: this.health };
  }

  /** Creates every connection as a child of the pool actor (one shared system, no per-spawn copy of a children map). */
  createConnections(owner: AnyActorRef): void {
    const indexed = this.options.endpoints.map((endpoint, index) => ({ endpoint, index }));
    indexed.sort((a, b) => (a.endpoint.priority ?? 2) - (b.endpoint.priority ?? 2) || a.index - b.index);
    for (const { endpoint, index } of indexed) {
      let connection: Connection;
      try {
        connection = new Connection(connectionOptions(endpoint, this.options, this), owner);
      } catch (error) {
        throw error instanceof InvalidOptionError ? error.within(`endpoints[${index}]`) : error;
      }
      this.connections.set(endpoint.name, connection);
      this.order.push(connection);
      if (endpoint.group !== undefined) {
        const members = this.groups.get(endpoint.group) ?? [];
        members.push(connection);
        this.groups.set(endpoint.group, members);
      }
      connection.on('state', ({ status, previous }) => this.onState(connection, status as ConnectionStatus, previous as ConnectionStatus));
      connection.on('failover', (event) => this.emit('failover', { name: connection.name, ...event }));
    }
  }

  /** Starts the next connection in order, or all the remaining ones when there is no stagger. A connection the user stopped stays stopped. */
  startNext(): void {
    const last = this.options.staggerMs === 0 ? this.order.length : Math.min(this.started + 1, this.order.length);
    while (this.started < last) this.order[this.started++]!.startForOwner();
  }

  get allStarted(): boolean {
    return this.started >= this.order.length;
  }

  get drained(): boolean {
    return this.active === 0;
  }

  stopAll(): void {
    for (const connection of this.order) connection.stopForOwner();
  }

  resetStarts(): void {
    this.started = 0;
  }

  private onState(connection: Connection, status: ConnectionStatus, previous: ConnectionStatus): void {
    if (status === 'connected') this.connected++;
    if (previous === 'connected') this.connected--;
    const wasActive = !resting.has(previous);
    const isActive = !resting.has(status);
    if (isActive && !wasActive) this.active++;
    if (wasActive && !isActive) this.active--;
    this.emit('state', { name: connection.name, status, previous });
    const health: PoolHealth = this.connected === this.order.length ? 'up' : this.connected === 0 ? 'down' : 'degraded';
    if (health !== this.health) {
      const before = this.health;
      this.health = health;
      this.actor?.send({ type: 'pool.health', health });
      this.emit('health', { health, previous: before });
    }
    if (this.active === 0) this.actor?.send({ type: 'pool.drained' });
  }

  on<K extends keyof PoolEvents>(event: K, listener: (payload: PoolEvents[K]) => void): () => void {
    const listeners = (this.listeners ??= new Map());
    let set = listeners.get(event);
    if (!set) listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return () => set.delete(listener as (payload: never) => void);
  }

  private emit<K extends keyof PoolEvents>(event: K, payload: PoolEvents[K]): void {
    const set = this.listeners?.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (payload: PoolEvents[K]) => void)(payload);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
