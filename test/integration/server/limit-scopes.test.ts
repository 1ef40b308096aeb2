import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { SocketchartServer } from '../../../src/server/index.js';
import { startRedis, type RedisProcess } from '../../support/redis.js';
import { connectAs, delay, eventually, metricValue, mintToken, open, startServer, wsUrl, type TestClient } from './helpers.js';

/** Publishes `count` frames with ids and waits until each is answered; returns how many were acked. */
async function publishAll(client: TestClient, ch: (i: number) => string, count: number, tag: string): Promise<number> {
  for (let i = 0; i < count; i++) client.send({ type: 'publish', ch: ch(i), id: `${tag}-${i}`, data: i });
  const answered = () => client.frames.filter((frame) => typeof frame.id === 'string' && frame.id.startsWith(`${tag}-`) && (frame.type === 'ack' || frame.type === 'error')).length;
  await eventually(() => answered() === count || client.closeCode !== undefined, 5000, `${count} answers to ${tag}`);
  return client.frames.filter((frame) => frame.type === 'ack' && typeof frame.id === 'string' && frame.id.startsWith(`${tag}-`)).length;
}

const labelValues = (text: string, metric: string, label: string): string[] =>
  text
    .split('\n')
    .filter((line) => line.startsWith(`${metric}{`))
    .map((line) => new RegExp(`${label}="([^"]*)"`).exec(line)?.[1] ?? '');

/** A connection budget of two `chat` publishes (refilled at one a minute), under a user budget of one refilled every 500 ms. */
const userBound = { rateLimits: { chat: { perMinute: 1, burst: 2 } }, userRateLimits: { chat: { perMinute: 120, burst: 1 } }, floodThreshold: 1000 };

/** Publishes `a` and `b` at once (the user budget refuses `b`), then sends `b` again once its `retry_after` is over; returns the answer to it. */
async function resendAfterUserRefusal(client: TestClient): Promise<Record<string, unknown>> {
  const answerTo = (id: string) => client.next((frame) => frame.id === id && (frame.type === 'ack' || frame.type === 'error'));
  client.send({ type: 'publish', ch: 'chat:u', id: 'a', data: 1 });
  client.send({ type: 'publish', ch: 'chat:u', id: 'b', data: 2 });
  expect(await answerTo('a')).toMatchObject({ type: 'ack' });
  const refused = await answerTo('b');
  expect(refused).toMatchObject({ type: 'error', code: 'RATE_LIMIT_EXCEEDED' });
  await delay(Number(refused.retry_after) * 1000 + 50);
  client.send({ type: 'publish', ch: 'chat:u', id: 'b', data: 2 });
  return answerTo('b');
}

describe('rate limits by scope: connection, user, channel type, address', () => {
  const servers: SocketchartServer[] = [];
  const start = async (options: Parameters<typeof startServer>[0]) => {
    const server = await startServer(options);
    servers.push(server);
    return server;
  };

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  it('per connection: each connection is held to its own bucket, under a looser user limit', async () => {
    const server = await start({ rateLimits: { chat: { perMinute: 6, burst: 3 } }, userRateLimits: { chat: { perMinute: 6000, burst: 100 } }, floodThreshold: 1000 });
    const [first, second] = await Promise.all([connectAs(server, 'alice'), connectAs(server, 'alice')]);
    const accepted = await Promise.all([publishAll(first!, () => 'chat:a', 8, 'one'), publishAll(second!, () => 'chat:a', 8, 'two')]);
    expect(accepted).toEqual([3, 3]);
    await Promise.all([first!.close(), second!.close()]);
  });

  it('per user: a publish the user budget refuses costs no token of the connection budget', async () => {
    const server = await start(userBound);
    const client = await connectAs(server, 'alice');
    expect(await resendAfterUserRefusal(client)).toMatchObject({ type: 'ack' });
    await client.close();
  });

  it('per user: the connections of one user share one budget', async () => {
    const server = await start({ rateLimits: { chat: { perMinute: 60, burst: 5 } }, floodThreshold: 1000 });
    const started = Date.now();
    const clients = await Promise.all([connectAs(server, 'alice'), connectAs(server, 'alice'), connectAs(server, 'alice')]);
    const accepted = await Promise.all(clients.map((client, index) => publishAll(client, () => 'chat:a', 6, `c${index}`)));
    const total = accepted.reduce((sum, n) => sum + n, 0);
    expect(total).toBeLessThanOrEqual(5 + Math.ceil((Date.now() - started) / 1000) + 1);
    const bob = await connectAs(server, 'bob');
    expect(await publishAll(bob, () => 'chat:a', 5, 'bob')).toBe(5);
    await Promise.all([...clients, bob].map((client) => client.close()));
  });

  it('per user across reconnects: reconnecting in a loop does not refill the budget, nor reset the flood count', async () => {
    const server = await start({ rateLimits: { chat: { perMinute: 60, burst: 5 } }, floodThreshold: 1000 });
    const started = Date.now();
    let accepted = 0;
    for (let round = 0; round < 8; round++) {
      const client = await connectAs(server, 'looper');
      accepted += await publishAll(client, () => 'chat:loop', 10, `r${round}`);
      await client.close();
    }
    const bound = 5 + Math.ceil((Date.now() - started) / 1000) + 1;
    console.info(`[limits] reconnect loop: ${accepted} of 80 publishes accepted (bound ${bound}; a fresh budget per connection would accept 40)`);
    expect(accepted).toBeLessThanOrEqual(bound);

    const flooding = await start({ rateLimits: { chat: { perMinute: 6, burst: 2 } }, floodThreshold: 10 });
    const closes: number[] = [];
    let refusals = 0;
    for (let round = 0; round < 4; round++) {
      const client = await connectAs(flooding, 'flooder');
      for (let i = 0; i < 8 && client.ws.readyState === client.ws.OPEN; i++) client.send({ type: 'publish', ch: 'chat:f', data: i });
      await eventually(() => client.ofType('error').length + client.ofType('rate_limit_status').length >= 1, 2000);
      await new Promise((resolve) => setTimeout(resolve, 50));
      refusals += client.ofType('error').length;
      if (client.closeCode === undefined) await client.close();
      closes.push((await client.closed).code);
    }
    expect(closes).toContain(4029);
    expect(refusals).toBeLessThanOrEqual(2 + 11 + 8);
  });

  it('per channel type: spraying new channel types shares one `default` bucket and makes no new scope or metric label', async () => {
    const server = await start({ rateLimits: { default: { perMinute: 60, burst: 10 } }, floodThreshold: 100_000 });
    const started = Date.now();
    const clients = await Promise.all(Array.from({ length: 4 }, (_, i) => connectAs(server, `sprayer${i}`)));
    const accepted = await Promise.all(clients.map((client, c) => publishAll(client, (i) => `t${c}x${i}:x`, 150, `s${c}`)));
    const bound = 10 + Math.ceil((Date.now() - started) / 1000) + 1;
    for (const count of accepted) expect(count).toBeLessThanOrEqual(bound);
    for (const client of clients) {
      expect(new Set(client.ofType('rate_limit_status').map((frame) => frame.scope))).toEqual(new Set(['default']));
      client.ws.close(4100 + clients.indexOf(client) * 7);
    }
    await eventually(() => server.connections === 0);
    const text = await server.metrics.metrics();
    expect(new Set(labelValues(text, 'socketchart_rate_limited_total', 'scope'))).toEqual(new Set(['default']));
    expect(labelValues(text, 'socketchart_connections_closed_total', 'code').every((code) => code === 'other' || /^(1\d{3}|4001|4003|4008|4029)$/.test(code))).toBe(true);
    expect(metricValue(text, 'socketchart_connections_closed_total', 'code="other"')).toBe(4);
    expect(text.length).toBeLessThan(20_000);
  });

  it('unauthorized traffic: refused before any channel bucket is charged, counted against the connection, and a flood of it is closed with 4029', async () => {
    const server = await start({ channels: [{ pattern: 'chat:*', subscribe: true, publish: true }], floodThreshold: 50 });
    const intruder = await connectAs(server, 'intruder');
    const neighbour = await connectAs(server, 'neighbour');
    const started = Date.now();
    for (let i = 0; i < 2000 && intruder.ws.readyState === intruder.ws.OPEN; i++) intruder.send({ type: 'publish', ch: `secret${i}:x`, id: `u${i}`, data: i });
    expect((await intruder.closed).code).toBe(4029);
    const refused = intruder.ofType('error');
    const controlRefill = Math.ceil(((Date.now() - started) / 1000) * 20);
    expect(refused.filter((frame) => frame.code === 'AUTHORIZATION_FAILED').length).toBeLessThanOrEqual(200 + controlRefill);
    expect(refused.length).toBeLessThan(2000);
    expect(intruder.ofType('ack')).toEqual([]);
    const text = await server.metrics.metrics();
    expect(new Set(labelValues(text, 'socketchart_rate_limited_total', 'scope'))).toEqual(new Set(['control']));
    expect(await publishAll(neighbour, () => 'chat:calm', 3, 'calm')).toBe(3);
    await neighbour.close();
  });

  it('per address before authentication: failed logins spend the address’s budget; then its new sockets are closed with 4029, an authenticated neighbour is unaffected', async () => {
    const server = await start({ unauthenticatedRateLimit: { perMinute: 6, burst: 5 } });
    const neighbour = await connectAs(server, 'neighbour');
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) {
      const stranger = await open(wsUrl(server));
      stranger.send({ type: 'auth', token: await mintToken({ sub: 'x', secret: 'another-secret-that-is-32-bytes-long!!' }) });
      codes.push((await stranger.closed).code);
    }
    expect(codes.slice(0, 5)).toEqual([4001, 4001, 4001, 4001, 4001]);
    expect(codes.slice(6)).toEqual([4029, 4029]);
    const refused = await open(wsUrl(server));
    const { reason } = await refused.closed;
    expect(reason).toMatch(/^rate limited; retry_after=\d+$/);
    expect(Number(reason.split('=')[1]), 'seconds until the address has a token again: one each 10 s').toBeGreaterThanOrEqual(1);
    expect(Number(reason.split('=')[1])).toBeLessThanOrEqual(10);
    neighbour.send({ type: 'ping', ts: 1 });
    await neighbour.nextOfType('pong');
    await neighbour.close();
  });

  it('per address before authentication: a refused handshake token is charged once, also when its client left while it was verified', async () => {
    let started = 0;
    let answered = 0;
    const server = await start({
      unauthenticatedRateLimit: { perMinute: 1, burst: 3 },
      auth: {
        modes: ['subprotocol'],
        verify: async () => {
          started += 1;
          await delay(20);
          answered += 1;
          throw new Error('unknown api key');
        },
      },
    });
    const guess = (i: number) => ['socketchart.v1', `socketchart.token.guess-${i}`];
    const leaving = new WebSocket(wsUrl(server), guess(0));
    leaving.on('error', () => undefined);
    await eventually(() => started === 1, 3000, 'the first verification');
    leaving.terminate();
    await eventually(() => answered === 1, 3000, 'its answer');
    const codes: number[] = [];
    for (let i = 1; i <= 4; i++) codes.push((await (await open(wsUrl(server), guess(i))).closed).code);
    expect(codes).toEqual([4001, 4001, 4029, 4029]);
    expect(started).toBe(3);
  });
});

describe('rate limits shared across nodes (Redis)', () => {
  let redis: RedisProcess;
  const nodes: SocketchartServer[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.close()));
    await redis?.stop();
  });

  it('a publish the user budget in Redis refuses costs no token of the connection budget', async () => {
    const server = await startServer({ ...userBound, redis: { url: redis.url, keyPrefix: 'refused:', connectTimeoutMs: 3000 } });
    nodes.push(server);
    const client = await connectAs(server, 'alice');
    expect(await resendAfterUserRefusal(client)).toMatchObject({ type: 'ack' });
    await client.close();
  });

  it('a user hopping between nodes on every reconnect is held to one publish budget', async () => {
    for (let i = 0; i < 2; i++) {
      nodes.push(await startServer({ rateLimits: { chat: { perMinute: 60, burst: 5 } }, floodThreshold: 1000, redis: { url: redis.url, keyPrefix: 'limits:', connectTimeoutMs: 3000 } }));
    }
    const started = Date.now();
    let accepted = 0;
    for (let round = 0; round < 6; round++) {
      const client = await connectAs(nodes[round % 2]!, 'hopper');
      accepted += await publishAll(client, () => 'chat:hop', 10, `h${round}`);
      await client.close();
    }
    const bound = 5 + Math.ceil((Date.now() - started) / 1000) + 1;
    console.info(`[limits] node hopping over Redis: ${accepted} of 60 publishes accepted (bound ${bound}; per node it would be 10 or more)`);
    expect(accepted).toBeLessThanOrEqual(bound);
  });
});
