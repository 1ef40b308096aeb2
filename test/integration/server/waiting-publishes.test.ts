import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../support/fault-proxy.js';
import { startRedis, type RedisProcess } from '../../support/redis.js';
import { connectAs, delay, eventually, metricValue, startServer } from './helpers.js';

const KIB = 1024;

describe('publishes waiting their turn behind a slow Redis', () => {
  let redis: RedisProcess;
  let proxy: FaultProxy;

  beforeAll(async () => {
    redis = await startRedis();
    proxy = new FaultProxy({ host: '127.0.0.1', port: redis.port });
    await proxy.listen();
  });

  afterAll(async () => {
    await proxy?.close();
    await redis?.stop();
  });

  it('are held to about 1 MiB per connection (the socket is read no further meanwhile), and every one is answered once Redis is quick again', async () => {
    const server = await startServer({
      rateLimits: { chat: { perMinute: 1, burst: 1 } },
      floodThreshold: 1000,
      redis: { url: `redis://127.0.0.1:${proxy.port}`, keyPrefix: 'waiting:', connectTimeoutMs: 3000 },
    });
    const client = await connectAs(server, 'heavy');
    client.send({ type: 'publish', ch: 'chat:heavy', id: 'first', data: 'spends the budget' });
    await client.nextOfType('ack', { id: 'first' });
    const bytesIn = async () => metricValue(await server.metrics.metrics(), 'socketchart_bytes_in_total') ?? 0;
    const before = await bytesIn();
    proxy.delayMs = 400;
    const count = 60;
    const payload = 'x'.repeat(60 * KIB);
    for (let i = 0; i < count; i++) client.send({ type: 'publish', ch: 'chat:heavy', id: `p${i}`, data: payload });
    await delay(600);
    const readWhileSlow = (await bytesIn()) - before;
    proxy.delayMs = 0;
    const answered = () => client.frames.filter((frame) => typeof frame.id === 'string' && frame.id.startsWith('p')).length;
    await eventually(() => answered() === count, 15_000, 'every publish answered');
    expect(readWhileSlow).toBeLessThan(1.5 * 1024 * KIB);
    expect(client.ofType('error').every((frame) => frame.code === 'RATE_LIMIT_EXCEEDED')).toBe(true);
    await client.close();
    await server.close();
  }, 30_000);
});
