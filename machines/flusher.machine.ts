import { setup } from 'xstate';
import type { ConnectionRuntime } from '../src/connection/runtime.js';
import { flusherActions, flusherDelays, type FlusherContext, type FlusherEvent } from '../src/flusher/implementation.js';

/**
 * Child of `connected.outbound.draining`: writes the outbound queue in priority order while the socket
 * accepts it (`bufferedAmount` under its high-water mark), waits when it pushes back, and finishes when
 * the queue is empty, which reopens the fast path, or when what is left waits for a rate limit.
 */
export const flusherMachine = setup({
  types: {} as { context: FlusherContext; events: FlusherEvent; input: ConnectionRuntime },
  actions: flusherActions,
  delays: flusherDelays,
}).createMachine({
  id: 'flusher',
  context: ({ input }) => ({ rt: input }),
  initial: 'draining',
  states: {
    draining: {
      entry: 'drain',
      on: { 'flush.empty': 'done', 'flush.blocked': 'waiting', 'flush.throttled': 'throttled' },
    },
    waiting: {
      after: { retry: 'draining' },
    },
    done: { type: 'final' },
    throttled: { type: 'final' },
  },
});
