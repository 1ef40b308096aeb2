import { pino } from 'pino';
import { afterEach, expect, it, vi } from 'vitest';
import { createNodeParts } from '../../../src/server/node-parts.js';
import { resolveOptions } from '../../../src/server/options.js';

const HOUR = 3_600_000;
const alice = { kind: 'user', id: 'alice' } as const;

afterEach(() => {
  vi.useRealTimers();
});

/** A node's rate limits on their default clock, as `createServer` builds them: `default` grants one frame a second, three at once. */
function defaultClockLimits() {
  vi.useFakeTimers({ toFake: ['Date', 'performance'] });
  const { limits } = createNodeParts(resolveOptions({ port: 0, logger: pino({ level: 'silent' }), auth: { verify: async (token) => ({ userId: token }) }, rateLimits: { default: { perMinute: 60, burst: 3 } } }));
  const connection = limits.newConnection();
  return { take: () => limits.take(connection, alice, 'default') };
}

/** The wall clock is corrected back an hour (an NTP step, a VM resumed), then `ms` pass. */
function stepBackAnHourThenWait(ms: number): void {
  vi.setSystemTime(Date.now() - HOUR);
  vi.advanceTimersByTime(ms);
}

it('holds a refused scope for its retry_after only, though the wall clock is stepped back an hour meanwhile', () => {
  const { take } = defaultClockLimits();
  expect([take().ok, take().ok, take().ok, take()]).toMatchObject([true, true, true, { ok: false, retryAfterMs: 1000 }]);
  stepBackAnHourThenWait(1000);
  expect(take().ok).toBe(true);
});

it('refills a drained scope with the time that passes after the wall clock is stepped back', () => {
  const { take } = defaultClockLimits();
  expect([take().ok, take().ok, take().ok]).toEqual([true, true, true]);
  stepBackAnHourThenWait(3000);
  expect([take().ok, take().ok, take().ok]).toEqual([true, true, true]);
});

it('tells reset_at in wall clock ms after the wall clock is stepped back', () => {
  const { take } = defaultClockLimits();
  stepBackAnHourThenWait(0);
  const verdict = take();
  expect(verdict.ok && verdict.announce?.reset_at).toBe(Date.now() + 1000);
});

it('forgets a publish id once its dedup window has passed, though the wall clock is stepped back an hour meanwhile', async () => {
  vi.useFakeTimers({ toFake: ['Date', 'performance'] });
  const { backend } = createNodeParts(resolveOptions({ port: 0, logger: pino({ level: 'silent' }), auth: { verify: async (token) => ({ userId: token }) }, dedupWindowMs: 10_000 }));
  const publish = (dedupKey: string) => backend.append('chat:a', { dataJson: '1', ts: Date.now(), id: dedupKey, dedupKey });
  await publish('before');
  vi.setSystemTime(Date.now() - HOUR);
  await publish('k');
  vi.advanceTimersByTime(10_000);
  expect(await backend.repeatOf('k')).toBeUndefined();
  expect(await publish('k')).toMatchObject({ outcome: 'stored', duplicate: false });
  expect(backend.sizes().dedupIds).toBe(1);
});

it('answers a repeat within the dedup window as a duplicate, though the wall clock is stepped forward an hour meanwhile', async () => {
  vi.useFakeTimers({ toFake: ['Date', 'performance'] });
  const { backend } = createNodeParts(resolveOptions({ port: 0, logger: pino({ level: 'silent' }), auth: { verify: async (token) => ({ userId: token }) }, dedupWindowMs: 10_000 }));
  const publish = () => backend.append('chat:a', { dataJson: '1', ts: Date.now(), id: 'k', dedupKey: 'k' });
  const first = await publish();
  vi.setSystemTime(Date.now() + HOUR);
  vi.advanceTimersByTime(1000);
  expect(await publish()).toEqual({ ...first, duplicate: true });
});

it('its periodic sweep forgets publish ids past their dedup window, though the wall clock is stepped back an hour meanwhile', async () => {
  vi.useFakeTimers({ toFake: ['Date', 'performance', 'setInterval', 'clearInterval'] });
  const { backend } = createNodeParts(resolveOptions({ port: 0, logger: pino({ level: 'silent' }), auth: { verify: async (token) => ({ userId: token }) }, dedupWindowMs: 10_000, historyTtlMs: 6_000 }));
  await backend.start({ message: () => undefined, channelSignal: () => undefined, globalSignal: () => undefined, recovered: () => undefined, status: () => undefined });
  const publish = (dedupKey: string) => backend.append('chat:a', { dataJson: '1', ts: Date.now(), id: dedupKey, dedupKey });
  await publish('old');
  vi.advanceTimersByTime(5_000);
  await publish('recent');
  vi.setSystemTime(Date.now() - HOUR);
  vi.advanceTimersByTime(7_000);
  expect(backend.sizes().dedupIds, 'the old id forgotten, the recent one kept').toBe(1);
  await backend.close();
});
