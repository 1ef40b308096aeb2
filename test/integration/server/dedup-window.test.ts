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

/** Spends the connection's `chat` budget (burst 3, 1 a minute) on a, b, c, then repeats a and tries a new id d. */
async function repeatWithNoTokenLeft(server: SocketchartServer) {
  const client = await connectAs(server, 'resender');
  const firsts: Record<string, unknown> = {};
  for (const id of ['a', 'b', 'c']) {
    client.send({ type: 'publish', ch: 'chat:resend', id, data: { id } });
    firsts[id] = (await client.nextOfType('ack', { id })).seq;
  }
  const answerTo = (id: string) => client.next((frame) => frame.id === id && (frame.type === 'ack' || frame.type === 'error'));
  client.send({ type: 'publish', ch: 'chat:resend', id: 'a', data: { id: 'a' } });
  const repeat = await answerTo('a');
  client.send({ type: 'publish', ch: 'chat:resend', id: 'd', data: { id: 'd' } });
  const fresh = await answerTo('d');
  await client.close();
  return { firstSeqOfA: firsts.a, repeat, fresh };
}

const spentBudget = { chat: { perMinute: 1, burst: 3 } };

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

  it('in memory: a repeated id is acked as a duplicate even when the connection has no token left for its scope; a new id is still refused', async () => {
    const server = await startServer({ rateLimits: spentBudget });
    const { firstSeqOfA, repeat, fresh } = await repeatWithNoTokenLeft(server);
    expect(repeat).toMatchObject({ type: 'ack', seq: firstSeqOfA, duplicate: true });
    expect(fresh).toMatchObject({ type: 'error', code: 'RATE_LIMIT_EXCEEDED' });
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

    it('a repeated id is acked as a duplicate even when the connection has no token left for its scope; a new id is still refused', async () => {
      const server = await startServer({ rateLimits: spentBudget, redis: { url: redis.url, keyPrefix: 'resend:', connectTimeoutMs: 3000 } });
      const { firstSeqOfA, repeat, fresh } = await repeatWithNoTokenLeft(server);
      expect(repeat).toMatchObject({ type: 'ack', seq: firstSeqOfA, duplicate: true });
      expect(fresh).toMatchObject({ type: 'error', code: 'RATE_LIMIT_EXCEEDED' });
      await server.close();
    });
  });
});
