import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { BacklogWatch, type BacklogState } from '../../../src/server/backlog-watch.js';
import type { ManualClock } from '../../support/server-connection.js';

/** A watch over a backlog the spec sets, with a stall time of 100 ms; `stalls` counts the verdicts. */
function watch() {
  const backlog: BacklogState = { waiting: true, buffered: 1_000 };
  let stalls = 0;
  const watcher = new BacklogWatch(() => backlog, 100, () => stalls++, { now: () => performance.now() });
  /** Looks every `LOOK_MS` until `ms` have passed. */
  const look = async (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const next = watcher.next();
      await vi.advanceTimersToNextTimerAsync();
      await next;
    }
  };
  return { backlog, watcher, look, stalls: () => stalls };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

it('answers every replay waiting at once with one look', async () => {
  const { watcher } = watch();
  const first = watcher.next();
  expect(watcher.next()).toBe(first);
  expect(vi.getTimerCount()).toBe(1);
  await vi.advanceTimersToNextTimerAsync();
  await first;
  expect(watcher.next()).not.toBe(first);
});

it('judges a backlog stalled once it has not shrunk for the stall time, counted from the first look that saw it', async () => {
  const { look, stalls } = watch();
  await look(100);
  expect(stalls(), 'the first look starts the count; 90 ms later it has not run out').toBe(0);
  await look(10);
  expect(stalls()).toBe(1);
});

it('starts the count again each time the backlog shrinks', async () => {
  const { backlog, look, stalls } = watch();
  await look(60);
  backlog.buffered = 999;
  await look(60);
  expect(stalls()).toBe(0);
  await look(50);
  expect(stalls()).toBe(1);
});

it('does not take a backlog of the same size, or a larger one, for progress', async () => {
  const { backlog, look, stalls } = watch();
  await look(50);
  backlog.buffered = 5_000;
  await look(60);
  expect(stalls()).toBe(1);
});

it('forgets the count when nothing waits, and starts it again from the next look that waits', async () => {
  const { backlog, look, stalls } = watch();
  await look(80);
  backlog.waiting = false;
  await look(100);
  expect(stalls(), 'nothing waits: no verdict').toBe(0);
  backlog.waiting = true;
  await look(100);
  expect(stalls()).toBe(0);
  await look(10);
  expect(stalls()).toBe(1);
});

it('times the stall by the clock it is given, not by the wall clock', async () => {
  const backlog: BacklogState = { waiting: true, buffered: 1_000 };
  let stalls = 0;
  const clock: ManualClock = { time: 0, now: () => clock.time };
  const watcher = new BacklogWatch(() => backlog, 100, () => stalls++, clock);
  /** One look, the given clock reading `time` when it is taken. */
  const lookOnce = async (time = clock.time) => {
    const next = watcher.next();
    clock.time = time;
    await vi.advanceTimersToNextTimerAsync();
    await next;
  };
  for (let i = 0; i < 30; i++) await lookOnce();
  expect(stalls, 'the wall clock ran 300 ms; the given clock stood still').toBe(0);
  await lookOnce(99);
  expect(stalls).toBe(0);
  await lookOnce(100);
  expect(stalls).toBe(1);
});

it('starts the count again for a replay that waits after the earlier ones stopped waiting, though the backlog did not shrink', async () => {
  const backlog: BacklogState = { waiting: true, buffered: 1_000 };
  let stalls = 0;
  const clock: ManualClock = { time: 0, now: () => clock.time };
  const watcher = new BacklogWatch(() => backlog, 100, () => stalls++, clock);
  const lookOnce = async () => {
    const next = watcher.next();
    clock.time += 10;
    await vi.advanceTimersToNextTimerAsync();
    await next;
  };
  for (let i = 0; i < 5; i++) await lookOnce();
  clock.time += 500;
  await lookOnce();
  expect(stalls, 'nothing waited for those 500 ms').toBe(0);
  for (let i = 0; i < 9; i++) await lookOnce();
  expect(stalls).toBe(0);
  await lookOnce();
  expect(stalls).toBe(1);
});

it('looks again within 10 ms of a replay asking, so a backlog that drained lets its replays go on at once', async () => {
  const { watcher } = watch();
  let looked = false;
  void watcher.next().then(() => (looked = true));
  await vi.advanceTimersByTimeAsync(10);
  expect(looked).toBe(true);
});
