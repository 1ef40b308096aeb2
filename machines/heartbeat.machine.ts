import { setup } from 'xstate';
import type { ConnectionRuntime } from '../src/connection/runtime.js';
import {
  heartbeatActions,
  heartbeatDelays,
  heartbeatGuards,
  initialHeartbeatContext,
  type HeartbeatContext,
  type HeartbeatEvent,
} from '../src/heartbeat/implementation.js';

/**
 * Child of `connected`: pings when the link is quiet and reports `heartbeat.timeout` to its parent
 * when no pong (and no other traffic) comes back. Suspended while the page is hidden or frozen, where
 * timers lie; on wake it verifies the link at once, against a wall-clock deadline.
 */
export const heartbeatMachine = setup({
  types: {} as { context: HeartbeatContext; events: HeartbeatEvent; input: ConnectionRuntime },
  actions: heartbeatActions,
  guards: heartbeatGuards,
  delays: heartbeatDelays,
}).createMachine({
  id: 'heartbeat',
  context: ({ input }) => initialHeartbeatContext(input),
  initial: 'waiting',
  states: {
    waiting: {
      always: [
        { guard: 'disabled', target: 'off' },
        { guard: 'pageHidden', target: 'suspended' },
      ],
      after: { interval: 'awaitingPong' },
      on: { 'page.hidden': 'suspended', 'page.freeze': 'suspended' },
    },
    awaitingPong: {
      entry: 'sendPing',
      after: {
        pongTimeout: [
          { guard: 'heardSincePing', target: 'waiting' },
          { guard: 'timerWasLate', target: 'awaitingPong', reenter: true },
          { actions: 'reportTimeout' },
        ],
      },
      on: {
        'heartbeat.pong': { target: 'waiting', actions: 'recordRtt' },
        'page.hidden': 'suspended',
        'page.freeze': 'suspended',
      },
    },
    suspended: {
      on: { 'page.visible': 'awaitingPong', 'page.resume': 'awaitingPong' },
    },
    off: {},
  },
});
