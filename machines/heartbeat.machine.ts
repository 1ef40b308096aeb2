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
 * One liveness probe, started by `connected.liveness` after a quiet interval or when the page wakes:
 * ping, then either a pong (an RTT sample), any other traffic, or `heartbeat.timeout` to the parent.
 * A pong timeout that fired far later than scheduled (a throttled or frozen timer) is not trusted:
 * the probe pings again against a fresh wall-clock deadline.
 */
export const heartbeatMachine = setup({
  types: {} as { context: HeartbeatContext; events: HeartbeatEvent; input: ConnectionRuntime },
  actions: heartbeatActions,
  guards: heartbeatGuards,
  delays: heartbeatDelays,
}).createMachine({
  id: 'heartbeat',
  context: ({ input }) => initialHeartbeatContext(input),
  initial: 'awaitingPong',
  states: {
    awaitingPong: {
      entry: 'sendPing',
      after: {
        pongTimeout: [
          { guard: 'heardSincePing', target: 'alive' },
          { guard: 'timerWasLate', target: 'awaitingPong', reenter: true },
          { actions: 'reportTimeout' },
        ],
      },
      on: { 'heartbeat.pong': { guard: 'answersThisPing', target: 'alive', actions: 'recordRtt' } },
    },
    alive: { type: 'final' },
  },
});
