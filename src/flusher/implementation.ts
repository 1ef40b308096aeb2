import type { ConnectionRuntime } from '../connection/runtime.js';

export interface FlusherContext {
  readonly rt: ConnectionRuntime;
}

export type FlusherEvent = { type: 'flush.empty' } | { type: 'flush.blocked' };

type Args = { context: FlusherContext; self: { send(event: FlusherEvent): void } };

export const flusherActions = {
  drain: ({ context, self }: Args) => {
    self.send({ type: context.rt.drain() === 'empty' ? 'flush.empty' : 'flush.blocked' });
  },
};

export const flusherDelays = {
  retry: ({ context }: { context: FlusherContext }) => context.rt.flushRetryDelay(),
};
