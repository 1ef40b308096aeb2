import type { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SocketchartServer } from '../../../src/server/index.js';
import { connectAs, delay, eventually, metricValue, open, startServer, wsUrl, type TestClient } from './helpers.js';

describe('limits: rate limits, flooding, connection caps, slow consumers, heartbeat and idle timeout', () => {
  const servers: SocketchartServer[] = [];
  const start = async (options: Parameters<typeof startServer>[0]) => {
    const server = await startServer(options);
    servers.push(server);
    return server;
  };

  afterEach(async () => {
    vi.useRealTimers();
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  /** The wall clock runs on, and the spec steps it (`vi.setSystemTime`) as NTP or a resumed VM does; the monotonic clock is left alone. */
  const steppableWallClock = () => vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
  const HOUR = 3_600_000;

  it('announces the seed rate-limit table per channel type with rate_limit_status; every other type shares `default`', async () => {
    const server = await start({});
    const client = await connectAs(server, 'alice');
    for (const type of ['chat', 'agent-status', 'collaboration', 'notifications', 'misc']) {
      client.send({ type: 'publish', ch: `${type}:x`, id: type, data: 1 });
    }
    await eventually(() => client.ofType('ack').length === 5);
    const status = Object.fromEntries(client.ofType('rate_limit_status').map((frame) => [frame.scope, [frame.limit, frame.burst, frame.window_seconds]]));
    expect(status).toMatchObject({
      chat: [120, 20, 60],
      'agent-status': [60, 10, 60],
      collaboration: [300, 50, 60],
      notifications: [30, 5, 60],
      default: [60, 10, 60],
    });
    expect(Object.keys(status)).not.toContain('misc');
    const chat = client.ofType('rate_limit_status').find((frame) => frame.scope === 'chat')!;
    expect(chat.remaining).toBe(19);
    expect(chat.reset_at as number).toBeGreaterThan(Date.now());
    await client.close();
  });

  it('never accepts more than burst + limit × elapsed, answers the rest with RATE_LIMIT_EXCEEDED and retry_after, and spares a neighbour', async () => {
    const server = await start({ rateLimits: { chat: { perMinute: 600, burst: 5 } }, floodThreshold: 100_000 });
    const flooder = await connectAs(server, 'flooder');
    const neighbour = await connectAs(server, 'neighbour');
    const reader = await connectAs(server, 'reader');
    reader.send({ type: 'subscribe', ch: 'chat:flood' });
    await reader.nextOfType('subscribed');
    const startedAt = Date.now();
    for (let i = 0; i < 120; i++) {
      flooder.send({ type: 'publish', ch: 'chat:flood', id: `f${i}`, data: { who: 'flooder', i } });
      flooder.send({ type: 'publish', ch: 'chat:flood', id: `g${i}`, data: { who: 'flooder', i } });
      if (i % 12 === 0) neighbour.send({ type: 'publish', ch: 'chat:flood', id: `n${i}`, data: { who: 'neighbour', i } });
      await delay(10);
    }
    await eventually(() => flooder.ofType('ack').length + flooder.ofType('error').length === 240, 5000, 'every flood frame answered');
    const elapsedMinutes = (Date.now() - startedAt) / 60_000;
    const accepted = flooder.ofType('ack').length;
    expect(accepted).toBeLessThanOrEqual(5 + Math.ceil(600 * elapsedMinutes) + 1);
    expect(accepted).toBeGreaterThanOrEqual(5);
    const refused = flooder.ofType('error');
    expect(refused.every((frame) => frame.code === 'RATE_LIMIT_EXCEEDED' && (frame.retry_after as number) > 0 && typeof frame.id === 'string')).toBe(true);
    expect(neighbour.ofType('ack').length).toBe(10);
    expect(neighbour.ofType('error')).toEqual([]);
    await eventually(() => reader.ofType('message', 'chat:flood').length === accepted + 10);
    expect(reader.ofType('message', 'chat:flood').filter((frame) => (frame.data as { who: string }).who === 'neighbour')).toHaveLength(10);
    await Promise.all([flooder.close(), neighbour.close(), reader.close()]);
  });

  it('closes a connection that keeps flooding past the limit with 4029 and a retry_after in the reason', async () => {
    const server = await start({ floodThreshold: 30 });
    const flooder = await connectAs(server, 'flooder');
    const neighbour = await connectAs(server, 'neighbour');
    for (let i = 0; i < 200 && flooder.ws.readyState === flooder.ws.OPEN; i++) flooder.send({ type: 'publish', ch: 'chat:storm', data: i });
    const closed = await flooder.closed;
    expect(closed.code).toBe(4029);
    expect(closed.reason).toMatch(/retry_after=\d+/);
    expect(flooder.ofType('error').filter((frame) => frame.code === 'RATE_LIMIT_EXCEEDED').length).toBeGreaterThanOrEqual(30);
    neighbour.send({ type: 'publish', ch: 'chat:storm', id: 'calm', data: 'hello' });
    await neighbour.nextOfType('ack', { id: 'calm' });
    const metrics = await server.metrics.metrics();
    expect(metricValue(metrics, 'socketchart_rate_limited_total', 'scope="chat"')).toBeGreaterThanOrEqual(30);
    await neighbour.close();
  });

  it('rate-limits control frames (ping, subscribe, garbage) too', async () => {
    const server = await start({ rateLimits: { control: { perMinute: 60, burst: 10 } }, floodThreshold: 1000 });
    const client = await connectAs(server, 'pinger');
    for (let i = 0; i < 30; i++) client.send({ type: 'ping', ts: i });
    await eventually(() => client.ofType('pong').length + client.ofType('error').length === 30);
    expect(client.ofType('pong').length).toBeLessThanOrEqual(11);
    expect(client.ofType('error')[0]).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', details: { scope: 'control' } });
    await client.close();
  });

  it('closes sockets beyond maxConnections with 1013 and accepts again once one leaves', async () => {
    const server = await start({ maxConnections: 3 });
    const clients: TestClient[] = [];
    for (let i = 0; i < 3; i++) clients.push(await connectAs(server, `u${i}`));
    const extra = await open(wsUrl(server));
    expect(await extra.closed).toEqual({ code: 1013, reason: 'server is at its connection limit' });
    await clients.pop()!.close();
    await eventually(() => server.connections === 2);
    clients.push(await connectAs(server, 'u-late'));
    await Promise.all(clients.map((client) => client.close()));
  });

  it('refuses subscriptions beyond maxSubscriptionsPerConnection for good (AUTHORIZATION_FAILED), keeping the connection', async () => {
    const server = await start({ maxSubscriptionsPerConnection: 3 });
    const client = await connectAs(server, 'collector');
    for (let i = 0; i < 4; i++) client.send({ type: 'subscribe', ch: `chat:c${i}` });
    expect(await client.nextOfType('error')).toMatchObject({ code: 'AUTHORIZATION_FAILED', message: 'too many subscriptions', details: { ch: 'chat:c3', action: 'subscribe', limit: 3 } });
    await eventually(() => client.ofType('subscribed').length === 3);
    client.send({ type: 'subscribe', ch: 'chat:c0', since: 0 });
    await client.nextOfType('subscribed', { ch: 'chat:c0' });
    await client.close();
  });

  it('refuses presence joins beyond maxSubscriptionsPerConnection with AUTHORIZATION_FAILED, keeping the connection, and accepts one again after a leave', async () => {
    const server = await start({ maxSubscriptionsPerConnection: 3 });
    const client = await connectAs(server, 'mallory');
    for (let i = 0; i < 4; i++) client.send({ type: 'presence', ch: `room:r${i}`, action: 'join', meta: { pad: 'x'.repeat(1000) } });
    expect(await client.nextOfType('error')).toMatchObject({ code: 'AUTHORIZATION_FAILED', details: { ch: 'room:r3', action: 'join', limit: 3 } });
    for (const ch of ['room:r0', 'room:r1', 'room:r2']) await client.nextOfType('presence_state', { ch });
    client.send({ type: 'presence', ch: 'room:r3', action: 'list' });
    expect((await client.nextOfType('presence_state', { ch: 'room:r3' })).members).toEqual([]);
    client.send({ type: 'presence', ch: 'room:r0', action: 'leave' });
    await client.nextOfType('presence_state', { ch: 'room:r0' });
    client.send({ type: 'presence', ch: 'room:r3', action: 'join' });
    expect((await client.nextOfType('presence_state', { ch: 'room:r3' })).members).toEqual([{ userId: 'mallory' }]);
    await client.close();
  });

  it('closes a slow consumer with 4008 once its send buffer passes maxBufferedBytes, while a fast one gets everything', async () => {
    const server = await start({ maxBufferedBytes: 256 * 1024, rateLimits: { chat: { perMinute: 1e6, burst: 1e6 } } });
    const slow = await connectAs(server, 'slow');
    const fast = await connectAs(server, 'fast');
    for (const client of [slow, fast]) client.send({ type: 'subscribe', ch: 'chat:firehose' });
    await Promise.all([slow.nextOfType('subscribed'), fast.nextOfType('subscribed')]);
    const socket = (slow.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    const payload = 'x'.repeat(32 * 1024);
    let sent = 0;
    const slowClosedOnServer = async () => metricValue(await server.metrics.metrics(), 'socketchart_slow_consumers_total') === 1;
    for (; sent < 2000 && !(await slowClosedOnServer()); sent++) {
      await server.broadcast('chat:firehose', payload);
      if (sent % 20 === 0) await delay(1);
    }
    expect(await slowClosedOnServer()).toBe(true);
    socket.resume();
    expect((await slow.closed).code).toBe(4008);
    await eventually(() => fast.ofType('message', 'chat:firehose').length === sent, 10_000, 'fast consumer got everything');
    await fast.close();
  });

  it('terminates a socket that stops answering protocol pings, and keeps one that answers', async () => {
    const server = await start({ heartbeatIntervalMs: 250 });
    const deaf = await connectAs(server, 'deaf', {}, { autoPong: false });
    const healthy = await connectAs(server, 'healthy');
    const closed = await Promise.race([deaf.closed, delay(2000).then(() => 'still open')]);
    expect(closed).toMatchObject({ code: 1006 });
    await delay(300);
    healthy.send({ type: 'ping', ts: 1 });
    await healthy.nextOfType('pong');
    await healthy.close();
  });

  it('closes an idle client with 1001 after idleTimeoutMs, and keeps one that keeps talking', async () => {
    const server = await start({ idleTimeoutMs: 300 });
    const idle = await connectAs(server, 'idle');
    const chatty = await connectAs(server, 'chatty');
    const pinger = setInterval(() => chatty.send({ type: 'ping', ts: Date.now() }), 80);
    try {
      const closed = await Promise.race([idle.closed, delay(2000).then(() => 'still open')]);
      expect(closed).toEqual({ code: 1001, reason: 'idle timeout' });
      expect(chatty.ws.readyState).toBe(chatty.ws.OPEN);
    } finally {
      clearInterval(pinger);
    }
    await chatty.close();
  });

  it('keeps a quiet connection open when the wall clock is stepped forward past idleTimeoutMs, and closes it once idleTimeoutMs have passed', async () => {
    steppableWallClock();
    const server = await start({ idleTimeoutMs: 2000 });
    const quiet = await connectAs(server, 'quiet');
    vi.setSystemTime(Date.now() + HOUR);
    // the idle check runs every idleTimeoutMs / 4 = 500 ms; the client has been quiet for well under 2 s
    await delay(800);
    expect(quiet.closeCode).toBeUndefined();
    const closed = await Promise.race([quiet.closed, delay(3000).then(() => 'still open')]);
    expect(closed).toEqual({ code: 1001, reason: 'idle timeout' });
  });

  it('terminates a socket that stops answering protocol pings though the wall clock was stepped back', async () => {
    steppableWallClock();
    const server = await start({ heartbeatIntervalMs: 100 });
    const deaf = await connectAs(server, 'deaf', {}, { autoPong: false });
    vi.setSystemTime(Date.now() - HOUR);
    const closed = await Promise.race([deaf.closed, delay(2000).then(() => 'still open')]);
    expect(closed).toMatchObject({ code: 1006 });
  });
});
