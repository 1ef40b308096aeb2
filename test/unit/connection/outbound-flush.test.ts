import { expect, it } from 'vitest';
import { ErrorCode, type SocketchartError } from '../../../src/index.js';
import { harness } from '../../support/harness.js';
import { raws, withSockets } from '../../support/writing-sockets.js';
import { track, type Settled } from '../../support/settled.js';

/**
 * Flushing the outbound queue: a queued message resolves only once a socket that is open has taken it, and
 * is counted in the metrics like a message written at once; whatever goes wrong with one write, the message
 * waits for the next chance instead of being lost.
 */

it('messages flushed from the queue count in messagesOut and, in UTF-8 bytes, in bytesOut', async () => {
  const h = harness({ heartbeat: false });
  const texts = ['plain', 'déjà vu', '€😀'];
  const sends = texts.map((text) => h.connection.send(text));
  await h.connect();
  await Promise.all(sends);
  expect(h.server.last!.sent.map((frame) => frame.raw)).toEqual(texts);
  const metrics = h.connection.metrics();
  expect(metrics.messagesOut).toBe(3);
  expect(metrics.bytesOut).toBe(texts.reduce((sum, text) => sum + new TextEncoder().encode(text).length, 0));
});

it('a socket that drops writes silently while closing (as browsers and ws do) is never handed a queued message: it waits for the next socket', async () => {
  const discarded: unknown[] = [];
  const h = withSockets((socket, data, pass) => (socket.readyState === 1 ? pass() : void discarded.push(data)), { reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
  await h.connect();
  const first = h.server.last!;
  first.readyState = 2;
  const box = track(h.connection.send('during-close'));
  await h.advance(50);
  expect(box.status).toBe('pending');
  expect(discarded).toEqual([]);
  first.closeFromServer(1012, 'restart');
  await h.advance(5_000);
  expect(h.connection.status).toBe('connected');
  expect(raws(h.server.last)).toEqual(['during-close']);
  expect(box.status).toBe('resolved');
  expect(discarded).toEqual([]);
});

it('a write that throws leaves the message queued, unresolved; it goes once the socket takes it', async () => {
  let failing = 1;
  const h = withSockets((_socket, _data, pass) => {
    if (failing > 0) {
      failing--;
      throw new Error('write failed');
    }
    pass();
  });
  const box = track(h.connection.send('retry-me'));
  await h.connect();
  expect(h.connection.status).toBe('connected');
  expect(box.status).toBe('pending');
  expect(h.connection.queued).toBe(1);
  expect(h.connection.metrics().messagesOut).toBe(0);
  await h.advance(1_000);
  expect(raws(h.server.last)).toEqual(['retry-me']);
  expect(box.status).toBe('resolved');
  expect(h.connection.queued).toBe(0);
  expect(h.connection.metrics().messagesOut).toBe(1);
});

it('a write on the fast path that throws does not throw out of send(): the message waits, goes once the socket takes it, and its promise resolves', async () => {
  let failing = 0;
  const h = withSockets((_socket, _data, pass) => {
    if (failing > 0) {
      failing--;
      throw new Error('write failed');
    }
    pass();
  });
  await h.connect();
  failing = 1;
  const box = track(h.connection.send('retry-me'));
  await h.advance(1_000);
  expect(raws(h.server.last)).toEqual(['retry-me']);
  expect(box.status).toBe('resolved');
  expect(h.connection.queued).toBe(0);
  expect(h.connection.metrics().messagesOut).toBe(1);
});

it('when the socket pushes back in a drain that also held a message for its channel type, the others go as soon as the socket drains, not when that type refills', async () => {
  let writes = 0;
  const h = withSockets(
    (socket, _data, pass) => {
      pass();
      if (++writes === 2) socket.bufferedAmount = 5_000;
    },
    { queue: { highWaterMark: 1_000 }, rateLimit: { channels: { chat: { perMinute: 6, burst: 1 } } } },
  );
  for (const data of ['chat-1', 'chat-2', 'orders-1', 'orders-2']) void h.connection.send(data, { channel: `${data.split('-')[0]}:1` });
  await h.connect();
  const socket = h.server.last!;
  expect(socket.sentOfType('publish').map((frame) => frame.data)).toEqual(['chat-1', 'orders-1']);
  socket.bufferedAmount = 0;
  await h.advance(100);
  expect(socket.sentOfType('publish').map((frame) => frame.data), 'orders-2 needs no chat token').toEqual(['chat-1', 'orders-1', 'orders-2']);
  await h.advance(10_000);
  expect(socket.sentOfType('publish').map((frame) => frame.data)).toEqual(['chat-1', 'orders-1', 'orders-2', 'chat-2']);
});

it('a queued message whose TTL passed while timers were held back is rejected when the queue drains, not written, and the connection carries on', async () => {
  const h = harness({ heartbeat: false });
  const stale = track(h.connection.send('stale', { ttl: 100 }));
  h.clock.jump(1_000);
  await h.connect();
  expect(stale.error?.code).toBe(ErrorCode.MESSAGE_EXPIRED);
  expect(h.connection.status).toBe('connected');
  await h.connection.send('fresh');
  expect(h.server.last!.sent.map((frame) => frame.raw)).toEqual(['fresh']);
  expect(h.errors).toEqual([]);
});

it('with a rate limit that has tokens left, send() writes at once on the fast path: no queueing, no new snapshot', async () => {
  const h = harness({ heartbeat: false, rateLimit: { channels: { chat: { perMinute: 60, burst: 5 } }, connection: { perMinute: 60, burst: 5 } } });
  await h.connect();
  const before = h.connection.snapshot;
  void h.connection.send('now', { channel: 'chat:1' });
  expect(h.server.last!.sentOfType('publish').map((frame) => frame.data)).toEqual(['now']);
  expect(h.connection.queued).toBe(0);
  expect(h.connection.snapshot).toBe(before);
});

it('a send while the connection authenticates waits for the server to accept the token: only the auth frame goes before', async () => {
  const h = harness({ heartbeat: false, auth: { token: 'secret-token' } }, { autoAuth: false });
  h.connection.start();
  await h.settle();
  expect(h.connection.status).toBe('authenticating');
  const box = track(h.connection.send('after-auth'));
  await h.settle();
  const socket = h.server.last!;
  expect(socket.sent.map((frame) => frame.json?.type ?? frame.raw)).toEqual(['auth']);
  expect(box.status).toBe('pending');
  socket.push({ type: 'auth_ok', userId: 'u', sessionId: 's' });
  await h.settle();
  expect(h.connection.status).toBe('connected');
  expect(socket.sent.map((frame) => frame.json?.type ?? frame.raw)).toEqual(['auth', 'after-auth']);
  expect(box.status).toBe('resolved');
});

it('a send made as the connection comes up goes after what was queued before', async () => {
  const h = harness({ heartbeat: false });
  void h.connection.send('queued-1');
  void h.connection.send('queued-2');
  h.connection.on('state', ({ status }) => {
    if (status === 'connected') void h.connection.send('on-connected');
  });
  await h.connect();
  await h.settle();
  expect(h.server.last!.sent.map((frame) => frame.raw)).toEqual(['queued-1', 'queued-2', 'on-connected']);
});
