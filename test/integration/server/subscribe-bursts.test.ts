import { Redis } from 'ioredis';
import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryBackend } from '../../../src/server/backend/memory.js';
import { RedisBackend } from '../../../src/server/backend/redis.js';
import type { HistoryRead } from '../../../src/server/history.js';
import type { SocketchartServer } from '../../../src/server/index.js';
import { startRedis, type RedisProcess } from '../../support/redis.js';
import { connectAs, eventually, startServer, type TestClient, type TestServerOptions } from './helpers.js';

/** History reads one connection may have in flight across its channels (src/server/README.md). */
const READS_PER_CONNECTION = 4;
/** Enough control budget for the bursts below: the limit under test is the server's, not the rate limit. */
const roomyControl: TestServerOptions = { rateLimits: { control: { perMinute: 60_000, burst: 5000 } } };

type Read = (this: unknown, ch: string, since: number, limit: number) => Promise<HistoryRead>;

/** Wraps a backend's `read`: counts the calls and the reads in flight, per channel and in all. */
function watchReads(proto: { read: Read }) {
  const original = proto.read;
  const stats = { calls: new Map<string, number>(), inFlight: new Map<string, number>(), maxPerChannel: 0, total: 0, maxTotal: 0 };
  const spy = vi.spyOn(proto, 'read').mockImplementation(function (this: unknown, ch: string, since: number, limit: number) {
    stats.calls.set(ch, (stats.calls.get(ch) ?? 0) + 1);
    const now = (stats.inFlight.get(ch) ?? 0) + 1;
    stats.inFlight.set(ch, now);
    stats.total += 1;
    stats.maxPerChannel = Math.max(stats.maxPerChannel, now);
    stats.maxTotal = Math.max(stats.maxTotal, stats.total);
    return original.call(this, ch, since, limit).finally(() => {
      stats.inFlight.set(ch, stats.inFlight.get(ch)! - 1);
      stats.total -= 1;
    });
  });
  return { stats, restore: () => spy.mockRestore() };
}

/** Sends every frame in one socket write. */
function burst(client: TestClient, frames: readonly Record<string, unknown>[]): void {
  const socket = (client.ws as unknown as { _socket: Socket })._socket;
  socket.cork();
  for (const frame of frames) client.send(frame);
  process.nextTick(() => socket.uncork());
}

async function fill(server: SocketchartServer, ch: string, count: number, bytes: number): Promise<number[]> {
  const seqs: number[] = [];
  for (let n = 0; n < count; n++) seqs.push((await server.broadcast(ch, { n, pad: 'x'.repeat(bytes) })).seq);
  return seqs;
}

/** Frames of the channel after its last `subscribed`: exactly the history, then the live messages, once each, in order, without gaps. */
function expectExactly(client: TestClient, ch: string, history: readonly number[], live: readonly number[]): void {
  const frames = client.frames.filter((frame) => frame.ch === ch);
  const last = frames.map((frame) => frame.type).lastIndexOf('subscribed');
  expect(last).toBeGreaterThanOrEqual(0);
  const after = frames.slice(last + 1);
  expect(after.filter((frame) => frame.type === 'gap')).toEqual([]);
  expect(after.filter((frame) => frame.type === 'message').map((frame) => frame.seq)).toEqual([...history, ...live]);
}

async function commandCalls(redis: Redis, command: string): Promise<number> {
  const info = await redis.info('commandstats');
  const match = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info);
  return match ? Number(match[1]) : 0;
}

describe.each(['memory', 'redis'] as const)('subscribe bursts on one connection (%s backend)', (kind) => {
  let redis: RedisProcess | undefined;
  let probe: Redis | undefined;
  let server: SocketchartServer | undefined;
  let reads: ReturnType<typeof watchReads> | undefined;

  beforeAll(async () => {
    if (kind !== 'redis') return;
    redis = await startRedis();
    probe = new Redis(redis.url, { lazyConnect: true });
    await probe.connect();
  });

  afterEach(async () => {
    reads?.restore();
    reads = undefined;
    await server?.close();
    server = undefined;
  });

  afterAll(async () => {
    probe?.disconnect();
    await redis?.stop();
  });

  const start = (prefix: string) =>
    startServer({ ...roomyControl, ...(redis ? { redis: { url: redis.url, keyPrefix: `${prefix}:`, connectTimeoutMs: 3000 } } : {}) });
  const proto = () => (kind === 'redis' ? RedisBackend.prototype : MemoryBackend.prototype) as unknown as { read: Read };

  it('200 subscribes with since=0 to a channel of ~1 MiB read its history one at a time, and deliver it exactly once, then live', async () => {
    server = await start('burst');
    const ch = 'chat:big';
    const history = await fill(server, ch, 300, 3000);
    const client = await connectAs(server, 'alice');
    reads = watchReads(proto());
    const xrangeBefore = probe ? await commandCalls(probe, 'xrange') : 0;

    burst(client, Array.from({ length: 200 }, () => ({ type: 'subscribe', ch, since: 0 })));
    await eventually(() => client.ofType('message', ch).some((frame) => frame.seq === history.at(-1)), 10_000, 'the history');
    const xrangeReads = probe ? (await commandCalls(probe, 'xrange')) - xrangeBefore : undefined;
    const live: number[] = [];
    for (let n = 0; n < 5; n++) live.push((await server.broadcast(ch, { live: n })).seq);
    await eventually(() => client.ofType('message', ch).some((frame) => frame.seq === live.at(-1)), 5000, 'the live messages');

    expect(reads.stats.maxPerChannel).toBe(1);
    expect(reads.stats.calls.get(ch)).toBeLessThanOrEqual(2);
    if (xrangeReads !== undefined) expect(xrangeReads).toBeLessThanOrEqual(2);
    expectExactly(client, ch, history, live);
    expect(client.ofType('error')).toEqual([]);
    await client.close();
  }, 30_000);

  it(`subscribes to many channels at once wait their turn beyond ${READS_PER_CONNECTION} reads in flight, and none is refused or lost`, async () => {
    server = await start('many');
    const channels = Array.from({ length: 12 }, (_, n) => `chat:room-${n}`);
    const histories = new Map<string, number[]>();
    for (const ch of channels) histories.set(ch, await fill(server, ch, 40, 2000));
    const client = await connectAs(server, 'bob');
    reads = watchReads(proto());

    burst(
      client,
      [0, 1, 2].flatMap(() => channels.map((ch) => ({ type: 'subscribe', ch, since: 0 }))),
    );
    for (const ch of channels) {
      const last = histories.get(ch)!.at(-1);
      await eventually(() => client.ofType('message', ch).some((frame) => frame.seq === last), 10_000, `the history of ${ch}`);
    }
    const live = new Map<string, number>();
    for (const ch of channels) live.set(ch, (await server.broadcast(ch, { live: ch })).seq);
    for (const ch of channels) await eventually(() => client.ofType('message', ch).some((frame) => frame.seq === live.get(ch)), 5000, `live on ${ch}`);

    expect(reads.stats.maxTotal).toBeLessThanOrEqual(READS_PER_CONNECTION);
    expect(reads.stats.maxPerChannel).toBe(1);
    for (const ch of channels) expectExactly(client, ch, histories.get(ch)!, [live.get(ch)!]);
    expect(client.ofType('error')).toEqual([]);
    await client.close();
  }, 30_000);
});
