import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BackendListener } from '../../../src/server/backend/types.js';
import { MemoryBackend } from '../../../src/server/backend/memory.js';
import { LimitTable } from '../../../src/server/limit-table.js';
import { RetentionRules } from '../../../src/server/retention.js';

const DEDUP_WINDOW_MS = 10_000;
const HISTORY_TTL_MS = 30_000;

/** A started memory backend on the fake clock, and what it told its listener. */
async function started(maxDedupEntries?: number) {
  const backend = new MemoryBackend({
    retention: new RetentionRules([], { size: 100, maxBytes: 100_000 }),
    historyMaxBytes: 1_000_000,
    historyTtlMs: HISTORY_TTL_MS,
    dedupWindowMs: DEDUP_WINDOW_MS,
    ...(maxDedupEntries === undefined ? {} : { maxDedupEntries }),
    buckets: new LimitTable(Date, 100),
  });
  const statuses: boolean[] = [];
  const listener: BackendListener = { message: () => undefined, channelSignal: () => undefined, globalSignal: () => undefined, recovered: () => undefined, status: (up) => statuses.push(up) };
  await backend.start(listener);
  const publish = async (dedupKey: string) => backend.append('chat:a', { dataJson: '1', ts: Date.now(), id: dedupKey, dedupKey });
  return { backend, statuses, publish };
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
    expect(await backend.presenceLeave('chat:a', 'n:2', 'alice')).toBe(false);
    expect(await backend.presenceLeave('chat:b', 'n:1', 'alice')).toBe(false);
    expect(await backend.presenceLeave('chat:a', 'n:9', 'carol')).toBe(false);
    expect(await backend.presenceLeave('chat:a', 'n:1', 'alice')).toBe(true);
    expect(backend.sizes()).toMatchObject({ presenceChannels: 0, presenceMembers: 0 });
  });

  it('keeps a channel while another member is on it', async () => {
    const { backend } = await started();
    await backend.presenceJoin('chat:a', 'n:1', { userId: 'alice' });
    await backend.presenceJoin('chat:a', 'n:2', { userId: 'bob' });
    await backend.presenceLeave('chat:a', 'n:1', 'alice');
    expect(backend.sizes()).toMatchObject({ presenceChannels: 1, presenceMembers: 1 });
  });
});

it('says it is down on close, and leaves no timer', async () => {
  const { backend, statuses } = await started();
  expect(vi.getTimerCount()).toBe(1);
  await backend.close();
  expect(statuses).toEqual([true, false]);
  expect(vi.getTimerCount()).toBe(0);
});
