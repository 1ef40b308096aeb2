import type { Clock, TimerHandle } from '../environment/clock.js';
import { InvalidOptionError } from '../protocol/errors.js';
import { TokenBucket } from './token-bucket.js';

/**
 * Hands out permission to dial. A connection with a gate asks it before every dial — the first and
 * every reconnect — and waits in `queued` until granted.
 */
export interface DialGate {
  /** Calls `grant` once a dial may start (possibly at once); returns the function that withdraws the request. */
  request(priority: number, grant: () => void): () => void;
}

export interface DialBudgetOptions {
  /** Dials granted per second across everything sharing the budget. @default 200 */
  ratePerSec?: number;
  /** Dials that may start at once after a quiet period. @default 20 */
  burst?: number;
}

/** `options` with their defaults, checked: a `null` is refused, not taken for the default. */
export function dialBudgetSettings(options: DialBudgetOptions): Required<DialBudgetOptions> {
  const { ratePerSec = 200, burst = 20 } = options;
  if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec)) throw new InvalidOptionError('dialBudget.ratePerSec', 'a positive number', ratePerSec);
  if (!Number.isInteger(burst) || burst < 1) throw new InvalidOptionError('dialBudget.burst', 'an integer ≥ 1', burst);
  return { ratePerSec, burst };
}

interface Waiter {
  priority: number;
  grant: () => void;
}

/**
 * A pool-wide dial budget: a token bucket whose permits go to waiting connections by priority
 * (1 before 2; first come first served within a priority). One timer at most, armed for the next refill.
 */
export class DialBudget implements DialGate {
  private readonly bucket: TokenBucket;
  private readonly waiting: Waiter[] = [];
  private timer: TimerHandle | undefined;
  /** Permits granted so far. */
  granted = 0;
  /** Grant times (clock ms) of the last permits, for peak-rate checks. */
  readonly grants: number[] = [];

  constructor(
    options: DialBudgetOptions,
    private readonly clock: Clock,
    private readonly keepGrants = 0,
  ) {
    this.bucket = new TokenBucket(dialBudgetSettings(options), clock);
  }

  request(priority: number, grant: () => void): () => void {
    if (this.waiting.length === 0 && this.bucket.tryTake()) {
      this.record();
      grant();
      return () => {};
    }
    const waiter: Waiter = { priority, grant };
    let index = this.waiting.findIndex((w) => w.priority > priority);
    if (index < 0) index = this.waiting.length;
    this.waiting.splice(index, 0, waiter);
    this.arm();
    return () => {
      const at = this.waiting.indexOf(waiter);
      if (at >= 0) this.waiting.splice(at, 1);
      if (this.waiting.length === 0) this.disarm();
    };
  }

  /** Connections waiting for a permit. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Stops the refill timer and forgets every waiter. */
  dispose(): void {
    this.waiting.length = 0;
    this.disarm();
  }

  private record(): void {
    this.granted++;
    if (this.keepGrants > 0) {
      this.grants.push(this.clock.now());
      if (this.grants.length > this.keepGrants) this.grants.shift();
    }
  }

  private arm(): void {
    if (this.timer !== undefined || this.waiting.length === 0) return;
    this.timer = this.clock.setTimeout(() => this.release(), Math.max(1, this.bucket.msUntil(1)));
  }

  private disarm(): void {
    if (this.timer === undefined) return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private release(): void {
    this.timer = undefined;
    while (this.waiting.length > 0 && this.bucket.tryTake()) {
      const waiter = this.waiting.shift()!;
      this.record();
      waiter.grant();
    }
    this.arm();
  }
}
