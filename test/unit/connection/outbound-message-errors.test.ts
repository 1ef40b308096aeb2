import { expect, it } from 'vitest';
import { ErrorCode, plainProtocol, isSocketchartError, type SocketchartError } from '../../../src/index.js';
import { harness } from '../../support/harness.js';
import { track, type Settled } from '../../support/settled.js';

/**
 * An error that concerns one message rejects the promise of its `send()` (and only that: no `error` event),
 * carries the message's id (`messageId`) when it has one, and says the engine gave the message up
 * (`recovery: 'fail'`). `send()` returns a promise in every case; it never throws.
 */

it('a queued send whose TTL passes rejects with MESSAGE_EXPIRED carrying its id, and no error event', async () => {
  const h = harness({ heartbeat: false });
  const box = track(h.connection.send('x', { channel: 'c', id: 'm-1', ttl: 100 }));
  await h.advance(100);
  expect(box.status).toBe('rejected');
  expect(box.error).toMatchObject({ code: ErrorCode.MESSAGE_EXPIRED, messageId: 'm-1', recovery: 'fail' });
  expect(h.errors).toEqual([]);
});

it('a send the full queue refuses (overflow reject) carries its id', async () => {
  const h = harness({ heartbeat: false, queue: { maxMessages: 1, overflow: 'reject' } });
  const first = track(h.connection.send('a', { channel: 'c', id: 'm-1' }));
  const refused = track(h.connection.send('b', { channel: 'c', id: 'm-2' }));
  await h.settle();
  expect(first.status).toBe('pending');
  expect(refused.error).toMatchObject({ code: ErrorCode.QUEUE_OVERFLOW, messageId: 'm-2', recovery: 'fail' });
  expect(h.errors).toEqual([]);
});

it('a queued send evicted for a higher-priority one carries its id', async () => {
  const h = harness({ heartbeat: false, queue: { maxMessages: 1, overflow: 'evict-lowest' } });
  const evicted = track(h.connection.send('a', { channel: 'c', id: 'm-1', priority: 'low' }));
  const kept = track(h.connection.send('b', { channel: 'c', id: 'm-2', priority: 'high' }));
  await h.settle();
  expect(evicted.error).toMatchObject({ code: ErrorCode.QUEUE_OVERFLOW, messageId: 'm-1', recovery: 'fail' });
  expect(kept.status).toBe('pending');
});

it('a send without an id is refused with no messageId', async () => {
  const h = harness({ heartbeat: false, queue: { maxMessages: 1, overflow: 'reject' } });
  void h.connection.send('a', { channel: 'c' }).catch(() => {});
  const refused = track(h.connection.send('b', { channel: 'c' }));
  await h.settle();
  expect(refused.error?.code).toBe(ErrorCode.QUEUE_OVERFLOW);
  expect(refused.error?.messageId).toBeUndefined();
});

it('an acknowledged send still queued when its TTL passes rejects with MESSAGE_EXPIRED', async () => {
  const h = harness({ heartbeat: false });
  const box = track(h.connection.send('x', { channel: 'c', ack: true, id: 'a-1', ttl: 100 }));
  await h.advance(99);
  expect(box.status).toBe('pending');
  await h.advance(1);
  expect(box.error).toMatchObject({ code: ErrorCode.MESSAGE_EXPIRED, messageId: 'a-1' });
  await h.connect();
  expect(h.server.last!.sentOfType('publish')).toEqual([]);
});

it('an acknowledged send refused by the full queue rejects with QUEUE_OVERFLOW', async () => {
  const h = harness({ heartbeat: false, queue: { maxMessages: 1, overflow: 'reject' } });
  void h.connection.send('a', { channel: 'c' }).catch(() => {});
  const box = track(h.connection.request('b', { channel: 'c', id: 'a-2' }));
  await h.settle();
  expect(box.error).toMatchObject({ code: ErrorCode.QUEUE_OVERFLOW, messageId: 'a-2' });
});

it('an acknowledged send that cannot go at all (bad priority, too large) returns a rejected promise, never throws', async () => {
  const h = harness({ heartbeat: false, maxMessageBytes: 100 });
  await h.connect();
  let badPriority!: Promise<void>;
  let tooLarge!: Promise<void>;
  expect(() => {
    badPriority = h.connection.send('x', { channel: 'c', ack: true, priority: 'urgent' as 'high' });
    tooLarge = h.connection.send('y'.repeat(200), { channel: 'c', ack: true });
  }).not.toThrow();
  await expect(badPriority).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION });
  await expect(tooLarge).rejects.toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE });
  expect(h.server.last!.sentOfType('publish')).toEqual([]);
});

it('a send refused for misuse gives the message up: recovery fail', async () => {
  const h = harness({ heartbeat: false });
  await h.connect();
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const noChannel = track(h.connection.send('x', { ack: true }));
  const unencodable = track(h.connection.send(circular, { channel: 'c' }));
  const plain = harness({ heartbeat: false, protocol: plainProtocol() });
  await plain.connect();
  const noAcks = track(plain.connection.send('x', { channel: 'c', ack: true }));
  await h.settle();
  for (const box of [noChannel, unencodable, noAcks]) {
    expect(box.status).toBe('rejected');
    expect(isSocketchartError(box.error)).toBe(true);
    expect(box.error!.recovery).toBe('fail');
  }
  expect(h.server.last!.sentOfType('publish')).toEqual([]);
  expect(plain.server.last!.sent).toEqual([]);
});

it('a second acknowledged send under an id still in flight is refused, and the first still resolves on its ack', async () => {
  const h = harness({ heartbeat: false });
  await h.connect();
  const socket = h.server.last!;
  const first = track(h.connection.send('first', { channel: 'c', ack: true, id: 'dup' }));
  const second = track(h.connection.send('second', { channel: 'c', ack: true, id: 'dup' }));
  await h.settle();
  expect(second.status).toBe('rejected');
  expect(isSocketchartError(second.error)).toBe(true);
  expect(second.error!.messageId).toBe('dup');
  expect(second.error!.recovery).toBe('fail');
  expect(socket.sentOfType('publish').map((frame) => frame.data)).toEqual(['first']);
  socket.push({ type: 'ack', id: 'dup', seq: 1 });
  await h.settle();
  expect(first.status).toBe('resolved');
});
