import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, systemClock } from '../../../src/environment/clock.js';

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
});
