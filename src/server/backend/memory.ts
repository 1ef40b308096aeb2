import { initialSeq, MessageRing, type HistoryRead, type StoredMessage } from '../history.js';
import type { PresenceMember } from '../../protocol/wire.js';
import type { LimitTable } from '../limit-table.js';
import type { AppendInput, AppendResult, Backend, BackendListener, ChannelSignal, GlobalSignal } from './types.js';

export interface MemoryBackendOptions {
  historySize: number;
  historyTtlMs: number;
  dedupWindowMs: number;
  /** Most remembered publish ids; the oldest are forgotten first. */
  maxDedupEntries?: number;
  /** Where appends are charged to their rate limit buckets. */
  buckets: LimitTable;
}

interface ChannelState {
  base: number;
  seq: number;
  ring: MessageRing;
  touchedAt: number;
}

interface PresenceEntry {
  member: PresenceMember;
  refs: Set<string>;
}

/** Single-node backend: everything in this process. */
export class MemoryBackend implements Backend {
  readonly kind = 'memory';
  private listener: BackendListener | undefined;
  private readonly channels = new Map<string, ChannelState>();
  private readonly dedup = new Map<string, { seq: number; expiresAt: number }>();
  private readonly presence = new Map<string, Map<string, PresenceEntry>>();
  private readonly watched = new Map<string, number>();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly maxDedupEntries: number;

  constructor(private readonly options: MemoryBackendOptions) {
    this.maxDedupEntries = options.maxDedupEntries ?? 1_000_000;
  }

  async start(listener: BackendListener): Promise<void> {
    this.listener = listener;
    this.sweeper = setInterval(() => this.sweep(Date.now()), Math.min(this.options.historyTtlMs, 60_000));
    this.sweeper.unref();
    listener.status(true);
  }

  isUp(): boolean {
    return true;
  }

  private channel(ch: string, now: number): ChannelState {
    let state = this.channels.get(ch);
    if (!state) {
      const base = initialSeq(now);
      state = { base, seq: base, ring: new MessageRing(this.options.historySize), touchedAt: now };
      this.channels.set(ch, state);
    }
    state.touchedAt = now;
    return state;
  }

  private rememberedSeq(key: string, now: number): number | undefined {
    for (const [oldest, entry] of this.dedup) {
      if (entry.expiresAt > now && this.dedup.size <= this.maxDedupEntries) break;
      this.dedup.delete(oldest);
    }
    const entry = this.dedup.get(key);
    return entry && entry.expiresAt > now ? entry.seq : undefined;
  }

  async append(ch: string, input: AppendInput): Promise<AppendResult> {
    const now = Date.now();
    if (input.dedupKey !== undefined) {
      const seq = this.rememberedSeq(input.dedupKey, now);
      if (seq !== undefined) return { outcome: 'stored', seq, duplicate: true };
    }
    if (input.charge) {
      const charged = this.options.buckets.take(input.charge.key, input.charge.limit);
      if (!charged.ok) return { outcome: 'refused', retryAfterMs: charged.retryAfterMs };
    }
    const state = this.channel(ch, now);
    state.seq += 1;
    const message: StoredMessage = { seq: state.seq, dataJson: input.dataJson, ts: input.ts };
    if (input.id !== undefined) message.id = input.id;
    if (input.event !== undefined) message.event = input.event;
    if (input.from !== undefined) message.from = input.from;
    state.ring.push(message);
    if (input.dedupKey !== undefined) this.dedup.set(input.dedupKey, { seq: state.seq, expiresAt: now + this.options.dedupWindowMs });
    this.listener?.message(ch, message);
    return { outcome: 'stored', seq: state.seq, duplicate: false };
  }

  async read(ch: string, since: number, limit: number): Promise<HistoryRead> {
    const state = this.channel(ch, Date.now());
    return { base: state.base, current: state.seq, entries: limit > 0 ? state.ring.after(since, limit) : [] };
  }

  async watch(ch: string): Promise<void> {
    this.watched.set(ch, (this.watched.get(ch) ?? 0) + 1);
  }

  unwatch(ch: string): void {
    const count = (this.watched.get(ch) ?? 0) - 1;
    if (count > 0) this.watched.set(ch, count);
    else this.watched.delete(ch);
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
    if (entry) {
      entry.refs.add(ref);
      return false;
    }
    members.set(member.userId, { member, refs: new Set([ref]) });
    return true;
  }

  async presenceLeave(ch: string, ref: string, userId: string): Promise<boolean> {
    const members = this.presence.get(ch);
    const entry = members?.get(userId);
    if (!members || !entry || !entry.refs.delete(ref) || entry.refs.size > 0) return false;
    members.delete(userId);
    if (members.size === 0) this.presence.delete(ch);
    return true;
  }

  async presenceList(ch: string): Promise<PresenceMember[]> {
    return [...(this.presence.get(ch)?.values() ?? [])].map((entry) => entry.member);
  }

  private sweep(now: number): void {
    for (const [ch, state] of this.channels) {
      if (now - state.touchedAt > this.options.historyTtlMs && !this.watched.has(ch)) this.channels.delete(ch);
    }
    this.rememberedSeq('', now);
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.listener?.status(false);
    this.listener = undefined;
  }
}
