import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, systemClock, withinTimerRange } from '../../../src/environment/clock.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('systemClock', () => {
  it('a delay longer than host timers keep (30 days) waits their longest instead of firing at once', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    systemClock.setTimeout(fired, 30 * 24 * 3600_000);
    vi.advanceTimersByTime(1_000);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(MAX_TIMER_MS - 1_000);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('hands the host no delay above 2^31 - 1 ms', () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    const handle = systemClock.setTimeout(() => {}, 2 ** 40);
    systemClock.clearTimeout(handle);
    expect(spy.mock.calls[0]![1]).toBe(2 ** 31 - 1);
    spy.mockRestore();
  });

  it('shorter delays are kept as they are', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    systemClock.setTimeout(fired, 1_500);
    vi.advanceTimersByTime(1_499);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('clearTimeout cancels a timer before it fires', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    const handle = systemClock.setTimeout(fired, 1_000);
    systemClock.clearTimeout(handle);
    vi.advanceTimersByTime(2_000);
    expect(fired).not.toHaveBeenCalled();
  });

  it('now() is the wall clock time in ms since the epoch', () => {
    vi.useFakeTimers({ now: Date.UTC(2030, 0, 1) });
    expect(systemClock.now()).toBe(Date.UTC(2030, 0, 1));
    vi.advanceTimersByTime(1_500);
    expect(systemClock.now()).toBe(Date.UTC(2030, 0, 1) + 1_500);
  });
});

describe('withinTimerRange', () => {
  const machine = { implementations: { delays: { fixed: 1_000, computed: ({ ms }: { ms: number }) => ms, replaced: 5 } } };

  it("keeps a machine's own delays, fixed or computed, and lets the given ones replace them by name", () => {
    const delays = withinTimerRange(machine, { replaced: ({ ms }: { ms: number }) => ms * 2, added: 7 });
    expect(Object.keys(delays).sort()).toEqual(['added', 'computed', 'fixed', 'replaced']);
    expect([delays.fixed!({ ms: 3 }), delays.computed!({ ms: 3 }), delays.replaced!({ ms: 3 }), delays.added!({ ms: 3 })]).toEqual([1_000, 3, 6, 7]);
  });

  it('shortens every delay, fixed or computed, to the longest a host timer keeps', () => {
    const delays = withinTimerRange(machine, { fixed: 2 ** 40 });
    expect([delays.fixed!({ ms: 0 }), delays.computed!({ ms: 2 ** 35 }), delays.computed!({ ms: MAX_TIMER_MS })]).toEqual([MAX_TIMER_MS, MAX_TIMER_MS, MAX_TIMER_MS]);
  });
});
