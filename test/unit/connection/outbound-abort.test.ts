import { getEventListeners } from 'node:events';
import { expect, it } from 'vitest';
import type { SocketchartError } from '../../../src/index.js';
import { harness } from '../../support/harness.js';
import { track, type Settled } from '../../support/settled.js';

/**
 * `send(…, { signal })`: aborting it gives the message up. A queued message leaves the queue, an
 * acknowledged one is no longer waited for or written again, and the promise rejects with the signal's
 * reason; a message already written stays written. A signal outlives the sends it was given to, so once
 * they are settled it holds no listener of theirs.
 */

const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

it('a send whose signal is aborted already is not written, even with the fast path open: it rejects with the reason', async () => {
  const h = harness({ heartbeat: false });
  await h.connect();
  const reason = new Error('not any more');
  const box = track(h.connection.send('never', { signal: AbortSignal.abort(reason) }));
  await h.settle();
  expect(box).toEqual({ status: 'rejected', error: reason });
  expect(h.server.last!.sent.map((frame) => frame.raw)).toEqual([]);
  expect(h.connection.metrics().messagesOut).toBe(0);
});

it('aborting a queued send takes it out of the queue: it rejects with the reason and is never written', async () => {
  const h = harness({ heartbeat: false });
  const controller = new AbortController();
  const aborted = track(h.connection.send('aborted', { channel: 'c', signal: controller.signal }));
  const kept = track(h.connection.send('kept', { channel: 'c' }));
  expect(h.connection.queued).toBe(2);
  const reason = new Error('changed my mind');
  controller.abort(reason);
  await h.settle();
  expect(aborted).toEqual({ status: 'rejected', error: reason });
  expect(h.connection.queued).toBe(1);
  await h.connect();
  expect(h.server.last!.sentOfType('publish').map((frame) => frame.data)).toEqual(['kept']);
  expect(kept.status).toBe('resolved');
});

it('a queued send with a signal resolves once it is written', async () => {
  const h = harness({ heartbeat: false });
  const box = track(h.connection.send('later', { channel: 'c', signal: new AbortController().signal }));
  await h.connect();
  expect(h.server.last!.sentOfType('publish').map((frame) => frame.data)).toEqual(['later']);
  expect(box.status).toBe('resolved');
});

it('aborting an acknowledged send after it was written stops the wait: it rejects with the reason and is not written again', async () => {
  const h = harness({ heartbeat: false, acks: { timeoutMs: 1_000, maxAttempts: 5 } });
  await h.connect();
  const controller = new AbortController();
  const box = track(h.connection.send('once', { channel: 'c', ack: true, signal: controller.signal }));
  await h.settle();
  expect(h.server.last!.sentOfType('publish')).toHaveLength(1);
  const reason = new Error('stop waiting');
  controller.abort(reason);
  await h.settle();
  expect(box).toEqual({ status: 'rejected', error: reason });
  await h.advance(10_000);
  expect(h.server.last!.sentOfType('publish')).toHaveLength(1);
});

it('an acknowledged send aborted while queued, then sent again at once under its id: the new one is not failed by the old abort, and resolves on its ack', async () => {
  const h = harness({ heartbeat: false });
  h.server.onFrame = (socket, frame) => {
    if (frame.json?.type === 'publish' && typeof frame.json.id === 'string') socket.push({ type: 'ack', id: frame.json.id, seq: 1 });
  };
  const controller = new AbortController();
  const reason = new Error('superseded');
  const first = track(h.connection.request('v1', { channel: 'c', id: 'order-42', signal: controller.signal }));
  controller.abort(reason);
  const second = track(h.connection.request('v2', { channel: 'c', id: 'order-42' }));
  await h.connect();
  await h.settle();
  expect(h.server.last!.sentOfType('publish').map((frame) => frame.data)).toEqual(['v2']);
  expect(first).toEqual({ status: 'rejected', error: reason });
  expect(second).toEqual({ status: 'resolved', error: undefined });
});

it('a signal shared by many sends holds no listener of theirs once they are settled: written, flushed or acknowledged', async () => {
  const h = harness({ heartbeat: false });
  h.server.onFrame = (socket, frame) => {
    if (frame.json?.type === 'publish' && typeof frame.json.id === 'string') socket.push({ type: 'ack', id: frame.json.id, seq: 1 });
  };
  const { signal } = new AbortController();
  const queued = [1, 2, 3].map((n) => h.connection.send(n, { channel: 'c', signal }));
  const queuedAcked = h.connection.send(4, { channel: 'c', ack: true, signal });
  expect(listeners(signal)).toBeGreaterThan(0);
  await h.connect();
  await Promise.all([...queued, queuedAcked]);
  await h.connection.send(5, { channel: 'c', signal });
  await h.connection.send(6, { channel: 'c', ack: true, signal });
  await h.settle();
  expect(h.server.last!.sentOfType('publish').map((frame) => frame.data)).toEqual([1, 2, 3, 4, 5, 6]);
  expect(listeners(signal)).toBe(0);
});

it('a send or request whose signal is not an AbortSignal (null, {}) rejects with INVALID_OPTION naming signal, before or after connect: nothing is queued or written', async () => {
  const h = harness({ heartbeat: false });
  const bad = [null, {}] as unknown as AbortSignal[];
  const attempts = () => bad.flatMap((signal) => [() => h.connection.send('x', { channel: 'c', signal }), () => h.connection.request('y', { channel: 'c', signal })]);
  const boxes = attempts().map((call) => track(call()));
  expect(h.connection.queued).toBe(0);
  await h.connect();
  boxes.push(...attempts().map((call) => track(call())));
  await h.settle();
  expect(boxes.map((box) => [box.status, box.error?.code, (box.error as { option?: string } | undefined)?.option])).toEqual(Array(8).fill(['rejected', 'INVALID_OPTION', 'signal']));
  expect(h.server.last!.sentOfType('publish')).toEqual([]);
});
