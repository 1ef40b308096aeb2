import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocketchartServer } from '../../../src/server/index.js';
import { stateSizes } from '../../../src/server/state-sizes.js';
import { startRedis, type RedisProcess } from '../../support/redis.js';
import { connectAs, eventually, startServer, type Frame } from './helpers.js';

/** Everything a channel retains, read back with `subscribe {since: 0}`: its messages, and the gaps before and between them. */
async function retained(server: SocketchartServer, ch: string): Promise<{ messages: Frame[]; gaps: Frame[] }> {
  const reader = await connectAs(server, `reader-${Math.random().toString(36).slice(2)}`);
  reader.send({ type: 'subscribe', ch, since: 0 });
  const subscribed = await reader.nextOfType('subscribed', { ch });
  const current = subscribed.seq as number;
  await eventually(() => reader.frames.some((frame) => frame.ch === ch && ((frame.type === 'message' && frame.seq === current) || (frame.type === 'gap' && frame.to === current))), 3000, `history of ${ch}`);
  await reader.close();
  return { messages: reader.ofType('message', ch), gaps: reader.ofType('gap', ch) };
}

const dataBytes = (frames: readonly Frame[]) => frames.reduce((sum, frame) => sum + Buffer.byteLength(JSON.stringify(frame.data)), 0);

/** The retained messages are the newest of `published`, as many as fit in `maxBytes`: one more would not. */
function expectNewestWithin(messages: readonly Frame[], published: readonly unknown[], maxBytes: number): void {
  const kept = messages.map((frame) => frame.data);
  expect(kept).toEqual(published.slice(published.length - kept.length));
  expect(dataBytes(messages)).toBeLessThanOrEqual(maxBytes);
  const nextOlder = published[published.length - kept.length - 1];
  if (nextOlder !== undefined) expect(dataBytes(messages) + Buffer.byteLength(JSON.stringify(nextOlder))).toBeGreaterThan(maxBytes);
}

describe('retained history is bounded in total, per channel pattern, and per channel', () => {
  let server: SocketchartServer;

  afterAll(async () => {
    await server?.close();
  });

  it('keeps at most historyMaxBytes across channels (each message weighing its bytes + 150, each channel 800), evicting the oldest messages first', async () => {
    server = await startServer({ historyMaxBytes: 64 * 1024 });
    const payload = 'y'.repeat(1000);
    const published: { ch: string; n: number }[] = [];
    for (let n = 0; n < 300; n++) {
      const ch = `chat:c${n % 4}`;
      await server.broadcast(ch, { n, payload });
      published.push({ ch, n });
    }
    const kept: number[] = [];
    let bytes = 0;
    for (let c = 0; c < 4; c++) {
      const { messages } = await retained(server, `chat:c${c}`);
      bytes += dataBytes(messages);
      kept.push(...messages.map((frame) => (frame.data as { n: number }).n));
    }
    const weight = 4 * 800 + kept.length * 150 + bytes;
    expect(weight).toBeLessThanOrEqual(64 * 1024);
    expect(weight + 1200).toBeGreaterThan(64 * 1024);
    const newest = published.slice(published.length - kept.length).map(({ n }) => n);
    expect(kept.sort((a, b) => a - b)).toEqual(newest);
    await server.close();
  });

  it('keeps the channels that subscribes create without messages within historyMaxBytes (each weighing 800 bytes)', async () => {
    const maxBytes = 16 * 1024;
    server = await startServer({ historyMaxBytes: maxBytes, rateLimits: { control: { perMinute: 60_000, burst: 1000 } } });
    const client = await connectAs(server, 'alice');
    for (let n = 0; n < 150; n++) {
      client.send({ type: 'subscribe', ch: `chat:probe-${n}` });
      await client.nextOfType('subscribed', { ch: `chat:probe-${n}` });
      client.send({ type: 'unsubscribe', ch: `chat:probe-${n}` });
      await client.nextOfType('unsubscribed', { ch: `chat:probe-${n}` });
    }
    await client.close();
    const { historyChannels } = stateSizes(server);
    expect(historyChannels! * 800).toBeLessThanOrEqual(maxBytes);
    await server.close();
  });

  it('applies historyLimits by channel pattern (count and bytes), and historySize and historyMaxBytesPerChannel elsewhere', async () => {
    server = await startServer({
      historySize: 50,
      historyMaxBytesPerChannel: 8 * 1024,
      historyLimits: [
        { pattern: 'log:*', size: 3 },
        { pattern: 'blob:*', maxBytes: 4096 },
      ],
    });
    const kilobyte = 'z'.repeat(1000);
    const large = Array.from({ length: 20 }, (_, n) => ({ n, kilobyte }));
    for (let n = 0; n < 20; n++) {
      await server.broadcast('log:app', { n });
      await server.broadcast('blob:img', large[n]);
      await server.broadcast('chat:room', large[n]);
      await server.broadcast('feed:small', { n });
    }
    const log = await retained(server, 'log:app');
    expect(log.messages.map((frame) => (frame.data as { n: number }).n)).toEqual([17, 18, 19]);
    expect(log.gaps).toHaveLength(1);
    expectNewestWithin((await retained(server, 'blob:img')).messages, large, 4096);
    expectNewestWithin((await retained(server, 'chat:room')).messages, large, 8 * 1024);
    const feed = await retained(server, 'feed:small');
    expect(feed.messages).toHaveLength(20);
    await server.close();
  });
});

describe('retained history per channel pattern with Redis', () => {
  let redis: RedisProcess;
  let node: SocketchartServer;

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    await node?.close();
    await redis?.stop();
  });

  it('trims each channel’s stream by count and bytes', async () => {
    node = await startServer({
      historySize: 50,
      historyMaxBytesPerChannel: 8 * 1024,
      historyLimits: [{ pattern: 'log:*', size: 3 }],
      redis: { url: redis.url, keyPrefix: 'hist:', connectTimeoutMs: 3000 },
    });
    const kilobyte = 'z'.repeat(1000);
    const large = Array.from({ length: 20 }, (_, n) => ({ n, kilobyte }));
    for (let n = 0; n < 20; n++) {
      await node.broadcast('log:app', { n });
      await node.broadcast('chat:room', large[n]);
    }
    const log = await retained(node, 'log:app');
    expect(log.messages.map((frame) => (frame.data as { n: number }).n)).toEqual([17, 18, 19]);
    expectNewestWithin((await retained(node, 'chat:room')).messages, large, 8 * 1024);
  });
});
