/** A token bucket: `burst` frames at once, refilled at `perMinute` frames per minute. */
export interface RateLimit {
  perMinute: number;
  burst: number;
}

/**
 * The seed's table (per connection and channel type), plus `default` for other channel types and `control`
 * for frames outside any channel (ping, subscribe, unsubscribe, auth refresh, malformed frames).
 */
export const defaultRateLimits: Readonly<Record<string, RateLimit>> = {
  chat: { perMinute: 120, burst: 20 },
  'agent-status': { perMinute: 60, burst: 10 },
  collaboration: { perMinute: 300, burst: 50 },
  notifications: { perMinute: 30, burst: 5 },
  default: { perMinute: 60, burst: 10 },
  control: { perMinute: 1200, burst: 200 },
};

const WINDOW_MS = 60_000;

export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly perMs: number;

  constructor(
    readonly limit: RateLimit,
    now: number,
  ) {
    this.tokens = limit.burst;
    this.last = now;
    this.perMs = limit.perMinute / WINDOW_MS;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.limit.burst, this.tokens + (now - this.last) * this.perMs);
      this.last = now;
    }
  }

  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  remaining(now: number): number {
    this.refill(now);
    return Math.floor(this.tokens);
  }

  /** Milliseconds until one frame is allowed again. */
  retryAfterMs(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.perMs);
  }

  /** Epoch milliseconds at which the bucket is full again. */
  resetAt(now: number): number {
    this.refill(now);
    return now + Math.ceil((this.limit.burst - this.tokens) / this.perMs);
  }
}

/** What `rate_limit_status` announces for one scope. */
export interface RateLimitStatus {
  scope: string;
  limit: number;
  burst: number;
  remaining: number;
  reset_at: number;
  window_seconds: number;
}

export type TakeResult = { ok: true; announce?: RateLimitStatus } | { ok: false; retryAfterMs: number; status: RateLimitStatus };

/**
 * One connection's buckets, one per scope (channel type or `control`), created on first use. A refusal
 * holds its scope until the `retry_after` it announced: frames of that scope arriving before then are
 * refused too, so a client never sees a later frame stored ahead of an earlier refused one.
 */
export class ConnectionRateLimiter {
  private readonly buckets = new Map<string, { bucket: TokenBucket; announcedAt: number; heldUntil: number }>();

  constructor(private readonly limits: Readonly<Record<string, RateLimit>>) {}

  private entry(scope: string, now: number) {
    let entry = this.buckets.get(scope);
    if (!entry) {
      const limit = this.limits[scope] ?? this.limits.default ?? defaultRateLimits.default!;
      entry = { bucket: new TokenBucket(limit, now), announcedAt: Number.NEGATIVE_INFINITY, heldUntil: 0 };
      this.buckets.set(scope, entry);
    }
    return entry;
  }

  status(scope: string, now: number): RateLimitStatus {
    const { bucket } = this.entry(scope, now);
    return {
      scope,
      limit: bucket.limit.perMinute,
      burst: bucket.limit.burst,
      remaining: bucket.remaining(now),
      reset_at: bucket.resetAt(now),
      window_seconds: WINDOW_MS / 1000,
    };
  }

  /** Takes one frame from the scope's bucket; announces the status on first use and when running low (at most once a second). */
  take(scope: string, now: number): TakeResult {
    const entry = this.entry(scope, now);
    if (now < entry.heldUntil) return { ok: false, retryAfterMs: entry.heldUntil - now, status: this.status(scope, now) };
    if (!entry.bucket.take(now)) {
      const retryAfterMs = entry.bucket.retryAfterMs(now);
      entry.heldUntil = now + retryAfterMs;
      return { ok: false, retryAfterMs, status: this.status(scope, now) };
    }
    const first = entry.announcedAt === Number.NEGATIVE_INFINITY;
    const low = entry.bucket.remaining(now) <= Math.floor(entry.bucket.limit.burst / 4);
    if (first || (low && now - entry.announcedAt >= 1000)) {
      entry.announcedAt = now;
      return { ok: true, announce: this.status(scope, now) };
    }
    return { ok: true };
  }
}

/** Counts rejected frames in a sliding pair of windows; past the threshold the client is flooding. */
export class FloodMeter {
  private windowStart = 0;
  private count = 0;
  private previous = 0;

  constructor(
    private readonly threshold: number,
    private readonly windowMs: number,
  ) {}

  /** Records a rejection; true when the connection should be closed with 4029. */
  reject(now: number): boolean {
    if (now - this.windowStart >= this.windowMs) {
      this.previous = now - this.windowStart >= 2 * this.windowMs ? 0 : this.count;
      this.windowStart = now;
      this.count = 0;
    }
    this.count += 1;
    const weight = Math.max(0, 1 - (now - this.windowStart) / this.windowMs);
    return this.count + this.previous * weight > this.threshold;
  }
}
