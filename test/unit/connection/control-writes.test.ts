import { expect, it } from 'vitest';
import { harness } from '../../support/harness.js';
import { graphql, socketOf, subscribesPerSocket } from '../../support/graphql-mock.js';
import { track } from '../../support/settled.js';
import { failWrites } from '../../support/writing-sockets.js';

/**
 * Frames socketchart must get through on the socket it has (auth, pings, subscribes, presence, an
 * operation's start): a socket whose write of one throws is broken. It is dropped and the connection
 * reconnects, sending everything again on the next socket; nothing throws out to the app or stops the
 * connection for good.
 */

const reconnecting = { reconnect: { baseMs: 100, capMs: 100, jitter: 0 } };

it('a heartbeat ping whose write throws drops that socket: the connection reconnects instead of stopping', async () => {
  const h = harness({ ...reconnecting, heartbeat: { intervalMs: 1_000, timeoutMs: 500 } });
  await h.connect();
  failWrites(h.server.last!);
  await h.advance(1_000);
  await h.advance(100);
  expect(h.server.sockets).toHaveLength(2);
  expect(h.server.sockets[0]!.readyState).toBe(3);
  expect(h.connection.status).toBe('connected');
  expect(h.errors.filter((error) => error.recovery === 'fail')).toEqual([]);
});

it('subscribe() on a socket whose write throws does not throw: the channel is subscribed on the next socket and its messages arrive', async () => {
  const h = harness({ ...reconnecting, heartbeat: false });
  await h.connect();
  failWrites(h.server.last!);
  const seen: unknown[] = [];
  expect(() => h.connection.subscribe('news', (message) => seen.push(message))).not.toThrow();
  await h.advance(100);
  const next = h.server.last!;
  expect(h.server.sockets).toHaveLength(2);
  expect(next.sentOfType('subscribe').map((frame) => frame.ch)).toEqual(['news']);
  next.push({ type: 'message', ch: 'news', seq: 1, data: 'hello' });
  await h.settle();
  expect(seen).toEqual(['hello']);
});

it('a presence join whose write throws is sent again on the next socket and resolves there', async () => {
  const h = harness({ ...reconnecting, heartbeat: false });
  await h.connect();
  failWrites(h.server.last!);
  const joined = track(h.connection.presence.join('room:1'));
  await h.advance(100);
  const next = h.server.last!;
  expect(next.sentOfType('presence').map((frame) => [frame.ch, frame.action])).toEqual([['room:1', 'join']]);
  next.push({ type: 'presence_state', ch: 'room:1', members: [{ userId: 'me' }] });
  await h.settle();
  expect(joined.status).toBe('resolved');
});

it('an operation whose start frame’s write throws does not reject: it starts on the next socket and gets its result', async () => {
  const { h } = graphql({ ...reconnecting, heartbeat: false });
  await h.connect();
  failWrites(socketOf(h));
  const result = h.connection.execute({ query: '{ hello }' }, { id: 'q1' });
  const box = track(result);
  await h.advance(100);
  expect(subscribesPerSocket(h, 'q1')).toEqual({ 2: 1 });
  socketOf(h).push({ type: 'next', id: 'q1', payload: { data: { hello: 'world' } } });
  socketOf(h).push({ type: 'complete', id: 'q1' });
  await h.settle();
  expect(box.status).toBe('resolved');
  await expect(result).resolves.toEqual({ data: { hello: 'world' } });
});
