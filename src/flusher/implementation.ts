import type { ConnectionRuntime } from '../connection/runtime.js';

export interface FlusherContext {
  readonly rt: ConnectionRuntime;
}

export type FlusherEvent = { type: 'flush.empty' } | { type: 'flush.blocked' } | { type: 'flush.throttled' };

const outcomes = { empty: 'flush.empty', blocked: 'flush.blocked', throttled: 'flush.throttled' } as const;

type Args = { context: FlusherContext; self: { send(event: FlusherEvent): void } };

export const flusherActions = {
  drain: ({ context, self }: Args) => {
    self.send({ type: outcomes[context.rt.drain()] });
  },
};

export const flusherDelays = {
  retry: ({ context }: { context: FlusherContext }) => context.rt.flushRetryDelay(),
};
