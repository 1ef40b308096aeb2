import type { Clock } from '../environment/clock.js';
import type { RateLimit } from '../policy/rate-limiter.js';
import { TokenBucket } from '../policy/token-bucket.js';
import type { RateLimitStatus } from '../protocol/wire.js';

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

export type TakeResult = { ok: true; announce?: RateLimitStatus } | { ok: false; retryAfterMs: number; status: RateLimitStatus };

interface ScopeEntry {
  limit: RateLimit;
  bucket: TokenBucket;
  announcedAt: number;
}

/**
 * One connection's buckets, one per scope (channel type or `control`), created on first use. A refusal
 * holds its scope until the `retry_after` it announced: frames of that scope arriving before then are
 * refused too, so a client never sees a later frame stored ahead of an earlier refused one.
 */
export class ConnectionRateLimiter {
  private readonly buckets = new Map<string, ScopeEntry>();

  constructor(
    private readonly limits: Readonly<Record<string, RateLimit>>,
    private readonly clock: Pick<Clock, 'now'>,
  ) {}

  private entry(scope: string): ScopeEntry {
    let entry = this.buckets.get(scope);
    if (!entry) {
      const limit = this.limits[scope] ?? this.limits.default ?? defaultRateLimits.default!;
      entry = { limit, bucket: new TokenBucket({ ratePerSec: limit.perMinute / 60, burst: limit.burst }, this.clock), announcedAt: Number.NEGATIVE_INFINITY };
      this.buckets.set(scope, entry);
    }
    return entry;
  }

  status(scope: string): RateLimitStatus {
    const { limit, bucket } = this.entry(scope);
    return {
      scope,
      limit: limit.perMinute,
      burst: limit.burst,
      remaining: Math.floor(bucket.available()),
      reset_at: this.clock.now() + bucket.msUntil(limit.burst),
      window_seconds: WINDOW_MS / 1000,
    };
  }

  /** Takes one frame from the scope's bucket; announces the status on first use and when running low (at most once a second). */
  take(scope: string): TakeResult {
    const entry = this.entry(scope);
    const now = this.clock.now();
    if (!entry.bucket.tryTake()) {
      const retryAfterMs = entry.bucket.msUntil(1);
      entry.bucket.blockUntil(now + retryAfterMs);
      return { ok: false, retryAfterMs, status: this.status(scope) };
    }
    const first = entry.announcedAt === Number.NEGATIVE_INFINITY;
    const low = entry.bucket.available() < Math.floor(entry.limit.burst / 4) + 1;
    if (first || (low && now - entry.announcedAt >= 1000)) {
      entry.announcedAt = now;
      return { ok: true, announce: this.status(scope) };
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
