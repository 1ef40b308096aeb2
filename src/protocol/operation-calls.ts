import { ErrorCode, InvalidOptionError, SocketchartError, checkSignal, closedError } from './errors.js';
import type { OperationOptions, OperationSink, Operations } from './operations.js';
import { readerBound, type ReaderBound } from '../queue/reader-bound.js';

/** Options of `execute()` and `iterate()`. */
export interface OperationCallOptions extends OperationOptions {
  /** Stops the operation: `execute()` rejects, and `iterate()` ends, with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of `iterate()`: `bufferSize` and `overflow` bound the results held for a reader that is behind. */
export interface IterateOptions extends OperationCallOptions, ReaderBound {}

/** What the operation calls need of their connection. */
export interface OperationCallHost {
  readonly operations: Operations | undefined;
  readonly protocolName: string;
  /** Closed or failed, and the status. */
  readonly link: { readonly settled: boolean; readonly status: string };
}

function operationsOf(host: OperationCallHost, call: string): Operations {
  const { operations } = host;
  if (operations === undefined) {
    throw new InvalidOptionError('protocol', `a protocol with operations (such as graphqlTransportWsProtocol()) for ${call}`, host.protocolName);
  }
  if (host.link.settled) throw closedError(host.link.status);
  return operations;
}

/** `connection.operation()`: starts an operation that reports to `sink`; returns its stop function. */
export function runOperation<T>(host: OperationCallHost, payload: unknown, sink: OperationSink<T>, options: OperationOptions = {}): () => void {
  const operations = operationsOf(host, 'operation()');
  if (typeof sink !== 'object' || sink === null || typeof sink.next !== 'function') throw new InvalidOptionError('sink', 'an object with a next(result) function', sink);
  for (const key of ['error', 'complete'] as const) {
    if (sink[key] !== undefined && typeof sink[key] !== 'function') throw new InvalidOptionError(`sink.${key}`, 'a function', sink[key]);
  }
  return operations.start(payload, sink as OperationSink, options).stop;
}

/** `connection.execute()`: a one-shot operation that resolves with its first result. */
export function executeOperation<T>(host: OperationCallHost, payload: unknown, options: OperationCallOptions = {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const { signal, ...rest } = options;
    checkSignal(signal);
    const operations = operationsOf(host, 'execute()');
    if (signal?.aborted) throw signal.reason;
    let settled = false;
    const onAbort = () => {
      settle();
      reject(signal!.reason);
      stop();
    };
    const settle = () => {
      settled = true;
      signal?.removeEventListener('abort', onAbort);
    };
    const { stop } = operations.start(
      payload,
      {
        next: (result) => {
          if (settled) return;
          settle();
          resolve(result as T);
        },
        error: (error) => {
          if (settled) return;
          settle();
          reject(error);
        },
      },
      { ...rest, once: true },
    );
    if (!settled) signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `connection.iterate()`: the results of an operation as an async iterator; `return()` (a `break`) stops it. */
export function iterateOperation<T>(host: OperationCallHost, payload: unknown, options: IterateOptions = {}): AsyncIterableIterator<T> {
  const { signal, bufferSize: _size, overflow: _overflow, ...rest } = options;
  const { bufferSize, overflow } = readerBound(options);
  checkSignal(signal);
  const operations = operationsOf(host, 'iterate()');
  const results: T[] = [];
  let failure: { error: unknown } | undefined;
  let done = false;
  const waiting: Array<{ resolve(result: IteratorResult<T>): void; reject(error: unknown): void }> = [];

  /** Hands out what has arrived to the callers of `next()` waiting for it, in order. */
  const wake = () => {
    while (waiting.length > 0) {
      if (results.length > 0) waiting.shift()!.resolve({ value: results.shift()!, done: false });
      else if (failure !== undefined) {
        const { error } = failure;
        failure = undefined;
        waiting.shift()!.reject(error);
      } else if (done) waiting.shift()!.resolve({ value: undefined, done: true });
      else return;
    }
  };
  const finish = (error?: { error: unknown }) => {
    if (done) return;
    done = true;
    failure = error;
    signal?.removeEventListener('abort', onAbort);
    wake();
  };
  const onAbort = () => {
    results.length = 0;
    finish({ error: signal!.reason });
    stop();
  };

  if (signal?.aborted) throw signal.reason;
  const { stop } = operations.start(
    payload,
    {
      next: (result) => {
        if (done) return;
        if (waiting.length === 0 && results.length >= bufferSize) {
          if (overflow === 'drop-newest') return;
          if (overflow === 'drop-oldest') results.shift();
          else {
            finish({ error: new SocketchartError(ErrorCode.QUEUE_OVERFLOW, { message: `The reader of an operation fell ${bufferSize} results behind`, recovery: 'fail', details: { bufferSize } }) });
            stop();
            return;
          }
        }
        results.push(result as T);
        wake();
      },
      error: (error) => finish({ error }),
      complete: () => finish(),
    },
    rest,
  );
  if (!done) signal?.addEventListener('abort', onAbort, { once: true });

  const iterator: AsyncIterableIterator<T> = {
    next: () =>
      new Promise<IteratorResult<T>>((resolve, reject) => {
        waiting.push({ resolve, reject });
        wake();
      }),
    return: () => {
      results.length = 0;
      finish();
      failure = undefined;
      stop();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
