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
