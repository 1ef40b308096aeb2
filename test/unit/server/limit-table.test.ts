import { expect, it } from 'vitest';
import { chargeAll, LimitTable } from '../../../src/server/limit-table.js';

/** One frame a second, at most `burst` at once. */
const perSecond = (burst: number) => ({ perMinute: 60, burst });

function tableAt(time = 0) {
  const clock = { time, now: () => clock.time };
  return { clock, table: new LimitTable(clock, 10) };
}

it('forgets on sweep only the full buckets that hold nothing back', () => {
  const { clock, table } = tableAt();
  table.take('used', perSecond(2));
  table.take('held', perSecond(1));
  expect(table.take('held', perSecond(1))).toEqual({ ok: false, retryAfterMs: 1000 });
  table.sweep();
  expect(table.size).toBe(2);
  expect([table.take('used', perSecond(2)).ok, table.take('used', perSecond(2)).ok]).toEqual([true, false]);
  clock.time = 3000;
  table.sweep();
  expect(table.size).toBe(0);
});

it('forgets a held bucket on sweep from the moment its hold ends, once it is full', () => {
  const { clock, table } = tableAt();
  table.take('k', perSecond(1));
  expect(table.refuse('k', perSecond(1))).toBe(1000);
  clock.time = 999;
  table.sweep();
  expect(table.size).toBe(1);
  clock.time = 1000;
  table.sweep();
  expect(table.size).toBe(0);
});

it('says how long until a bucket is full again', () => {
  const { table } = tableAt(5000);
  expect(table.msUntilFull('k', perSecond(2))).toBe(0);
  table.take('k', perSecond(2));
  table.take('k', perSecond(2));
  expect(table.msUntilFull('k', perSecond(2))).toBe(2000);
});

it('gives a token back up to the burst, and refills at the same rate after it', () => {
  const { clock, table } = tableAt();
  table.take('k', perSecond(4));
  table.take('k', perSecond(4));
  table.take('k', perSecond(4));
  table.giveBack('k');
  expect(table.available('k', perSecond(4))).toBeCloseTo(2, 9);
  clock.time = 500;
  expect(table.available('k', perSecond(4))).toBeCloseTo(2.5, 9);
});

it('charges every bucket or none, naming the longest wait', () => {
  const { table } = tableAt();
  const spent = { table, key: 'spent', limit: perSecond(1) };
  const fresh = { table, key: 'fresh', limit: perSecond(3) };
  table.take('spent', perSecond(1));
  expect(chargeAll([fresh, spent])).toEqual({ ok: false, retryAfterMs: 1000 });
  expect(table.available('fresh', perSecond(3))).toBe(3);
  expect(chargeAll([fresh])).toEqual({ ok: true });
  expect(table.available('fresh', perSecond(3))).toBe(2);
});

it('beyond maxEntries, forgets the bucket used longest ago, a charge or a refusal making a bucket recent again', () => {
  const clock = { now: () => 0 };
  const table = new LimitTable(clock, 2);
  table.take('a', perSecond(1));
  table.take('b', perSecond(1));
  expect(table.take('a', perSecond(1)).ok).toBe(false);
  table.take('c', perSecond(1));
  expect(table.size).toBe(2);
  expect([table.take('a', perSecond(1)).ok, table.take('b', perSecond(1)).ok]).toEqual([false, true]);
});

it('charges none of several spent buckets, holding each, and names the longest wait whatever their order', () => {
  const { table } = tableAt();
  table.take('short', perSecond(1));
  table.take('long', { perMinute: 6, burst: 1 });
  expect(chargeAll([{ table, key: 'short', limit: perSecond(1) }, { table, key: 'long', limit: { perMinute: 6, burst: 1 } }])).toEqual({ ok: false, retryAfterMs: 10_000 });
  expect(table.available('long', { perMinute: 6, burst: 1 })).toBe(0);
});

it('charges a bucket once its refills add up to one frame, though the sum rounds below it', () => {
  // six a minute refill 0.1 a second; ten refills of 0.1 add up to 0.9999999999999999
  const { clock, table } = tableAt();
  const limit = { perMinute: 6, burst: 1 };
  table.take('k', limit);
  for (let second = 1; second <= 10; second++) {
    clock.time = second * 1000;
    table.available('k', limit);
  }
  expect(chargeAll([{ table, key: 'k', limit }])).toEqual({ ok: true });
});
