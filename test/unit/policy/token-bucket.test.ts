import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../src/policy/token-bucket.js';
import { SimulatedClock } from '../../../src/testing/simulated-clock.js';

describe('TokenBucket', () => {
  it('starts full: grants burst tokens at once, then refuses', () => {
    const bucket = new TokenBucket({ ratePerSec: 10, burst: 5 }, new SimulatedClock());
    const granted = Array.from({ length: 7 }, () => bucket.tryTake());
    expect(granted).toEqual([true, true, true, true, true, false, false]);
  });

  it('refills continuously, including fractional tokens', () => {
    const clock = new SimulatedClock();
    const bucket = new TokenBucket({ ratePerSec: 10, burst: 2 }, clock);
    bucket.tryTake(2);
    clock.advance(50);
    expect(bucket.available()).toBeCloseTo(0.5, 9);
    expect(bucket.tryTake()).toBe(false);
    clock.advance(50);
    expect(bucket.tryTake()).toBe(true);
  });

  it('never holds more than burst tokens however long it idles', () => {
    const clock = new SimulatedClock();
    const bucket = new TokenBucket({ ratePerSec: 100, burst: 3 }, clock);
    clock.advance(3_600_000);
    expect(bucket.available()).toBe(3);
    expect(bucket.tryTake(4)).toBe(false);
    expect(bucket.tryTake(3)).toBe(true);
  });

  it('msUntil is 0 when tokens are available now', () => {
    const bucket = new TokenBucket({ ratePerSec: 1, burst: 1 }, new SimulatedClock());
    expect(bucket.msUntil()).toBe(0);
  });

  it('msUntil is exact: refused one ms earlier, granted at that time', () => {
    const clock = new SimulatedClock();
    const bucket = new TokenBucket({ ratePerSec: 3, burst: 3 }, clock);
    bucket.tryTake(3);
    const wait = bucket.msUntil(2);
    expect(wait).toBe(667);
    clock.advance(wait - 1);
    expect(bucket.tryTake(2)).toBe(false);
    clock.advance(1);
    expect(bucket.tryTake(2)).toBe(true);
  });

  it('msUntil is exact for arbitrary rates, levels and amounts', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 1, max: 50 }),
        (ratePerSec, burst, spent, n) => {
          fc.pre(n <= burst);
          const clock = new SimulatedClock(1_000);
          const bucket = new TokenBucket({ ratePerSec, burst }, clock);
          bucket.tryTake(Math.min(spent, burst));
          const wait = bucket.msUntil(n);
          if (wait > 0) {
            const probe = new TokenBucket({ ratePerSec, burst }, clock);
            probe.tryTake(Math.min(spent, burst));
            clock.advance(wait - 1);
            expect(probe.tryTake(n)).toBe(false);
            clock.advance(1);
          }
          expect(bucket.tryTake(n)).toBe(true);
        },
      ),
    );
  });

  it('msUntil is Infinity for more than burst tokens', () => {
    const bucket = new TokenBucket({ ratePerSec: 10, burst: 2 }, new SimulatedClock());
    expect(bucket.msUntil(3)).toBe(Infinity);
  });

  it('grants nothing before blockUntil, even with tokens available', () => {
    const clock = new SimulatedClock();
    const bucket = new TokenBucket({ ratePerSec: 10, burst: 5 }, clock);
    bucket.blockUntil(2_000);
    expect(bucket.blockedUntil).toBe(2_000);
    expect(bucket.tryTake()).toBe(false);
    expect(bucket.available()).toBe(0);
    expect(bucket.msUntil()).toBe(2_000);
    clock.advance(1_999);
    expect(bucket.tryTake()).toBe(false);
    clock.advance(1);
    expect(bucket.tryTake()).toBe(true);
  });

  it('msUntil waits for both the block and the refill', () => {
    const clock = new SimulatedClock();
    const bucket = new TokenBucket({ ratePerSec: 1, burst: 1 }, clock);
    bucket.tryTake();
    bucket.blockUntil(200);
    expect(bucket.msUntil()).toBe(1_000);
    bucket.blockUntil(5_000);
    expect(bucket.msUntil()).toBe(5_000);
  });

  it('never shortens an existing block', () => {
    const bucket = new TokenBucket({ ratePerSec: 10, burst: 5 }, new SimulatedClock());
    bucket.blockUntil(5_000);
    bucket.blockUntil(1_000);
    expect(bucket.blockedUntil).toBe(5_000);
  });

  it('counts a clock gone back as no time passing: a block keeps what was left of it, and the refill goes on from there', () => {
    const clock = { time: 3_600_000, now: () => clock.time };
    const bucket = new TokenBucket({ ratePerSec: 1, burst: 2 }, clock);
    bucket.tryTake(2);
    bucket.blockUntil(3_601_000);
    clock.time = 3_600_500;
    expect(bucket.msUntil()).toBe(500);
    clock.time = 500; // the wall clock is stepped back an hour
    expect([bucket.tryTake(), bucket.available(), bucket.msUntil()]).toEqual([false, 0, 500]);
    clock.time = 1_000;
    expect(bucket.tryTake()).toBe(true);
  });

  it('rejects a negative rate or burst at creation', () => {
    expect(() => new TokenBucket({ ratePerSec: -1, burst: 1 }, new SimulatedClock())).toThrow(/ratePerSec/);
    expect(() => new TokenBucket({ ratePerSec: 1, burst: Number.NaN }, new SimulatedClock())).toThrow(/burst/);
  });

  it('rejects an infinite or NaN rate or burst at creation, and takes a zero rate or burst', () => {
    for (const ratePerSec of [Infinity, Number.NaN]) expect(() => new TokenBucket({ ratePerSec, burst: 1 }, new SimulatedClock())).toThrow(/ratePerSec/);
    for (const burst of [Infinity, -1]) expect(() => new TokenBucket({ ratePerSec: 1, burst }, new SimulatedClock())).toThrow(/burst/);
    expect(new TokenBucket({ ratePerSec: 0, burst: 0 }, new SimulatedClock()).tryTake()).toBe(false);
  });

  it('reports the rate and capacity it was made with', () => {
    const bucket = new TokenBucket({ ratePerSec: 2.5, burst: 7 }, new SimulatedClock());
    expect([bucket.ratePerSec, bucket.burst]).toEqual([2.5, 7]);
  });

  it('msUntil for exactly burst tokens is the time to refill the whole bucket, not Infinity', () => {
    const bucket = new TokenBucket({ ratePerSec: 10, burst: 2 }, new SimulatedClock());
    bucket.tryTake(2);
    expect(bucket.msUntil(2)).toBe(200);
  });

  it('with a zero rate, msUntil is Infinity once the tokens are gone', () => {
    const bucket = new TokenBucket({ ratePerSec: 0, burst: 2 }, new SimulatedClock());
    expect(bucket.msUntil(2)).toBe(0);
    bucket.tryTake(2);
    expect(bucket.msUntil(1)).toBe(Infinity);
  });

  it('limitTo lowers what is held (never below 0) and never raises it', () => {
    const clock = new SimulatedClock();
    const bucket = new TokenBucket({ ratePerSec: 1, burst: 5 }, clock);
    bucket.limitTo(2);
    expect(bucket.available()).toBe(2);
    bucket.limitTo(4);
    expect(bucket.available()).toBe(2);
    bucket.limitTo(-3);
    expect(bucket.available()).toBe(0);
    clock.advance(1_000);
    expect(bucket.available()).toBe(1);
  });

  it('grants at most burst + rate * W over any window W, whatever the schedule of takes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 500 }), n: fc.integer({ min: 1, max: 3 }) }), {
          maxLength: 200,
        }),
        (ratePerSec, burst, schedule) => {
          const clock = new SimulatedClock();
          const bucket = new TokenBucket({ ratePerSec, burst }, clock);
          const grants: Array<{ at: number; n: number }> = [];
          for (const { gap, n } of schedule) {
            clock.advance(gap);
            if (bucket.tryTake(n)) grants.push({ at: clock.now(), n });
          }
          for (let i = 0; i < grants.length; i++) {
            let taken = 0;
            for (let j = i; j < grants.length; j++) {
              taken += grants[j]!.n;
              const window = grants[j]!.at - grants[i]!.at;
              expect(taken).toBeLessThanOrEqual(burst + (ratePerSec * window) / 1000 + 1e-6);
            }
          }
        },
      ),
    );
  });
});
