import type { Clock } from '../environment/clock.js';
import type { RateLimit } from '../policy/rate-limiter.js';
import { RateLimitScope, type RateLimitStatus } from '../protocol/wire.js';
import { addressBudgetKey } from './client-address.js';
import { FloodMeter } from './flood-meter.js';
import { chargeAll, LimitTable, type Charge, type ChargeResult } from './limit-table.js';

/** Scope of frames outside a channel (auth refresh, ping, subscribe, unsubscribe, presence, typing) and of refused frames. */
export const CONTROL_SCOPE = RateLimitScope.Control;
/** Scope of publishes on every channel type without its own entry. */
export const DEFAULT_SCOPE = RateLimitScope.Default;

/**
 * The seed's table per channel type, plus `default` for every other channel type and `control` for frames
 * outside a channel (ping, subscribe, unsubscribe, presence, typing, auth refresh) and refused frames.
 */
export const defaultRateLimits: Readonly<Record<string, RateLimit>> = {
  chat: { perMinute: 120, burst: 20 },
  'agent-status': { perMinute: 60, burst: 10 },
  collaboration: { perMinute: 300, burst: 50 },
  notifications: { perMinute: 30, burst: 5 },
  default: { perMinute: 60, burst: 10 },
  control: { perMinute: 1200, burst: 200 },
};

const WINDOW_SECONDS = 60;
const FLOOD_WINDOW_MS = 10_000;
const ANNOUNCE_INTERVAL_MS = 1000;
/** How long past its `retry_after` a scope waits for a refused publish to come again before it lets later ones through. */
const RESEND_GRACE_MS = 2000;
/** Most ids a waiting scope remembers of the publishes it refused. */
const MAX_AWAITED_IDS = 256;

export interface RateLimitSettings {
  /** Buckets of each connection, by scope. */
  perConnection: Readonly<Record<string, RateLimit>>;
  /** Buckets of each user, by scope, shared by all the user's connections and kept across reconnects. */
  perUser: Readonly<Record<string, RateLimit>>;
  /** Bucket of each client address (see `trustedProxies`) for what it sends before authenticating. */
  unauthenticated: RateLimit;
  /** Refusals within 10 s after which the connection is closed with 4029. */
  floodThreshold: number;
  /** Most users, and most addresses, whose buckets and flood counts are kept. */
  maxTracked: number;
  /** Bits of an IPv6 address that name the client (see `ipv6ClientPrefix`); 128 when absent. */
  ipv6ClientPrefix?: number;
}

/** Who is charged besides the connection: its user once authenticated, its remote address before. */
export type Subject = { kind: 'user'; id: string } | { kind: 'address'; id: string };

/** A refused frame: how long its scope is held, what to announce, and whether the client is flooding. */
export interface Refusal {
  ok: false;
  retryAfterMs: number;
  status: RateLimitStatus;
  flooding: boolean;
}

export type Verdict = { ok: true; announce?: RateLimitStatus } | Refusal;

/**
 * A scope waiting for a refused acknowledged publish to be sent again, so that none sent after it is
 * stored before it: the ids it refused, and the end of the first refusal's `retry_after`.
 */
interface AwaitedResend {
  readonly ids: Set<string>;
  until: number;
}

/** One connection's buckets, what it was last told about them, and the scopes waiting for a refused publish. */
export interface ConnectionLimits {
  readonly table: LimitTable;
  readonly announcedAt: Map<string, number>;
  /** Made at the first acknowledged publish refused (most connections never have one). */
  awaited?: Map<string, AwaitedResend>;
}

/**
 * Every rate limit of a node: buckets per connection, per user (across the user's connections and
 * reconnects) and per remote address (before authentication), each scoped by channel type or `control`;
 * flood counts per user and address. Scopes come from the configured tables only, so a client cannot
 * make new ones.
 */
export class ServerRateLimits {
  private readonly users: LimitTable;
  private readonly addresses: LimitTable;
  private readonly floods = new Map<string, FloodMeter>();
  /** Scopes a connection can have a bucket of: every one of either table, `default` and `control`. */
  private readonly scopeCount: number;

  /** `clock` runs the buckets; `wall` is the time `reset_at` is told in (epoch ms). */
  constructor(
    private readonly settings: RateLimitSettings,
    private readonly clock: Pick<Clock, 'now'>,
    private readonly wall: Pick<Clock, 'now'> = clock,
  ) {
    this.users = new LimitTable(clock, settings.maxTracked);
    this.addresses = new LimitTable(clock, settings.maxTracked);
    this.scopeCount = new Set([...Object.keys(settings.perConnection), ...Object.keys(settings.perUser), DEFAULT_SCOPE, CONTROL_SCOPE]).size;
  }

  /** The scope of a publish on `ch`: its channel type when the tables name it, `default` otherwise. */
  scopeOf(ch: string): string {
    const colon = ch.indexOf(':');
    const type = colon < 0 ? ch : ch.slice(0, colon);
    return type !== CONTROL_SCOPE && (Object.hasOwn(this.settings.perConnection, type) || Object.hasOwn(this.settings.perUser, type)) ? type : DEFAULT_SCOPE;
  }

  private connectionLimit(scope: string): RateLimit {
    return this.settings.perConnection[scope] ?? this.settings.perConnection[DEFAULT_SCOPE]!;
  }

  /** The user bucket a publish of `scope` is charged to, for the backend to charge atomically with the append. */
  userCharge(userId: string, scope: string): { key: string; limit: RateLimit } {
    return { key: `${scope}\n${userId}`, limit: this.settings.perUser[scope] ?? this.settings.perUser[DEFAULT_SCOPE]! };
  }

  private subjectCharge(subject: Subject, scope: string): Charge {
    if (subject.kind === 'address') return { table: this.addresses, key: this.addressKey(subject.id), limit: this.settings.unauthenticated };
    return { table: this.users, ...this.userCharge(subject.id, scope) };
  }

  newConnection(): ConnectionLimits {
    return { table: new LimitTable(this.clock, this.scopeCount), announcedAt: new Map() };
  }

  /**
   * Charges a publish of `scope` to the connection (the backend charges its user). Once an acknowledged
   * publish is refused, the scope's later acknowledged publishes are refused too, though a token is back,
   * until one the scope refused comes again (the client sends them again in order) or 2 s past the first
   * `retry_after`: without that, one sent after it could be stored before it.
   */
  takePublish(connection: ConnectionLimits, subject: Subject, scope: string, id: string | undefined): Verdict {
    if (id !== undefined) {
      const awaited = this.awaiting(connection, scope);
      if (awaited?.ids.has(id)) this.forgetAwaited(connection, scope);
      else if (awaited) {
        if (awaited.ids.size < MAX_AWAITED_IDS) awaited.ids.add(id);
        return this.refused(subject, scope, Math.max(1, awaited.until - this.clock.now()), [this.ownCharge(connection, scope)]);
      }
    }
    const verdict = this.take(connection, subject, scope, false);
    if (!verdict.ok && id !== undefined) this.awaitResend(connection, scope, id, verdict.retryAfterMs);
    return verdict;
  }

  private awaiting(connection: ConnectionLimits, scope: string): AwaitedResend | undefined {
    const awaited = connection.awaited?.get(scope);
    if (awaited && this.clock.now() < awaited.until + RESEND_GRACE_MS) return awaited;
    this.forgetAwaited(connection, scope);
    return undefined;
  }

  private forgetAwaited(connection: ConnectionLimits, scope: string): void {
    connection.awaited?.delete(scope);
    if (connection.awaited?.size === 0) connection.awaited = undefined;
  }

  private awaitResend(connection: ConnectionLimits, scope: string, id: string, retryAfterMs: number): void {
    const until = this.clock.now() + retryAfterMs;
    const awaited = this.awaiting(connection, scope);
    if (!awaited) (connection.awaited ??= new Map()).set(scope, { ids: new Set([id]), until });
    else {
      if (awaited.ids.size < MAX_AWAITED_IDS) awaited.ids.add(id);
      awaited.until = Math.max(awaited.until, until);
    }
  }

  private ownCharge(connection: ConnectionLimits, scope: string): Charge {
    return { table: connection.table, key: scope, limit: this.connectionLimit(scope) };
  }

  /** Whether the connection's bucket of `scope` would grant a frame now. */
  hasToken(connection: ConnectionLimits, scope: string): boolean {
    return connection.table.available(scope, this.connectionLimit(scope)) + 1e-9 >= 1;
  }

  /**
   * Charges one frame of `scope` to the connection and, unless `subjectToo` is false (a publish, whose user
   * bucket the backend charges), to its subject. Announces the status on first use and when running low.
   */
  take(connection: ConnectionLimits, subject: Subject, scope: string, subjectToo = true): Verdict {
    const own = this.ownCharge(connection, scope);
    const charges = subjectToo ? [own, this.subjectCharge(subject, scope)] : [own];
    const result = chargeAll(charges);
    if (!result.ok) return this.refused(subject, scope, result.retryAfterMs, charges);
    const now = this.clock.now();
    const announcedAt = connection.announcedAt.get(scope);
    const status = this.status(scope, charges);
    const low = status.remaining <= Math.floor(status.burst / 4);
    if (announcedAt === undefined || (low && now - announcedAt >= ANNOUNCE_INTERVAL_MS)) {
      connection.announcedAt.set(scope, now);
      return { ok: true, announce: status };
    }
    return { ok: true };
  }

  /** Gives back the token a publish of `scope` took from the connection when it proved a repeat. */
  giveBack(connection: ConnectionLimits, scope: string): void {
    connection.table.giveBack(scope);
  }

  /**
   * A publish refused by a bucket elsewhere (the backend's user bucket): counted toward flooding like any
   * refusal, and an acknowledged one makes its scope wait for it as `takePublish` does.
   */
  refusedElsewhere(connection: ConnectionLimits, subject: Subject, scope: string, retryAfterMs: number, id?: string): Refusal {
    if (id !== undefined) this.awaitResend(connection, scope, id, retryAfterMs);
    return this.refused(subject, scope, retryAfterMs, [this.ownCharge(connection, scope)]);
  }

  private refused(subject: Subject, scope: string, retryAfterMs: number, charges: readonly Charge[]): Refusal {
    const status = { ...this.status(scope, charges), remaining: 0 };
    return { ok: false, retryAfterMs, status, flooding: this.flood(subject).reject(this.clock.now()) };
  }

  /** The status of the bucket with the fewest frames left (the one that refuses first), the latest `reset_at` of them all. */
  private status(scope: string, charges: readonly Charge[]): RateLimitStatus {
    let limit = this.connectionLimit(scope);
    let remaining = Number.POSITIVE_INFINITY;
    let fullIn = 0;
    for (const { table, key, limit: own } of charges) {
      const available = table.available(key, own);
      if (available < remaining) [remaining, limit] = [available, own];
      fullIn = Math.max(fullIn, table.msUntilFull(key, own));
    }
    return { scope, limit: limit.perMinute, burst: limit.burst, remaining: Math.floor(remaining), reset_at: this.wall.now() + fullIn, window_seconds: WINDOW_SECONDS };
  }

  private flood(subject: Subject): FloodMeter {
    const key = subject.kind === 'user' ? `user\n${subject.id}` : `address\n${this.addressKey(subject.id)}`;
    let meter = this.floods.get(key);
    if (meter) {
      this.floods.delete(key);
    } else {
      meter = new FloodMeter(this.settings.floodThreshold, FLOOD_WINDOW_MS);
      if (this.floods.size >= 2 * this.settings.maxTracked) this.floods.delete(this.floods.keys().next().value!);
    }
    this.floods.set(key, meter);
    return meter;
  }

  private addressKey(address: string): string {
    return addressBudgetKey(address, this.settings.ipv6ClientPrefix ?? 128);
  }

  /** Charges an unauthenticated frame or a failed authentication to the remote address. */
  chargeAddress(address: string): ChargeResult {
    return this.addresses.take(this.addressKey(address), this.settings.unauthenticated);
  }

  /** Ms the address must wait before it may open a socket again, or 0. */
  addressWait(address: string): number {
    const { unauthenticated } = this.settings;
    const key = this.addressKey(address);
    return this.addresses.available(key, unauthenticated) + 1e-9 < 1 ? this.addresses.refuse(key, unauthenticated) : 0;
  }

  /** Forgets full buckets and quiet flood counts. */
  sweep(): void {
    this.users.sweep();
    this.addresses.sweep();
    const now = this.clock.now();
    for (const [key, meter] of this.floods) if (meter.quiet(now)) this.floods.delete(key);
  }

  /** The user bucket table, where a single node's backend charges publishes. */
  get userBuckets(): LimitTable {
    return this.users;
  }

  /** Entries kept per table (for leak checks). */
  sizes(): Record<string, number> {
    return { userBuckets: this.users.size, addressBuckets: this.addresses.size, floodMeters: this.floods.size };
  }
}
