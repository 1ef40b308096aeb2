import { expect, it } from 'vitest';
import { ErrorCode, SocketchartError } from '../../../src/protocol/errors.js';
import { OutboundQueue, type OutboundQueueOptions, type Priority, type QueuedMessage } from '../../../src/queue/outbound-queue.js';
import { SimulatedClock } from '../../../src/testing/simulated-clock.js';

/**
 * Making room under `evict-lowest`: queued messages are evicted, lowest priority and oldest first, as long as
 * they rank below the new message, and only as many as the bounds require; a single message larger than
 * `maxBytes` is always rejected, so one of exactly `maxBytes` is not.
 */

type Outcome = 'pending' | 'resolved' | string;

function track(promise: Promise<void>): { readonly outcome: Outcome } {
  const box = { outcome: 'pending' as Outcome };
  promise.then(
    () => (box.outcome = 'resolved'),
    (error: unknown) => (box.outcome = error instanceof SocketchartError ? error.code : String(error)),
  );
  return box;
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function queueOf(options: Partial<OutboundQueueOptions>) {
  const clock = new SimulatedClock();
  const queue = new OutboundQueue({ maxMessages: 1_000, maxBytes: 1_000_000, overflow: 'evict-lowest', ...options }, clock);
  const put = (priority: Priority, payload: string, bytes: number, signal?: AbortSignal) =>
    track(queue.enqueue({ payload, bytes, priority, ...(signal ? { signal } : {}) }));
  const drain = () => {
    const out: QueuedMessage[] = [];
    for (let m = queue.shift(); m !== undefined; m = queue.shift()) out.push(m);
    return out.map((m) => m.payload);
  };
  return { clock, queue, put, drain };
}

it('admits a message of exactly maxBytes, evicting the lower-priority messages in its way', async () => {
  const { queue, put, drain } = queueOf({ maxBytes: 10 });
  const low = put('low', 'l', 4);
  const high = put('high', 'h', 10);
  await flush();
  expect(low.outcome).toBe(ErrorCode.QUEUE_OVERFLOW);
  expect(high.outcome).toBe('pending');
  expect(queue.bytes).toBe(10);
  expect(drain()).toEqual(['h']);
});

it('evicts when the lower-priority messages hold exactly the bytes that are missing', async () => {
  const { queue, put, drain } = queueOf({ maxBytes: 10 });
  const low = put('low', 'l', 4);
  const high = put('high', 'h', 6);
  const normal = put('normal', 'n', 4);
  await flush();
  expect(low.outcome).toBe(ErrorCode.QUEUE_OVERFLOW);
  expect([high.outcome, normal.outcome]).toEqual(['pending', 'pending']);
  expect(queue.bytes).toBe(10);
  expect(drain()).toEqual(['h', 'n']);
});

it('evicts no more than the bytes require: once the new message fits exactly, the next one stays', async () => {
  const { queue, put, drain } = queueOf({ maxBytes: 10 });
  const first = put('low', 'a', 4);
  const second = put('low', 'b', 4);
  const high = put('high', 'h', 6);
  await flush();
  expect(first.outcome).toBe(ErrorCode.QUEUE_OVERFLOW);
  expect(second.outcome).toBe('pending');
  expect(high.outcome).toBe('pending');
  expect(queue.bytes).toBe(10);
  expect(queue.evicted).toBe(1);
  expect(drain()).toEqual(['h', 'b']);
});

it('a message aborted out of the queue no longer counts as room eviction could make: a new message that cannot fit is refused, and nothing of higher priority is evicted', async () => {
  const { queue, put, drain } = queueOf({ maxBytes: 10 });
  const controller = new AbortController();
  const aborted = put('low', 'a', 3, controller.signal);
  const low = put('low', 'b', 3);
  const critical = put('critical', 'c', 4);
  controller.abort(new Error('gone'));
  await flush();
  expect(aborted.outcome).toBe('Error: gone');
  expect(queue.bytes).toBe(7);
  // 7 bytes held, 10 allowed: a 7-byte message needs 4 bytes freed, and only 3 (the low message) rank below it.
  const high = put('high', 'h', 7);
  await flush();
  expect(high.outcome).toBe(ErrorCode.QUEUE_OVERFLOW);
  expect([low.outcome, critical.outcome]).toEqual(['pending', 'pending']);
  expect(queue.bytes).toBe(7);
  expect(drain()).toEqual(['c', 'b']);
});

it('a message expired out of the queue no longer counts as room eviction could make', async () => {
  const { clock, queue, put, drain } = queueOf({ maxBytes: 10 });
  const expiring = track(queue.enqueue({ payload: 'a', bytes: 3, priority: 'low', ttlMs: 100 }));
  const low = put('low', 'b', 3);
  const critical = put('critical', 'c', 4);
  clock.advance(100);
  await flush();
  expect(expiring.outcome).toBe(ErrorCode.MESSAGE_EXPIRED);
  const high = put('high', 'h', 7);
  await flush();
  expect(high.outcome).toBe(ErrorCode.QUEUE_OVERFLOW);
  expect([low.outcome, critical.outcome]).toEqual(['pending', 'pending']);
  expect(drain()).toEqual(['c', 'b']);
});

it('a message put back with unshift() counts again as room eviction can make for a higher-priority one', async () => {
  const { queue, put, drain } = queueOf({ maxBytes: 10 });
  const low = put('low', 'l', 6);
  const taken = queue.shift()!;
  queue.unshift(taken);
  expect(queue.bytes).toBe(6);
  const high = put('high', 'h', 8);
  await flush();
  expect(low.outcome).toBe(ErrorCode.QUEUE_OVERFLOW);
  expect(high.outcome).toBe('pending');
  expect(drain()).toEqual(['h']);
});
