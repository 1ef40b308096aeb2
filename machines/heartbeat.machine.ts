import { assign, fromCallback, sendParent, setup } from 'xstate';
import type { DeadlineInput, HeartbeatContext, HeartbeatEvent, HeartbeatInput } from './heartbeat.types.js';

/** A deadline that fires this much later than asked was throttled or frozen; its verdict is not trusted. */
const LATE_FACTOR = 2;

/**
 * One liveness probe, started by `connected.liveness` after a quiet interval or when the page wakes:
 * ping, then either a pong, any other traffic, or `heartbeat.timeout` to the parent at the deadline.
 * A deadline that fired far later than set (a throttled or frozen timer) is not trusted: the probe
 * pings again against a fresh one.
 */
export const heartbeatMachine = /* @__PURE__ */ defineHeartbeatMachine();

// Defined in a function called once and marked pure: a bundle that does not use the machine drops it
// (the calls its definition makes, assign() and the like, would otherwise count as side effects).
function defineHeartbeatMachine() {
  return setup({
    types: {} as { context: HeartbeatContext; events: HeartbeatEvent; input: HeartbeatInput },
    actions: {
      sendPing: () => {},
      forgetTraffic: assign({ heard: false }),
      hearTraffic: assign({ heard: true }),
      reportTimeout: sendParent({ type: 'heartbeat.timeout' }),
    },
    guards: {
      answersThisPing: ({ event }) => event.type === 'heartbeat.pong' && event.stale !== true,
      heardSincePing: ({ context }) => context.heard,
      timerWasLate: ({ context, event }) => event.type === 'heartbeat.deadline' && event.elapsedMs > context.timeoutMs * LATE_FACTOR,
    },
    actors: {
      deadline: fromCallback<HeartbeatEvent, DeadlineInput>(() => undefined),
    },
  }).createMachine({
    id: 'heartbeat',
    context: ({ input }) => ({ timeoutMs: input.timeoutMs, heard: false }),
    initial: 'awaitingPong',
    states: {
      awaitingPong: {
        entry: ['forgetTraffic', 'sendPing'],
        invoke: { id: 'deadline', src: 'deadline', input: ({ context }) => ({ ms: context.timeoutMs }) },
        on: {
          'heartbeat.pong': { guard: 'answersThisPing', target: 'alive' },
          'heartbeat.traffic': { actions: 'hearTraffic' },
          'heartbeat.deadline': [
            { guard: 'heardSincePing', target: 'alive' },
            { guard: 'timerWasLate', target: 'awaitingPong', reenter: true },
            { actions: 'reportTimeout' },
          ],
        },
      },
      alive: { type: 'final' },
    },
  });
}

export type HeartbeatMachine = typeof heartbeatMachine;
