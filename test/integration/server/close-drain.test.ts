import { afterEach, describe, expect, it } from 'vitest';
import type { SocketchartServer } from '../../../src/server/index.js';
import { startRedis } from '../../support/redis.js';
import { connectAs, eventually, startServer, type Frame } from './helpers.js';

/** Ids of the publishes a channel stored, read back from its history. */
async function storedIds(server: SocketchartServer, ch: string, expected: number): Promise<string[]> {
  const reader = await connectAs(server, 'auditor');
  reader.send({ type: 'subscribe', ch, since: 0 });
  await reader.nextOfType('subscribed', { ch });
  if (expected > 0) await eventually(() => reader.ofType('message', ch).length >= expected, 3000, `${expected} stored messages`);
  await reader.close();
  return reader.ofType('message', ch).map((frame: Frame) => frame.id as string);
}

describe('a server-side close answers what it already accepted', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  for (const backend of ['memory', 'redis'] as const) {
    it(`acks every publish it stored before closing a flooder with 4029 (${backend})`, async () => {
      let redisUrl: string | undefined;
      if (backend === 'redis') {
        const redis = await startRedis();
        cleanups.push(() => redis.stop());
        redisUrl = redis.url;
      }
      const server = await startServer({
        rateLimits: { chat: { perMinute: 60, burst: 5 } },
        floodThreshold: 10,
        ...(redisUrl ? { redis: { url: redisUrl, keyPrefix: 'drain:', connectTimeoutMs: 3000 } } : {}),
      });
      cleanups.push(() => server.close());
      const flooder = await connectAs(server, 'flooder');
      for (let i = 0; i < 40; i++) flooder.send({ type: 'publish', ch: 'chat:burst', id: `b${i}`, data: i });
      expect((await flooder.closed).code).toBe(4029);
      const acked = flooder.ofType('ack').map((frame) => frame.id as string);
      const stored = await storedIds(server, 'chat:burst', acked.length);
      expect(stored.length).toBeGreaterThan(0);
      expect(acked).toEqual(stored);
    });
  }
});
