import type { Clock } from '../../environment/clock.js';
import type { PresenceMember } from '../../protocol/wire.js';
import type { HistoryRead, StoredMessage } from '../history.js';
import type { LimitTable } from '../limit-table.js';
import type { RetentionRules } from '../retention.js';
import { MemoryHistory } from './memory-history.js';
import type { AppendInput, AppendResult, Backend, BackendListener, ChannelSignal, GlobalSignal, PresenceLeave, TypingLeft } from './types.js';

export interface MemoryBackendOptions {
  retention: RetentionRules;
  /** Most bytes of history retained over all channels. */
  historyMaxBytes: number;
  historyTtlMs: number;
  dedupWindowMs: number;
  /** The time publish ids are remembered and idle history is forgotten in: one that never goes back, so a wall clock stepped neither keeps nor forgets them early. */
  clock: Pick<Clock, 'now'>;
  /** Most remembered publish ids; the oldest are forgotten first. */
  maxDedupEntries?: number;
  /** Where appends are charged to their rate limit buckets. */
  buckets: LimitTable;
}

interface PresenceEntry {
  /** The member shown: the last of `refs`. */
  member: PresenceMember;
  /** Each connection present, with the member it joined with, in the order they joined or joined again. */
  refs: Map<string, PresenceMember>;
}

const sameMember = (a: PresenceMember, b: PresenceMember): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Forgets the connections whose typing ran out by `now`; returns how many. */
function forgetTimedOut(refs: Map<string, number>, now: number): number {
  let forgotten = 0;
  for (const [ref, until] of refs) {
    if (until > now) continue;
    refs.delete(ref);
    forgotten += 1;
  }
  return forgotten;
}

/** Single-node backend: everything in this process. */
export class MemoryBackend implements Backend {
  readonly kind = 'memory';
  private listener: BackendListener | undefined;
  private readonly history: MemoryHistory;
  private readonly dedup = new Map<string, { seq: number; expiresAt: number }>();
  private readonly presence = new Map<string, Map<string, PresenceEntry>>();
  private readonly watched = new Map<string, number>();
  /** Per channel and user (`[ch, userId]` as JSON): each connection typing, with the time its typing runs out. */
  private readonly typists = new Map<string, Map<string, number>>();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly maxDedupEntries: number;

  constructor(private readonly options: MemoryBackendOptions) {
    this.maxDedupEntries = options.maxDedupEntries ?? 1_000_000;
    this.history = new MemoryHistory({
      retention: options.retention,
      maxBytes: options.historyMaxBytes,
      ttlMs: options.historyTtlMs,
      isWatched: (ch) => this.watched.has(ch),
    });
  }

  async start(listener: BackendListener): Promise<void> {
    this.listener = listener;
    this.sweeper = setInterval(() => this.sweep(this.options.clock.now()), Math.min(this.options.historyTtlMs, 60_000));
    this.sweeper.unref();
    listener.status(true);
  }

  isUp(): boolean {
    return true;
  }

  /** Forgets ids whose window has passed (and the oldest beyond the cap); they were stored in expiry order. */
  private forgetExpiredIds(now: number): void {
    for (const [oldest, entry] of this.dedup) {
      if (entry.expiresAt > now && this.dedup.size <= this.maxDedupEntries) break;
      this.dedup.delete(oldest);
    }
  }

  async append(ch: string, input: AppendInput): Promise<AppendResult> {
    const now = this.options.clock.now();
    this.forgetExpiredIds(now);
    const remembered = input.dedupKey === undefined ? undefined : this.dedup.get(input.dedupKey);
    if (remembered) return { outcome: 'stored', seq: remembered.seq, duplicate: true };
    if (input.charge) {
      const charged = this.options.buckets.take(input.charge.key, input.charge.limit);
      if (!charged.ok) return { outcome: 'refused', retryAfterMs: charged.retryAfterMs };
    }
    const unnumbered: Omit<StoredMessage, 'seq'> = { dataJson: input.dataJson, ts: input.ts };
    if (input.id !== undefined) unnumbered.id = input.id;
    if (input.event !== undefined) unnumbered.event = input.event;
    if (input.from !== undefined) unnumbered.from = input.from;
    const message = this.history.append(ch, unnumbered, now);
    if (input.dedupKey !== undefined) this.dedup.set(input.dedupKey, { seq: message.seq, expiresAt: now + this.options.dedupWindowMs });
    this.listener?.message(ch, message);
    return { outcome: 'stored', seq: message.seq, duplicate: false };
  }

  async repeatOf(dedupKey: string): Promise<number | undefined> {
    const remembered = this.dedup.get(dedupKey);
    return remembered && remembered.expiresAt > this.options.clock.now() ? remembered.seq : undefined;
  }

  async read(ch: string, since: number, limit: number): Promise<HistoryRead> {
    return this.history.read(ch, since, limit, this.options.clock.now());
  }

  /** Messages reach the listener as they are appended. */
  async caughtUp(): Promise<void> {}

  async watch(ch: string): Promise<void> {
    this.watched.set(ch, (this.watched.get(ch) ?? 0) + 1);
  }

  unwatch(ch: string): void {
    const count = (this.watched.get(ch) ?? 0) - 1;
    if (count > 0) {
      this.watched.set(ch, count);
      return;
    }
    this.watched.delete(ch);
    this.history.unwatched(ch, this.options.clock.now());
  }

  async signalChannel(ch: string, signal: ChannelSignal): Promise<void> {
    this.listener?.channelSignal(ch, signal);
  }

  async signalGlobal(signal: GlobalSignal): Promise<void> {
    this.listener?.globalSignal(signal);
  }

  async presenceJoin(ch: string, ref: string, member: PresenceMember): Promise<boolean> {
    let members = this.presence.get(ch);
    if (!members) this.presence.set(ch, (members = new Map()));
    const entry = members.get(member.userId);
    if (!entry) {
      members.set(member.userId, { member, refs: new Map([[ref, member]]) });
      this.announce(ch, [member], []);
      return true;
    }
    if (entry.refs.has(ref)) return false;
    entry.refs.set(ref, member);
    return this.show(ch, entry, member);
  }

  async presenceUpdate(ch: string, ref: string, member: PresenceMember): Promise<boolean> {
    const entry = this.presence.get(ch)?.get(member.userId);
    if (!entry?.refs.delete(ref)) return false;
    entry.refs.set(ref, member);
    return this.show(ch, entry, member);
  }

  async presenceLeave(ch: string, ref: string, userId: string): Promise<PresenceLeave> {
    const members = this.presence.get(ch);
    const entry = members?.get(userId);
    if (!members || !entry?.refs.delete(ref)) return { outcome: 'none' };
    if (entry.refs.size === 0) {
      members.delete(userId);
      if (members.size === 0) this.presence.delete(ch);
      this.announce(ch, [], [{ userId }]);
      return { outcome: 'left' };
    }
    let last = entry.member;
    for (const member of entry.refs.values()) last = member;
    return this.show(ch, entry, last) ? { outcome: 'shown', member: last } : { outcome: 'none' };
  }

  /** Shows `member` for its user, announced as a join when that changed the member shown; true then. */
  private show(ch: string, entry: PresenceEntry, member: PresenceMember): boolean {
    const changed = !sameMember(entry.member, member);
    entry.member = member;
    if (changed) this.announce(ch, [member], []);
    return changed;
  }

  private announce(ch: string, joins: PresenceMember[], leaves: PresenceMember[]): void {
    this.listener?.channelSignal(ch, { kind: 'presence', joins, leaves });
  }

  async presenceList(ch: string): Promise<PresenceMember[]> {
    return [...(this.presence.get(ch)?.values() ?? [])].map((entry) => entry.member);
  }

  async typingStart(ch: string, userId: string, ref: string, ttlMs: number): Promise<void> {
    const key = JSON.stringify([ch, userId]);
    let refs = this.typists.get(key);
    if (!refs) this.typists.set(key, (refs = new Map()));
    const now = Date.now();
    forgetTimedOut(refs, now);
    refs.set(ref, now + ttlMs);
  }

  async typingStop(ch: string, userId: string, ref?: string): Promise<TypingLeft> {
    const key = JSON.stringify([ch, userId]);
    const refs = this.typists.get(key);
    if (!refs) return { removed: 0, untilMs: 0 };
    const now = Date.now();
    const removed = (ref !== undefined && refs.delete(ref) ? 1 : 0) + forgetTimedOut(refs, now);
    if (refs.size === 0) {
      this.typists.delete(key);
      return { removed, untilMs: 0 };
    }
    return { removed, untilMs: Math.max(...refs.values()) - now };
  }

  sizes(): Record<string, number> {
    let presenceMembers = 0;
    for (const members of this.presence.values()) presenceMembers += members.size;
    return {
      ...this.history.sizes(),
      dedupIds: this.dedup.size,
      watchedChannels: this.watched.size,
      presenceChannels: this.presence.size,
      presenceMembers,
      typingUsers: this.typists.size,
    };
  }

  private sweep(now: number): void {
    this.history.sweep(now);
    this.forgetExpiredIds(now);
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.listener?.status(false);
    this.listener = undefined;
  }
}
