import type { AnyActorRef } from 'xstate';

/** All connections connected (`up`), some (`degraded`) or none (`down`). */
export type PoolHealth = 'up' | 'degraded' | 'down';

/** What the pool machine knows of its options. */
export interface PoolSettings {
  /** How many connections the pool has. */
  readonly connections: number;
  /** Delay between starting two connections (0 starts all at once). */
  readonly staggerMs: number;
  /** Longest wait for every connection to close after `pool.stop`. */
  readonly stopTimeoutMs: number;
}

export interface PoolInput {
  readonly settings: PoolSettings;
}

export interface PoolContext {
  readonly settings: PoolSettings;
  /** Connections started since the last `pool.start`, in start order. */
  started: number;
  /** Connections now connected. */
  connected: number;
  /** Connections not at rest (neither idle, closed nor failed). */
  active: number;
  health: PoolHealth;
}

export type PoolEvent =
  | { type: 'pool.start' }
  | { type: 'pool.stop' }
  /** A connection of the pool moved from `previous` to `status`. */
  | { type: 'connection.state'; name: string; status: string; previous: string }
  /** A connection is disposed: the pool stops its actor. */
  | { type: 'connection.release'; ref: AnyActorRef };
