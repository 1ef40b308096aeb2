import { MAX_TIMER_MS, type Clock, type TimerHandle } from '../environment/clock.js';
import { ErrorCode, InvalidOptionError, SocketchartError } from '../protocol/errors.js';

/** Priority of an outbound message; `critical` is sent first, `low` is evicted first. */
export type Priority = 'critical' | 'high' | 'normal' | 'low';

/**
 * What happens when a message does not fit in the queue.
 * - `reject`: the new message is rejected with `QUEUE_OVERFLOW`.
 * - `evict-lowest`: queued messages are evicted (rejected with `QUEUE_OVERFLOW`), lowest priority and
 *   oldest first, as long as they rank below the new message (a queued message of the same priority is
 *   older, so it goes first); when that cannot make room, the new message is rejected instead.
 */
export type OverflowPolicy = 'reject' | 'evict-lowest';

/** A message waiting in the outbound queue. Its owner settles it with `resolve()` once written, or `reject()`. */
export interface QueuedMessage {
  /** Position in enqueue order, unique per queue. */
  readonly seq: number;
  /** What to write on the socket. */
  readonly payload: string | ArrayBufferLike | ArrayBufferView;
  /** Size of the payload in bytes, as counted against `maxBytes`. */
  readonly bytes: number;
  /** Priority the message was sent with. */
  readonly priority: Priority;
  /** Clock time at which it was enqueued. */
  readonly enqueuedAt: number;
  /** Clock time at which it expires; `Infinity` when it has no TTL. */
  readonly expiresAt: number;
  /** Application message id, when it has one (ack / dedup). */
  readonly id?: string;
  /** Channel the message is published on, when it has one (rate limits apply per channel type). */
  readonly channel?: string;
  /** Settles the `enqueue()` promise successfully. */
  resolve(): void;
  /** Settles the `enqueue()` promise with an error. */
  reject(error: SocketchartError): void;
}

/** Bounds and overflow behaviour of an outbound queue (the connection's resolved `queue` options). */
export interface OutboundQueueOptions {
  /** Most messages held at once. */
  readonly maxMessages: number;
  /** Most payload bytes held at once; a single message larger than this is always rejected. */
  readonly maxBytes: number;
  /** What to do when a message does not fit. */
  readonly overflow: OverflowPolicy;
}

/** A message to enqueue. */
export interface EnqueueInput {
  /** What to write on the socket. */
  payload: string | ArrayBufferLike | ArrayBufferView;
  /** Size of the payload in bytes. */
  bytes: number;
  /** Send priority. */
  priority: Priority;
  /** Most time the message may wait in the queue, in ms; omitted (or `Infinity`) for no limit. 0 or less: already expired. */
  ttlMs?: number;
  /** Application message id. */
  id?: string;
  /** Channel the message is published on. */
  channel?: string;
  /** Aborting it takes the message out of the queue (if it is still there) and rejects its promise with the signal's reason. */
  signal?: AbortSignal;
  /**
   * One a previous run left: queued ahead of the other messages of its priority, after those queued `first`
   * before it (queue them oldest first) and those put back (`unshift()`); when the queue is full it evicts or is
   * refused as the oldest of its priority.
   */
  first?: boolean;
}

/** Every priority, highest first. */
export const priorities: readonly Priority[] = ['critical', 'high', 'normal', 'low'];
const RANK: Readonly<Record<Priority, number>> = { low: 0, normal: 1, high: 2, critical: 3 };

/** The InvalidOptionError for a `priority` that is not one of `priorities`; undefined for one that is. */
export const priorityError = (priority: unknown): InvalidOptionError | undefined =>
  typeof priority === 'string' && Object.hasOwn(RANK, priority) ? undefined : new InvalidOptionError('priority', "'critical', 'high', 'normal' or 'low'", priority);

class Entry implements QueuedMessage {
  heapIndex = -1;
  queued = false;
  /** Queued `first`, or put back: a message queued `first` goes after it. */
  first = false;
  resolve!: () => void;
  reject!: (error: SocketchartError) => void;
  constructor(
    readonly seq: number,
    readonly payload: string | ArrayBufferLike | ArrayBufferView,
    readonly bytes: number,
    readonly priority: Priority,
    readonly enqueuedAt: number,
    readonly expiresAt: number,
    readonly id: string | undefined,
    readonly channel: string | undefined,
  ) {}
}

/**
 * One priority's messages, oldest first. A message taken out of the middle (aborted, expired) stays in
 * place as a dead entry until it reaches the head or dead entries are half the lane: removals stay O(1).
 */
class Lane {
  items: Entry[] = [];
  head = 0;
  /** Bytes of the live messages. */
  bytes = 0;
  /** Live messages. */
  length = 0;
  private dead = 0;
  /** The oldest live message, dead entries before it dropped. */
  first(): Entry | undefined {
    while (this.head < this.items.length && !this.items[this.head]!.queued) this.advance(true);
    return this.items[this.head];
  }
  shift(): Entry | undefined {
    const entry = this.first();
    if (entry === undefined) return undefined;
    this.bytes -= entry.bytes;
    this.length--;
    this.advance(false);
    return entry;
  }
  unshift(entry: Entry): void {
    entry.first = true;
    if (this.head > 0) this.items[--this.head] = entry;
    else this.items.unshift(entry);
    this.bytes += entry.bytes;
    this.length++;
  }
  /** After the live messages queued `first` or put back (always the lane's first live ones), ahead of the others. */
  insert(entry: Entry): void {
    let i = this.head;
    while (i < this.items.length && (this.items[i]!.first || !this.items[i]!.queued)) i++;
    this.items.splice(i, 0, entry);
    this.bytes += entry.bytes;
    this.length++;
  }
  push(entry: Entry): void {
    this.items.push(entry);
    this.bytes += entry.bytes;
    this.length++;
  }
  /** A live message of this lane left the queue where it stood. */
  forget(entry: Entry): void {
    this.bytes -= entry.bytes;
    this.length--;
    this.dead++;
    if (this.dead >= 64 && this.dead * 2 >= this.items.length - this.head) this.compact();
  }
  /** The live messages, oldest first. */
  *live(): IterableIterator<Entry> {
    for (let i = this.head; i < this.items.length; i++) if (this.items[i]!.queued) yield this.items[i]!;
  }
  private advance(dead: boolean): void {
    if (dead) this.dead--;
    if (++this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else {
      (this.items as Array<Entry | undefined>)[this.head - 1] = undefined;
      if (this.head >= 64 && this.head * 2 >= this.items.length) {
        this.items.splice(0, this.head);
        this.head = 0;
      }
    }
  }
  private compact(): void {
    this.items = [...this.live()];
    this.head = 0;
    this.dead = 0;
  }
}

/**
 * The outbound priority queue a connection uses whenever its fast path is closed. Bounded by count and
 * bytes; every message's `enqueue()` promise settles exactly once: resolved by its owner after writing,
 * or rejected with `QUEUE_OVERFLOW` (not admitted / evicted), `MESSAGE_EXPIRED` (TTL passed while
 * queued) or whatever `rejectAll()` is given. One clock timer per queue serves every TTL.
 */
export class OutboundQueue {
  /** Messages lost to the queue: evicted, expired or refused for lack of room. */
  dropped = 0;
  /** Messages rejected with `MESSAGE_EXPIRED`. */
  expired = 0;
  /** Queued messages evicted to make room for higher-priority ones. */
  evicted = 0;

  private readonly options: OutboundQueueOptions;
  private readonly clock: Clock;
  private readonly lanes: Array<Lane | undefined> = [undefined, undefined, undefined, undefined];
  private heap: Entry[] | undefined;
  private count = 0;
  private totalBytes = 0;
  private nextSeq = 0;
  private timer: TimerHandle | undefined;
  private timerAt = Infinity;
  private disposed = false;
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    this.expireDue(this.clock.now());
    this.arm();
  };

  /** `options` are validated already (`resolveOptions`); `onDrop` hears of every message the queue loses. */
  constructor(options: OutboundQueueOptions, clock: Clock, private readonly onDrop?: (count: number) => void) {
    this.options = options;
    this.clock = clock;
  }

  private lose(count: number): void {
    this.dropped += count;
    this.onDrop?.(count);
  }

  /** Number of messages queued. */
  get size(): number {
    return this.count;
  }

  /** Payload bytes queued. */
  get bytes(): number {
    return this.totalBytes;
  }

  /**
   * Queues a message. The promise resolves when its owner has written it (`resolve()`), and rejects with a
   * `SocketchartError`: `QUEUE_OVERFLOW` when it is not admitted or later evicted, `MESSAGE_EXPIRED` when
   * its TTL passes while queued, `CLOSED` after `dispose()`, or the error given to `rejectAll()`.
   */
  enqueue(input: EnqueueInput): Promise<void> {
    const invalid = priorityError(input.priority);
    if (invalid) return Promise.reject(invalid);
    const rank = RANK[input.priority];
    if (!(input.bytes >= 0)) return Promise.reject(new InvalidOptionError('bytes', 'a number >= 0', input.bytes));
    const ttl = input.ttlMs;
    if (ttl !== undefined && Number.isNaN(ttl)) return Promise.reject(new InvalidOptionError('ttlMs', 'a number', ttl));
    if (this.disposed) return Promise.reject(closedError(input.id));
    const now = this.clock.now();
    const entry = new Entry(
      this.nextSeq++,
      input.payload,
      input.bytes,
      input.priority,
      now,
      ttl === undefined ? Infinity : now + ttl,
      input.id,
      input.channel,
    );
    const promise = new Promise<void>((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    if (entry.expiresAt <= now) {
      this.expired++;
      this.lose(1);
      entry.reject(expiredError(entry));
      return promise;
    }
    const first = (entry.first = input.first === true);
    this.expireDue(now);
    if (this.admit(entry, first)) {
      if (first) this.lane(rank).insert(entry);
      else this.lane(rank).push(entry);
      if (input.signal !== undefined) this.cancelOnAbort(entry, input.signal);
    }
    return promise;
  }

  /** An aborted message leaves the queue; its promise rejects with the signal's reason. */
  private cancelOnAbort(entry: Entry, signal: AbortSignal): void {
    const { resolve, reject } = entry;
    const onAbort = () => {
      if (entry.queued) {
        this.detach(entry);
        this.lanes[RANK[entry.priority]!]?.forget(entry);
        this.arm();
      }
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    entry.resolve = () => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    };
    entry.reject = (error) => {
      signal.removeEventListener('abort', onAbort);
      reject(error);
    };
  }

  /** Per-priority number of queued messages. */
  depthByPriority(): Record<Priority, number> {
    return {
      critical: this.lanes[3]?.length ?? 0,
      high: this.lanes[2]?.length ?? 0,
      normal: this.lanes[1]?.length ?? 0,
      low: this.lanes[0]?.length ?? 0,
    };
  }

  /** The next message to send (highest priority, oldest first) without removing it; never an expired one. */
  peek(): QueuedMessage | undefined {
    this.expireDue(this.clock.now());
    for (let rank = 3; rank >= 0; rank--) {
      const lane = this.lanes[rank];
      if (lane !== undefined && lane.length > 0) return lane.first();
    }
    return undefined;
  }

  /** Removes and returns the next message to send; the caller then settles it (`resolve()` / `reject()`) or `unshift()`s it. */
  shift(): QueuedMessage | undefined {
    this.expireDue(this.clock.now());
    for (let rank = 3; rank >= 0; rank--) {
      const lane = this.lanes[rank];
      if (lane === undefined || lane.length === 0) continue;
      const entry = lane.shift()!;
      this.detach(entry);
      this.arm();
      return entry;
    }
    return undefined;
  }

  /**
   * Puts a message taken with `shift()` back at the head of its priority (e.g. the write could not happen), where
   * messages queued `first` afterwards do not pass it. If the queue filled up meanwhile, the overflow policy
   * applies to it as the oldest message of its priority.
   */
  unshift(message: QueuedMessage): void {
    if (!(message instanceof Entry) || message.queued) return;
    if (this.disposed) {
      message.reject(closedError(message.id));
      return;
    }
    const now = this.clock.now();
    if (message.expiresAt <= now) {
      this.expired++;
      this.lose(1);
      message.reject(expiredError(message));
      return;
    }
    this.expireDue(now);
    if (this.admit(message, true)) this.lane(RANK[message.priority]).unshift(message);
  }

  /** Rejects every queued message with `error` and empties the queue; returns how many there were. */
  rejectAll(error: SocketchartError): number {
    const rejected: Entry[] = [];
    for (let rank = 3; rank >= 0; rank--) {
      const lane = this.lanes[rank];
      if (lane === undefined) continue;
      for (const entry of lane.live()) rejected.push(entry);
      for (const entry of rejected) entry.queued = false;
      this.lanes[rank] = undefined;
    }
    if (this.heap !== undefined) {
      for (const entry of this.heap) entry.heapIndex = -1;
      this.heap = undefined;
    }
    this.count = 0;
    this.totalBytes = 0;
    this.arm();
    for (const entry of rejected) entry.reject(error);
    return rejected.length;
  }

  /** Rejects whatever is queued with `CLOSED`, clears the timer; later `enqueue()` calls reject with `CLOSED`. */
  dispose(): void {
    if (this.disposed) return;
    this.rejectAll(new SocketchartError(ErrorCode.CLOSED, { message: 'Outbound queue disposed' }));
    this.disposed = true;
  }

  private lane(rank: number): Lane {
    return (this.lanes[rank] ??= new Lane());
  }

  private admit(entry: Entry, atHead: boolean): boolean {
    const { maxMessages, maxBytes, overflow } = this.options;
    const needCount = this.count + 1 - maxMessages;
    const needBytes = this.totalBytes + entry.bytes - maxBytes;
    if (needCount > 0 || needBytes > 0) {
      if (overflow === 'reject' || entry.bytes > maxBytes || !this.canEvict(entry, atHead, needCount, needBytes)) {
        this.lose(1);
        entry.reject(
          new SocketchartError(ErrorCode.QUEUE_OVERFLOW, {
            message: entry.bytes > maxBytes ? 'Message larger than the outbound queue' : 'Outbound queue full',
            details: { reason: 'rejected', maxMessages, maxBytes },
            messageId: entry.id,
          }),
        );
        return false;
      }
      this.evictFor(needCount, needBytes);
    }
    this.count++;
    this.totalBytes += entry.bytes;
    entry.queued = true;
    if (entry.expiresAt !== Infinity) this.heapPush(entry);
    return true;
  }

  private canEvict(entry: Entry, atHead: boolean, needCount: number, needBytes: number): boolean {
    const limit = RANK[entry.priority] - (atHead ? 1 : 0);
    let count = 0;
    let bytes = 0;
    for (let rank = 0; rank <= limit; rank++) {
      const lane = this.lanes[rank];
      if (lane === undefined) continue;
      count += lane.length;
      bytes += lane.bytes;
    }
    return count >= needCount && bytes >= needBytes;
  }

  private evictFor(needCount: number, needBytes: number): void {
    const victims: Entry[] = [];
    for (let rank = 0; rank < 4 && (needCount > 0 || needBytes > 0); rank++) {
      const lane = this.lanes[rank];
      while (lane !== undefined && lane.length > 0 && (needCount > 0 || needBytes > 0)) {
        const entry = lane.shift()!;
        this.detach(entry);
        needCount--;
        needBytes -= entry.bytes;
        victims.push(entry);
      }
    }
    this.evicted += victims.length;
    this.lose(victims.length);
    for (const entry of victims) {
      entry.reject(
        new SocketchartError(ErrorCode.QUEUE_OVERFLOW, {
          message: 'Evicted from the outbound queue by a higher-priority message',
          details: { reason: 'evicted', priority: entry.priority },
          messageId: entry.id,
        }),
      );
    }
  }

  private detach(entry: Entry): void {
    entry.queued = false;
    this.count--;
    this.totalBytes -= entry.bytes;
    if (entry.heapIndex >= 0) this.heapRemove(entry.heapIndex);
  }

  private expireDue(now: number): void {
    const heap = this.heap;
    if (heap === undefined || heap.length === 0 || heap[0]!.expiresAt > now) return;
    const victims: Entry[] = [];
    while (heap.length > 0 && heap[0]!.expiresAt <= now) {
      const entry = heap[0]!;
      this.detach(entry);
      this.lanes[RANK[entry.priority]]!.forget(entry);
      victims.push(entry);
    }
    this.expired += victims.length;
    this.lose(victims.length);
    this.arm();
    for (const entry of victims) entry.reject(expiredError(entry));
  }

  private arm(): void {
    const heap = this.heap;
    if (heap === undefined || heap.length === 0) {
      if (this.timer !== undefined) {
        this.clock.clearTimeout(this.timer);
        this.timer = undefined;
        this.timerAt = Infinity;
      }
      return;
    }
    const at = heap[0]!.expiresAt;
    if (this.timer !== undefined) {
      if (this.timerAt <= at) return;
      this.clock.clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = this.clock.setTimeout(this.onTimer, Math.min(MAX_TIMER_MS, Math.max(0, at - this.clock.now())));
  }

  private heapPush(entry: Entry): void {
    const heap = (this.heap ??= []);
    entry.heapIndex = heap.length;
    heap.push(entry);
    this.siftUp(entry.heapIndex);
    if (entry.heapIndex === 0) this.arm();
  }

  private heapRemove(index: number): void {
    const heap = this.heap!;
    const removed = heap[index]!;
    const last = heap.pop()!;
    removed.heapIndex = -1;
    if (index === heap.length) return;
    heap[index] = last;
    last.heapIndex = index;
    this.siftUp(index);
    this.siftDown(last.heapIndex);
  }

  private siftUp(index: number): void {
    const heap = this.heap!;
    const entry = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!before(entry, parent)) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = entry;
    entry.heapIndex = index;
  }

  private siftDown(index: number): void {
    const heap = this.heap!;
    const entry = heap[index]!;
    const length = heap.length;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= length) break;
      const right = child + 1;
      if (right < length && before(heap[right]!, heap[child]!)) child = right;
      const candidate = heap[child]!;
      if (!before(candidate, entry)) break;
      heap[index] = candidate;
      candidate.heapIndex = index;
      index = child;
    }
    heap[index] = entry;
    entry.heapIndex = index;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.expiresAt < b.expiresAt || (a.expiresAt === b.expiresAt && a.seq < b.seq);
}

function expiredError(entry: Entry): SocketchartError {
  return new SocketchartError(ErrorCode.MESSAGE_EXPIRED, {
    message: 'Message expired in the outbound queue',
    details: { priority: entry.priority, waitedMs: entry.expiresAt - entry.enqueuedAt },
    messageId: entry.id,
  });
}

function closedError(id: string | undefined): SocketchartError {
  return new SocketchartError(ErrorCode.CLOSED, {
    message: 'Outbound queue disposed',
    messageId: id,
  });
}
