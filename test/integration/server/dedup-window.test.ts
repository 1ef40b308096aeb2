import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocketchartServer } from '../../../src/server/index.js';
import { stateSizes } from '../../../src/server/state-sizes.js';
import { startRedis, type RedisProcess } from '../../support/redis.js';
import { connectAs, delay, eventually, startServer } from './helpers.js';

const WINDOW_MS = 400;

async function republishAcrossTheWindow(server: SocketchartServer, ch: string) {
  const reader = await connectAs(server, 'reader');
  reader.send({ type: 'subscribe', ch });
  await reader.nextOfType('subscribed', { ch });
  const writer = await connectAs(server, 'writer');
  const publish = async (tag: string) => {
    writer.send({ type: 'publish', ch, id: 'same-id', data: tag });
    return writer.nextOfType('ack', { id: 'same-id' });
  };
  const startedAt = Date.now();
  const first = await publish('first');
  await delay(WINDOW_MS / 4);
  const inside = await publish('inside');
  const insideAt = Date.now() - startedAt;
  await delay(WINDOW_MS + 150 - (Date.now() - startedAt));
  const after = await publish('after');
  await eventually(() => reader.ofType('message', ch).length === 2, 2000, 'two deliveries');
  await delay(50);
  const delivered = reader.ofType('message', ch).map((frame) => frame.data);
  await Promise.all([reader.close(), writer.close()]);
  return { first, inside, insideAt, after, delivered };
}

describe('the dedup window: a publish id is remembered for dedupWindowMs, then forgotten', () => {
  it('in memory: a repeat inside the window is acked with the first seq and not delivered; after it, the id publishes anew', async () => {
    const server = await startServer({ dedupWindowMs: WINDOW_MS });
    const { first, inside, insideAt, after, delivered } = await republishAcrossTheWindow(server, 'chat:dedup');
    expect(insideAt).toBeLessThan(WINDOW_MS);
    expect(inside).toMatchObject({ seq: first.seq, duplicate: true });
    expect(after.duplicate).toBeUndefined();
    expect(after.seq).toBe((first.seq as number) + 1);
    expect(delivered).toEqual(['first', 'after']);
    await delay(WINDOW_MS + 50);
    await server.broadcast('chat:other', 'sweeps expired ids');
    expect(stateSizes(server).dedupIds).toBe(0);
    await server.close();
  });

  describe('with Redis', () => {
    let redis: RedisProcess;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it('a repeat inside the window is a duplicate; after it, the id publishes anew', async () => {
      const server = await startServer({ dedupWindowMs: WINDOW_MS, redis: { url: redis.url, keyPrefix: 'dedup:', connectTimeoutMs: 3000 } });
      const { first, inside, after, delivered } = await republishAcrossTheWindow(server, 'chat:dedup');
      expect(inside).toMatchObject({ seq: first.seq, duplicate: true });
      expect(after.duplicate).toBeUndefined();
      expect(after.seq).toBe((first.seq as number) + 1);
      expect(delivered).toEqual(['first', 'after']);
      await server.close();
    });
  });
});
