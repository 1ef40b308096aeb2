import type { OperationCodec, OutgoingFrame } from './adapter.js';
import { ErrorCode, InvalidOptionError, SocketchartError, closedError, finalFormatError } from './errors.js';
import { rethrowLater } from '../events/emitter.js';
import { exactBytes, frameBytes } from './frame-bytes.js';

/** Receives what one operation yields: its results, then exactly one of `error` or `complete`. */
export interface OperationSink<T = unknown> {
  /** A result (graphql-transport-ws: the payload of a `next` frame, `{ data?, errors?, extensions? }`). */
  next(result: T): void;
  /**
   * The operation failed and is over: the server refused or failed it (SERVER_ERROR, `details` holding the
   * server's errors), the connection closed or failed (CLOSED), or the link dropped under an operation
   * that is not restarted (NETWORK_ERROR).
   */
  error?(error: SocketchartError): void;
  /** The operation is over: the server completed it, or the app stopped it. */
  complete?(): void;
}

export interface OperationOptions {
  /**
   * The operation's id on the wire, unique among the connection's live operations. Given again at once after its
   * operation stopped, an id may meet that operation's late `complete` from the server, which ends the new one while
   * the server runs it (and a graphql-transport-ws server closes with 4409 a start under it again); fresh ids never
   * do. @default a fresh id (`op-1`, `op-2`, …)
   */
  id?: string;
  /**
   * Start the operation again on the next socket when the link drops while it is live. `false` ends it
   * with NETWORK_ERROR instead, for a mutation that must not run twice.
   * @default true
   */
  restart?: boolean;
}

/** What the operations need of their connection. */
export interface OperationsHost {
  /** The link is up (authenticated): operations may be written. */
  readonly link: { readonly connected: boolean };
  /** The open socket, if any. */
  readonly ws: object | null;
  /** Writes a frame now; false when there is no open socket. */
  write(frame: OutgoingFrame | undefined): boolean;
  /** Writes a data frame now, counting it out; false when there is no open socket. */
  writeData(frame: OutgoingFrame): boolean;
  /** `maxMessageBytes`: a larger operation is refused. */
  readonly options: { readonly maxMessageBytes: number };
}

interface Live {
  readonly id: string;
  readonly frame: OutgoingFrame;
  readonly sink: OperationSink | undefined;
  readonly restart: boolean;
  /** Started by `send(payload, { channel: id })`: ends when the channel's last listener leaves. */
  readonly bound: boolean;
  /** Ends at its first result (`execute()`): it is then no longer restarted. */
  readonly once: boolean;
  /** The socket it was last written on. */
  socket: object | null;
  /** A one-shot that has its result and waits for the server's `complete`. */
  answered: boolean;
  /** Settles the promise of the `send()` that started it. */
  written?: { resolve(): void; reject(error: SocketchartError): void };
}

/** Calls one method of a sink: an exception it throws reaches the host later, without breaking the data plane. */
function tell<K extends keyof OperationSink>(sink: OperationSink | undefined, method: K, ...args: Parameters<NonNullable<OperationSink[K]>>): void {
  const fn = sink?.[method] as ((...args: unknown[]) => void) | undefined;
  if (fn === undefined) return;
  try {
    fn.apply(sink, args);
  } catch (error) {
    rethrowLater(error);
  }
}

const noResult = (id: string) =>
  finalFormatError(`Operation ${id} completed without a result`, { messageId: id });

/**
 * The live operations of one connection (protocols with `operations`). An operation is written once per
 * socket: at once when the link is up, else when it comes up; after a drop it is written again only while
 * it is live. It ends on the server's `complete` or `error`, on `stop()`, or when the connection settles.
 * Operations never go through the outbound queue, so a queued copy cannot follow a restarted one.
 */
export class Operations {
  private readonly live = new Map<string, Live>();
  private counter = 0;
  /** The link went down (the state may not say so yet): what starts before it is up again waits for the next socket. */
  private down = false;
  /** Every operation is being ended with this error: one a sink starts meanwhile fails with it too. */
  private ending: SocketchartError | undefined;

  constructor(
    private readonly host: OperationsHost,
    private readonly codec: OperationCodec,
  ) {}

  get size(): number {
    return this.live.size;
  }

  has(id: string): boolean {
    return this.live.has(id);
  }

  /**
   * Starts an operation; returns its stop function. Throws a SocketchartError when the id is taken, the
   * payload cannot be encoded or its frame is over `maxMessageBytes` (MESSAGE_TOO_LARGE); nothing is written then.
   */
  start(payload: unknown, sink: OperationSink | undefined, options: OperationOptions & { once?: boolean } = {}): { id: string; stop: () => void } {
    if (this.ending) throw this.ending;
    const id = options.id ?? this.freshId();
    if (typeof id !== 'string' || id === '') throw new InvalidOptionError('id', 'a non-empty string', id);
    if (options.restart !== undefined && typeof options.restart !== 'boolean') throw new InvalidOptionError('restart', 'a boolean', options.restart);
    const frame = this.encode(id, payload);
    const entry = this.add(id, frame, sink, options.restart ?? true, false, options.once === true);
    this.writeIfUp(entry);
    return { id, stop: () => this.stop(id, entry) };
  }

  /**
   * `send(payload, { channel: id })`: starts operation `id` from its encoded frame, for the channel's listeners.
   * Resolves when it is first written; rejects when the id is live already or the operation ends first, and
   * with the signal's reason when `signal` aborts before it is written (it is then never written).
   */
  startBound(id: string, frame: OutgoingFrame, signal?: AbortSignal): Promise<void> {
    if (this.ending) return Promise.reject(this.ending);
    let entry: Live;
    try {
      entry = this.add(id, frame, undefined, true, true, false);
    } catch (error) {
      return Promise.reject(error);
    }
    const promise = new Promise<void>((resolve, reject) => (entry.written = { resolve, reject }));
    if (signal) {
      const onAbort = () => {
        const written = entry.written;
        if (written === undefined || this.live.get(id) !== entry) return;
        entry.written = undefined;
        this.live.delete(id);
        written.reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const done = () => signal.removeEventListener('abort', onAbort);
      promise.then(done, done);
    }
    this.writeIfUp(entry);
    return promise;
  }

  /** A result of operation `id`. */
  next(id: string, result: unknown): void {
    const entry = this.live.get(id);
    if (entry === undefined) return;
    if (entry.answered) {
      this.stop(id, entry);
      return;
    }
    if (entry.once) entry.answered = true;
    tell(entry.sink, 'next', result);
  }

  /** Whether an error ending operation `id` is heard without a report: it has a sink of its own, or it is not live (over, or never started). */
  hears(id: string): boolean {
    return this.live.get(id)?.bound !== true;
  }

  /** The server ended operation `id` (`complete`, or `error` with the error). False when it was not live. */
  end(id: string, error?: SocketchartError): boolean {
    const entry = this.live.get(id);
    if (entry === undefined) return false;
    this.live.delete(id);
    this.settleWrite(entry, error);
    if (entry.answered) return true;
    if (error !== undefined) tell(entry.sink, 'error', error);
    else if (entry.once) tell(entry.sink, 'error', noResult(id));
    else tell(entry.sink, 'complete');
    return true;
  }

  /** The last listener of `channel` left: an operation `send()` started for it stops (the server is told when it runs on the open socket). */
  release(channel: string): void {
    const entry = this.live.get(channel);
    if (entry?.bound) this.stop(channel, entry);
  }

  /**
   * The server closed the link on a frame too large for it (1009): the largest operation written and not answered fails with
   * MESSAGE_TOO_LARGE, ended through `sink` (the connection's: an operation without a sink of its own reports it on `on('error')`).
   */
  refusedTooLarge(sink: { end(id: string, error: SocketchartError): void }): void {
    let largest: Live | undefined;
    for (const entry of this.live.values()) {
      if (entry.socket !== null && !entry.answered && !(largest && exactBytes(largest.frame) >= exactBytes(entry.frame))) largest = entry;
    }
    const id = largest?.id;
    if (id) sink.end(id, new SocketchartError(ErrorCode.MESSAGE_TOO_LARGE, { message: 'The server closed the link on a message too large for it (1009)', recovery: 'fail', messageId: id }));
  }

  /** The link is up on a new socket (the state may not say so yet): every live operation not yet written on it is written, once. */
  resume(): void {
    this.down = false;
    for (const entry of this.live.values()) this.writeIfUp(entry, true);
  }

  /**
   * The link went down: one-shots that have their result are forgotten, operations that must not run twice
   * end (NETWORK_ERROR, or CLOSED when `stopped` by the app: they are not started again on a later `start()`).
   */
  dropped(stopped = false): void {
    this.down = true;
    for (const entry of [...this.live.values()]) {
      if (entry.answered) this.live.delete(entry.id);
      else if (!entry.restart && entry.socket !== null) {
        this.end(
          entry.id,
          stopped
            ? closedError('closed')
            : new SocketchartError(ErrorCode.NETWORK_ERROR, { message: `The link dropped while operation ${entry.id} ran; it is not started again`, recovery: 'fail', messageId: entry.id }),
        );
      }
    }
  }

  /** The connection closed or failed: every operation ends with `error`, and so does one a sink starts meanwhile. */
  endAll(error: SocketchartError): void {
    this.ending = error;
    try {
      for (const id of [...this.live.keys()]) this.end(id, error);
    } finally {
      this.ending = undefined;
    }
  }

  private freshId(): string {
    let id: string;
    do id = `op-${++this.counter}`;
    while (this.live.has(id));
    return id;
  }

  private encode(id: string, payload: unknown): OutgoingFrame {
    let frame: OutgoingFrame;
    try {
      frame = this.codec.start(id, payload);
    } catch (cause) {
      if (cause instanceof SocketchartError) throw cause;
      throw finalFormatError('The operation cannot be encoded', { cause, messageId: id });
    }
    const limit = this.host.options.maxMessageBytes;
    const bytes = frameBytes(frame, limit);
    if (bytes > limit) {
      throw new SocketchartError(ErrorCode.MESSAGE_TOO_LARGE, { message: `Message of ${bytes} bytes exceeds maxMessageBytes (${limit})`, recovery: 'fail', details: { bytes, limit }, messageId: id });
    }
    return frame;
  }

  private add(id: string, frame: OutgoingFrame, sink: OperationSink | undefined, restart: boolean, bound: boolean, once: boolean): Live {
    if (this.live.has(id)) {
      throw finalFormatError(`Operation ${id} is already running`, { messageId: id });
    }
    const entry: Live = { id, frame, sink, restart, bound, once, socket: null, answered: false };
    this.live.set(id, entry);
    return entry;
  }

  private writeIfUp(entry: Live, up = this.host.link.connected): void {
    const { host } = this;
    const ws = host.ws;
    if (!up || this.down || entry.socket === ws || entry.answered) return;
    if (!host.writeData(entry.frame)) return;
    entry.socket = ws;
    this.settleWrite(entry);
  }

  /** Stops a live operation: the server is told when it runs on the open socket. */
  private stop(id: string, entry: Live): void {
    if (this.live.get(id) !== entry) return;
    this.live.delete(id);
    const { host } = this;
    if (host.link.connected && entry.socket !== null && entry.socket === host.ws) host.write(this.codec.stop(id));
    this.settleWrite(entry, new SocketchartError(ErrorCode.CLOSED, { message: `Operation ${id} was stopped before it was sent`, recovery: 'fail', messageId: id }));
    if (!entry.answered) tell(entry.sink, 'complete');
  }

  private settleWrite(entry: Live, error?: SocketchartError): void {
    const written = entry.written;
    if (written === undefined) return;
    entry.written = undefined;
    if (entry.socket !== null) written.resolve();
    else written.reject(error ?? new SocketchartError(ErrorCode.CLOSED, { message: `Operation ${entry.id} ended before it was sent`, recovery: 'fail', messageId: entry.id }));
  }
}
