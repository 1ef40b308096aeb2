import type { Clock } from '../environment/clock.js';
import type { RateLimit } from '../policy/rate-limiter.js';
import { TokenBucket } from '../policy/token-bucket.js';

interface Entry {
  bucket: TokenBucket;
  limit: RateLimit;
}

/** One bucket to charge: which table, which key, and the limit the bucket has when it is created. */
export interface Charge {
  table: LimitTable;
  key: string;
  limit: RateLimit;
}

export type ChargeResult = { ok: true } | { ok: false; retryAfterMs: number };

/**
 * Token buckets by key, created on first use. A refusal holds the bucket until the `retry_after` it
 * announced, so nothing later in that bucket gets through before it. A full bucket carries no
 * information and is forgotten by `sweep()`; beyond `maxEntries`, the least recently used go first.
 */
export class LimitTable {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Pick<Clock, 'now'>,
    private readonly maxEntries: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  private entry(key: string, limit: RateLimit): Entry {
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
    } else {
      entry = { bucket: new TokenBucket({ ratePerSec: limit.perMinute / 60, burst: limit.burst }, this.clock), limit };
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(key, entry);
    return entry;
  }

  /** Frames the bucket would grant now (fractional); 0 while held. */
  available(key: string, limit: RateLimit): number {
    return this.entries.get(key)?.bucket.available() ?? limit.burst;
  }

  /** Whole ms until the bucket is full again. */
  msUntilFull(key: string, limit: RateLimit): number {
    return this.entries.get(key)?.bucket.msUntil(limit.burst) ?? 0;
  }

  /** Takes one frame if the bucket has it; otherwise holds the bucket until one is back and says when that is. */
  take(key: string, limit: RateLimit): ChargeResult {
    const { bucket } = this.entry(key, limit);
    if (bucket.tryTake()) return { ok: true };
    return { ok: false, retryAfterMs: this.hold(bucket) };
  }

  /** Gives one frame back (taken for a publish that proved a repeat), up to the bucket's capacity; a held bucket keeps its hold. */
  giveBack(key: string): void {
    const entry = this.entries.get(key);
    if (!entry || entry.bucket.blockedUntil > this.clock.now()) return;
    const bucket = new TokenBucket({ ratePerSec: entry.limit.perMinute / 60, burst: entry.limit.burst }, this.clock);
    bucket.limitTo(entry.bucket.available() + 1);
    entry.bucket = bucket;
  }

  /** Holds the bucket until it has a frame again; returns the wait in ms. */
  refuse(key: string, limit: RateLimit): number {
    return this.hold(this.entry(key, limit).bucket);
  }

  private hold(bucket: TokenBucket): number {
    const retryAfterMs = Math.max(1, bucket.msUntil(1));
    bucket.blockUntil(this.clock.now() + retryAfterMs);
    return retryAfterMs;
  }

  /** Forgets every full bucket that holds nothing back. */
  sweep(): void {
    const now = this.clock.now();
    for (const [key, { bucket, limit }] of this.entries) {
      if (bucket.blockedUntil <= now && bucket.available() >= limit.burst) this.entries.delete(key);
    }
  }
}

/**
 * Charges one frame to every bucket, or to none: when one cannot grant it, that one (or those) are
 * held and the longest wait is returned.
 */
export function chargeAll(charges: readonly Charge[]): ChargeResult {
  let retryAfterMs = 0;
  for (const { table, key, limit } of charges) {
    if (table.available(key, limit) + 1e-9 < 1) retryAfterMs = Math.max(retryAfterMs, table.refuse(key, limit));
  }
  if (retryAfterMs > 0) return { ok: false, retryAfterMs };
  for (const { table, key, limit } of charges) table.take(key, limit);
  return { ok: true };
}
