import type { Clock, TimerHandle } from '../environment/clock.js';

interface PendingTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A deterministic clock: time moves only when `advance()` is called, and timers fire in order.
 * Hand it to a connection or pool (`clock` option) to test timer logic without waiting.
 */
export class SimulatedClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, PendingTimer>();

  constructor(startAt = 0) {
    this.current = startAt;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.current + Math.max(0, ms || 0), fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  /** Number of timers scheduled and not yet fired or cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** Time at which the next timer fires, or `undefined` when none is pending. */
  nextAt(): number | undefined {
    let next: number | undefined;
    for (const timer of this.timers.values()) if (next === undefined || timer.at < next) next = timer.at;
    return next;
  }

  /**
   * Moves time forward by `ms` (a finite number ≥ 0), firing every timer that falls due, in order (including
   * timers they schedule). Time never goes back: an `advance()` from inside a timer that went further is kept.
   */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance(ms) needs a finite number of milliseconds ≥ 0, received ${String(ms)}`);
    const target = this.current + ms;
    for (;;) {
      const due = this.earliestDue(target);
      if (!due) break;
      this.timers.delete(due.id);
      this.current = Math.max(this.current, due.at);
      due.fn();
    }
    this.current = Math.max(this.current, target);
  }

  /**
   * Fires the next pending timer, and only it: the earliest due (the first scheduled among equals), moving
   * time to it, or not at all when it is overdue (after `jump()`). Timers it schedules wait for the next
   * call, even those due at once. Returns false when none is pending.
   */
  next(): boolean {
    const due = this.earliestDue(Number.POSITIVE_INFINITY);
    if (!due) return false;
    this.timers.delete(due.id);
    this.current = Math.max(this.current, due.at);
    due.fn();
    return true;
  }

  /**
   * Moves wall-clock time by `ms` (a finite number) without firing timers, as a sleeping laptop or a
   * throttled tab does; a negative `ms` steps the wall clock back, as a clock correction does.
   */
  jump(ms: number): void {
    if (!Number.isFinite(ms)) throw new RangeError(`jump(ms) needs a finite number of milliseconds, received ${String(ms)}`);
    this.current += ms;
  }

  private earliestDue(limit: number): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const timer of this.timers.values()) {
      if (timer.at > limit) continue;
      if (!best || timer.at < best.at || (timer.at === best.at && timer.id < best.id)) best = timer;
    }
    return best;
  }
}
