import { expect, it } from 'vitest';
import { ErrorCode, SocketchartError } from '../../../src/protocol/errors.js';
import { OutboundQueue, type OutboundQueueOptions, type Priority } from '../../../src/queue/outbound-queue.js';
import { SimulatedClock } from '../../../src/testing/simulated-clock.js';
import { track, type Settled } from '../../support/settled.js';

/**
 * `unshift()` puts a message taken with `shift()` back at the head of its priority; if the queue filled up
 * meanwhile, the overflow policy applies to it as the oldest message of its priority. Like every other
 * message, it never stays queued past its expiry, and a disposed queue rejects it with CLOSED. It keeps the head
 * from messages queued `first` afterwards (what a store restores), and those keep their order behind it.
 */

const codeOf = (box: Settled) => (box.error instanceof SocketchartError ? box.error.code : undefined);
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function queueOf(options: Partial<OutboundQueueOptions> = {}) {
  const clock = new SimulatedClock();
  const queue = new OutboundQueue({ maxMessages: 1_000, maxBytes: 1_000_000, overflow: 'evict-lowest', ...options }, clock);
  const put = (priority: Priority, payload: string, extra: { ttlMs?: number; id?: string; first?: boolean } = {}) =>
    track(queue.enqueue({ payload, bytes: 1, priority, ...extra }));
  return { clock, queue, put };
}

it('put back into a queue that filled up with newer messages of its priority, it is the oldest: evict-lowest refuses it, not them', async () => {
  const { queue, put } = queueOf({ maxMessages: 1 });
  const first = put('normal', 'first');
  const taken = queue.shift()!;
  const newer = put('normal', 'newer');
  queue.unshift(taken);
  await flush();
  expect(codeOf(first)).toBe(ErrorCode.QUEUE_OVERFLOW);
  expect(newer.status).toBe('pending');
  expect(queue.size).toBe(1);
  expect(queue.shift()?.payload).toBe('newer');
});

it('put back into a queue that filled up with a higher-priority message, it never evicts that one', async () => {
  const { queue, put } = queueOf({ maxMessages: 1 });
  const normal = put('normal', 'normal');
  const taken = queue.shift()!;
  const high = put('high', 'high');
  queue.unshift(taken);
  await flush();
  expect(codeOf(normal)).toBe(ErrorCode.QUEUE_OVERFLOW);
  expect(high.status).toBe('pending');
  expect(queue.shift()?.payload).toBe('high');
});

it('put back into a queue that filled up with a lower-priority message, it evicts that one', async () => {
  const { queue, put } = queueOf({ maxMessages: 1 });
  const high = put('high', 'high');
  const taken = queue.shift()!;
  const low = put('low', 'low');
  queue.unshift(taken);
  await flush();
  expect(codeOf(low)).toBe(ErrorCode.QUEUE_OVERFLOW);
  expect(high.status).toBe('pending');
  expect(queue.shift()?.payload).toBe('high');
});

const drained = (queue: OutboundQueue) => {
  const payloads: unknown[] = [];
  for (let message = queue.shift(); message; message = queue.shift()) payloads.push(message.payload);
  return payloads;
};

it('put back after a write failed while messages were restored, it stays at the head, and those restored next queue in order behind it', () => {
  const { queue, put } = queueOf();
  put('normal', 'mine');
  const taken = queue.shift()!; // being written
  put('normal', 'left-1', { first: true });
  queue.unshift(taken); // the write failed
  put('normal', 'left-2', { first: true });
  expect(drained(queue)).toEqual(['mine', 'left-1', 'left-2']);
});

it('put back before messages are restored, it stays at the head, ahead of them and of what was queued after it', () => {
  const { queue, put } = queueOf();
  put('normal', 'mine');
  put('normal', 'later');
  queue.unshift(queue.shift()!);
  put('normal', 'left-1', { first: true });
  put('normal', 'left-2', { first: true });
  expect(drained(queue)).toEqual(['mine', 'left-1', 'left-2', 'later']);
});

it('put back when its TTL has just run out, it is rejected with MESSAGE_EXPIRED at once and not queued again', async () => {
  const { clock, queue, put } = queueOf();
  const box = put('normal', 'a', { ttlMs: 100, id: 'm-1' });
  const taken = queue.shift()!;
  clock.advance(100);
  queue.unshift(taken);
  expect(queue.size).toBe(0);
  expect(queue.bytes).toBe(0);
  expect(queue.expired).toBe(1);
  expect(queue.dropped).toBe(1);
  await flush();
  expect(codeOf(box)).toBe(ErrorCode.MESSAGE_EXPIRED);
  expect((box.error as SocketchartError).messageId).toBe('m-1');
  expect(clock.pending).toBe(0);
});

it('put back before its TTL runs out, it stays queued until then', async () => {
  const { clock, queue, put } = queueOf();
  const box = put('normal', 'a', { ttlMs: 100 });
  const taken = queue.shift()!;
  clock.advance(99);
  queue.unshift(taken);
  expect(queue.size).toBe(1);
  clock.advance(1);
  await flush();
  expect(codeOf(box)).toBe(ErrorCode.MESSAGE_EXPIRED);
  expect(queue.size).toBe(0);
});

it('put back after dispose(), it is rejected with CLOSED carrying its id, and the queue stays empty', async () => {
  const { clock, queue, put } = queueOf();
  const box = put('normal', 'a', { id: 'm-1', ttlMs: 1_000 });
  const taken = queue.shift()!;
  queue.dispose();
  queue.unshift(taken);
  await flush();
  expect(codeOf(box)).toBe(ErrorCode.CLOSED);
  expect((box.error as SocketchartError).messageId).toBe('m-1');
  expect(queue.size).toBe(0);
  expect(queue.peek()).toBeUndefined();
  expect(clock.pending).toBe(0);
});

it('a message enqueued after dispose() is rejected with CLOSED carrying its id', async () => {
  const { queue, put } = queueOf();
  queue.dispose();
  const box = put('high', 'late', { id: 'm-2' });
  await flush();
  expect(codeOf(box)).toBe(ErrorCode.CLOSED);
  expect((box.error as SocketchartError).messageId).toBe('m-2');
});
