import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, recoveryDelay, type BackoffPolicy } from '../../../src/policy/backoff.js';

const policyArb = fc
  .record({
    baseMs: fc.integer({ min: 0, max: 60_000 }),
    extra: fc.integer({ min: 0, max: 600_000 }),
    multiplier: fc.double({ min: 1, max: 10, noNaN: true }),
    jitter: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ baseMs, extra, multiplier, jitter }): BackoffPolicy => ({ baseMs, capMs: baseMs + extra, multiplier, jitter }));

const randomArb = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const attemptArb = fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 1_000_000_000 }));

describe('backoffDelay', () => {
  it('returns the base delay for the first retry without jitter', () => {
    expect(backoffDelay(0, { baseMs: 500, capMs: 30_000, multiplier: 2, jitter: 0 })).toBe(500);
  });

  it('grows by the multiplier per attempt until the cap', () => {
    const policy = { baseMs: 100, capMs: 1_000, multiplier: 2, jitter: 0 };
    expect([0, 1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, policy))).toEqual([
      100, 200, 400, 800, 1_000, 1_000, 1_000,
    ]);
  });

  it('spreads the delay by ±jitter around the raw value', () => {
    const policy = { baseMs: 100, capMs: 10_000, multiplier: 2, jitter: 0.5 };
    expect(backoffDelay(3, policy, () => 0)).toBe(400);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(800);
    expect(backoffDelay(3, policy, () => 0.999_999)).toBe(1_200);
  });

  it('takes a random source outside [0, 1) (1, negative, NaN) as the midpoint: the unjittered delay', () => {
    const policy = { baseMs: 100, capMs: 10_000, multiplier: 2, jitter: 0.5 };
    for (const r of [1, 1.5, -0.2, Number.NaN]) expect(backoffDelay(3, policy, () => r), `random() = ${r}`).toBe(800);
  });

  it('near the base and the cap, draws within the part of raw ± raw * jitter that lies in [baseMs, capMs]', () => {
    const policy = { baseMs: 1_000, capMs: 5_000, multiplier: 2, jitter: 1 };
    expect([0, 0.5, 0.999_9].map((r) => backoffDelay(0, policy, () => r))).toEqual([1_000, 1_500, 2_000]);
    expect([0, 0.5, 0.999_9].map((r) => backoffDelay(10, policy, () => r))).toEqual([1_000, 3_000, 5_000]);
  });

  const readmeDefaults = { baseMs: 1_000, capMs: 30_000, multiplier: 2, jitter: 0.5 };
  /** The delays `n` clients draw, their random sources spread evenly over [0, 1). */
  const draws = (n: number, attempt: number) => Array.from({ length: n }, (_, i) => backoffDelay(attempt, readmeDefaults, () => (i + 0.5) / n));
  /** The share of the most frequent value. */
  const largestShare = (values: number[]) => {
    const counts = new Map<number, number>();
    for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
    return Math.max(...counts.values()) / values.length;
  };

  it('spreads the first retry of many clients that failed together: no single delay is drawn by more than 5 % of them', () => {
    expect(largestShare(draws(1_000, 0))).toBeLessThan(0.05);
  });

  it('spreads retries at the cap too: no single delay is drawn by more than 5 % of the clients', () => {
    expect(largestShare(draws(1_000, 20))).toBeLessThan(0.05);
  });

  it('stays at the cap for astronomically large attempts (no Infinity or NaN)', () => {
    const policy = { baseMs: 1_000, capMs: 30_000, multiplier: 10, jitter: 0 };
    expect(backoffDelay(1e9, policy)).toBe(30_000);
    expect(backoffDelay(Number.MAX_SAFE_INTEGER, policy)).toBe(30_000);
  });

  it('treats a negative or NaN attempt as the first retry', () => {
    const policy = { baseMs: 250, capMs: 5_000, multiplier: 3, jitter: 0 };
    expect(backoffDelay(-4, policy)).toBe(250);
    expect(backoffDelay(Number.NaN, policy)).toBe(250);
  });

  it('always lies within [baseMs, capMs] and is a whole number of ms', () => {
    fc.assert(
      fc.property(policyArb, attemptArb, randomArb, (policy, attempt, r) => {
        const delay = backoffDelay(attempt, policy, () => r);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(policy.baseMs);
        expect(delay).toBeLessThanOrEqual(policy.capMs);
      }),
    );
  });

  it('never decreases from one attempt to the next without jitter', () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 0, max: 200 }), (policy, attempt) => {
        const flat = { ...policy, jitter: 0 };
        expect(backoffDelay(attempt + 1, flat)).toBeGreaterThanOrEqual(backoffDelay(attempt, flat));
      }),
    );
  });

  it('stays within raw ± raw * jitter of the unjittered delay (up to rounding)', () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 0, max: 60 }), randomArb, (policy, attempt, r) => {
        const raw = backoffDelay(attempt, { ...policy, jitter: 0 });
        const delay = backoffDelay(attempt, policy, () => r);
        expect(Math.abs(delay - raw)).toBeLessThanOrEqual((raw + 0.5) * policy.jitter + 1);
      }),
    );
  });
});

describe('recoveryDelay', () => {
  const policy = { recoveryMs: 30_000, recoveryMultiplier: 2, maxRecoveryMs: 300_000 };

  it('is recoveryMs after the first trip and grows by the multiplier per further trip, up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((trips) => recoveryDelay(trips, policy))).toEqual([
      30_000, 60_000, 120_000, 240_000, 300_000, 300_000,
    ]);
  });

  it('is recoveryMs for a trip count below one (zero, negative, NaN), never less', () => {
    for (const trips of [0, -3, Number.NaN]) expect(recoveryDelay(trips, policy), `trips = ${trips}`).toBe(30_000);
  });

  it('stays at the cap for huge trip counts', () => {
    expect(recoveryDelay(1e9, policy)).toBe(300_000);
  });

  it('never decreases with more trips and never exceeds maxRecoveryMs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 600_000 }),
        fc.integer({ min: 0, max: 6_000_000 }),
        fc.double({ min: 1, max: 8, noNaN: true }),
        fc.integer({ min: 1, max: 10_000 }),
        (recoveryMs, extra, recoveryMultiplier, trips) => {
          const p = { recoveryMs, recoveryMultiplier, maxRecoveryMs: recoveryMs + extra };
          const now = recoveryDelay(trips, p);
          expect(recoveryDelay(trips + 1, p)).toBeGreaterThanOrEqual(now);
          expect(now).toBeGreaterThanOrEqual(recoveryMs);
          expect(now).toBeLessThanOrEqual(p.maxRecoveryMs);
          expect(recoveryDelay(1, p)).toBe(recoveryMs);
        },
      ),
    );
  });
});
