import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../src/testing/index.js';

describe('SimulatedClock', () => {
  it('next() after jump() fires the overdue timer without moving time back', () => {
    const clock = new SimulatedClock(0);
    let firedAt: number | undefined;
    clock.setTimeout(() => (firedAt = clock.now()), 100);
    clock.jump(1_000);
    expect(clock.next()).toBe(true);
    expect(firedAt).toBe(1_000);
    expect(clock.now()).toBe(1_000);
  });

  it('an advance() from inside a timer that goes further than the outer one is kept: time never goes back', () => {
    const clock = new SimulatedClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => clock.advance(50), 5);
    clock.advance(10);
    expect(clock.now()).toBe(55);
    clock.setTimeout(() => fired.push(clock.now()), 10);
    clock.advance(10);
    expect(fired).toEqual([65]);
  });

  it('advance() refuses a negative or NaN number of milliseconds, and fires nothing', () => {
    const clock = new SimulatedClock(0);
    let fired = false;
    clock.setTimeout(() => (fired = true), 10);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.advance(Number.NaN)).toThrow(RangeError);
    expect(fired).toBe(false);
    expect(clock.now()).toBe(0);
  });
});
