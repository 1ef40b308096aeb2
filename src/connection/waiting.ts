import { SocketchartError, checkSignal, closedError, failedError } from '../protocol/errors.js';
import type { ConnectionEvents } from './events.js';
import type { ConnectionStatus } from './types.js';

export interface OnceOptions<T> {
  /** Only an event this accepts settles the promise. @default every event */
  filter?: (payload: T) => boolean;
  /** Aborting it rejects the promise with the signal's reason. @default undefined */
  signal?: AbortSignal;
}

/** What `once()` and `ready()` listen to: a connection. */
export interface WaitSource {
  readonly isDisposed: boolean;
  on<K extends keyof ConnectionEvents>(event: K, listener: (payload: ConnectionEvents[K]) => void): () => void;
}

/**
 * The next `event` of `source` that `filter` accepts (a filter that throws rejects with its error); rejects
 * with CLOSED when `source` is disposed first or already. `now`: resolves with it at once (unless aborted).
 * The listeners are removed once it settles.
 */
export function onceEvent<K extends keyof ConnectionEvents>(
  source: WaitSource,
  event: K,
  { filter, signal }: OnceOptions<ConnectionEvents[K]> = {},
  now?: Partial<ConnectionEvents[K]>,
): Promise<ConnectionEvents[K]> {
  checkSignal(signal);
  return new Promise((resolve, reject) => {
    const settle = (then: (value: never) => void, value: unknown) => {
      offs.map((off) => off());
      signal?.removeEventListener('abort', onAbort);
      then(value as never);
    };
    const fail = (error: unknown) => settle(reject, error);
    const onAbort = () => fail(signal!.reason);
    const close = () => fail(closedError('closed'));
    const offs = [
      source.on(event, (payload) => {
        try {
          if (!filter || filter(payload)) settle(resolve, payload);
        } catch (error) {
          fail(error);
        }
      }),
      source.on('disposed', close),
    ];
    if (signal?.aborted) onAbort();
    else if (now) settle(resolve, now);
    else if (source.isDisposed) close();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** What `ready()` reads of a connection. */
export interface ReadySource extends WaitSource {
  readonly status: ConnectionStatus;
  readonly lastError: SocketchartError | null;
}

/** `ready()` is over: connected, or closed or failed (a rejection). */
const ends = ({ status }: { status: ConnectionStatus }) => status === 'connected' || status === 'closed' || status === 'failed';

/** Resolves when `source` is connected; see `Connection.ready()`. */
export function untilReady(source: ReadySource, signal: AbortSignal | undefined): Promise<void> {
  // over already: at once (an aborted signal still rejects)
  return onceEvent(source, 'state', { filter: ends, signal }, ends(source) ? source : undefined).then(({ status }) => {
    if (status === 'failed') throw source.lastError ?? failedError();
    if (status === 'closed') throw closedError(status);
  });
}
