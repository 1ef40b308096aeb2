import { describe, expect, it } from 'vitest';
import type { ConnectionContext, ConnectionSettings, FailoverState, FailureAction, RetryKind } from '../../../machines/connection.types.js';
import { failoverAfter, planRetry, urlForDial } from '../../../src/policy/retry-plan.js';
import { machineSettings } from '../../support/machine-settings.js';

/** The README's defaults (`reconnect.*` and `failover.*` of the options table) with the auth answer awaited; three urls. */
const SETTINGS: ConnectionSettings = machineSettings({ awaitsAuthAnswer: true, urls: 3 });

const T = 1_000_000;

interface Recorded {
  outcome?: FailureAction | null;
  attempt?: number;
  retryKind?: RetryKind;
  retryAfterMs?: number;
  urlIndex?: number;
  failover?: FailoverState;
  urls?: number;
  /** `reconnect.jitter`. @default 0.5 */
  jitter?: number;
}

/** The context the machine hands the plan after recording a failure (`attempt` already counts it). */
function recorded({ outcome = 'reconnect', attempt = 1, retryKind = 'backoff', retryAfterMs, urlIndex = 0, failover, urls = 3, jitter = SETTINGS.reconnect.jitter }: Recorded = {}): ConnectionContext {
  return {
    settings: { ...SETTINGS, urls, reconnect: { ...SETTINGS.reconnect, jitter } },
    online: true,
    hidden: false,
    socket: 1,
    tokenRequest: { reason: 'connect', rejections: 0 },
    attempt,
    stable: false,
    outcome,
    retryKind,
    retryDelayMs: 0,
    retryAt: 0,
    circuit: { failures: 1, trips: 0, open: false, probing: false },
    session: null,
    sessionAt: 0,
    lastError: { code: 'NETWORK_ERROR', message: 'closed', recovery: 'retry', ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
    urlIndex,
    failover: failover ?? { dialIndex: urlIndex, urlFailures: 0, failedOverAt: 0 },
    throttleMs: 0,
  };
}

const draw = (value: number) => () => value;

describe('the wait before the next dial', () => {
  it('waits reconnect.baseMs after the first failure, spread up to half as long again by the default jitter 0.5', () => {
    expect([0, 0.5, 0.999].map((r) => planRetry(recorded({ attempt: 1 }), T, draw(r)).retryDelayMs)).toEqual([1_000, 1_250, 1_500]);
  });

  it('doubles the wait with each further failure (multiplier 2), up to reconnect.capMs', () => {
    const waits = [1, 2, 3, 4, 5, 6, 7].map((attempt) => planRetry(recorded({ attempt, jitter: 0 }), T, draw(0.5)).retryDelayMs);
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  });

  it('at reconnect.capMs, spreads the wait over the half below the cap with the default jitter 0.5', () => {
    expect([0, 0.5, 0.999].map((r) => planRetry(recorded({ attempt: 7 }), T, draw(r)).retryDelayMs)).toEqual([15_000, 22_500, 29_985]);
  });

  it('spreads the wait by ±jitter: half the delay either way with the default jitter 0.5', () => {
    expect(planRetry(recorded({ attempt: 3 }), T, draw(0)).retryDelayMs).toBe(2_000);
    expect(planRetry(recorded({ attempt: 3 }), T, draw(0.75)).retryDelayMs).toBe(5_000);
  });

  it('retries at once after a connection that was stable', () => {
    expect(planRetry(recorded({ retryKind: 'immediate', attempt: 4 }), T, draw(0.5)).retryDelayMs).toBe(0);
  });

  it('spreads a 1012 restart uniformly over reconnect.restartWindowMs', () => {
    expect(planRetry(recorded({ retryKind: 'restart' }), T, draw(0)).retryDelayMs).toBe(0);
    expect(planRetry(recorded({ retryKind: 'restart' }), T, draw(0.25)).retryDelayMs).toBe(500);
    expect(planRetry(recorded({ retryKind: 'restart' }), T, draw(0.999)).retryDelayMs).toBe(1_998);
  });

  it('keeps a 1012 restart within restartWindowMs whatever random() returns: one outside [0, 1) (NaN, 1, 1.5, negative) draws the middle', () => {
    for (const r of [Number.NaN, 1, 1.5, -0.5]) expect(planRetry(recorded({ retryKind: 'restart' }), T, draw(r)).retryDelayMs, `random() = ${r}`).toBe(1_000);
  });

  it('waits at least reconnect.tryLaterMs after a 1013 or 4008 that names no retry_after', () => {
    expect(planRetry(recorded({ retryKind: 'later' }), T, draw(0.5)).retryDelayMs).toBe(10_000);
  });

  it("waits the server's retry_after when it names one", () => {
    expect(planRetry(recorded({ retryKind: 'later', retryAfterMs: 3_000 }), T, draw(0.5)).retryDelayMs).toBe(3_000);
    expect(planRetry(recorded({ retryKind: 'later', retryAfterMs: 45_000 }), T, draw(0.5)).retryDelayMs).toBe(45_000);
  });

  it('the wait ends at the clock time of the plan plus its delay', () => {
    expect(planRetry(recorded({ retryKind: 'later', retryAfterMs: 3_000 }), T, draw(0.5)).retryAt).toBe(T + 3_000);
    expect(planRetry(recorded({ attempt: 3, jitter: 0 }), T, draw(0.5)).retryAt).toBe(T + 4_000);
  });

  it('never waits less than the backoff, even when the server asks for less', () => {
    expect(planRetry(recorded({ retryKind: 'later', attempt: 6, retryAfterMs: 3_000 }), T, draw(0.6)).retryDelayMs).toBe(24_000);
  });
});

describe('url failover (failover.after = 3, failover.primaryRetryMs = 60000)', () => {
  it('a connection with one url never moves', () => {
    const failover = { dialIndex: 0, urlFailures: 2, failedOverAt: 0 };
    expect(failoverAfter(recorded({ urls: 1, failover }), T)).toEqual({ urlIndex: 0, failover });
  });

  it('keeps dialing the primary after the first and the second failed dial', () => {
    const first = failoverAfter(recorded(), T);
    expect(first).toEqual({ urlIndex: 0, failover: { dialIndex: 0, urlFailures: 1, failedOverAt: 0 } });
    const second = failoverAfter(recorded({ failover: first.failover }), T);
    expect(second).toEqual({ urlIndex: 0, failover: { dialIndex: 0, urlFailures: 2, failedOverAt: 0 } });
  });

  it('moves to the next url on the third consecutive failed dial', () => {
    const failover = { dialIndex: 0, urlFailures: 2, failedOverAt: 0 };
    expect(failoverAfter(recorded({ failover }), T)).toEqual({ urlIndex: 1, failover: { dialIndex: 1, urlFailures: 0, failedOverAt: T } });
  });

  it('wraps around from the last url to the primary', () => {
    const failover = { dialIndex: 2, urlFailures: 2, failedOverAt: T };
    expect(failoverAfter(recorded({ urlIndex: 2, failover }), T + 1_000)).toEqual({
      urlIndex: 0,
      failover: { dialIndex: 0, urlFailures: 0, failedOverAt: T + 1_000 },
    });
  });

  it('counts restarts and try-laters as failed dials, like any lost link', () => {
    for (const outcome of ['reconnect', 'reconnect-fast', 'reconnect-slow'] as const) {
      const failover = { dialIndex: 0, urlFailures: 2, failedOverAt: 0 };
      expect(failoverAfter(recorded({ outcome, failover }), T).urlIndex, outcome).toBe(1);
    }
  });

  it('does not count a normal close, a refused token or a fatal close as a failed dial', () => {
    for (const outcome of ['reconnect-normal', 'refresh-token', 'fail'] as const) {
      const failover = { dialIndex: 0, urlFailures: 2, failedOverAt: 0 };
      expect(failoverAfter(recorded({ outcome, failover }), T), outcome).toEqual({ urlIndex: 0, failover });
    }
  });

  it('dials the primary again once primaryRetryMs has passed on a backup, not a millisecond before', () => {
    const failover = { dialIndex: 1, urlFailures: 0, failedOverAt: T };
    const before = failoverAfter(recorded({ outcome: 'reconnect-normal', urlIndex: 1, failover }), T + 59_999);
    expect(before.failover.dialIndex).toBe(1);
    const after = failoverAfter(recorded({ outcome: 'reconnect-normal', urlIndex: 1, failover }), T + 60_000);
    expect(after).toEqual({ urlIndex: 1, failover: { dialIndex: 0, urlFailures: 0, failedOverAt: T } });
  });

  it('a failed dial of the primary keeps the backup and waits another primaryRetryMs', () => {
    const failover = { dialIndex: 0, urlFailures: 1, failedOverAt: T };
    const plan = failoverAfter(recorded({ urlIndex: 1, failover }), T + 60_000);
    expect(plan).toEqual({ urlIndex: 1, failover: { dialIndex: 1, urlFailures: 1, failedOverAt: T + 60_000 } });
  });

  it('a failed dial of a backup counts toward moving on from it', () => {
    const failover = { dialIndex: 1, urlFailures: 1, failedOverAt: T };
    expect(failoverAfter(recorded({ urlIndex: 1, failover }), T + 1_000)).toEqual({
      urlIndex: 1,
      failover: { dialIndex: 1, urlFailures: 2, failedOverAt: T },
    });
  });

  it('plans the url of the next dial with the wait', () => {
    const failover = { dialIndex: 0, urlFailures: 2, failedOverAt: 0 };
    expect(planRetry(recorded({ failover }), T, draw(0))).toEqual({
      retryDelayMs: 1_000,
      retryAt: T + 1_000,
      urlIndex: 1,
      failover: { dialIndex: 1, urlFailures: 0, failedOverAt: T },
    });
  });
});

describe('the url of a dial that follows no failure (failover.primaryRetryMs = 60000)', () => {
  const onBackup = (failedOverAt: number) => recorded({ urlIndex: 1, failover: { dialIndex: 1, urlFailures: 0, failedOverAt } });

  it('is the primary once primaryRetryMs has passed since the move to a backup', () => {
    expect(urlForDial(onBackup(T - 60_000), T)).toEqual({ failover: { dialIndex: 0, urlFailures: 0, failedOverAt: T - 60_000 } });
  });

  it('stays the backup before that', () => {
    expect(urlForDial(onBackup(T - 59_999), T)).toBeUndefined();
  });

  it('changes nothing on the primary, while the primary is tried already, or with one url', () => {
    expect(urlForDial(recorded(), T)).toBeUndefined();
    expect(urlForDial(recorded({ urlIndex: 1, failover: { dialIndex: 0, urlFailures: 0, failedOverAt: 0 } }), T)).toBeUndefined();
    expect(urlForDial(recorded({ urls: 1, urlIndex: 1, failover: { dialIndex: 1, urlFailures: 0, failedOverAt: 0 } }), T)).toBeUndefined();
  });
});
