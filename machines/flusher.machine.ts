import { assign, raise, setup } from 'xstate';
import type { FlusherContext, FlusherEvent, FlusherInput, FlusherOutput } from './flusher.types.js';

/**
 * Child of `connected.outbound.draining`: writes the outbound queue in priority order while the socket
 * accepts it, waits when it pushes back, and finishes when the queue is empty, which reopens the fast
 * path, or when what is left waits for a rate limit (its output says how long).
 */
export const flusherMachine = /* @__PURE__ */ defineFlusherMachine();

// Defined in a function called once and marked pure: a bundle that does not use the machine drops it
// (the calls its definition makes, assign() and the like, would otherwise count as side effects).
function defineFlusherMachine() {
  return setup({
    types: {} as { context: FlusherContext; events: FlusherEvent; input: FlusherInput; output: FlusherOutput },
    actions: {
      drain: raise({ type: 'flush.empty' }),
      noteWait: assign(({ event }) => ({ waitMs: event.type === 'flush.throttled' ? event.waitMs : 0 })),
    },
    delays: {
      retry: ({ context }) => context.retryMs,
    },
  }).createMachine({
    id: 'flusher',
    context: ({ input }) => ({ retryMs: input.retryMs, waitMs: 0 }),
    initial: 'draining',
    output: ({ context }) => ({ waitMs: context.waitMs }),
    states: {
      draining: {
        entry: 'drain',
        on: {
          'flush.empty': 'done',
          'flush.blocked': 'waiting',
          'flush.throttled': { target: 'throttled', actions: 'noteWait' },
        },
      },
      waiting: {
        after: { retry: 'draining' },
      },
      done: { type: 'final' },
      throttled: { type: 'final' },
    },
  });
}

export type FlusherMachine = typeof flusherMachine;
