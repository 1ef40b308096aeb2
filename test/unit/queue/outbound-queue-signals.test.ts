import { getEventListeners } from 'node:events';
import { expect, it } from 'vitest';
import { ErrorCode, SocketchartError } from '../../../src/protocol/errors.js';
import { OutboundQueue } from '../../../src/queue/outbound-queue.js';
import { SimulatedClock } from '../../../src/testing/simulated-clock.js';
import { track, type Settled } from '../../support/settled.js';

/**
 * A message enqueued with a `signal`: aborting it takes the message out of the queue if it is still there and
 * rejects its promise with the signal's reason; once the message is settled, the signal is let go of.
 */

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const newQueue = () => new OutboundQueue({ maxMessages: 100, maxBytes: 10_000, overflow: 'evict-lowest' }, new SimulatedClock());
const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

it('aborting a message already taken out with shift() leaves the queue as it is, and rejects that message with the reason', async () => {
  const queue = newQueue();
  const controller = new AbortController();
  const taken = track(queue.enqueue({ payload: 'taken', bytes: 5, priority: 'normal', signal: controller.signal }));
  const other = track(queue.enqueue({ payload: 'other', bytes: 7, priority: 'normal' }));
  expect(queue.shift()?.payload).toBe('taken');
  const reason = new Error('cancelled');
  controller.abort(reason);
  await flush();
  expect(taken).toEqual({ status: 'rejected', error: reason });
  expect(queue.size).toBe(1);
  expect(queue.bytes).toBe(7);
  expect(queue.depthByPriority()).toEqual({ critical: 0, high: 0, normal: 1, low: 0 });
  expect(queue.shift()?.payload).toBe('other');
  expect(queue.size).toBe(0);
  expect(other.status).toBe('pending');
});

it('a message enqueued with a signal resolves once its owner has written it', async () => {
  const queue = newQueue();
  const controller = new AbortController();
  const box = track(queue.enqueue({ payload: 'x', bytes: 1, priority: 'high', signal: controller.signal }));
  queue.shift()!.resolve();
  await flush();
  expect(box.status).toBe('resolved');
});

it('a signal shared by many messages is let go of by each one once it is settled, however it settles', async () => {
  const queue = newQueue();
  const controller = new AbortController();
  const { signal } = controller;
  const boxes = Array.from({ length: 6 }, (_, i) => track(queue.enqueue({ payload: `m${i}`, bytes: 1, priority: 'normal', signal })));
  expect(listeners(signal)).toBe(6);
  queue.shift()!.resolve();
  queue.shift()!.reject(new SocketchartError(ErrorCode.CLOSED));
  expect(listeners(signal)).toBe(4);
  expect(queue.rejectAll(new SocketchartError(ErrorCode.CLOSED))).toBe(4);
  expect(listeners(signal)).toBe(0);
  await flush();
  expect(boxes.map((box) => box.status)).toEqual(['resolved', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected']);
  controller.abort(new Error('late'));
  await flush();
  expect(boxes.map((box) => (box.error as SocketchartError | undefined)?.code)).toEqual([undefined, ...Array(5).fill(ErrorCode.CLOSED)]);
});

it('peek() finds the next message in any priority, the lowest included', () => {
  const queue = newQueue();
  void queue.enqueue({ payload: 'only-low', bytes: 1, priority: 'low' });
  expect(queue.peek()?.payload).toBe('only-low');
  expect(queue.size).toBe(1);
});

it('refuses a priority that is not one of the four names, even one that would coerce to a name, with INVALID_OPTION naming `priority`', async () => {
  const queue = newQueue();
  const odd: unknown[] = [['low'], { toString: () => 'high' }, 3, null];
  const boxes = odd.map((priority) => track(queue.enqueue({ payload: 'x', bytes: 1, priority: priority as 'low' })));
  await flush();
  for (const box of boxes) {
    expect(box.status).toBe('rejected');
    expect(box.error).toMatchObject({ code: ErrorCode.INVALID_OPTION, option: 'priority' });
  }
  expect(queue.size).toBe(0);
});

it('an invalid byte size or TTL is refused with INVALID_OPTION naming the option at fault', async () => {
  const queue = newQueue();
  const bytes = track(queue.enqueue({ payload: 'x', bytes: -1, priority: 'normal' }));
  const ttl = track(queue.enqueue({ payload: 'x', bytes: 1, priority: 'normal', ttlMs: Number.NaN }));
  await flush();
  expect(bytes.error).toMatchObject({ code: ErrorCode.INVALID_OPTION, option: 'bytes' });
  expect(ttl.error).toMatchObject({ code: ErrorCode.INVALID_OPTION, option: 'ttlMs' });
  expect(queue.size).toBe(0);
});
