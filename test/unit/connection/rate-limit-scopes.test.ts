import { expect, it } from 'vitest';
import type { MockSocket } from '../../../src/testing/index.js';
import { harness } from '../../support/harness.js';

/**
 * Rate limits per scope, seen from the app: the connection's bucket (scope `connection`) and one per
 * channel type; limits the server announces (`rate_limit_status`: limit per `window_seconds`, `burst`) are
 * followed at 90 % of their rate, and a RATE_LIMIT_EXCEEDED holds the scope it names until `retry_after`.
 * A message whose scope has no token waits while the others go on; each time messages start waiting the app
 * is told (`throttled`).
 */

const publishes = (socket: MockSocket | undefined) => (socket?.sentOfType('publish') ?? []).map((frame) => frame.data);

it('messages held by the connection-wide limit are told with the scope `connection`', async () => {
  const h = harness({ heartbeat: false, rateLimit: { connection: { perMinute: 60, burst: 1 } } });
  const seen: unknown[] = [];
  h.connection.on('throttled', (event) => seen.push(event));
  await h.connect();
  void h.connection.send('a', { channel: 'chat:1' });
  void h.connection.send('b', { channel: 'orders:1' });
  await h.settle();
  expect(seen).toEqual([{ scope: 'connection', waitMs: 1_000, queued: 1 }]);
});

it('every new wait for a rate limit is told again and counted: two waits, two throttled events', async () => {
  const h = harness({ heartbeat: false, rateLimit: { connection: { perMinute: 60, burst: 1 } } });
  const seen: unknown[] = [];
  h.connection.on('throttled', (event) => seen.push(event));
  await h.connect();
  void h.connection.send(1, { channel: 'c' });
  void h.connection.send(2, { channel: 'c' });
  await h.settle();
  await h.advance(1_000);
  expect(publishes(h.server.last)).toEqual([1, 2]);
  expect(h.connection.throttled).toBe(false);
  await h.advance(5_000);
  void h.connection.send(3, { channel: 'c' });
  void h.connection.send(4, { channel: 'c' });
  await h.settle();
  expect(publishes(h.server.last)).toEqual([1, 2, 3]);
  expect(h.connection.throttled).toBe(true);
  expect(seen).toHaveLength(2);
  expect(h.connection.metrics().throttles).toBe(2);
  await h.advance(1_000);
  expect(publishes(h.server.last)).toEqual([1, 2, 3, 4]);
  expect(h.connection.metrics().throttledMs).toBe(2_000);
});

it('the burst a server announces caps how many messages of that scope go at once', async () => {
  const h = harness({ heartbeat: false });
  await h.connect();
  h.server.last!.push({ type: 'rate_limit_status', scope: 'chat', limit: 60, burst: 2, reset_at: 0, window_seconds: 60 });
  await h.settle();
  for (const n of [1, 2, 3, 4]) void h.connection.send(n, { channel: 'chat:1' });
  await h.settle();
  expect(publishes(h.server.last)).toEqual([1, 2]);
  expect(h.connection.queued).toBe(2);
});

it('the window a server announces sets the rate: 10 per 10 s refills at 0.9 a second, not 10 a minute', async () => {
  const h = harness({ heartbeat: false });
  await h.connect();
  h.server.last!.push({ type: 'rate_limit_status', scope: 'chat', limit: 10, burst: 1, reset_at: 0, window_seconds: 10 });
  await h.settle();
  void h.connection.send(1, { channel: 'chat:1' });
  void h.connection.send(2, { channel: 'chat:1' });
  await h.settle();
  expect(publishes(h.server.last)).toEqual([1]);
  await h.advance(1_100);
  expect(publishes(h.server.last), 'a token takes 1/0.9 s ≈ 1111 ms').toEqual([1]);
  await h.advance(100);
  expect(publishes(h.server.last)).toEqual([1, 2]);
});

it('a RATE_LIMIT_EXCEEDED that names a scope holds that channel type until retry_after, and no other', async () => {
  const h = harness({ heartbeat: false });
  await h.connect();
  h.server.last!.push({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', retry_after: 5, details: { scope: 'chat' } });
  await h.settle();
  void h.connection.send('chat', { channel: 'chat:1' });
  void h.connection.send('orders', { channel: 'orders:1' });
  await h.settle();
  expect(publishes(h.server.last)).toEqual(['orders']);
  await h.advance(4_999);
  expect(publishes(h.server.last)).toEqual(['orders']);
  await h.advance(1);
  expect(publishes(h.server.last)).toEqual(['orders', 'chat']);
});

it('messages of a type out of tokens do not make the others wait longer than the connection’s own refill', async () => {
  const h = harness({ heartbeat: false, rateLimit: { connection: { perMinute: 60, burst: 2 }, channels: { chat: { perMinute: 6, burst: 1 } } } });
  for (const data of ['chat-1', 'chat-2', 'orders-1', 'orders-2']) void h.connection.send(data, { channel: `${data.split('-')[0]}:1` });
  await h.connect();
  expect(publishes(h.server.last)).toEqual(['chat-1', 'orders-1']);
  await h.advance(1_000);
  expect(publishes(h.server.last), 'orders-2 needs only a connection token: 1 s').toEqual(['chat-1', 'orders-1', 'orders-2']);
  await h.advance(9_000);
  expect(publishes(h.server.last), 'chat-2 needs a chat token: 10 s').toEqual(['chat-1', 'orders-1', 'orders-2', 'chat-2']);
});

it('a channel type named `__proto__` (options parsed from JSON) gets its own limit like any other', async () => {
  const rateLimit = JSON.parse('{"channels":{"__proto__":{"perMinute":60,"burst":1}}}') as { channels: Record<string, { perMinute: number; burst: number }> };
  const h = harness({ heartbeat: false, rateLimit });
  const seen: unknown[] = [];
  h.connection.on('throttled', (event) => seen.push(event));
  await h.connect();
  void h.connection.send('a', { channel: '__proto__:1' });
  void h.connection.send('b', { channel: '__proto__:1' });
  void h.connection.send('c', { channel: 'chat:1' });
  await h.settle();
  expect(publishes(h.server.last)).toEqual(['a', 'c']);
  expect(seen).toEqual([{ scope: '__proto__', waitMs: 1_000, queued: 1 }]);
});
