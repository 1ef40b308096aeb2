import type { Clock } from '../environment/clock.js';
import { TokenBucket } from './token-bucket.js';
import { RateLimitScope } from '../protocol/wire.js';

/** A token bucket: `burst` messages at once, refilled at `perMinute` messages per minute. */
export interface RateLimit {
  /** Messages allowed per minute, refilled continuously. */
  perMinute: number;
  /** Messages that may go at once after a quiet period (the bucket's capacity). */
  burst: number;
}

export interface RateLimitOptions {
  /** One bucket for every message the connection publishes. @default undefined (no connection-wide limit) */
  connection?: RateLimit;
  /**
   * One bucket per channel type: the channel name up to its first `:` (`chat:42` → `chat`).
   * @default {}
   */
  channels?: Readonly<Record<string, RateLimit>>;
  /**
   * Follow the server: adopt the limits its `rate_limit_status` frames announce, and hold messages for the
   * `retry_after` of a `RATE_LIMIT_EXCEEDED` (acknowledged messages are written again after it).
   * @default true
   */
  followServer?: boolean;
}

export type { RateLimitStatus } from '../protocol/wire.js';

/** One limit a server announced (a `rate_limit_status` frame, as the engine reads it; only `limit` is required). */
export interface AnnouncedLimit {
  /** Channel type the limit applies to; absent (or `connection`) for the whole connection. */
  scope?: string;
  /** Messages allowed per window. */
  limit: number;
  /** Length of the window, in seconds. @default 60 */
  windowSeconds?: number;
  /** Capacity of the bucket. @default limit */
  burst?: number;
  /** Messages still allowed now. */
  remaining?: number;
}

/** Outcome of `RateLimiter.take()`. */
export const Take = { ok: 0, channelEmpty: 1, connectionEmpty: 2 } as const;
export type Take = (typeof Take)[keyof typeof Take];

export const CONNECTION_SCOPE = 'connection';
/** A limit the server announces is followed at this share of its rate, so that network jitter never pushes a message past it. */
export const SERVER_RATE_SHARE = 0.9;
const IGNORED_SCOPES = new Set<string>([RateLimitScope.Control]);

/** The type of a `type:id[:sub]` channel, which selects its bucket. */
export const channelType = (channel: string): string => {
  const colon = channel.indexOf(':');
  return colon < 0 ? channel : channel.slice(0, colon);
};

const bucketOf = (limit: RateLimit, clock: Clock) => new TokenBucket({ ratePerSec: limit.perMinute / 60, burst: limit.burst }, clock);

/**
 * The client side of rate limiting: a bucket for the connection and one per channel type. A message takes
 * one token from each that applies to it, or waits.
 */
export class RateLimiter {
  private connection: TokenBucket | undefined;
  private readonly channels = new Map<string, TokenBucket>();

  constructor(
    private readonly clock: Clock,
    /** The configured limits: caps that a limit the server announces can only make stricter. */
    private readonly options: { connection?: RateLimit | undefined; channels: Readonly<Record<string, RateLimit>> },
  ) {
    if (options.connection) this.connection = bucketOf(options.connection, clock);
    for (const [type, limit] of Object.entries(options.channels)) this.channels.set(type, bucketOf(limit, clock));
  }

  /**
   * The bucket scope a message on `channel` counts against, besides the connection's: its channel type's,
   * or the `default` the server announced for every type without one of its own.
   */
  scopeOf(channel: string | undefined): string | undefined {
    if (channel === undefined || this.channels.size === 0) return undefined;
    const type = channelType(channel);
    if (this.channels.has(type)) return type;
    return this.channels.has(RateLimitScope.Default) ? RateLimitScope.Default : undefined;
  }

  /** Takes a token for one message on `channel` from every bucket that applies, or none when one is empty. */
  take(channel: string | undefined): Take {
    const connection = this.connection;
    if (connection !== undefined && connection.msUntil() > 0) return Take.connectionEmpty;
    const bucket = this.channels.get(this.scopeOf(channel)!);
    if (bucket !== undefined && !bucket.tryTake()) return Take.channelEmpty;
    connection?.tryTake();
    return Take.ok;
  }

  /** Ms until a message on `channel` could take its tokens. */
  waitMs(channel: string | undefined): number {
    return Math.max(this.connection?.msUntil() ?? 0, this.channels.get(this.scopeOf(channel)!)?.msUntil() ?? 0);
  }

  /** Ms until the connection's own bucket grants a message. */
  connectionWaitMs(): number {
    return this.connection?.msUntil() ?? 0;
  }

  /** Adopts a limit the server announced (at `SERVER_RATE_SHARE` of its rate); the bucket never holds more than the server says remain. */
  adopt(status: AnnouncedLimit): void {
    const scope = status.scope ?? CONNECTION_SCOPE;
    if (IGNORED_SCOPES.has(scope) || !(status.limit > 0)) return;
    const windowSeconds = status.windowSeconds ?? 60;
    const announced: RateLimit = { perMinute: (status.limit * 60 * SERVER_RATE_SHARE) / windowSeconds, burst: status.burst ?? status.limit };
    if (!Number.isFinite(announced.perMinute) || !Number.isFinite(announced.burst) || !(announced.burst >= 1)) return;
    const cap = scope === CONNECTION_SCOPE ? this.options.connection : Object.hasOwn(this.options.channels, scope) ? this.options.channels[scope] : undefined;
    const limit = cap === undefined ? announced : { perMinute: Math.min(cap.perMinute, announced.perMinute), burst: Math.min(cap.burst, announced.burst) };
    let bucket = scope === CONNECTION_SCOPE ? this.connection : this.channels.get(scope);
    if (bucket === undefined || Math.abs(bucket.ratePerSec - limit.perMinute / 60) > 1e-9 || bucket.burst !== limit.burst) {
      const previous = bucket;
      bucket = bucketOf(limit, this.clock);
      if (previous) {
        bucket.limitTo(previous.available());
        bucket.blockUntil(previous.blockedUntil);
      }
      if (scope === CONNECTION_SCOPE) this.connection = bucket;
      else this.channels.set(scope, bucket);
    }
    if (status.remaining !== undefined) bucket.limitTo(status.remaining);
  }

  /** Lifts every `block()`. */
  liftHolds(): void {
    this.connection?.unblock();
    for (const bucket of this.channels.values()) bucket.unblock();
  }

  /** Grants nothing in `scope` (a channel type, or the connection when absent) before `until` (clock time). */
  block(scope: string | undefined, until: number): void {
    if (scope === undefined || IGNORED_SCOPES.has(scope)) scope = CONNECTION_SCOPE;
    const bucket = (scope === CONNECTION_SCOPE ? this.connection : this.channels.get(scope)) ?? new TokenBucket({ ratePerSec: 0, burst: Number.MAX_SAFE_INTEGER }, this.clock);
    if (scope === CONNECTION_SCOPE) this.connection = bucket;
    else this.channels.set(scope, bucket);
    bucket.blockUntil(until);
  }
}
