import { assign, setup, stopChild } from 'xstate';
import type { PoolContext, PoolEvent, PoolHealth, PoolInput } from './pool.types.js';

const resting = (status: string) => status === 'idle' || status === 'closed' || status === 'failed';

const healthOf = (connected: number, connections: number): PoolHealth =>
  connected === 0 ? 'down' : connected === connections ? 'up' : 'degraded';

/** How many connections are started once the next launch is done: one more, or all when there is no stagger. */
export const startedAfterLaunch = ({ settings, started }: Pick<PoolContext, 'settings' | 'started'>): number =>
  settings.staggerMs === 0 ? settings.connections : Math.min(started + 1, settings.connections);

/**
 * The parent of a pool's connections: starts them in priority order `staggerMs` apart, follows their
 * states (health, and whether a stop has drained), and stops them all. Dial permits, the environment
 * fan-out and load balancing are data structures of the runtime; each connection is an actor whose
 * parent is this one.
 */
export const poolMachine = /* @__PURE__ */ definePoolMachine();

// Defined in a function called once and marked pure: a bundle that does not use the machine drops it
// (the calls its definition makes, assign() and the like, would otherwise count as side effects).
function definePoolMachine() {
  return setup({
    types: {} as { context: PoolContext; events: PoolEvent; input: PoolInput },
    actions: {
      resetStarts: assign({ started: 0 }),
      countStarted: assign(({ context }) => ({ started: startedAfterLaunch(context) })),
      countState: assign(({ context, event }) => {
        if (event.type !== 'connection.state') return {};
        const connected = context.connected + (event.status === 'connected' ? 1 : 0) - (event.previous === 'connected' ? 1 : 0);
        const active = context.active + (resting(event.status) ? 0 : 1) - (resting(event.previous) ? 0 : 1);
        return { connected, active, health: healthOf(connected, context.settings.connections) };
      }),
      releaseConnection: stopChild(({ event }) => (event as Extract<PoolEvent, { type: 'connection.release' }>).ref),
      watchEnvironment: () => {},
      unwatchEnvironment: () => {},
      startNext: () => {},
      stopConnections: () => {},
      reportConnectionError: () => {},
    },
    guards: {
      allStarted: ({ context }) => context.started >= context.settings.connections,
      drained: ({ context }) => context.active === 0,
      isConnectionError: ({ event }) => event.type.startsWith('xstate.error.actor'),
    },
    delays: {
      stagger: ({ context }) => context.settings.staggerMs,
      stopTimeout: ({ context }) => context.settings.stopTimeoutMs,
    },
  }).createMachine({
    id: 'pool',
    context: ({ input }) => ({ settings: input.settings, started: 0, connected: 0, active: 0, health: 'down' }),
    initial: 'idle',
    on: {
      'connection.state': { actions: 'countState' },
      'connection.release': { actions: 'releaseConnection' },
      '*': { guard: 'isConnectionError', actions: 'reportConnectionError' },
    },
    states: {
      idle: {
        on: { 'pool.start': 'starting', 'pool.stop': 'stopping' },
      },
      starting: {
        entry: ['watchEnvironment', 'resetStarts'],
        initial: 'launching',
        on: { 'pool.stop': 'stopping' },
        states: {
          launching: {
            entry: ['startNext', 'countStarted'],
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
        on: { 'pool.start': 'starting' },
      },
      stopped: {
        entry: 'unwatchEnvironment',
        on: { 'pool.start': 'starting', 'pool.stop': 'stopping' },
      },
    },
  });
}

export type PoolMachine = typeof poolMachine;
