import type { InboundMessage } from '../protocol/adapter.js';
import { ErrorCode, InvalidOptionError, SocketchartError, checkSignal, failedError } from '../protocol/errors.js';
import { readerBound, type ReaderBound, type ReaderOverflow } from '../queue/reader-bound.js';
import type { ConnectionEvents, StateChange } from './events.js';

/** What a channel's iterator does when the reader falls `bufferSize` messages behind. */
export type ChannelOverflow = ReaderOverflow;

/** `bufferSize` and `overflow` bound the messages held for a reader that is behind; `dropped` counts what was forgotten. */
export interface ChannelIteratorOptions extends ReaderBound {
  /** Ends the iteration: the messages waiting are dropped, and the next `next()` (or the waiting one) rejects with the signal's reason. @default undefined */
  signal?: AbortSignal;
}

/** An async iterator over a channel's messages (`for await … of`); `break` or `return()` unsubscribes. */
export interface ChannelIterator<T = unknown> extends AsyncIterableIterator<InboundMessage<T>> {
  /** Messages forgotten because the reader was `bufferSize` behind (`drop-oldest` / `drop-newest`). */
  readonly dropped: number;
  /** Messages waiting to be read. */
  readonly buffered: number;
}

/** What the iterator needs of its connection. */
export interface ChannelSource {
  subscribe(channel: string, listener: (data: unknown, message: InboundMessage) => void): () => void;
  on(event: 'state', listener: (change: StateChange) => void): () => void;
  on(event: 'refused', listener: (refusal: ConnectionEvents['refused']) => void): () => void;
  readonly lastError: SocketchartError | null;
  readonly status: string;
  readonly isDisposed: boolean;
}

type Ending = { done: true } | { error: unknown };

/**
 * Iterates a channel from the moment it is created: messages that arrive before a `next()` wait in a
 * bounded buffer. The iteration ends (`done`) when the connection is closed, throws the failure when it
 * fails (at once when it is made on a closed, disposed or failed connection, as `ready()`), throws the
 * server's refusal of the channel (AUTHORIZATION_FAILED), and throws the signal's reason when aborted;
 * any ending unsubscribes.
 */
export function iterateChannel<T>(source: ChannelSource, channel: string, options: ChannelIteratorOptions = {}): ChannelIterator<T> {
  const { signal } = options;
  const { bufferSize, overflow } = readerBound(options);
  checkSignal(signal);
  const buffer: InboundMessage<T>[] = [];
  let head = 0;
  let dropped = 0;
  let ending: Ending | undefined;
  let waiter: { resolve(result: IteratorResult<InboundMessage<T>>): void; reject(error: unknown): void } | undefined;

  const finish = (end: Ending) => {
    if (ending) return;
    ending = end;
    unsubscribe();
    offState();
    offRefused();
    signal?.removeEventListener('abort', onAbort);
    if (waiter && buffer.length === head) {
      const w = waiter;
      waiter = undefined;
      if ('error' in end) w.reject(end.error);
      else w.resolve({ done: true, value: undefined });
    }
  };
  const onAbort = () => {
    buffer.length = 0;
    head = 0;
    finish({ error: signal!.reason });
  };

  const unsubscribe = source.subscribe(channel, (_data, message) => {
    if (ending) return;
    if (waiter) {
      const w = waiter;
      waiter = undefined;
      w.resolve({ done: false, value: message as InboundMessage<T> });
      return;
    }
    if (buffer.length - head >= bufferSize) {
      if (overflow === 'drop-newest') {
        dropped++;
        return;
      }
      if (overflow === 'drop-oldest') {
        buffer[head++] = undefined as never;
        dropped++;
      } else {
        finish({
          error: new SocketchartError(ErrorCode.QUEUE_OVERFLOW, {
            message: `The reader of "${channel}" fell ${bufferSize} messages behind`,
            recovery: 'fail',
            details: { channel, bufferSize },
          }),
        });
        return;
      }
    }
    buffer.push(message as InboundMessage<T>);
    if (head > 1024 && head * 2 > buffer.length) {
      buffer.splice(0, head);
      head = 0;
    }
  });
  const follow = (status: string) => {
    if (status === 'closed') finish({ done: true });
    else if (status === 'failed') finish({ error: source.lastError ?? failedError() });
  };
  const offState = source.on('state', ({ status }) => follow(status));
  const offRefused = source.on('refused', ({ ch, error }) => ch === channel && finish({ error }));
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  follow(source.isDisposed ? 'closed' : source.status);

  const iterator: ChannelIterator<T> = {
    get dropped() {
      return dropped;
    },
    get buffered() {
      return buffer.length - head;
    },
    next() {
      if (head < buffer.length) {
        const value = buffer[head]!;
        buffer[head++] = undefined as never;
        if (head === buffer.length) {
          buffer.length = 0;
          head = 0;
        }
        return Promise.resolve({ done: false, value });
      }
      if (ending) return 'error' in ending ? Promise.reject(ending.error) : Promise.resolve({ done: true, value: undefined });
      if (waiter) return Promise.reject(new InvalidOptionError('next', 'one next() at a time', 'a second next() before the first settled'));
      return new Promise((resolve, reject) => (waiter = { resolve, reject }));
    },
    return() {
      buffer.length = 0;
      head = 0;
      finish({ done: true });
      ending = { done: true };
      return Promise.resolve({ done: true, value: undefined });
    },
    throw(error?: unknown) {
      buffer.length = 0;
      head = 0;
      finish({ done: true });
      ending = { done: true };
      return Promise.reject(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return iterator;
}
