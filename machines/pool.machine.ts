import { setup } from 'xstate';
import type { PoolRuntime } from '../src/pool/runtime.js';
import { poolActions, poolDelays, poolGuards, type PoolContext, type PoolEvent } from '../src/pool/implementation.js';

/**
 * The parent of a pool's connections: starts them in priority order `staggerMs` apart, tracks the
 * aggregate health, and stops them all. Dial permits, the environment fan-out and load balancing live
 * in the pool runtime; every connection is an actor whose parent is this one.
 */
export const poolMachine = setup({
  types: {} as { context: PoolContext; events: PoolEvent; input: { rt: PoolRuntime } },
  actions: poolActions,
  guards: poolGuards,
  delays: poolDelays,
}).createMachine({
  id: 'pool',
  context: ({ input }) => ({ rt: input.rt, health: 'down' }),
  initial: 'idle',
  on: {
    'pool.health': { actions: 'recordHealth' },
    'connection.release': { actions: 'releaseConnection' },
    '*': { guard: 'isConnectionError', actions: 'reportConnectionError' },
  },
  states: {
    idle: {
      on: { 'pool.start': 'starting' },
    },
    starting: {
      entry: ['watchEnvironment', 'resetStarts'],
      initial: 'launching',
      on: { 'pool.stop': 'stopping' },
      states: {
        launching: {
          entry: 'startNext',
          always: { guard: 'allStarted', target: '#pool.running' },
          after: { stagger: { target: 'launching', reenter: true } },
        },
      },
    },
    running: {
      on: { 'pool.stop': 'stopping' },
    },
    stopping: {
      entry: 'stopConnections',
      always: { guard: 'drained', target: 'stopped' },
      after: { stopTimeout: 'stopped' },
      on: { 'pool.drained': 'stopped' },
    },
    stopped: {
      entry: 'unwatchEnvironment',
      on: { 'pool.start': 'starting' },
    },
  },
});

export type PoolMachine = typeof poolMachine;
