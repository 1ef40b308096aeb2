import { expect, it } from 'vitest';
import { ErrorCode, SocketchartError } from '../../../src/protocol/errors.js';
import { OutboundQueue } from '../../../src/queue/outbound-queue.js';
import { SimulatedClock } from '../../../src/testing/simulated-clock.js';

/**
 * The queue's counters: `expired` counts messages rejected with MESSAGE_EXPIRED, `dropped` every message
 * lost to the queue, and `onDrop` hears of each loss, including a message already expired when it is
 * enqueued (a TTL of 0 or less).
 */

it('a message enqueued with a TTL of 0 or less is rejected as expired and counted as expired and dropped', async () => {
  const losses: number[] = [];
  const queue = new OutboundQueue({ maxMessages: 10, maxBytes: 1_000, overflow: 'reject' }, new SimulatedClock(), (count) => losses.push(count));
  const outcomes = await Promise.allSettled([
    queue.enqueue({ payload: 'zero', bytes: 1, priority: 'normal', ttlMs: 0 }),
    queue.enqueue({ payload: 'negative', bytes: 1, priority: 'high', ttlMs: -5 }),
  ]);
  for (const outcome of outcomes) {
    expect(outcome.status).toBe('rejected');
    expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(SocketchartError);
    expect(((outcome as PromiseRejectedResult).reason as SocketchartError).code).toBe(ErrorCode.MESSAGE_EXPIRED);
  }
  expect(queue.expired).toBe(2);
  expect(queue.dropped).toBe(2);
  expect(losses.reduce((sum, count) => sum + count, 0)).toBe(2);
  expect(queue.size).toBe(0);
});
