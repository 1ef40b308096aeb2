import type { SocketchartError } from '../../src/index.js';

/** Where a promise stands, read at any moment. */
export interface Settled {
  status: 'pending' | 'resolved' | 'rejected';
  /** The rejection's reason (a SocketchartError from socketchart, the signal's reason for an abort). */
  error: SocketchartError | undefined;
}

/** Observes `promise` (a send, an enqueue) without leaving a rejection unhandled. */
export function track(promise: Promise<unknown>): Settled {
  const box: Settled = { status: 'pending', error: undefined };
  promise.then(
    () => {
      box.status = 'resolved';
    },
    (error: SocketchartError) => {
      box.status = 'rejected';
      box.error = error;
    },
  );
  return box;
}
