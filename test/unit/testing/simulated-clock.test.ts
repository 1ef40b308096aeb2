import { describe, expect, it } from 'vitest';
import { MAX_TIMER_MS } from '../../../src/environment/clock.js';
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

  it('a jump() from inside a timer during advance() is kept, as when the same jump comes between two advances', () => {
    const run = (split: boolean, jump: number) => {
      const clock = new SimulatedClock(0);
      const fired: Array<[string, number]> = [];
      clock.setTimeout(() => fired.push(['late', clock.now()]), 120);
      clock.setTimeout(() => fired.push(['early', clock.now()]), 60);
      if (split) {
        clock.advance(30);
        clock.jump(jump);
        clock.advance(70);
      } else {
        clock.setTimeout(() => clock.jump(jump), 30);
        clock.advance(100);
      }
      return { now: clock.now(), fired };
    };
    expect(run(false, 50)).toEqual(run(true, 50));
    expect(run(false, 50).now).toBe(150);
    expect(run(false, -50)).toEqual(run(true, -50));
    expect(run(false, -50).now).toBe(50);
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

  it('next() fires only the earliest timer: of two due at the same instant, the first scheduled, then the other', () => {
    const clock = new SimulatedClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('a'), 100);
    clock.setTimeout(() => fired.push('b'), 100);
    expect(clock.next()).toBe(true);
    expect(fired).toEqual(['a']);
    expect(clock.pending).toBe(1);
    expect(clock.now()).toBe(100);
    expect(clock.next()).toBe(true);
    expect(fired).toEqual(['a', 'b']);
    expect(clock.next()).toBe(false);
  });

  it('next() does not fire a timer the fired one schedules, even when it falls due at once', () => {
    const clock = new SimulatedClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => {
      fired.push('first');
      clock.setTimeout(() => fired.push('second'), 0);
    }, 10);
    expect(clock.next()).toBe(true);
    expect(fired).toEqual(['first']);
    expect(clock.pending).toBe(1);
  });

  it('next() after jump() fires the overdue timers one at a time, in order, without moving time', () => {
    const clock = new SimulatedClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(3), 300);
    clock.setTimeout(() => fired.push(1), 100);
    clock.setTimeout(() => fired.push(2), 200);
    clock.jump(1_000);
    expect(clock.next()).toBe(true);
    expect(fired).toEqual([1]);
    expect(clock.next()).toBe(true);
    expect(fired).toEqual([1, 2]);
    expect(clock.next()).toBe(true);
    expect(fired).toEqual([1, 2, 3]);
    expect(clock.next()).toBe(false);
    expect(clock.now()).toBe(1_000);
  });

  it('advance() refuses an infinite number of milliseconds: now() stays a finite number', () => {
    const clock = new SimulatedClock(0);
    expect(() => clock.advance(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(clock.now()).toBe(0);
  });

  it('jump() refuses NaN and infinite numbers of milliseconds, and leaves time where it was', () => {
    const clock = new SimulatedClock(1_000);
    expect(() => clock.jump(Number.NaN)).toThrow(RangeError);
    expect(() => clock.jump(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => clock.jump(Number.NEGATIVE_INFINITY)).toThrow(RangeError);
    expect(clock.now()).toBe(1_000);
  });

  it('jump() with a negative number steps the wall clock back, as a clock correction does, and fires nothing', () => {
    const clock = new SimulatedClock(1_000);
    let fired = false;
    clock.setTimeout(() => (fired = true), 10);
    clock.jump(-500);
    expect(clock.now()).toBe(500);
    expect(fired).toBe(false);
  });

  it('advance() gives up with an error naming the instant when timers keep scheduling timers at it, instead of never returning', () => {
    const clock = new SimulatedClock(0);
    const safety = 200_000; // the loop stops by itself after this many rounds, only so that the spec ends on a clock without the guard
    let rounds = 0;
    const poll = () => {
      rounds++;
      if (rounds < safety) clock.setTimeout(poll, 0);
    };
    clock.setTimeout(poll, 0);
    expect(() => clock.advance(10)).toThrow(/timers set with no delay fire at 0 ms/);
    expect(rounds, 'timers fired before advance() gave up').toBeLessThan(safety);
  });

  it('advance() fires many timers due at one instant when each is scheduled ahead of it, not from another at that instant', () => {
    const clock = new SimulatedClock(0);
    let fired = 0;
    for (let i = 0; i < 12_000; i++) clock.setTimeout(() => fired++, 5);
    clock.advance(10);
    expect(fired).toBe(12_000);
  });

  it('next() with a timer set for an infinite delay pending keeps now() a finite number: the delay is shortened as a host timer\'s', () => {
    const clock = new SimulatedClock(1_000);
    let fired = false;
    clock.setTimeout(() => (fired = true), Number.POSITIVE_INFINITY);
    expect(clock.nextAt()).toBe(1_000 + MAX_TIMER_MS);
    clock.next();
    expect(fired).toBe(true);
    expect(clock.now()).toBe(1_000 + MAX_TIMER_MS);
  });

  it('advance() past a timer that throws still fires the timers due after it and ends at its target, then rethrows', () => {
    const clock = new SimulatedClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => {
      throw new Error('boom');
    }, 10);
    clock.setTimeout(() => fired.push(clock.now()), 20);
    expect(() => clock.advance(100)).toThrow('boom');
    expect(fired).toEqual([20]);
    expect(clock.now()).toBe(100);
    expect(clock.pending).toBe(0);
  });
});
