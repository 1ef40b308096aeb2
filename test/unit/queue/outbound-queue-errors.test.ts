import { expect, it } from 'vitest';
import { ErrorCode, SocketchartError } from '../../../src/protocol/errors.js';
import { OutboundQueue, type OutboundQueueOptions, type Priority } from '../../../src/queue/outbound-queue.js';
import { SimulatedClock } from '../../../src/testing/simulated-clock.js';

/**
 * What the error of each message the queue loses tells its sender: why (`details.reason`), the limits or
 * the priority involved, how long it waited, and which message it was (`messageId`, when it has an id).
 */

function queueOf(options: Partial<OutboundQueueOptions> = {}) {
  const clock = new SimulatedClock();
  const queue = new OutboundQueue({ maxMessages: 2, maxBytes: 100, overflow: 'reject', ...options }, clock);
  const errors = new Map<string, SocketchartError>();
  const send = (payload: string, priority: Priority = 'normal', extra: { bytes?: number; ttlMs?: number; id?: string } = {}) =>
    queue
      .enqueue({ payload, bytes: extra.bytes ?? payload.length, priority, ...(extra.ttlMs === undefined ? {} : { ttlMs: extra.ttlMs }), ...(extra.id === undefined ? {} : { id: extra.id }) })
      .catch((error: SocketchartError) => void errors.set(payload, error));
  const flush = () => new Promise((resolve) => setImmediate(resolve));
  return { queue, clock, errors, send, flush };
}

it('a message refused by a full queue says so, with the limits, and names the message', async () => {
  const { errors, send, flush } = queueOf();
  void send('a');
  void send('b');
  void send('c', 'normal', { id: 'msg-c' });
  await flush();
  const error = errors.get('c')!;
  expect(error).toBeInstanceOf(SocketchartError);
  expect(error).toMatchObject({ code: ErrorCode.QUEUE_OVERFLOW, message: 'Outbound queue full', details: { reason: 'rejected', maxMessages: 2, maxBytes: 100 }, messageId: 'msg-c' });
});

it('a message larger than the whole queue is refused as such, even with room to evict', async () => {
  const { errors, send, flush } = queueOf({ overflow: 'evict-lowest' });
  void send('small', 'low');
  void send('huge', 'critical', { bytes: 101 });
  await flush();
  expect(errors.get('huge')).toMatchObject({ code: ErrorCode.QUEUE_OVERFLOW, message: 'Message larger than the outbound queue', details: { reason: 'rejected' } });
  expect(errors.has('small')).toBe(false);
});

it('a message evicted for a higher-priority one says so, with its own priority, and names the message', async () => {
  const { queue, errors, send, flush } = queueOf({ overflow: 'evict-lowest' });
  void send('low', 'low', { id: 'msg-low' });
  void send('normal');
  void send('critical', 'critical');
  await flush();
  expect(errors.get('low')).toMatchObject({
    code: ErrorCode.QUEUE_OVERFLOW,
    message: 'Evicted from the outbound queue by a higher-priority message',
    details: { reason: 'evicted', priority: 'low' },
    messageId: 'msg-low',
  });
  expect(errors.size).toBe(1);
  expect(queue.evicted).toBe(1);
});

it('a message whose TTL passed says how long it waited, at which priority, and names the message', async () => {
  const { clock, errors, send, flush } = queueOf();
  clock.advance(10_000);
  void send('late', 'high', { ttlMs: 250, id: 'msg-late' });
  clock.advance(250);
  await flush();
  expect(errors.get('late')).toMatchObject({ code: ErrorCode.MESSAGE_EXPIRED, message: 'Message expired in the outbound queue', details: { priority: 'high', waitedMs: 250 }, messageId: 'msg-late' });
});

it('messages whose TTLs pass at the same instant are rejected in the order they were queued', async () => {
  const { clock, errors, send, flush } = queueOf({ maxMessages: 10 });
  for (const payload of ['first', 'second', 'third']) void send(payload, payload === 'second' ? 'high' : 'normal', { ttlMs: 100 });
  clock.advance(100);
  await flush();
  expect([...errors.keys()]).toEqual(['first', 'second', 'third']);
});

it('a message queued or sent after dispose() is rejected with CLOSED naming it', async () => {
  const { queue, errors, send, flush } = queueOf();
  void send('queued', 'normal', { id: 'msg-queued' });
  queue.dispose();
  void send('after', 'normal', { id: 'msg-after' });
  await flush();
  expect(errors.get('queued')).toMatchObject({ code: ErrorCode.CLOSED, message: 'Outbound queue disposed' });
  expect(errors.get('after')).toMatchObject({ code: ErrorCode.CLOSED, message: 'Outbound queue disposed', messageId: 'msg-after' });
});
