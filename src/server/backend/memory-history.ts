import { initialSeq, MessageRing, type HistoryRead, type StoredMessage } from '../history.js';
import type { RetentionRules } from '../retention.js';

interface ChannelState {
  readonly ch: string;
  readonly base: number;
  seq: number;
  readonly ring: MessageRing;
  touchedAt: number;
}

/** What keeping a message costs beyond its bytes, counted against the total bound. */
const MESSAGE_OVERHEAD_BYTES = 150;
/** What keeping a channel's numbering and history costs, counted against the total bound. */
const CHANNEL_OVERHEAD_BYTES = 800;

export interface MemoryHistoryOptions {
  retention: RetentionRules;
  /**
   * Most bytes kept over all channels, counting each message's bytes plus 150 and each channel 800 more;
   * beyond, the oldest message of all goes first.
   */
  maxBytes: number;
  /** A channel without activity for this long (and nobody watching it) forgets its numbering and history. */
  ttlMs: number;
  /** Whether a node is receiving the channel (its state is kept while it is). */
  isWatched(ch: string): boolean;
}

/**
 * Every channel's numbering and retained messages on a single node: each channel within its retention,
 * all of them within `maxBytes`. Beyond it, the least recently used channel without messages that nobody
 * watches is forgotten first, then the oldest message of all. A channel is also forgotten after `ttlMs` idle
 * and unwatched, or when the total bound empties it and nobody watches it; created again, it numbers on
 * above every number it had, so numbers never go back (a resume across it reports a gap).
 */
export class MemoryHistory {
  private readonly channels = new Map<string, ChannelState>();
  /** Channels without messages, least recently used first (a watched one leaves until it is unwatched). */
  private readonly empty = new Map<string, ChannelState>();
  /** Retained messages in publish order, oldest first (entries already dropped by their channel are skipped). */
  private order: { state: ChannelState; seq: number }[] = [];
  private orderHead = 0;
  private bytes = 0;
  private count = 0;
  /** Highest number of a forgotten channel: a channel created again starts above it, even within the same millisecond. */
  private floor = 0;

  constructor(private readonly options: MemoryHistoryOptions) {}

  private channel(ch: string, now: number): ChannelState {
    let state = this.channels.get(ch);
    if (!state) {
      const base = Math.max(initialSeq(now), this.floor);
      const { size, maxBytes } = this.options.retention.forChannel(ch);
      state = { ch, base, seq: base, ring: new MessageRing(size, maxBytes), touchedAt: now };
      this.channels.set(ch, state);
    }
    state.touchedAt = now;
    this.track(state);
    return state;
  }

  /** Keeps `empty` in step with the channel: listed (as most recently used) while it has no messages. */
  private track(state: ChannelState): void {
    this.empty.delete(state.ch);
    if (state.ring.length === 0) this.empty.set(state.ch, state);
  }

  append(ch: string, message: Omit<StoredMessage, 'seq'>, now: number): StoredMessage {
    const state = this.channel(ch, now);
    state.seq += 1;
    const stored: StoredMessage = { ...message, seq: state.seq };
    this.measure(state, () => state.ring.push(stored));
    this.track(state);
    if (state.ring.firstSeq !== undefined && state.ring.firstSeq <= stored.seq) this.order.push({ state, seq: stored.seq });
    this.evictOldest();
    this.compact();
    return stored;
  }

  read(ch: string, since: number, limit: number, now: number): HistoryRead {
    const state = this.channel(ch, now);
    const read = { base: state.base, current: state.seq, entries: limit > 0 ? state.ring.after(since, limit) : [] };
    this.evictOldest();
    return read;
  }

  /** A channel nobody watches any more: idle from now on, and without messages, it may be forgotten to stay within the bound. */
  unwatched(ch: string, now: number): void {
    const state = this.channels.get(ch);
    if (!state) return;
    state.touchedAt = now;
    this.track(state);
    this.evictOldest();
  }


  private forget(state: ChannelState): void {
    this.bytes -= state.ring.bytes;
    this.count -= state.ring.length;
    this.floor = Math.max(this.floor, state.seq);
    this.channels.delete(state.ch);
    this.empty.delete(state.ch);
  }

  /** Forgets channels idle for longer than the TTL that nobody watches. */
  sweep(now: number): void {
    for (const [ch, state] of this.channels) {
      if (now - state.touchedAt <= this.options.ttlMs || this.options.isWatched(ch)) continue;
      this.forget(state);
    }
    this.compact();
  }

  /** What the kept history weighs against the total bound. */
  private weight(): number {
    return this.bytes + this.count * MESSAGE_OVERHEAD_BYTES + this.channels.size * CHANNEL_OVERHEAD_BYTES;
  }

  /** Channels kept, messages and their bytes retained, and the entries of the publish-order index. */
  sizes(): { historyChannels: number; retainedMessages: number; retainedBytes: number; historyOrder: number } {
    return { historyChannels: this.channels.size, retainedMessages: this.count, retainedBytes: this.bytes, historyOrder: this.order.length };
  }

  private measure(state: ChannelState, change: () => void): void {
    const { bytes, length } = state.ring;
    change();
    this.bytes += state.ring.bytes - bytes;
    this.count += state.ring.length - length;
  }

  private live(entry: { state: ChannelState; seq: number }): boolean {
    const first = entry.state.ring.firstSeq;
    return this.channels.get(entry.state.ch) === entry.state && first !== undefined && first <= entry.seq;
  }

  private evictOldest(): void {
    while (this.weight() > this.options.maxBytes) {
      if (this.forgetEmpty()) continue;
      if (this.orderHead >= this.order.length) return;
      const entry = this.order[this.orderHead]!;
      this.orderHead += 1;
      if (!this.live(entry) || entry.state.ring.firstSeq !== entry.seq) continue;
      this.measure(entry.state, () => entry.state.ring.shift());
      if (entry.state.ring.length === 0 && !this.options.isWatched(entry.state.ch)) this.forget(entry.state);
      else this.track(entry.state);
    }
  }

  /** Forgets the least recently used channel without messages that nobody watches; false when there is none. */
  private forgetEmpty(): boolean {
    for (const state of this.empty.values()) {
      this.empty.delete(state.ch);
      if (this.options.isWatched(state.ch)) continue;
      this.forget(state);
      return true;
    }
    return false;
  }

  private compact(): void {
    if (this.count === 0) {
      this.order = [];
      this.orderHead = 0;
      return;
    }
    const pending = this.order.length - this.orderHead;
    if (this.orderHead > 1024 && this.orderHead * 2 > this.order.length) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
    if (pending > 2 * this.count + 1024) {
      this.order = this.order.slice(this.orderHead).filter((entry) => this.live(entry));
      this.orderHead = 0;
    }
  }
}
