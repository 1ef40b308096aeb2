import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { InvalidOptionError } from '../../../src/protocol/errors.js';
import { RedisBackend } from '../../../src/server/backend/redis.js';
import { reapScript } from '../../../src/server/backend/redis-scripts.js';
import type { AppendInput, BackendListener, ChannelSignal, GlobalSignal } from '../../../src/server/backend/types.js';
import type { StoredMessage } from '../../../src/server/history.js';
import { messageBytes, RetentionRules, type HistoryLimit } from '../../../src/server/retention.js';
import { FaultProxy } from '../../support/fault-proxy.js';
import { freePort } from '../../support/ports.js';
import { startRedis, type RedisProcess } from '../../support/redis.js';
import { roleProxy } from '../../support/role-proxy.js';
import { captureLogger, eventually, silentLogger } from './helpers.js';

/** The Redis backend on its own, against a real Redis: what a node stores, reads and hears through it. */
let redis: RedisProcess;
let inspector: Redis;
let prefixes = 0;
const backends: RedisBackend[] = [];

const HEARTBEAT_MS = 1000;
const NODE_TIMEOUT_MS = 5000;

interface NodeOptions {
  /** @default redis.url */
  url?: string;
  /** ioredis options. */
  options?: Record<string, unknown>;
  prefix?: string;
  nodeId?: string;
  limits?: HistoryLimit[];
  size?: number;
  maxBytes?: number;
  historyTtlMs?: number;
  dedupWindowMs?: number;
  logger?: Logger;
  /** @default 1000 */
  commandTimeoutMs?: number;
  /** Wraps what the backend reports to before it is recorded. */
  listen?: (recording: BackendListener) => BackendListener;
}

/** What a backend told its node. */
function recorder() {
  const heard = {
    messages: [] as { ch: string; message: StoredMessage }[],
    channelSignals: [] as { ch: string; signal: ChannelSignal }[],
    globalSignals: [] as GlobalSignal[],
    recovered: 0,
    /** For each recovery, whether the node was told it had been reaped meanwhile. */
    reaped: [] as boolean[],
    statuses: [] as boolean[],
  };
  const listener: BackendListener = {
    message: (ch, message) => heard.messages.push({ ch, message }),
    channelSignal: (ch, signal) => heard.channelSignals.push({ ch, signal }),
    globalSignal: (signal) => heard.globalSignals.push(signal),
    recovered: (reaped) => {
      heard.recovered += 1;
      heard.reaped.push(reaped === true);
    },
    status: (up) => heard.statuses.push(up),
  };
  return { heard, listener };
}

const freshPrefix = () => `rb${++prefixes}:`;

async function node(options: NodeOptions = {}) {
  const prefix = options.prefix ?? freshPrefix();
  const nodeId = options.nodeId ?? `node-${prefixes}-${backends.length}`;
  const backend = new RedisBackend({
    redis: { url: options.url ?? redis.url, options: options.options ?? {}, keyPrefix: prefix, nodeHeartbeatMs: HEARTBEAT_MS, nodeTimeoutMs: NODE_TIMEOUT_MS, connectTimeoutMs: 3000, commandTimeoutMs: options.commandTimeoutMs ?? 1000 },
    nodeId,
    retention: new RetentionRules(options.limits ?? [], { size: options.size ?? 100, maxBytes: options.maxBytes ?? 1_000_000 }),
    historyTtlMs: options.historyTtlMs ?? 60_000,
    dedupWindowMs: options.dedupWindowMs ?? 10_000,
    logger: options.logger ?? silentLogger(),
  });
  backends.push(backend);
  const { heard, listener } = recorder();
  await backend.start(options.listen ? options.listen(listener) : listener);
  return { backend, heard, prefix, nodeId };
}

const message = (dataJson: string, extra: Partial<AppendInput> = {}): AppendInput => ({ dataJson, ts: 1_700_000_000_000, ...extra });

async function stored(backend: RedisBackend, ch: string, input: AppendInput): Promise<number> {
  const result = await backend.append(ch, input);
  if (result.outcome !== 'stored') throw new Error(`append refused: ${JSON.stringify(result)}`);
  return result.seq;
}

const dataOf = (entries: readonly StoredMessage[]) => entries.map((entry) => entry.dataJson);

/** Resolves once both connections of the backend have answered what was sent on them before (a recovery pings one, then beats on the other), and the backend has gone on from those answers. */
const commandsAnswered = async (backend: RedisBackend) => {
  await backend.caughtUp();
  await backend.repeatOf('-');
};

beforeAll(async () => {
  redis = await startRedis();
  inspector = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await inspector.connect();
});

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(backends.splice(0).map((backend) => backend.close()));
});

afterAll(async () => {
  inspector?.disconnect();
  await redis?.stop();
});

describe('RedisBackend: numbering and history', () => {
  it('numbers a new channel from its creation and each message one more, read back with its id, event, publisher and time', async () => {
    const { backend } = await node();
    expect(backend.kind).toBe('redis');
    const before = await backend.read('chat:a', 0, 10);
    expect(before).toEqual({ base: before.base, current: before.base, entries: [] });
    expect(before.base).toBeGreaterThan(1_600_000_000_000_000);
    const first = await stored(backend, 'chat:a', message('{"n":1}', { id: 'p1', event: 'said', from: 'alice', ts: 42 }));
    const second = await stored(backend, 'chat:a', message('"two"'));
    expect([first, second]).toEqual([before.base + 1, before.base + 2]);
    const read = await backend.read('chat:a', 0, 10);
    expect(read).toEqual({
      base: before.base,
      current: before.base + 2,
      entries: [
        { seq: first, dataJson: '{"n":1}', id: 'p1', event: 'said', from: 'alice', ts: 42 },
        { seq: second, dataJson: '"two"', ts: 1_700_000_000_000 },
      ],
    });
  });

  it('skips a kept entry it cannot read', async () => {
    const { backend, prefix } = await node();
    const first = await stored(backend, 'chat:a', message('1'));
    await inspector.xadd(`${prefix}hist:chat:a`, `${first + 1}-0`, 'm', 'not json', 'b', '8');
    await inspector.hset(`${prefix}meta:chat:a`, 'seq', first + 1);
    const third = await stored(backend, 'chat:a', message('3'));
    expect((await backend.read('chat:a', 0, 10)).entries.map((entry) => entry.seq)).toEqual([first, third]);
  });

  it('reads at most limit messages after since, and with a limit of 0 only the numbering', async () => {
    const { backend } = await node();
    const seqs: number[] = [];
    for (let i = 1; i <= 5; i++) seqs.push(await stored(backend, 'chat:a', message(String(i))));
    expect(dataOf((await backend.read('chat:a', seqs[1]!, 2)).entries)).toEqual(['3', '4']);
    expect(dataOf((await backend.read('chat:a', seqs[4]!, 10)).entries)).toEqual([]);
    expect(await backend.read('chat:a', seqs[0]!, 0)).toMatchObject({ current: seqs[4], entries: [] });
  });

  it('keeps the newest size messages of a channel, the size of the first history limit its name matches', async () => {
    const { backend } = await node({ size: 4, limits: [{ pattern: 'log:*', size: 2 }] });
    for (let i = 1; i <= 6; i++) {
      await stored(backend, 'chat:a', message(String(i)));
      await stored(backend, 'log:a', message(String(i)));
    }
    expect(dataOf((await backend.read('chat:a', 0, 100)).entries)).toEqual(['3', '4', '5', '6']);
    expect(dataOf((await backend.read('log:a', 0, 100)).entries)).toEqual(['5', '6']);
  });

  it('keeps a channel within maxBytes by dropping its oldest messages, each weighing its data, id, event and publisher', async () => {
    const { backend } = await node({ maxBytes: 100 });
    const weighty = message('"0123456789"', { id: 'abcdefghij', event: 'e', from: 'bob' });
    expect(messageBytes(weighty)).toBe(26);
    for (let i = 0; i < 10; i++) await stored(backend, 'chat:a', weighty);
    expect((await backend.read('chat:a', 0, 100)).entries).toHaveLength(3);
    await stored(backend, 'chat:a', message(`"${'x'.repeat(70)}"`));
    expect((await backend.read('chat:a', 0, 100)).entries.map((entry) => entry.dataJson.length)).toEqual([12, 72]);
    await stored(backend, 'chat:a', message('"tiny"'));
    expect(dataOf((await backend.read('chat:a', 0, 100)).entries)).toEqual([`"${'x'.repeat(70)}"`, '"tiny"']);
  });

  it('keeps messages that together weigh exactly maxBytes', async () => {
    const { backend } = await node({ maxBytes: 3 * 26 });
    const weighty = message('"0123456789"', { id: 'abcdefghij', event: 'e', from: 'bob' });
    for (let i = 0; i < 3; i++) await stored(backend, 'chat:a', weighty);
    expect((await backend.read('chat:a', 0, 100)).entries).toHaveLength(3);
    await stored(backend, 'chat:a', weighty);
    expect((await backend.read('chat:a', 0, 100)).entries).toHaveLength(3);
  });

  it('numbers, but does not keep, a message heavier than maxBytes on its own', async () => {
    const { backend } = await node({ maxBytes: 10 });
    const seq = await stored(backend, 'chat:a', message(`"${'x'.repeat(20)}"`));
    expect(await backend.read('chat:a', 0, 10)).toMatchObject({ current: seq, entries: [] });
    await stored(backend, 'chat:a', message('"ok"'));
    expect(dataOf((await backend.read('chat:a', 0, 10)).entries)).toEqual(['"ok"']);
  });

  it('reads the numbering of a channel that has no history (a user channel at connect) without scanning a stream', async () => {
    const { backend } = await node();
    const xranges = async () => Number(/cmdstat_xrange:calls=(\d+)/.exec(await inspector.info('commandstats'))?.[1] ?? 0);
    const before = await xranges();
    const read = await backend.read('user:new', 0, 0);
    expect(read.entries).toEqual([]);
    expect(read.current).toBe(read.base);
    expect(await xranges()).toBe(before);
  });

  it('keeps history again after Redis evicted the history of a channel whose numbering it kept', async () => {
    const { backend, prefix } = await node({ maxBytes: 100 });
    for (let i = 0; i < 5; i++) await stored(backend, 'chat:a', message(`"${'x'.repeat(28)}"`));
    await inspector.del(`${prefix}hist:chat:a`);
    const seq = await stored(backend, 'chat:a', message(`"${'y'.repeat(28)}"`));
    expect((await backend.read('chat:a', 0, 10)).entries).toEqual([{ seq, dataJson: `"${'y'.repeat(28)}"`, ts: 1_700_000_000_000 }]);
  });

  it('keeps a channel within maxBytes after Redis evicted its numbering but not its history', async () => {
    const { backend, prefix } = await node({ maxBytes: 100 });
    for (let i = 0; i < 3; i++) await stored(backend, 'chat:a', message(`"${'x'.repeat(28)}"`));
    await inspector.del(`${prefix}meta:chat:a`);
    await stored(backend, 'chat:a', message(`"${'y'.repeat(28)}"`));
    const entries = (await backend.read('chat:a', 0, 10)).entries;
    expect(entries.reduce((sum, entry) => sum + messageBytes(entry), 0)).toBeLessThanOrEqual(100);
    expect(dataOf(entries).at(-1)).toBe(`"${'y'.repeat(28)}"`);
  });

  it('numbers above its kept history after Redis lost the numbering of a channel while its clock is behind the numbers handed out', async () => {
    const { backend, prefix } = await node();
    await stored(backend, 'chat:a', message('1'));
    const [seconds, micros] = await inspector.time();
    const handedOut = Number(seconds) * 1_000_000 + Number(micros) + 60_000_000;
    await inspector.xadd(`${prefix}hist:chat:a`, `${handedOut}-0`, 'm', JSON.stringify({ d: '"ahead"', ts: 1 }), 'b', '8');
    await inspector.del(`${prefix}meta:chat:a`);
    const next = await stored(backend, 'chat:a', message('2'));
    expect(next).toBeGreaterThan(handedOut);
    expect((await backend.read('chat:a', handedOut, 10)).entries.map((entry) => entry.seq)).toEqual([next]);
  });

  it('lets the numbering and history of a channel expire historyTtlMs after its last append', async () => {
    const { backend, prefix } = await node({ historyTtlMs: 30_000 });
    await stored(backend, 'chat:a', message('1'));
    await inspector.pexpire(`${prefix}meta:chat:a`, 5000);
    await inspector.pexpire(`${prefix}hist:chat:a`, 5000);
    await stored(backend, 'chat:a', message('2'));
    for (const key of [`${prefix}meta:chat:a`, `${prefix}hist:chat:a`]) {
      const ttl = await inspector.pttl(key);
      expect(ttl).toBeGreaterThan(25_000);
      expect(ttl).toBeLessThanOrEqual(30_000);
    }
  });

  it('lets the numbering a read created for a new channel expire historyTtlMs later', async () => {
    const { backend, prefix } = await node({ historyTtlMs: 30_000 });
    await backend.read('chat:new', 0, 10);
    const ttl = await inspector.pttl(`${prefix}meta:chat:new`);
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
  });

  it('touches a watched channel within half of historyTtlMs, however short: a quiet channel with a 1 s history keeps it', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { backend, prefix } = await node({ historyTtlMs: 1_000 });
    await stored(backend, 'chat:a', message('1'));
    await backend.watch('chat:a');
    const key = `${prefix}hist:chat:a`;
    await inspector.pexpire(key, 100_000); // a touch sets it back to historyTtlMs
    await vi.advanceTimersByTimeAsync(500);
    await eventually(async () => (await inspector.pttl(key)) <= 1_000, 3000, 'touched within 500 ms');
  });

  it('keeps the numbering and history of a watched channel from expiring while nobody publishes, and lets go once unwatched', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { backend, prefix } = await node({ historyTtlMs: 40_000 });
    await stored(backend, 'chat:a', message('1'));
    await stored(backend, 'chat:b', message('1'));
    await backend.watch('chat:a');
    const keys = [`${prefix}meta:chat:a`, `${prefix}hist:chat:a`, `${prefix}meta:chat:b`, `${prefix}hist:chat:b`];
    for (const key of keys) await inspector.pexpire(key, 5000);
    const ttls = async () => Promise.all(keys.map((key) => inspector.pttl(key)));
    await vi.advanceTimersByTimeAsync(9_000);
    await commandsAnswered(backend);
    expect((await ttls())[1], 'not before a quarter of historyTtlMs').toBeLessThanOrEqual(5000);
    await vi.advanceTimersByTimeAsync(1_000);
    await eventually(async () => (await ttls())[1]! > 5000, 3000, 'the watched channel touched');
    const [metaA, histA, metaB, histB] = await ttls();
    expect(metaA).toBeGreaterThan(30_000);
    expect(histA).toBeGreaterThan(30_000);
    expect(metaB).toBeLessThanOrEqual(5000);
    expect(histB).toBeLessThanOrEqual(5000);
    backend.unwatch('chat:a');
    await commandsAnswered(backend);
    for (const key of keys) await inspector.pexpire(key, 5000);
    await vi.advanceTimersByTimeAsync(10_000);
    await backend.caughtUp();
    expect(await inspector.pttl(keys[0]!)).toBeLessThanOrEqual(5000);
  });

  it('keeps a quiet channel that starts being watched for historyTtlMs from then, not only for what was left of it', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { backend, prefix } = await node({ historyTtlMs: 40_000 });
    await stored(backend, 'chat:a', message('1'));
    const keys = [`${prefix}meta:chat:a`, `${prefix}hist:chat:a`];
    for (const key of keys) await inspector.pexpire(key, 3000); // idle for 37 s
    await backend.watch('chat:a');
    await commandsAnswered(backend);
    for (const key of keys) expect(await inspector.pttl(key), key).toBeGreaterThan(35_000);
  });

  it('keeps the numbering and history of a channel historyTtlMs after its last watch is let go, not only until the last touch runs out', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { backend, prefix } = await node({ historyTtlMs: 40_000 });
    await stored(backend, 'chat:a', message('1'));
    await backend.watch('chat:a');
    const keys = [`${prefix}meta:chat:a`, `${prefix}hist:chat:a`];
    for (const key of keys) await inspector.pexpire(key, 32_000); // touched 8 s ago
    backend.unwatch('chat:a');
    await commandsAnswered(backend);
    for (const key of keys) expect(await inspector.pttl(key), key).toBeGreaterThan(35_000);
    expect((await backend.read('chat:a', 0, 10)).entries.map((entry) => entry.dataJson)).toEqual(['1']);
  });

  it('touches many watched channels in bounded batches, not in one pipeline of them all that would stall the node and Redis', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { backend, prefix } = await node({ historyTtlMs: 4_000 });
    const channels = Array.from({ length: 3000 }, (_, i) => `user:${i}`);
    await Promise.all(channels.map((ch) => backend.watch(ch)));
    const last = `${prefix}hist:${channels.at(-1)!}`;
    await inspector.set(last, '1', 'PX', 100_000);
    const { command } = backend as unknown as { command: Redis };
    const pipelines = vi.spyOn(command, 'pipeline');
    await vi.advanceTimersByTimeAsync(1_000);
    await eventually(async () => (await inspector.pttl(last)) <= 4_000, 3000, 'the last watched channel touched');
    const sizes = pipelines.mock.results.map((result) => (result.value as { length: number }).length);
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(2 * channels.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1000);
  });

  it('keeps the channels of one key prefix apart from another', async () => {
    const one = await node();
    const other = await node();
    await stored(one.backend, 'chat:a', message('"one"'));
    await other.backend.watch('chat:a');
    await stored(one.backend, 'chat:a', message('"two"'));
    await other.backend.caughtUp();
    expect((await other.backend.read('chat:a', 0, 10)).entries).toEqual([]);
    expect(other.heard.messages).toEqual([]);
  });

  it('keeps two deployments on different Redis databases apart, though pub/sub ignores databases: no message, signal or logout crosses', async () => {
    const prefix = freshPrefix();
    const production = await node({ url: `${redis.url}/0`, prefix });
    const staging = await node({ url: `${redis.url}/1`, prefix });
    await production.backend.watch('chat:lobby');
    await stored(staging.backend, 'chat:lobby', message('"a staging message"'));
    await staging.backend.signalChannel('chat:lobby', { kind: 'presence', joins: [{ userId: 'tester' }], leaves: [] });
    await staging.backend.signalGlobal({ kind: 'logout', userId: 'alice', reason: 'staging reset' });
    await production.backend.caughtUp();
    expect(production.heard).toMatchObject({ messages: [], channelSignals: [], globalSignals: [] });
  });

  it('numbers a message appended after Redis restarted from an older snapshot above every number handed out before', async () => {
    const { backend } = await node();
    await stored(backend, 'chat:a', message('1'));
    await redis.snapshot();
    await stored(backend, 'chat:a', message('2'));
    const lastBefore = await stored(backend, 'chat:a', message('3'));
    await redis.restartFromSnapshot();
    let after: number | undefined;
    await eventually(
      async () => (after = await stored(backend, 'chat:a', message('"after"')).catch(() => undefined)) !== undefined,
      8000,
      'an append after the restart',
    );
    expect(after).toBeGreaterThan(lastBefore);
    const read = await backend.read('chat:a', lastBefore, 10);
    expect(read.entries.map((entry) => entry.seq)).toEqual([after]);
  });
});

describe('RedisBackend: publish ids and charges', () => {
  const charged = (key: string, dedupKey?: string): AppendInput =>
    message('"m"', { charge: { key, limit: { perMinute: 60, burst: 2 } }, ...(dedupKey === undefined ? {} : { id: dedupKey, dedupKey }) });

  it('answers a repeat of a publish id within dedupWindowMs with its first number, storing and fanning out nothing', async () => {
    const { backend, heard, prefix } = await node({ dedupWindowMs: 7000 });
    await backend.watch('chat:a');
    const first = await stored(backend, 'chat:a', message('"m"', { id: 'p1', dedupKey: 'k1' }));
    expect(await backend.append('chat:a', message('"again"', { id: 'p1', dedupKey: 'k1' }))).toEqual({ outcome: 'stored', seq: first, duplicate: true });
    expect(await backend.repeatOf('k1')).toBe(first);
    expect(await backend.repeatOf('k2')).toBeUndefined();
    const ttl = await inspector.pttl(`${prefix}dedup:k1`);
    expect(ttl).toBeGreaterThan(5000);
    expect(ttl).toBeLessThanOrEqual(7000);
    await backend.caughtUp();
    expect(heard.messages.map(({ message }) => message.seq)).toEqual([first]);
    expect((await backend.read('chat:a', 0, 10)).entries).toHaveLength(1);
  });

  it('stores the same message twice when it has no publish id, and the first append of an id as new', async () => {
    const { backend, prefix } = await node();
    const a = await backend.append('chat:a', message('"m"'));
    const b = await backend.append('chat:a', message('"m"'));
    expect([a, b]).toMatchObject([{ outcome: 'stored', duplicate: false }, { outcome: 'stored', duplicate: false }]);
    expect(await inspector.keys(`${prefix}dedup:*`)).toEqual([]);
    expect(await backend.append('chat:a', message('"m"', { dedupKey: 'k' }))).toMatchObject({ outcome: 'stored', duplicate: false });
  });

  it('refuses a publish once its bucket is spent, answering the wait for the next token, and numbers nothing for it', async () => {
    const { backend, heard, prefix } = await node();
    await backend.watch('chat:a');
    const first = await stored(backend, 'chat:a', charged('alice'));
    await stored(backend, 'chat:a', charged('alice'));
    const refused = await backend.append('chat:a', charged('alice'));
    expect(refused.outcome).toBe('refused');
    const wait = refused.outcome === 'refused' ? refused.retryAfterMs : 0;
    expect(wait).toBeGreaterThan(900);
    expect(wait).toBeLessThanOrEqual(1000);
    const held = await backend.append('chat:a', charged('alice'));
    expect(held.outcome === 'refused' && held.retryAfterMs <= wait).toBe(true);
    const bucketTtl = await inspector.pttl(`${prefix}rl:alice`);
    expect(bucketTtl, 'the bucket is forgotten once it would be full again').toBeGreaterThan(2000);
    expect(bucketTtl).toBeLessThanOrEqual(3001);
    expect(await stored(backend, 'chat:a', charged('bob'))).toBe(first + 2);
    await backend.caughtUp();
    expect(heard.messages).toHaveLength(3);
  });

  it('lets a bucket expire once it would be full again', async () => {
    const { backend, prefix } = await node();
    await stored(backend, 'chat:a', charged('alice'));
    const ttl = await inspector.pttl(`${prefix}rl:alice`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1001);
  });

  it('refills a bucket at its rate: once spent, a token is back long before the bucket is full again', async () => {
    const { backend, prefix } = await node();
    const charge = (): AppendInput => message('"m"', { charge: { key: 'alice', limit: { perMinute: 6_000, burst: 100 } } });
    let spent = 0;
    while ((await backend.append('chat:a', charge())).outcome === 'stored') expect(++spent).toBeLessThan(500);
    await eventually(async () => (await backend.append('chat:a', charge())).outcome === 'stored', 3000, 'a refilled token');
    expect(Number(await inspector.hget(`${prefix}rl:alice`, 'tokens')), 'tokens left once one came back').toBeLessThan(50);
  });

  it('takes a Redis clock gone back (a failover, a clock step) for no time passing: a held bucket waits what was left of its hold', async () => {
    const { backend, prefix } = await node();
    const [seconds, micros] = (await inspector.time()).map(Number) as [number, number];
    const anHourAhead = seconds * 1000 + Math.floor(micros / 1000) + 3_600_000;
    await inspector.hset(`${prefix}rl:alice`, 'tokens', 0, 'at', anHourAhead, 'held', anHourAhead + 1000);
    const waits: number[] = [];
    for (let n = 0; n < 2; n++) {
      const refused = await backend.append('chat:a', charged('alice'));
      waits.push(refused.outcome === 'refused' ? refused.retryAfterMs : 0);
    }
    expect(waits[0]).toBeGreaterThan(0);
    expect(waits[0]).toBeLessThanOrEqual(1000);
    expect(waits[1], 'the hold runs on').toBeLessThanOrEqual(waits[0]!);
    await eventually(async () => (await backend.append('chat:a', charged('alice'))).outcome === 'stored', 3000, 'a token back');
  });

  it('answers a repeat of a publish id though its bucket is spent', async () => {
    const { backend } = await node();
    const first = await stored(backend, 'chat:a', charged('alice', 'k1'));
    await stored(backend, 'chat:a', charged('alice', 'k2'));
    expect(await backend.append('chat:a', charged('alice', 'k1'))).toEqual({ outcome: 'stored', seq: first, duplicate: true });
    expect(await backend.append('chat:a', charged('alice', 'k3'))).toMatchObject({ outcome: 'refused' });
  });
});

describe('RedisBackend: fan-out and signals', () => {
  it('tells every node watching a channel its messages in the order they were numbered, and no other node', async () => {
    const publisher = await node();
    const watcher = await node({ prefix: publisher.prefix });
    const bystander = await node({ prefix: publisher.prefix });
    await watcher.backend.watch('chat:a');
    await bystander.backend.watch('chat:b');
    const seqs: number[] = [];
    for (let i = 0; i < 20; i++) seqs.push(await stored(publisher.backend, 'chat:a', message(String(i), { from: 'alice', id: `p${i}` })));
    await watcher.backend.caughtUp();
    await bystander.backend.caughtUp();
    expect(watcher.heard.messages.map(({ ch, message }) => [ch, message.seq])).toEqual(seqs.map((seq) => ['chat:a', seq]));
    expect(watcher.heard.messages[3]!.message).toEqual({ seq: seqs[3], dataJson: '3', from: 'alice', id: 'p3', ts: 1_700_000_000_000 });
    expect(bystander.heard.messages).toEqual([]);
    expect(publisher.heard.messages).toEqual([]);
  });

  it('keeps a channel watched until each watch of it is let go', async () => {
    const { backend, heard } = await node();
    await Promise.all([backend.watch('chat:a'), backend.watch('chat:a')]);
    backend.unwatch('chat:a');
    await stored(backend, 'chat:a', message('1'));
    await backend.caughtUp();
    expect(heard.messages).toHaveLength(1);
    expect(backend.sizes()).toEqual({ watchedChannels: 1 });
    backend.unwatch('chat:a');
    backend.unwatch('chat:a');
    await stored(backend, 'chat:a', message('2'));
    await backend.caughtUp();
    expect(heard.messages).toHaveLength(1);
    expect(backend.sizes()).toEqual({ watchedChannels: 0 });
    await backend.watch('chat:a');
    await stored(backend, 'chat:a', message('3'));
    await backend.caughtUp();
    expect(dataOf(heard.messages.map(({ message }) => message))).toEqual(['1', '3']);
  });

  it('refuses at once a watch made while Redis is unreachable, rather than leaving it (and every watch and unwatch after it) waiting for the outage to end; watches again once Redis is back', async () => {
    const proxy = new FaultProxy({ host: '127.0.0.1', port: redis.port });
    try {
      const { backend, heard } = await node({ url: `redis://127.0.0.1:${await proxy.listen()}` });
      proxy.mode = 'refuse';
      proxy.reset();
      await eventually(() => heard.statuses.at(-1) === false, 3000, 'Redis reported down');
      const outcomes: string[] = [];
      for (let i = 0; i < 3; i++) backend.watch(`chat:${i}`).then(() => outcomes.push('watched'), () => outcomes.push('refused'));
      await new Promise((resolve) => setImmediate(resolve));
      expect(outcomes).toEqual(['refused', 'refused', 'refused']);
      expect(backend.sizes()).toEqual({ watchedChannels: 0 });
      proxy.mode = 'pass';
      await eventually(() => heard.recovered === 1, 5000, 'Redis back');
      await backend.watch('chat:0');
      await stored(backend, 'chat:0', message('1'));
      await backend.caughtUp();
      expect(heard.messages.map(({ ch }) => ch)).toEqual(['chat:0']);
    } finally {
      await proxy.close();
    }
  });

  it('tells presence and typing to the nodes watching their channel, and logouts to every node', async () => {
    const sender = await node();
    const watcher = await node({ prefix: sender.prefix });
    await watcher.backend.watch('chat:a');
    const presence: ChannelSignal = { kind: 'presence', joins: [{ userId: 'alice', meta: { device: 'phone' } }], leaves: [{ userId: 'bob' }] };
    const typing: ChannelSignal = { kind: 'typing', userId: 'alice', typing: true, origin: 'n1:7' };
    await sender.backend.signalChannel('chat:a', presence);
    await sender.backend.signalChannel('chat:b', typing);
    await sender.backend.signalChannel('chat:a', typing);
    await sender.backend.signalGlobal({ kind: 'logout', userId: 'alice', reason: 'revoked' });
    await watcher.backend.caughtUp();
    await sender.backend.caughtUp();
    expect(watcher.heard.channelSignals).toEqual([
      { ch: 'chat:a', signal: presence },
      { ch: 'chat:a', signal: typing },
    ]);
    expect(watcher.heard.globalSignals).toEqual([{ kind: 'logout', userId: 'alice', reason: 'revoked' }]);
    expect(sender.heard.globalSignals).toEqual([{ kind: 'logout', userId: 'alice', reason: 'revoked' }]);
  });

  it('ignores what it cannot read on its pub/sub channels and goes on delivering', async () => {
    const { backend, heard, prefix } = await node();
    await backend.watch('chat:a');
    const garbage = [
      'mnot-a-number {"ts":1}\n1',
      'm {"ts":1}\n1',
      'm5 not json',
      'm6 {"ts":"soon"}\n1',
      'm7 [1]\n1',
      'm8 {"ts":1}',
      's{',
      'x',
      'x{"kind":"typing","userId":"alice","typing":true,"origin":"n:1"}',
      '',
    ];
    for (const text of garbage) await inspector.publish(`${prefix}chan:chat:a`, text);
    for (const text of ['not json', '{"kind":"other","userId":"alice"}']) await inspector.publish(`${prefix}global:signals`, text);
    const seq = await stored(backend, 'chat:a', message('"fine"'));
    await backend.caughtUp();
    expect(heard.messages).toEqual([{ ch: 'chat:a', message: { seq, dataJson: '"fine"', ts: 1_700_000_000_000 } }]);
    expect(heard.channelSignals).toEqual([]);
    expect(heard.globalSignals).toEqual([]);
  });

  it('reads a message kept with its data in the header, as earlier versions kept it', async () => {
    const { backend, heard, prefix } = await node();
    await backend.watch('chat:a');
    await inspector.publish(`${prefix}chan:chat:a`, 'm9 {"ts":5,"data":{"a":1},"id":"p","event":"e","from":"bob"}');
    await backend.caughtUp();
    expect(heard.messages).toEqual([{ ch: 'chat:a', message: { seq: 9, dataJson: '{"a":1}', ts: 5, id: 'p', event: 'e', from: 'bob' } }]);
  });

  it('leaves out an id, event or publisher that is not a string', async () => {
    const { backend, heard, prefix } = await node();
    await backend.watch('chat:a');
    await inspector.publish(`${prefix}chan:chat:a`, 'm9 {"ts":5,"id":1,"event":["e"],"from":null}\n2');
    await backend.caughtUp();
    expect(heard.messages).toEqual([{ ch: 'chat:a', message: { seq: 9, dataJson: '2', ts: 5 } }]);
  });

  it('logs a listener that throws on a message, and goes on delivering', async () => {
    const logs = captureLogger();
    let calls = 0;
    const listen = (recording: BackendListener): BackendListener => ({
      ...recording,
      message: (ch, stored) => {
        if (calls++ === 0) throw new Error('the hub broke');
        recording.message(ch, stored);
      },
    });
    const { backend, heard } = await node({ logger: logs.logger, listen });
    await backend.watch('chat:a');
    await stored(backend, 'chat:a', message('1'));
    const second = await stored(backend, 'chat:a', message('2'));
    await backend.caughtUp();
    expect(heard.messages.map(({ message }) => message.seq)).toEqual([second]);
    expect(logs.lines()).toEqual(expect.arrayContaining([expect.objectContaining({ msg: 'delivering a pub/sub message failed', err: 'Error: the hub broke' })]));
  });
});

describe('RedisBackend: presence across nodes', () => {
  it('announces a user once per channel across their connections on every node, and their leave with the last', async () => {
    const a = await node();
    const b = await node({ prefix: a.prefix });
    expect(await a.backend.presenceJoin('chat:a', 'a:1', { userId: 'alice', meta: { v: 1 } })).toBe(true);
    expect(await b.backend.presenceJoin('chat:a', 'b:1', { userId: 'alice', meta: { v: 1 } })).toBe(false);
    expect(await a.backend.presenceJoin('chat:a', 'a:1', { userId: 'alice', meta: { v: 1 } })).toBe(false);
    expect(await b.backend.presenceJoin('chat:a', 'b:2', { userId: 'bob' })).toBe(true);
    expect(await a.backend.presenceList('chat:a')).toEqual(expect.arrayContaining([{ userId: 'alice', meta: { v: 1 } }, { userId: 'bob' }]));
    expect(await a.backend.presenceLeave('chat:a', 'a:1', 'alice')).toEqual({ outcome: 'none' });
    expect(await a.backend.presenceLeave('chat:a', 'a:1', 'alice')).toEqual({ outcome: 'none' });
    expect(await b.backend.presenceLeave('chat:a', 'b:1', 'alice')).toEqual({ outcome: 'left' });
    expect(await b.backend.presenceList('chat:a')).toEqual([{ userId: 'bob' }]);
    expect(await inspector.smembers(`${a.prefix}pn:${a.nodeId}`), 'what a reaper of node a would find').toEqual([]);
  });

  it('announces each change of the member shown from the script that makes it, in the order made, to the nodes of its Redis database only, meta and user id intact', async () => {
    const prefix = freshPrefix();
    const [a, b, other] = await Promise.all([node({ url: `${redis.url}/1`, prefix }), node({ url: `${redis.url}/1`, prefix }), node({ url: `${redis.url}/0`, prefix })]);
    await Promise.all([b.backend.watch('chat:a'), other.backend.watch('chat:a')]);
    const userId = 'al/"ice é';
    const presence = (joins: unknown[], leaves: unknown[] = []) => ({ ch: 'chat:a', signal: { kind: 'presence', joins, leaves } });
    await a.backend.presenceJoin('chat:a', 'a:1', { userId, meta: { v: 1, tags: [], nested: { empty: {} } } });
    await b.backend.presenceJoin('chat:a', 'b:2', { userId, meta: { v: 1, tags: [], nested: { empty: {} } } });
    await b.backend.presenceJoin('chat:a', 'b:3', { userId, meta: { v: 2 } });
    await a.backend.presenceUpdate('chat:a', 'a:1', { userId, meta: { v: 3 } });
    await a.backend.presenceLeave('chat:a', 'a:1', userId);
    await b.backend.presenceLeave('chat:a', 'b:2', userId);
    await b.backend.presenceLeave('chat:a', 'b:3', userId);
    await Promise.all([b.backend.caughtUp(), other.backend.caughtUp()]);
    expect(b.heard.channelSignals).toEqual([
      presence([{ userId, meta: { v: 1, tags: [], nested: { empty: {} } } }]),
      presence([{ userId, meta: { v: 2 } }]),
      presence([{ userId, meta: { v: 3 } }]),
      presence([{ userId, meta: { v: 2 } }]),
      presence([], [{ userId }]),
    ]);
    expect(other.heard.channelSignals).toEqual([]);
  });

  it('replaces the meta of a member when another of their connections joins with other meta, announcing it', async () => {
    const { backend } = await node();
    await backend.presenceJoin('chat:a', 'n:1', { userId: 'alice', meta: { device: 'phone' } });
    expect(await backend.presenceJoin('chat:a', 'n:2', { userId: 'alice', meta: { device: 'laptop' } })).toBe(true);
    expect(await backend.presenceList('chat:a')).toEqual([{ userId: 'alice', meta: { device: 'laptop' } }]);
  });

  it('takes a connection joining again for no new join, and keeps its meta (an update changes it)', async () => {
    const { backend } = await node();
    await backend.presenceJoin('chat:a', 'n:1', { userId: 'alice', meta: { v: 1 } });
    expect(await backend.presenceJoin('chat:a', 'n:1', { userId: 'alice', meta: { v: 2 } })).toBe(false);
    expect(await backend.presenceList('chat:a')).toEqual([{ userId: 'alice', meta: { v: 1 } }]);
  });

  it('updates the meta only of a connection that joined, and tells a change only when the meta shown changed', async () => {
    const { backend } = await node();
    await backend.presenceJoin('chat:a', 'n:1', { userId: 'alice', meta: { v: 1 } });
    expect(await backend.presenceUpdate('chat:a', 'n:2', { userId: 'alice', meta: { v: 2 } })).toBe(false);
    expect(await backend.presenceList('chat:a')).toEqual([{ userId: 'alice', meta: { v: 1 } }]);
    expect(await backend.presenceUpdate('chat:a', 'n:1', { userId: 'alice', meta: { v: 3 } })).toBe(true);
    expect(await backend.presenceList('chat:a')).toEqual([{ userId: 'alice', meta: { v: 3 } }]);
    expect(await backend.presenceUpdate('chat:a', 'n:1', { userId: 'alice', meta: { v: 3 } })).toBe(false);
  });

  it('shows, once the connection shown leaves, the member of the one joined or joined again last of those left on any node, telling it only when its meta differs', async () => {
    const a = await node();
    const b = await node({ prefix: a.prefix });
    for (const [{ backend }, ref, v] of [[a, 'a:1', 1], [b, 'b:2', 2], [a, 'a:3', 3], [b, 'b:4', 3]] as const) await backend.presenceJoin('chat:a', ref, { userId: 'alice', meta: { v } });
    expect(await b.backend.presenceUpdate('chat:a', 'b:2', { userId: 'alice', meta: { v: 2 } })).toBe(true);
    expect(await b.backend.presenceLeave('chat:a', 'b:2', 'alice')).toEqual({ outcome: 'shown', member: { userId: 'alice', meta: { v: 3 } } });
    expect(await a.backend.presenceList('chat:a')).toEqual([{ userId: 'alice', meta: { v: 3 } }]);
    expect(await b.backend.presenceLeave('chat:a', 'b:4', 'alice'), 'the one left last has the same meta').toEqual({ outcome: 'none' });
    expect(await a.backend.presenceLeave('chat:a', 'a:1', 'alice'), 'not the one shown').toEqual({ outcome: 'none' });
    expect(await b.backend.presenceList('chat:a')).toEqual([{ userId: 'alice', meta: { v: 3 } }]);
    expect(await a.backend.presenceLeave('chat:a', 'a:3', 'alice')).toEqual({ outcome: 'left' });
    expect(await inspector.keys(`${a.prefix}p[jr]:*`), 'nothing left of alice').toEqual([]);
  });

  it('takes a leave tried again after one made unanswered for made: it announces nothing more while its trace lasts, nodeTimeoutMs', async () => {
    const { backend, heard, prefix } = await node();
    await backend.watch('chat:a');
    await backend.presenceJoin('chat:a', 'n:1', { userId: 'alice' });
    expect(await backend.presenceLeave('chat:a', 'n:1', 'alice')).toEqual({ outcome: 'left' });
    const [trace] = await inspector.keys(`${prefix}pl:*`);
    expect(await inspector.pttl(trace!)).toBeGreaterThan(NODE_TIMEOUT_MS - 1000);
    expect(await inspector.pttl(trace!)).toBeLessThanOrEqual(NODE_TIMEOUT_MS);
    expect(await backend.presenceLeave('chat:a', 'n:1', 'alice', true)).toEqual({ outcome: 'none' });
    expect(await backend.presenceLeave('chat:a', 'n:1', 'alice', true)).toEqual({ outcome: 'none' });
    await backend.caughtUp();
    expect(heard.channelSignals.filter(({ signal }) => signal.kind === 'presence' && signal.leaves.length > 0)).toEqual([{ ch: 'chat:a', signal: { kind: 'presence', joins: [], leaves: [{ userId: 'alice' }] } }]);
  });

  it('announces, when a leave is tried again, the leave of a user Redis forgot with no trace of an earlier one (restarted empty), unless another connection of theirs is present', async () => {
    const a = await node();
    const b = await node({ prefix: a.prefix });
    await b.backend.watch('chat:a');
    await a.backend.presenceJoin('chat:a', 'a:1', { userId: 'alice' });
    await a.backend.presenceJoin('chat:a', 'a:2', { userId: 'bob' });
    await inspector.del(...(await inspector.keys(`${a.prefix}p*`)));
    await b.backend.presenceJoin('chat:a', 'b:3', { userId: 'bob' });
    expect(await a.backend.presenceLeave('chat:a', 'a:2', 'bob', true)).toEqual({ outcome: 'none' });
    expect(await a.backend.presenceLeave('chat:a', 'a:1', 'alice', false), 'a first attempt').toEqual({ outcome: 'none' });
    expect(await a.backend.presenceLeave('chat:a', 'a:1', 'alice', true)).toEqual({ outcome: 'left' });
    await b.backend.caughtUp();
    expect(b.heard.channelSignals.filter(({ signal }) => signal.kind === 'presence' && signal.leaves.length > 0)).toEqual([{ ch: 'chat:a', signal: { kind: 'presence', joins: [], leaves: [{ userId: 'alice' }] } }]);
    expect(await a.backend.presenceList('chat:a')).toEqual([{ userId: 'bob' }]);
  });

  it('keeps the member shown when the connections left joined without the member each joined with kept (by an earlier version)', async () => {
    const { backend, prefix } = await node();
    await inspector.sadd(`${prefix}pr:chat:a alice`, 'old:1');
    await inspector.hset(`${prefix}pm:chat:a`, 'alice', '{"userId":"alice","meta":{"v":1}}');
    await backend.presenceJoin('chat:a', 'n:2', { userId: 'alice', meta: { v: 2 } });
    expect(await backend.presenceLeave('chat:a', 'n:2', 'alice')).toEqual({ outcome: 'none' });
    expect(await backend.presenceList('chat:a')).toEqual([{ userId: 'alice', meta: { v: 2 } }]);
    expect(await backend.presenceLeave('chat:a', 'old:1', 'alice')).toEqual({ outcome: 'left' });
  });

  it('lists a member whose stored entry it cannot read by user id alone', async () => {
    const { backend, prefix } = await node();
    await inspector.hset(`${prefix}pm:chat:a`, 'alice', 'not json', 'bob', '{"userId":"bob","meta":[1]}', 'carol', '{"meta":null}', 'dave', '{"meta":"x"}', 'erin', 'null');
    const members = await backend.presenceList('chat:a');
    expect(members).toHaveLength(5);
    expect(members).toEqual(expect.arrayContaining(['alice', 'bob', 'carol', 'dave', 'erin'].map((userId) => ({ userId }))));
  });
});

describe('RedisBackend: typing across nodes', () => {
  it('counts a user typing on a channel while a connection of theirs on any node types, each until it stops, in a key that outlives the last by one typing time', async () => {
    const one = await node();
    const other = await node({ prefix: one.prefix });
    await one.backend.typingStart('chat:a', 'alice', 'one:1', 30_000);
    await other.backend.typingStart('chat:a', 'alice', 'other:1', 30_000);
    await other.backend.typingStart('chat:a', 'bob', 'other:1', 30_000);
    const keys = await inspector.keys(`${one.prefix}*alice*`);
    expect(keys).toHaveLength(1);
    const ttl = await inspector.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    const first = await one.backend.typingStop('chat:a', 'alice', 'one:1');
    expect(first.removed).toBe(1);
    expect(first.untilMs).toBeGreaterThan(25_000);
    expect(first.untilMs).toBeLessThanOrEqual(30_000);
    expect(await one.backend.typingStop('chat:b', 'alice', 'other:1')).toEqual({ removed: 0, untilMs: 0 });
    expect(await one.backend.typingStop('chat:a', 'alice', 'other:1')).toEqual({ removed: 1, untilMs: 0 });
    expect(await inspector.exists(keys[0]!)).toBe(0);
    expect(await other.backend.typingStop('chat:a', 'alice', 'other:1')).toEqual({ removed: 0, untilMs: 0 });
  });

  it('forgets a connection typing once its time is up without a refresh, as when its node crashed, and tells the first to find it so', async () => {
    const crashed = await node();
    const survivor = await node({ prefix: crashed.prefix });
    await crashed.backend.typingStart('chat:a', 'alice', 'crashed:1', 200);
    let left = { removed: 0, untilMs: 0 };
    await eventually(async () => (left = await survivor.backend.typingStop('chat:a', 'alice')).untilMs === 0, 3000, 'its typing expired');
    expect(left).toEqual({ removed: 1, untilMs: 0 });
    expect(await survivor.backend.typingStop('chat:a', 'alice')).toEqual({ removed: 0, untilMs: 0 });
  });
});

describe('RedisBackend: nodes', () => {
  const alive = (prefix: string) => `${prefix}nodes:alive`;

  it('reaps the presence of a node silent past nodeTimeoutMs, announcing the users it leaves with no connection', async () => {
    const dead = await node({ nodeId: 'dead' });
    await dead.backend.presenceJoin('chat:a', 'd:1', { userId: 'alice' });
    await dead.backend.presenceJoin('chat:a', 'd:2', { userId: 'bob' });
    await dead.backend.presenceJoin('chat:b', 'd:3', { userId: 'bob' });
    const watcher = await node({ prefix: dead.prefix, nodeId: 'watcher' });
    await watcher.backend.presenceJoin('chat:a', 'w:1', { userId: 'bob' });
    await watcher.backend.watch('chat:a');
    await watcher.backend.watch('chat:b');
    await inspector.zadd(alive(dead.prefix), 0, 'dead');
    await node({ prefix: dead.prefix, nodeId: 'survivor' });
    await watcher.backend.caughtUp();
    expect(watcher.heard.channelSignals).toEqual(
      expect.arrayContaining([
        { ch: 'chat:a', signal: { kind: 'presence', joins: [], leaves: [{ userId: 'alice' }] } },
        { ch: 'chat:b', signal: { kind: 'presence', joins: [], leaves: [{ userId: 'bob' }] } },
      ]),
    );
    expect(watcher.heard.channelSignals).toHaveLength(2);
    expect(await watcher.backend.presenceList('chat:a')).toEqual([{ userId: 'bob' }]);
    expect(await watcher.backend.presenceList('chat:b')).toEqual([]);
    expect(await inspector.exists(`${dead.prefix}pn:dead`)).toBe(0);
    expect(await inspector.zscore(alive(dead.prefix), 'dead')).toBeNull();
  });

  it('reaps a dead node whose connection was shown for a user present elsewhere: announces once, as a join, the member of the one joined last of those left', async () => {
    const dead = await node({ nodeId: 'dead' });
    const watcher = await node({ prefix: dead.prefix, nodeId: 'watcher' });
    await watcher.backend.watch('chat:a');
    await dead.backend.presenceJoin('chat:a', 'd:0', { userId: 'carol', meta: { at: 'dead' } });
    for (const [{ backend }, ref, member] of [
      [watcher, 'w:1', { userId: 'alice', meta: { device: 'laptop' } }],
      [dead, 'd:1', { userId: 'alice', meta: { device: 'phone' } }],
      [dead, 'd:2', { userId: 'alice', meta: { device: 'tablet' } }],
      [dead, 'd:3', { userId: 'bob' }],
      [watcher, 'w:2', { userId: 'carol', meta: { at: 'watcher' } }],
    ] as const) {
      await backend.presenceJoin('chat:a', ref, member);
    }
    await watcher.backend.caughtUp();
    watcher.heard.channelSignals.length = 0;
    await inspector.zadd(alive(dead.prefix), 0, 'dead');
    await node({ prefix: dead.prefix, nodeId: 'survivor' });
    await watcher.backend.caughtUp();
    expect(watcher.heard.channelSignals).toEqual([{ ch: 'chat:a', signal: { kind: 'presence', joins: [{ userId: 'alice', meta: { device: 'laptop' } }], leaves: [{ userId: 'bob' }] } }]);
    expect(await watcher.backend.presenceList('chat:a')).toEqual(
      expect.arrayContaining([
        { userId: 'alice', meta: { device: 'laptop' } },
        { userId: 'carol', meta: { at: 'watcher' } },
      ]),
    );
    expect(await watcher.backend.presenceLeave('chat:a', 'w:1', 'alice')).toEqual({ outcome: 'left' });
  });

  /**
   * A node `dead` with `count` users present in `room:big`, and a survivor on its prefix; `afterScript` runs after
   * each script the survivor evaluates, with its result. `reap()` marks `dead` silent and lets the survivor beat.
   */
  async function largeDeadNode(count: number, afterScript: (result: unknown) => Promise<void>) {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const dead = await node({ nodeId: 'dead' });
    const users = Array.from({ length: count }, (_, i) => `u${i}`);
    for (let i = 0; i < users.length; i += 500) {
      await Promise.all(users.slice(i, i + 500).map((userId) => dead.backend.presenceJoin('room:big', `d:${userId}`, { userId })));
    }
    const survivor = await node({ prefix: dead.prefix, nodeId: 'survivor' });
    await survivor.backend.watch('room:big');
    const { command, beat } = survivor.backend as unknown as { command: Redis; beat(): Promise<unknown> };
    const evaluate = command.eval.bind(command) as (...args: unknown[]) => Promise<unknown>;
    vi.spyOn(command, 'eval').mockImplementation((async (...args: unknown[]) => {
      const result = await evaluate(...args);
      await afterScript(result);
      return result;
    }) as never);
    const reap = async () => {
      await inspector.zadd(alive(dead.prefix), 0, 'dead');
      await beat.call(survivor.backend);
    };
    return { dead, survivor, users, members: `${dead.prefix}pm:room:big`, reap };
  }

  it('reaps a dead node with thousands of members in bounded scripts, not in one that would stall Redis for every node', async () => {
    const left: number[] = [];
    const { dead, survivor, users, members, reap } = await largeDeadNode(3000, async () => void left.push(await inspector.hlen(members)));
    left.push(await inspector.hlen(members));
    await reap();
    expect(await inspector.zscore(alive(dead.prefix), 'dead'), 'the dead node reaped').toBeNull();
    expect(left.at(-1), 'every member of the dead node removed').toBe(0);
    const removedPerScript = left.slice(1).map((count, i) => left[i]! - count);
    expect(left[0]).toBe(users.length);
    expect(Math.max(...removedPerScript)).toBeLessThanOrEqual(1000);
    await survivor.backend.caughtUp();
    const leaves = survivor.heard.channelSignals.flatMap(({ signal }) => (signal.kind === 'presence' ? signal.leaves.map((member) => member.userId) : []));
    expect(leaves.sort()).toEqual([...users].sort());
    expect(await inspector.exists(`${dead.prefix}pn:dead`)).toBe(0);
  });

  it('stops reaping a large node that beats again between two steps: the members it still has are not taken from it', async () => {
    let steps = 0;
    const { dead, users, members, reap } = await largeDeadNode(2500, async (result) => {
      if (Array.isArray(result) && result[0] === 1 && ++steps === 1) {
        const [seconds] = (await inspector.time()).map(Number) as [number];
        await inspector.zadd(alive(dead.prefix), seconds * 1000, 'dead');
      }
    });
    await reap();
    expect(steps).toBe(1);
    expect(await inspector.hlen(members), 'the members after the first step kept').toBe(users.length - 1000);
    expect(await inspector.zscore(alive(dead.prefix), 'dead'), 'the node still alive').not.toBeNull();
  });

  it('takes a node for dead once it has been silent for longer than nodeTimeoutMs, not before', async () => {
    const first = await node();
    const [seconds, micros] = (await inspector.time()).map(Number) as [number, number];
    const now = seconds * 1000 + Math.floor(micros / 1000);
    await inspector.zadd(alive(first.prefix), now - NODE_TIMEOUT_MS / 2, 'quiet', now - NODE_TIMEOUT_MS * 1.5, 'gone');
    await node({ prefix: first.prefix });
    expect(await inspector.zscore(alive(first.prefix), 'quiet')).not.toBeNull();
    expect(await inspector.zscore(alive(first.prefix), 'gone')).toBeNull();
    expect(await inspector.exists(`${first.prefix}reaped:gone`)).toBe(1);
  });

  it('reaps a dead node once: a peer reaping it late, after it was reaped and joined again, leaves its new presence alone', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const paused = await node({ nodeId: 'late' });
    await paused.backend.presenceJoin('chat:a', 'l:1', { userId: 'alice' });
    await inspector.zadd(alive(paused.prefix), 0, 'late');
    await node({ prefix: paused.prefix, nodeId: 'survivor' });
    expect(await paused.backend.presenceList('chat:a')).toEqual([]);
    await paused.backend.presenceJoin('chat:a', 'l:2', { userId: 'alice' });
    const { prefix } = paused;
    const leaves = await reapScript.run(inspector, [alive(prefix), `${prefix}pn:late`, `${prefix}reaped:late`, 'late', prefix, 60_000]);
    expect(leaves).toEqual([]);
    expect(await paused.backend.presenceList('chat:a')).toEqual([{ userId: 'alice' }]);
  });

  it('asks its node to register its presence again when it finds it was reaped while it was still alive', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const paused = await node({ nodeId: 'paused' });
    await paused.backend.presenceJoin('chat:a', 'p:1', { userId: 'alice' });
    await inspector.zadd(alive(paused.prefix), 0, 'paused');
    await node({ prefix: paused.prefix, nodeId: 'survivor' });
    expect(await paused.backend.presenceList('chat:a')).toEqual([]);
    expect(paused.heard.recovered).toBe(0);
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    await eventually(() => paused.heard.recovered > 0, 3000, 'recovered()');
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    await commandsAnswered(paused.backend);
    expect(paused.heard.recovered, 'the next beat finds no mark').toBe(1);
    expect(paused.heard.reaped).toEqual([true]);
  });

  it('clears at start the presence an earlier process of its node id left when it crashed, announcing the leaves', async () => {
    const proxy = new FaultProxy({ host: '127.0.0.1', port: redis.port });
    try {
      const crashed = await node({ nodeId: 'ws-0', url: `redis://127.0.0.1:${await proxy.listen()}` });
      const watcher = await node({ prefix: crashed.prefix, nodeId: 'watcher' });
      await watcher.backend.watch('room:a');
      await crashed.backend.presenceJoin('room:a', 'ws-0:1', { userId: 'alice' });
      await watcher.backend.presenceJoin('room:a', 'watcher:1', { userId: 'bob' });
      proxy.mode = 'refuse';
      proxy.reset();
      await watcher.backend.caughtUp();
      watcher.heard.channelSignals.length = 0;
      await node({ prefix: crashed.prefix, nodeId: 'ws-0' });
      await watcher.backend.caughtUp();
      expect(await watcher.backend.presenceList('room:a')).toEqual([{ userId: 'bob' }]);
      expect(watcher.heard.channelSignals).toEqual([{ ch: 'room:a', signal: { kind: 'presence', joins: [], leaves: [{ userId: 'alice' }] } }]);
    } finally {
      await proxy.close();
    }
  });

  it('leaves the node set and its presence entries on close, and tells its node nothing more', async () => {
    const { backend, heard, prefix } = await node({ nodeId: 'leaving' });
    await backend.presenceJoin('chat:a', 'l:1', { userId: 'alice' });
    await backend.watch('chat:a');
    expect(await inspector.zscore(alive(prefix), 'leaving')).not.toBeNull();
    await backend.close();
    expect(await inspector.zscore(alive(prefix), 'leaving')).toBeNull();
    await eventually(async () => !String(await inspector.call('CLIENT', 'LIST')).includes('socketchart:leaving:'), 3000, 'its Redis connections closed');
    expect(await inspector.exists(`${prefix}pn:leaving`)).toBe(0);
    const other = await node({ prefix });
    await stored(other.backend, 'chat:a', message('1'));
    await other.backend.signalGlobal({ kind: 'logout', userId: 'alice', reason: 'x' });
    await other.backend.caughtUp();
    expect(heard.messages).toEqual([]);
    expect(heard.globalSignals).toEqual([]);
    await backend.close();
  });

  it('removes and announces on close the presence entries still listed under it, which no peer could reap any more', async () => {
    const leaving = await node({ nodeId: 'closing' });
    const survivor = await node({ prefix: leaving.prefix });
    await survivor.backend.watch('room:a');
    await leaving.backend.presenceJoin('room:a', 'closing:7', { userId: 'alice' });
    await survivor.backend.caughtUp();
    survivor.heard.channelSignals.length = 0;
    await leaving.backend.close();
    await survivor.backend.caughtUp();
    expect(await survivor.backend.presenceList('room:a')).toEqual([]);
    expect(survivor.heard.channelSignals).toEqual([{ ch: 'room:a', signal: { kind: 'presence', joins: [], leaves: [{ userId: 'alice' }] } }]);
  });

  it('announces on close, as a join, the member of a user’s connection on another node when its own was the one shown', async () => {
    const leaving = await node({ nodeId: 'closing' });
    const survivor = await node({ prefix: leaving.prefix });
    await survivor.backend.watch('room:a');
    await survivor.backend.presenceJoin('room:a', 'survivor:1', { userId: 'alice', meta: { device: 'laptop' } });
    await leaving.backend.presenceJoin('room:a', 'closing:7', { userId: 'alice', meta: { device: 'phone' } });
    await survivor.backend.caughtUp();
    survivor.heard.channelSignals.length = 0;
    await leaving.backend.close();
    await survivor.backend.caughtUp();
    expect(await survivor.backend.presenceList('room:a')).toEqual([{ userId: 'alice', meta: { device: 'laptop' } }]);
    expect(survivor.heard.channelSignals).toEqual([{ ch: 'room:a', signal: { kind: 'presence', joins: [{ userId: 'alice', meta: { device: 'laptop' } }], leaves: [] } }]);
  });

  it('reaps the presence of a dead node when the ioredis options carry their own keyPrefix', async () => {
    const prefix = freshPrefix();
    const dead = await node({ prefix, nodeId: 'dead', options: { keyPrefix: 'app:' } });
    await dead.backend.presenceJoin('room:a', 'd:1', { userId: 'alice' });
    expect(await dead.backend.presenceList('room:a')).toEqual([{ userId: 'alice' }]);
    await inspector.zadd(`app:${alive(prefix)}`, 0, 'dead');
    const survivor = await node({ prefix, options: { keyPrefix: 'app:' } });
    expect(await inspector.zscore(`app:${alive(prefix)}`, 'dead'), 'taken for dead').toBeNull();
    expect(await survivor.backend.presenceList('room:a'), 'its members reaped').toEqual([]);
  });

  it('refuses to start when Redis does not answer within connectTimeoutMs', async () => {
    const closed = new RedisBackend({
      redis: { url: 'redis://127.0.0.1:1', options: {}, keyPrefix: freshPrefix(), nodeHeartbeatMs: HEARTBEAT_MS, nodeTimeoutMs: NODE_TIMEOUT_MS, connectTimeoutMs: 300, commandTimeoutMs: 300 },
      nodeId: 'nowhere',
      retention: new RetentionRules([], { size: 10, maxBytes: 1000 }),
      historyTtlMs: 60_000,
      dedupWindowMs: 10_000,
      logger: silentLogger(),
    });
    await expect(closed.start(recorder().listener)).rejects.toThrow('Redis not reachable within 300 ms');
    expect(closed.isUp()).toBe(false);
    await closed.close();
  });

  it('refuses to start, naming the database and not the URL, when Redis has no database the URL names, rather than using database 0', async () => {
    const prefix = freshPrefix();
    const missing = new RedisBackend({
      redis: { url: `${redis.url}/99`, options: {}, keyPrefix: prefix, nodeHeartbeatMs: HEARTBEAT_MS, nodeTimeoutMs: NODE_TIMEOUT_MS, connectTimeoutMs: 3000, commandTimeoutMs: 1000 },
      nodeId: 'no-database',
      retention: new RetentionRules([], { size: 10, maxBytes: 1000 }),
      historyTtlMs: 60_000,
      dedupWindowMs: 10_000,
      logger: silentLogger(),
    });
    const failure = await missing.start(recorder().listener).then(() => undefined, (error: unknown) => error);
    await missing.close();
    expect(failure).toBeInstanceOf(InvalidOptionError);
    expect(failure).toMatchObject({ option: 'redis', received: 'database 99' });
    expect((failure as Error).message).not.toContain(redis.url);
    expect(await inspector.keys(`${prefix}*`), 'nothing written to database 0').toEqual([]);
  });

  it('says it is up once started, without asking its node to recover', async () => {
    const { heard } = await node();
    expect(heard.statuses).toEqual([true]);
    expect(heard.recovered).toBe(0);
  });

  it('tries a recovery that failed again with the next heartbeat', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const logs = captureLogger();
    const { backend, heard, prefix } = await node({ logger: logs.logger });
    await inspector.del(alive(prefix));
    await inspector.set(alive(prefix), 'not a sorted set');
    await inspector.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await eventually(() => logs.text().includes('redis recovery failed'), 5000, 'the recovery failed');
    expect(heard.statuses).toEqual([true, false, true]);
    expect(heard.recovered).toBe(0);
    await inspector.del(alive(prefix));
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    await eventually(() => heard.recovered > 0, 3000, 'recovered()');
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    await commandsAnswered(backend);
    expect(heard.recovered).toBe(1);
  });

  it('reports Redis down and reconnects when its commands go unanswered while it tries again a recovery that failed', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const logs = captureLogger();
    const proxy = roleProxy(redis.port);
    try {
      const { backend, heard, prefix } = await node({ url: `redis://127.0.0.1:${await proxy.listen()}`, logger: logs.logger, commandTimeoutMs: 200 });
      await inspector.del(alive(prefix));
      await inspector.set(alive(prefix), 'not a sorted set');
      await inspector.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await eventually(() => logs.text().includes('redis recovery failed'), 5000, 'the recovery failed');
      await inspector.del(alive(prefix));
      proxy.setLag('cmd', 5000); // commands go unanswered; pub/sub still answers
      const failures = () => logs.text().split('redis recovery failed').length - 1;
      for (let beat = 1; beat <= 2; beat++) {
        const before = failures();
        await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
        await eventually(() => failures() > before, 3000, `the recovery of heartbeat ${beat} timed out`);
      }
      await eventually(() => logs.text().includes('redis not answering'), 3000, 'taken for lost');
      expect(heard.statuses.at(-1), 'reported down').toBe(false);
      expect(backend.isUp()).toBe(false);
    } finally {
      proxy.close();
    }
  });

  it('reports Redis down while it answers but refuses writes (a replica after a failover), and up again once a heartbeat is written', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { backend, heard } = await node();
    expect(backend.isUp()).toBe(true);
    try {
      await inspector.call('REPLICAOF', '127.0.0.1', String(await freePort()));
      await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
      await eventually(() => heard.statuses.at(-1) === false, 3000, 'reported down');
      expect(backend.isUp()).toBe(false);
    } finally {
      await inspector.call('REPLICAOF', 'NO', 'ONE');
    }
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    await eventually(() => heard.statuses.at(-1) === true, 3000, 'reported up again');
    expect(backend.isUp()).toBe(true);
  });

  it('reports Redis up again once a recovery from a lost connection has written a heartbeat where writes were refused before', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { backend, heard } = await node();
    try {
      await inspector.call('REPLICAOF', '127.0.0.1', String(await freePort()));
      await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
      await eventually(() => heard.statuses.at(-1) === false, 3000, 'reported down');
    } finally {
      await inspector.call('REPLICAOF', 'NO', 'ONE');
    }
    await inspector.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await eventually(() => heard.recovered > 0, 5000, 'recovered()');
    await commandsAnswered(backend);
    expect([backend.isUp(), heard.statuses.at(-1)]).toEqual([true, true]);
  });

  it('does not take a heartbeat cut by a lost connection for a refusal: back once the connection is', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const logs = captureLogger();
    const proxy = roleProxy(redis.port);
    try {
      const { backend, heard } = await node({ url: `redis://127.0.0.1:${await proxy.listen()}`, logger: logs.logger, commandTimeoutMs: 3000 });
      proxy.setLag('cmd', 300);
      proxy.setLag('sub', 1500);
      await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
      proxy.block('cmd');
      await eventually(() => heard.statuses.at(-1) === false, 3000, 'reported down');
      proxy.setLag('cmd', 0);
      proxy.allow('cmd');
      await eventually(() => heard.recovered > 0, 8000, 'recovered()');
      await commandsAnswered(backend);
      expect([backend.isUp(), heard.statuses.at(-1)]).toEqual([true, true]);
      expect(logs.text()).not.toContain('refuses');
    } finally {
      proxy.close();
    }
  });

  it('asks its node once to recover when a heartbeat finds Redis lost its data while the connection stayed up (FLUSHDB)', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { backend, heard } = await node({ nodeId: 'flushed' });
    await backend.presenceJoin('chat:a', 'f:1', { userId: 'alice' });
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    await commandsAnswered(backend);
    expect(heard.recovered).toBe(0);
    await inspector.flushdb();
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    await eventually(() => heard.recovered > 0, 3000, 'recovered()');
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    await commandsAnswered(backend);
    expect(heard.reaped, 'once, not reaped').toEqual([false]);
    expect(backend.isUp()).toBe(true);
  });

  it('asks its node once to recover when it finds, back from an outage, that it was reaped meanwhile', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { backend, heard, prefix } = await node({ nodeId: 'away' });
    await inspector.zadd(alive(prefix), 0, 'away');
    await node({ prefix, nodeId: 'survivor' });
    expect(await inspector.exists(`${prefix}reaped:away`)).toBe(1);
    await inspector.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await eventually(() => heard.recovered > 0, 5000, 'recovered()');
    await commandsAnswered(backend);
    expect(await inspector.exists(`${prefix}reaped:away`)).toBe(0);
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    await commandsAnswered(backend);
    expect(heard.reaped).toEqual([true]);
  });

  it('tells its node it was reaped when a heartbeat finds the mark while its subscriber connection is still coming back', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const proxy = roleProxy(redis.port);
    try {
      const { backend, heard, prefix } = await node({ url: `redis://127.0.0.1:${await proxy.listen()}`, nodeId: 'away' });
      proxy.block('sub');
      await eventually(() => heard.statuses.at(-1) === false, 3000, 'reported down');
      await inspector.zadd(alive(prefix), 0, 'away');
      await node({ prefix, nodeId: 'survivor' });
      expect(await inspector.exists(`${prefix}reaped:away`)).toBe(1);
      await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
      await backend.repeatOf('-');
      proxy.allow('sub');
      await eventually(() => heard.recovered > 0, 8000, 'recovered()');
      await commandsAnswered(backend);
      expect(heard.reaped).toEqual([true]);
      expect(await inspector.exists(`${prefix}reaped:away`)).toBe(0);
    } finally {
      proxy.close();
    }
  });

  it('says Redis went away and came back, asks its node once to recover, and fans out again', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { backend, heard } = await node();
    await backend.watch('chat:a');
    expect(backend.isUp()).toBe(true);
    await redis.kill();
    await eventually(() => heard.statuses.includes(false), 5000, 'status(false)');
    expect(backend.isUp()).toBe(false);
    await expect(backend.append('chat:a', message('1'))).rejects.toThrow();
    expect(heard.recovered, 'not before Redis is back').toBe(0);
    await redis.restart();
    await eventually(() => heard.recovered > 0, 8000, 'recovered()');
    expect(heard.statuses.at(-1)).toBe(true);
    const seq = await stored(backend, 'chat:a', message('"back"'));
    await backend.caughtUp();
    expect(heard.messages.map(({ message }) => message.seq)).toEqual([seq]);
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    await commandsAnswered(backend);
    expect(heard.reaped, 'once, not reaped').toEqual([false]);
  });
});
