import type { Clock } from '../environment/clock.js';
import { InvalidOptionError } from '../protocol/errors.js';

/** Settings of a token bucket rate limiter. */
export interface TokenBucketOptions {
  /** Tokens added per second, continuously (fractional tokens accrue between takes). */
  ratePerSec: number;
  /** Capacity: the most tokens that can be taken at once after an idle period. The bucket starts full. */
  burst: number;
}

const EPSILON = 1e-9;

/**
 * A token bucket that refills continuously from the clock. Over any window of `W` ms it grants at
 * most `burst + ratePerSec * W / 1000` tokens. `blockUntil()` honours a server's `retry_after`. A clock that
 * goes back (a wall clock stepped back) counts as no time passing: a block keeps what was left of it.
 */
export class TokenBucket {
  private readonly ratePerMs: number;
  private readonly capacity: number;
  private readonly clock: Pick<Clock, 'now'>;
  private tokens: number;
  private updatedAt: number;
  private blocked = 0;

  constructor(options: TokenBucketOptions, clock: Pick<Clock, 'now'>) {
    if (!(options.ratePerSec >= 0) || options.ratePerSec === Infinity) {
      throw new InvalidOptionError('ratePerSec', 'a finite number >= 0', options.ratePerSec);
    }
    if (!(options.burst >= 0) || options.burst === Infinity) {
      throw new InvalidOptionError('burst', 'a finite number >= 0', options.burst);
    }
    this.ratePerMs = options.ratePerSec / 1000;
    this.capacity = options.burst;
    this.clock = clock;
    this.tokens = options.burst;
    this.updatedAt = clock.now();
  }

  /** Takes `n` tokens if they are available now (and the bucket is not blocked); returns whether it did. */
  tryTake(n = 1): boolean {
    const now = this.clock.now();
    this.refill(now);
    if (now < this.blocked || this.tokens + EPSILON < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Tokens (possibly fractional) that could be taken now; 0 while blocked. */
  available(): number {
    const now = this.clock.now();
    this.refill(now);
    return now < this.blocked || this.tokens < 0 ? 0 : this.tokens;
  }

  /**
   * Whole ms until `tryTake(n)` would succeed: 0 when it would succeed now, `Infinity` when it never
   * can (`n > burst`, or a zero rate with too few tokens).
   */
  msUntil(n = 1): number {
    const now = this.clock.now();
    if (n > this.capacity + EPSILON) return Infinity;
    this.refill(now);
    const unblock = this.blocked > now ? this.blocked - now : 0;
    if (this.tokens + EPSILON >= n) return Math.ceil(unblock);
    if (this.ratePerMs === 0) return Infinity;
    return Math.max(Math.ceil(unblock), Math.ceil((n - this.tokens - EPSILON / 2) / this.ratePerMs));
  }

  /** Grants nothing before `timestampMs` (clock time), e.g. when the server answered `retry_after`. Never shortens an existing block. */
  blockUntil(timestampMs: number): void {
    if (timestampMs > this.blocked) this.blocked = timestampMs;
  }

  /** Lifts a `blockUntil()`. */
  unblock(): void {
    this.blocked = 0;
  }

  /** Holds at most `tokens` from now on (a server said that is all that remains). */
  limitTo(tokens: number): void {
    this.refill(this.clock.now());
    if (tokens < this.tokens) this.tokens = tokens > 0 ? tokens : 0;
  }

  /** Tokens added per second. */
  get ratePerSec(): number {
    return this.ratePerMs * 1000;
  }

  /** Capacity of the bucket. */
  get burst(): number {
    return this.capacity;
  }

  /** Clock time before which nothing is granted; 0 when never blocked. */
  get blockedUntil(): number {
    return this.blocked;
  }

  private refill(now: number): void {
    const elapsed = now - this.updatedAt;
    this.updatedAt = now;
    if (elapsed < 0) this.blocked += elapsed;
    else {
      const next = this.tokens + elapsed * this.ratePerMs;
      this.tokens = next < this.capacity ? next : this.capacity;
    }
  }
}
