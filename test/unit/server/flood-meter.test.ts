import { expect, it } from 'vitest';
import { FloodMeter } from '../../../src/server/flood-meter.js';

/** Refusals recorded at `now`, each answered with whether the client is flooding. */
const refuse = (meter: FloodMeter, now: number, times: number): boolean[] => Array.from({ length: times }, () => meter.reject(now));

it('is flooding at the refusal past the threshold, not at the threshold', () => {
  const meter = new FloodMeter(10, 1000);
  expect(refuse(meter, 0, 11)).toEqual([...Array<boolean>(10).fill(false), true]);
});

it('counts the refusals of the window before by the share of it the last window still covers', () => {
  const meter = new FloodMeter(10, 1000);
  refuse(meter, 0, 10);
  expect(refuse(meter, 1500, 6)).toEqual([false, false, false, false, false, true]);
});

it('counts the refusals of the window before in full at its end, and decays them across the next', () => {
  const meter = new FloodMeter(10, 1000);
  refuse(meter, 0, 10);
  expect(meter.reject(1000)).toBe(true);
  expect(refuse(meter, 1999, 9)).toEqual([...Array<boolean>(8).fill(false), true]);
  const later = new FloodMeter(10, 1000);
  refuse(later, 0, 10);
  expect(refuse(later, 1900, 10)).toEqual([...Array<boolean>(9).fill(false), true]);
});

it('forgets refusals two windows old', () => {
  const meter = new FloodMeter(10, 1000);
  refuse(meter, 0, 10);
  expect(refuse(meter, 2000, 10)).toEqual(Array<boolean>(10).fill(false));
  expect(meter.reject(2999)).toBe(true);
});

it('is quiet once two windows have passed since the window of its last refusal began', () => {
  const meter = new FloodMeter(10, 1000);
  expect(meter.quiet(0)).toBe(true);
  meter.reject(0);
  meter.reject(1500);
  expect(meter.quiet(2999)).toBe(false);
  expect(meter.quiet(3000)).toBe(true);
});

it('weighs the window before at most once when the clock is stepped back', () => {
  const meter = new FloodMeter(50, 10_000);
  refuse(meter, 0, 10);
  expect(meter.reject(10_500)).toBe(false);
  expect(meter.reject(10_500 - 60_000)).toBe(false); // 12 refusals, far below 50
  expect(refuse(meter, 10_500 - 60_000, 39)).toEqual([...Array<boolean>(38).fill(false), true]);
});

it('counts only the window before the current one: refusals two windows back weigh nothing', () => {
  const meter = new FloodMeter(6, 1000);
  refuse(meter, 0, 3);
  refuse(meter, 1000, 3);
  expect(refuse(meter, 2000, 4)).toEqual([false, false, false, true]);
});

it('forgets every refusal after two quiet windows, the window before included', () => {
  const meter = new FloodMeter(4, 1000);
  refuse(meter, 0, 4);
  expect(refuse(meter, 1500, 1)).toEqual([false]);
  expect(refuse(meter, 4000, 4)).toEqual([false, false, false, false]);
});

it('starts a fresh window with a refusal two windows after the last one began: it weighs for two windows more', () => {
  const meter = new FloodMeter(4, 1000);
  refuse(meter, 0, 1);
  refuse(meter, 2000, 1);
  expect(meter.quiet(3999)).toBe(false);
  expect(meter.quiet(4000)).toBe(true);
});
