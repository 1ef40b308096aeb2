import { SocketchartError, checkSignal, closedError, failedError } from '../protocol/errors.js';
import type { StateChange } from './events.js';
import type { ConnectionStatus } from './types.js';

export interface OnceOptions<T> {
  /** Only an event this accepts settles the promise. @default every event */
  filter?: (payload: T) => boolean;
  /** Aborting it rejects the promise with the signal's reason. @default undefined */
  signal?: AbortSignal;
}

/** The next payload `listen` hands over that `filter` accepts (a filter that throws rejects with its error); the listener is removed once it settles. */
export function onceEvent<T>(listen: (listener: (payload: T) => void) => () => void, { filter, signal }: OnceOptions<T> = {}): Promise<T> {
  checkSignal(signal);
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      off();
      reject(signal!.reason);
    };
    const off = listen((payload) => {
      let accepted: boolean;
      try {
        accepted = !filter || filter(payload);
      } catch (error) {
        off();
        signal?.removeEventListener('abort', onAbort);
        reject(error);
        return;
      }
      if (!accepted) return;
      off();
      signal?.removeEventListener('abort', onAbort);
      resolve(payload);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** What `ready()` reads of a connection. */
export interface ReadySource {
  readonly status: ConnectionStatus;
  readonly lastError: SocketchartError | null;
  on(event: 'state', listener: (change: StateChange) => void): () => void;
}

const failure = (source: ReadySource) => source.lastError ?? failedError();

/** Resolves when `source` is connected; see `Connection.ready()`. */
export function untilReady(source: ReadySource, signal: AbortSignal | undefined): Promise<void> {
  checkSignal(signal);
  if (signal?.aborted) return Promise.reject(signal.reason);
  const status = source.status;
  if (status === 'connected') return Promise.resolve();
  if (status === 'failed') return Promise.reject(failure(source));
  if (status === 'closed') return Promise.reject(closedError(status));
  return onceEvent<StateChange>((listener) => source.on('state', listener), {
    filter: ({ status: next }) => next === 'connected' || next === 'closed' || next === 'failed',
    ...(signal ? { signal } : {}),
  }).then(({ status: next }) => {
    if (next === 'failed') throw failure(source);
    if (next === 'closed') throw closedError(next);
  });
}
