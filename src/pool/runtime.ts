import type { AnyActorRef, SnapshotFrom } from 'xstate';
import type { PoolMachine } from '../../machines/pool.machine.js';
import type { PoolContext, PoolHealth } from '../../machines/pool.types.js';
import { createOwnedConnection, type Connection } from '../connection/connection.js';
import { allFeatures } from '../connection/optional-features.js';
import type { ConnectionStatus } from '../connection/types.js';
import { Emitter } from '../events/emitter.js';
import { DialBudget } from '../policy/dial-budget.js';
import { InvalidOptionError } from '../protocol/errors.js';
import { poolDefaults } from '../connection/defaults.js';
import { Balancer } from './balancer.js';
import { EnvironmentFanout } from './environment-fanout.js';
import { endpointConnectionOptions, endpointOptionError } from './endpoint-options.js';
import type { EndpointOptions, ResolvedPoolOptions } from './options.js';

export type { PoolHealth };

/** Events `pool.on()` can listen to. */
export interface PoolEvents {
  /** A connection changed state. */
  state: { name: string; status: ConnectionStatus; previous: ConnectionStatus; reason?: string };
  /** The aggregate status changed. */
  health: { health: PoolHealth; previous: PoolHealth };
  /** A connection moved to another of its urls. */
  failover: { name: string; from: number; to: number; url: string };
  /** The pool was disposed (or its actor stopped): nothing happens on it any more (its rxjs streams end). */
  disposed: Record<string, never>;
}

/**
 * What a pool owns around its statechart: the connections (children of the pool actor), the dial budget,
 * the environment fan-out, the balancer and listeners. It tells the pool machine of every connection's
 * state change; the machine keeps the health and knows when a stop has drained.
 */
export class PoolRuntime {
  readonly fanout: EnvironmentFanout;
  readonly budget: DialBudget | undefined;
  readonly balancer: Balancer;
  readonly events = new Emitter<PoolEvents>();
  readonly connections = new Map<string, Connection>();
  /** Connections in start order: priority first, then as listed. */
  readonly order: Connection[] = [];
  readonly groups = new Map<string, Connection[]>();
  actor: AnyActorRef | undefined;
  private context: PoolContext | undefined;

  constructor(readonly options: ResolvedPoolOptions) {
    this.fanout = new EnvironmentFanout(options.environment);
    this.budget = options.dialBudget === false ? undefined : new DialBudget(options.dialBudget, options.clock, 10_000);
    this.balancer = new Balancer(options.balancing, options.health, options.random);
  }

  toJSON(): Record<string, unknown> {
    return { connections: this.connections.size, health: this.health };
  }

  get health(): PoolHealth {
    return this.context?.health ?? 'down';
  }

  /** The endpoints in start order: priority first, then as listed. */
  startOrder(): Array<{ endpoint: EndpointOptions; index: number }> {
    const indexed = this.options.endpoints.map((endpoint, index) => ({ endpoint, index }));
    return indexed.sort((a, b) => (a.endpoint.priority ?? poolDefaults.priority) - (b.endpoint.priority ?? poolDefaults.priority) || a.index - b.index);
  }

  /** Runs the pool's actor: creates every connection as its child, and follows its snapshots. */
  attach(actor: AnyActorRef): void {
    this.actor = actor;
    // stopped by the app before its first use: it tells no observer
    if (actor.getSnapshot().status === 'stopped') this.dispose();
    if (this.isDisposed) return;
    actor.subscribe(this);
    for (const { endpoint, index } of this.startOrder()) {
      let connection: Connection;
      try {
        const shared = { environment: this.fanout.ranked(this.order.length), ...(this.budget ? { dialGate: this.budget } : {}) };
        connection = createOwnedConnection(endpointConnectionOptions(endpoint, this.options, shared), actor, allFeatures);
      } catch (error) {
        throw error instanceof InvalidOptionError ? endpointOptionError(error, endpoint, this.options, index) : error;
      }
      this.connections.set(endpoint.name, connection);
      this.order.push(connection);
      if (endpoint.group !== undefined) {
        const members = this.groups.get(endpoint.group) ?? [];
        members.push(connection);
        this.groups.set(endpoint.group, members);
      }
      connection.on('state', (change) => {
        // An app that stops the pool actor: its connections close without telling it.
        if (actor.getSnapshot().status === 'active') actor.send({ type: 'connection.state', name: connection.name, status: change.status, previous: change.previous });
        this.events.emit('state', { name: connection.name, ...change });
      });
      connection.on('failover', (event) => this.events.emit('failover', { name: connection.name, ...event }));
    }
  }

  /** Follows the pool actor: a change of health is told to listeners. */
  next(snapshot: SnapshotFrom<PoolMachine>): void {
    const previous = this.context;
    // told down and disposed: the changes still in the actor's mailbox are not told
    if (!previous && this.isDisposed) return;
    const context = (this.context = snapshot.context);
    if (previous && previous.health !== context.health) this.events.emit('health', { health: context.health, previous: previous.health });
  }

  /** The pool actor stopped (disposed, or stopped by the app that embeds it): its connections stop with it. */
  complete(): void {
    this.down();
    this.dispose();
  }

  /** Down for good (its last snapshot may not say so), and listeners told. */
  private down(): void {
    const previous = this.health;
    this.context = undefined;
    if (previous !== 'down') this.events.emit('health', { health: 'down', previous });
  }

  /** Starts the connections from `from` up to (not including) `to` in start order; a connection its user stopped stays stopped. */
  startRange(from: number, to: number): void {
    for (let i = from; i < to && i < this.order.length; i++) {
      const connection = this.order[i]!;
      if (!connection.isDisposed) connection.startForOwner();
    }
  }

  /** Stops every connection (one the app disposed is over already). */
  stopAll(): void {
    for (const connection of this.order) if (!connection.isDisposed) connection.stopForOwner();
  }

  /** Disposed: its connections, budget and environment let go. */
  isDisposed = false;

  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    // `disposed` once each connection's last changes are told (one disposed from its own listener tells them after)
    let untold = 1;
    const told = () => --untold || (this.down(), this.events.emit('disposed', {}));
    for (const connection of this.order) {
      if (connection.isDisposed) continue;
      untold++;
      connection.on('disposed', told);
      connection.dispose();
    }
    this.budget?.dispose();
    this.fanout.close();
    told();
  }
}
