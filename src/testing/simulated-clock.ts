import { MAX_TIMER_MS, type Clock, type TimerHandle } from '../environment/clock.js';

interface PendingTimer {
  id: number;
  /** When it was set. */
  from: number;
  at: number;
  fn: () => void;
}

/** How many timers set with no delay `advance()` fires at one instant before it takes them for a loop. */
const MAX_IMMEDIATE_TIMERS = 10_000;

/**
 * A deterministic clock: time moves only when `advance()` is called, and timers fire in order.
 * Hand it to a connection or pool (`clock` option) to test timer logic without waiting.
 */
export class SimulatedClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, PendingTimer>();
  /** Sum of every `jump()` so far, so that `advance()` keeps one made by a timer it fires. */
  private jumped = 0;

  constructor(startAt = 0) {
    this.current = startAt;
  }

  now(): number {
    return this.current;
  }

  /** Delays are shortened as host timers keep them (at most 2^31 - 1 ms), as `systemClock` does. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, from: this.current, at: this.current + Math.min(MAX_TIMER_MS, Math.max(0, ms || 0)), fn });
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
   * timers they schedule). Time never goes back: an `advance()` from inside a timer that went further is kept;
   * a `jump()` from inside a timer moves the end of the advance with it, as between two advances.
   * A timer that throws does not stop the others: the first error is rethrown once time has moved.
   * Throws when more than 10,000 timers set with no delay fire at one instant (timers that keep setting
   * themselves again at 0 ms would hold time there for ever).
   */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance(ms) needs a finite number of milliseconds ≥ 0, received ${String(ms)}`);
    const target = this.current + ms;
    const jumpedBefore = this.jumped;
    const end = () => target + (this.jumped - jumpedBefore);
    let immediate = 0;
    let failure: { error: unknown } | undefined;
    for (;;) {
      const due = this.earliestDue(end());
      if (!due) break;
      this.timers.delete(due.id);
      if (due.at > this.current) {
        this.current = due.at;
        immediate = 0;
      } else if (due.at === due.from && ++immediate > MAX_IMMEDIATE_TIMERS) {
        throw new Error(`More than ${MAX_IMMEDIATE_TIMERS} timers set with no delay fire at ${this.current} ms: a timer keeps setting another at 0 ms, and time cannot move`);
      }
      try {
        due.fn();
      } catch (error) {
        // as on a host clock, the timers due after it still fire; the first error is rethrown at the end
        failure ??= { error };
      }
    }
    this.current = Math.max(this.current, end());
    if (failure) throw failure.error;
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
    this.jumped += ms;
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
