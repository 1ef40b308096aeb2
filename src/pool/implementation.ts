import { setup, type AnyActorRef, type AnyEventObject } from 'xstate';
import type { PoolHealth, PoolRuntime } from './runtime.js';

export interface PoolContext {
  readonly rt: PoolRuntime;
  /** All connections connected (`up`), some (`degraded`) or none (`down`). */
  health: PoolHealth;
}

export type PoolEvent =
  | { type: 'pool.start' }
  | { type: 'pool.stop' }
  | { type: 'pool.health'; health: PoolHealth }
  | { type: 'pool.drained' }
  | { type: 'connection.release'; ref: AnyActorRef };

type Args = { context: PoolContext; event: PoolEvent };
const typed = setup({ types: {} as { context: PoolContext; events: PoolEvent } });

export const poolActions = {
  watchEnvironment: ({ context }: Args) => context.rt.fanout.watch(),
  unwatchEnvironment: ({ context }: Args) => context.rt.fanout.unwatch(),
  startNext: ({ context }: Args) => context.rt.startNext(),
  resetStarts: ({ context }: Args) => context.rt.resetStarts(),
  stopConnections: ({ context }: Args) => context.rt.stopAll(),
  recordHealth: typed.assign(({ event }) => ({ health: (event as Extract<PoolEvent, { type: 'pool.health' }>).health })),
  releaseConnection: typed.stopChild(({ event }) => (event as Extract<PoolEvent, { type: 'connection.release' }>).ref),
  reportConnectionError: ({ event }: { event: AnyEventObject }) => {
    const error = (event as { error?: unknown }).error;
    queueMicrotask(() => {
      throw error;
    });
  },
};

export const poolGuards = {
  allStarted: ({ context }: Args) => context.rt.allStarted,
  drained: ({ context }: Args) => context.rt.drained,
  isConnectionError: ({ event }: { event: AnyEventObject }) => event.type.startsWith('xstate.error.actor'),
};

export const poolDelays = {
  stagger: ({ context }: Args) => context.rt.options.staggerMs,
  stopTimeout: ({ context }: Args) => context.rt.options.stopTimeoutMs,
};
