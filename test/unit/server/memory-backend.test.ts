import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BackendListener, ChannelSignal } from '../../../src/server/backend/types.js';
import { MemoryBackend } from '../../../src/server/backend/memory.js';
import { LimitTable } from '../../../src/server/limit-table.js';
import { RetentionRules } from '../../../src/server/retention.js';

const DEDUP_WINDOW_MS = 10_000;
const HISTORY_TTL_MS = 30_000;

/** A started memory backend on the fake clock, and what it told its listener. */
async function started(maxDedupEntries?: number, historyMaxBytes = 1_000_000, clock: { now(): number } = Date) {
  const backend = new MemoryBackend({
    retention: new RetentionRules([], { size: 100, maxBytes: 100_000 }),
    historyMaxBytes,
    historyTtlMs: HISTORY_TTL_MS,
    dedupWindowMs: DEDUP_WINDOW_MS,
    clock,
    ...(maxDedupEntries === undefined ? {} : { maxDedupEntries }),
    buckets: new LimitTable(Date, 100),
  });
  const statuses: boolean[] = [];
  const signals: { ch: string; signal: ChannelSignal }[] = [];
  const listener: BackendListener = {
    message: () => undefined,
    channelSignal: (ch, signal) => signals.push({ ch, signal }),
    globalSignal: () => undefined,
    recovered: () => undefined,
    status: (up) => statuses.push(up),
  };
  await backend.start(listener);
  const publish = async (dedupKey: string) => backend.append('chat:a', { dataJson: '1', ts: Date.now(), id: dedupKey, dedupKey });
  return { backend, statuses, signals, publish };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('MemoryBackend: publish ids', () => {
  it('answers a repeat of an id within dedupWindowMs as a duplicate of its first number, and stores it anew from then on', async () => {
    const { backend, publish } = await started();
    const first = await publish('k');
    vi.setSystemTime(1_000_000 + DEDUP_WINDOW_MS - 1);
    expect(await publish('k')).toEqual({ outcome: 'stored', seq: first.outcome === 'stored' ? first.seq : -1, duplicate: true });
    expect(await backend.repeatOf('k')).toBe(first.outcome === 'stored' ? first.seq : -1);
    vi.setSystemTime(1_000_000 + DEDUP_WINDOW_MS);
    expect(await backend.repeatOf('k')).toBeUndefined();
    expect(await publish('k')).toMatchObject({ outcome: 'stored', duplicate: false });
  });

  it('remembers at most maxDedupEntries ids, forgetting the oldest first', async () => {
    const { publish } = await started(2);
    for (const key of ['a', 'b', 'c']) await publish(key);
    expect(await publish('a')).toMatchObject({ duplicate: false });
    expect(await publish('c')).toMatchObject({ duplicate: true });
  });

  it('forgets ids and idle history on its own once their time has passed, with no publish to prompt it', async () => {
    const { backend, publish } = await started();
    await publish('k');
    expect(backend.sizes()).toMatchObject({ dedupIds: 1, retainedMessages: 1 });
    await vi.advanceTimersByTimeAsync(2 * HISTORY_TTL_MS);
    expect(backend.sizes()).toMatchObject({ dedupIds: 0, retainedMessages: 0 });
  });

  it('forgets an expired id within historyTtlMs when that is shorter than a minute, with no publish to prompt it', async () => {
    const { backend, publish } = await started();
    await publish('k');
    await vi.advanceTimersByTimeAsync(HISTORY_TTL_MS);
    expect(backend.sizes()).toMatchObject({ dedupIds: 0 });
  });

  it('answers a repeat of an id as a duplicate though its bucket is spent', async () => {
    const { backend } = await started();
    const charged = { dataJson: '1', ts: Date.now(), id: 'k', dedupKey: 'k', charge: { key: 'alice', limit: { perMinute: 60, burst: 1 } } };
    const first = await backend.append('chat:a', charged);
    expect(await backend.append('chat:a', { ...charged, dedupKey: 'other' })).toMatchObject({ outcome: 'refused' });
    expect(await backend.append('chat:a', charged)).toEqual({ ...first, duplicate: true });
  });
});

describe('MemoryBackend: watches and presence', () => {
  it('keeps a channel watched until each of its watches is unwatched, and its history past historyTtlMs meanwhile', async () => {
    const { backend, publish } = await started();
    await backend.watch('chat:a');
    await backend.watch('chat:a');
    await publish('k');
    backend.unwatch('chat:a');
    expect(backend.sizes()).toMatchObject({ watchedChannels: 1 });
    await vi.advanceTimersByTimeAsync(2 * HISTORY_TTL_MS);
    expect((await backend.read('chat:a', 0, 10)).entries).toHaveLength(1);
    backend.unwatch('chat:a');
    expect(backend.sizes()).toMatchObject({ watchedChannels: 0 });
  });

  it('updates the meta only of a connection that joined, telling a change only when the meta shown changed, and forgets a channel once its last member leaves', async () => {
    const { backend } = await started();
    await backend.presenceJoin('chat:a', 'n:1', { userId: 'alice', meta: { v: 1 } });
    expect(await backend.presenceUpdate('chat:a', 'n:2', { userId: 'alice', meta: { v: 2 } })).toBe(false);
    expect(await backend.presenceList('chat:a')).toEqual([{ userId: 'alice', meta: { v: 1 } }]);
    expect(await backend.presenceUpdate('chat:a', 'n:1', { userId: 'alice', meta: { v: 1 } })).toBe(false);
    expect(await backend.presenceLeave('chat:a', 'n:2', 'alice')).toEqual({ outcome: 'none' });
    expect(await backend.presenceLeave('chat:b', 'n:1', 'alice')).toEqual({ outcome: 'none' });
    expect(await backend.presenceLeave('chat:a', 'n:9', 'carol')).toEqual({ outcome: 'none' });
    expect(await backend.presenceLeave('chat:a', 'n:1', 'alice')).toEqual({ outcome: 'left' });
    expect(backend.sizes()).toMatchObject({ presenceChannels: 0, presenceMembers: 0 });
  });

  it('shows, once the connection shown leaves, the member of the one joined or joined again last of those left, telling it only when its meta differs', async () => {
    const { backend } = await started();
    for (const [ref, v] of [['n:1', 1], ['n:2', 2], ['n:3', 3], ['n:4', 3]] as const) await backend.presenceJoin('chat:a', ref, { userId: 'alice', meta: { v } });
    expect(await backend.presenceUpdate('chat:a', 'n:2', { userId: 'alice', meta: { v: 2 } })).toBe(true);
    expect(await backend.presenceLeave('chat:a', 'n:2', 'alice')).toEqual({ outcome: 'shown', member: { userId: 'alice', meta: { v: 3 } } });
    expect(await backend.presenceList('chat:a')).toEqual([{ userId: 'alice', meta: { v: 3 } }]);
    expect(await backend.presenceLeave('chat:a', 'n:4', 'alice'), 'the one left last has the same meta').toEqual({ outcome: 'none' });
    expect(await backend.presenceLeave('chat:a', 'n:1', 'alice'), 'not the one shown').toEqual({ outcome: 'none' });
    expect(await backend.presenceList('chat:a')).toEqual([{ userId: 'alice', meta: { v: 3 } }]);
    expect(await backend.presenceLeave('chat:a', 'n:3', 'alice')).toEqual({ outcome: 'left' });
  });

  it('keeps the numbering and history of a channel watched past historyTtlMs for historyTtlMs after its last watch goes', async () => {
    const { backend, publish } = await started();
    await backend.watch('chat:a');
    await publish('k');
    const before = await backend.read('chat:a', 0, 10);
    await vi.advanceTimersByTimeAsync(2 * HISTORY_TTL_MS);
    backend.unwatch('chat:a');
    await vi.advanceTimersByTimeAsync(HISTORY_TTL_MS);
    expect(await backend.read('chat:a', 0, 10)).toEqual(before);
    await vi.advanceTimersByTimeAsync(2 * HISTORY_TTL_MS);
    expect((await backend.read('chat:a', 0, 10)).entries).toEqual([]);
  });

  it('keeps idle history for historyTtlMs of the node clock, however far the wall clock is stepped forward', async () => {
    let stepped = 0;
    const { backend, publish } = await started(undefined, undefined, { now: () => Date.now() - stepped });
    await publish('k');
    await vi.advanceTimersByTimeAsync(HISTORY_TTL_MS / 2);
    stepped += 3_600_000;
    vi.setSystemTime(Date.now() + 3_600_000);
    await vi.advanceTimersByTimeAsync(HISTORY_TTL_MS / 2);
    expect((await backend.read('chat:a', 0, 10)).entries).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2 * HISTORY_TTL_MS);
    expect(backend.sizes()).toMatchObject({ historyChannels: 0, retainedMessages: 0 });
  });

  it('forgets idle history published to after the wall clock was stepped forward, historyTtlMs of the node clock later', async () => {
    let stepped = 0;
    const { backend, publish } = await started(undefined, undefined, { now: () => Date.now() - stepped });
    stepped += 3_600_000;
    vi.setSystemTime(Date.now() + 3_600_000);
    await publish('k');
    await vi.advanceTimersByTimeAsync(2 * HISTORY_TTL_MS);
    expect(backend.sizes()).toMatchObject({ historyChannels: 0, retainedMessages: 0 });
  });

  it('forgets idle history after historyTtlMs of the node clock, though the wall clock was stepped back', async () => {
    let stepped = 0;
    const { backend, publish } = await started(undefined, undefined, { now: () => Date.now() - stepped });
    await publish('k');
    stepped -= 3_600_000;
    vi.setSystemTime(Date.now() - 3_600_000);
    await vi.advanceTimersByTimeAsync(2 * HISTORY_TTL_MS);
    expect(backend.sizes()).toMatchObject({ historyChannels: 0, retainedMessages: 0 });
  });

  it('forgets a channel without messages once its last watch goes, when watched channels kept the history past its bound', async () => {
    const { backend } = await started(undefined, 800);
    for (const ch of ['chat:a', 'chat:b']) {
      await backend.watch(ch);
      await backend.read(ch, 0, 10);
    }
    expect(backend.sizes()).toMatchObject({ historyChannels: 2 });
    backend.unwatch('chat:a');
    expect(backend.sizes()).toMatchObject({ historyChannels: 1 });
  });

  it('takes a connection joining again for no new join, and keeps its meta', async () => {
    const { backend } = await started();
    expect(await backend.presenceJoin('chat:a', 'n:1', { userId: 'alice', meta: { v: 1 } })).toBe(true);
    expect(await backend.presenceJoin('chat:a', 'n:1', { userId: 'alice', meta: { v: 2 } })).toBe(false);
    expect(await backend.presenceList('chat:a')).toEqual([{ userId: 'alice', meta: { v: 1 } }]);
  });

  it('announces no join for another connection of a user present with the same meta, and a join when its meta differs', async () => {
    const { backend } = await started();
    await backend.presenceJoin('chat:a', 'n:1', { userId: 'alice', meta: { v: 1 } });
    expect(await backend.presenceJoin('chat:a', 'n:2', { userId: 'alice', meta: { v: 1 } })).toBe(false);
    expect(await backend.presenceJoin('chat:a', 'n:3', { userId: 'alice', meta: { v: 2 } })).toBe(true);
    expect(await backend.presenceList('chat:a')).toEqual([{ userId: 'alice', meta: { v: 2 } }]);
  });

  it('announces each change of the member shown to its listener as it makes it, before answering, in the order the changes were made', async () => {
    const { backend, signals } = await started();
    const presence = (joins: unknown[], leaves: unknown[] = []) => ({ ch: 'chat:a', signal: { kind: 'presence', joins, leaves } });
    const calls = [
      backend.presenceJoin('chat:a', 'n:1', { userId: 'alice', meta: { v: 1 } }),
      backend.presenceJoin('chat:a', 'n:2', { userId: 'alice', meta: { v: 1 } }),
      backend.presenceJoin('chat:a', 'n:3', { userId: 'alice', meta: { v: 2 } }),
      backend.presenceUpdate('chat:a', 'n:1', { userId: 'alice', meta: { v: 3 } }),
      backend.presenceLeave('chat:a', 'n:1', 'alice'),
      backend.presenceLeave('chat:a', 'n:2', 'alice'),
      backend.presenceLeave('chat:a', 'n:3', 'alice'),
    ];
    expect(signals, 'told synchronously').toEqual([
      presence([{ userId: 'alice', meta: { v: 1 } }]),
      presence([{ userId: 'alice', meta: { v: 2 } }]),
      presence([{ userId: 'alice', meta: { v: 3 } }]),
      presence([{ userId: 'alice', meta: { v: 2 } }]),
      presence([], [{ userId: 'alice' }]),
    ]);
    await Promise.all(calls);
  });

  it('keeps a channel while another member is on it', async () => {
    const { backend } = await started();
    await backend.presenceJoin('chat:a', 'n:1', { userId: 'alice' });
    await backend.presenceJoin('chat:a', 'n:2', { userId: 'bob' });
    await backend.presenceLeave('chat:a', 'n:1', 'alice');
    expect(backend.sizes()).toMatchObject({ presenceChannels: 1, presenceMembers: 1 });
  });
});

describe('MemoryBackend: typing', () => {
  it('counts a user typing on a channel while any connection of theirs types, each until it stops, and forgets the user once none does', async () => {
    const { backend } = await started();
    await backend.typingStart('chat:a', 'alice', 'n:1', 6000);
    await backend.typingStart('chat:a', 'bob', 'n:3', 6000);
    vi.setSystemTime(1_000_000 + 1000);
    await backend.typingStart('chat:a', 'alice', 'n:2', 6000);
    expect(await backend.typingStop('chat:a', 'alice', 'n:1')).toEqual({ removed: 1, untilMs: 6000 });
    expect(await backend.typingStop('chat:b', 'alice', 'n:2')).toEqual({ removed: 0, untilMs: 0 });
    expect(await backend.typingStop('chat:a', 'alice', 'n:2')).toEqual({ removed: 1, untilMs: 0 });
    expect(await backend.typingStop('chat:a', 'alice', 'n:2')).toEqual({ removed: 0, untilMs: 0 });
    expect(backend.sizes()).toMatchObject({ typingUsers: 1 });
  });

  it('forgets a connection typing once its time is up without a refresh, as when its node is gone, and a refresh pushes its time back', async () => {
    const { backend } = await started();
    await backend.typingStart('chat:a', 'alice', 'gone:1', 6000);
    vi.setSystemTime(1_000_000 + 3000);
    await backend.typingStart('chat:a', 'alice', 'here:1', 6000);
    vi.setSystemTime(1_000_000 + 5000);
    await backend.typingStart('chat:a', 'alice', 'here:1', 6000);
    expect(await backend.typingStop('chat:a', 'alice')).toEqual({ removed: 0, untilMs: 6000 });
    vi.setSystemTime(1_000_000 + 6000);
    expect(await backend.typingStop('chat:a', 'alice')).toEqual({ removed: 1, untilMs: 5000 });
    vi.setSystemTime(1_000_000 + 11_000);
    expect(await backend.typingStop('chat:a', 'alice')).toEqual({ removed: 1, untilMs: 0 });
    expect(backend.sizes()).toMatchObject({ typingUsers: 0 });
  });
});

it('says it is down on close, and leaves no timer', async () => {
  const { backend, statuses } = await started();
  expect(vi.getTimerCount()).toBe(1);
  await backend.close();
  expect(statuses).toEqual([true, false]);
  expect(vi.getTimerCount()).toBe(0);
});
