import { messageBytes } from './retention.js';

/** One published message as the history keeps it. */
export interface StoredMessage {
  seq: number;
  id?: string;
  /** The published data, encoded once as JSON when it was published. */
  dataJson: string;
  event?: string;
  /** Publisher's user id; absent for messages the server application broadcast. */
  from?: string;
  /** Epoch milliseconds at which the message was published. */
  ts: number;
}

/** A channel's numbering and the retained messages after some `since`, read atomically. */
export interface HistoryRead {
  /**
   * Sequence number the channel started from. Channels start at the creation time in microseconds, so
   * numbers never go back even when the history store loses its data (restart, expiry): a client resuming
   * from an older numbering gets an explicit gap instead of silently dropped messages.
   */
  base: number;
  /** Sequence number of the latest message (`base` if none yet). */
  current: number;
  /** Retained messages with `seq > since`, in order. */
  entries: StoredMessage[];
}

/** Starting sequence number of a channel created now. */
export const initialSeq = (nowMs: number): number => Math.floor(nowMs) * 1000;

export type ReplayItem = { kind: 'message'; message: StoredMessage } | { kind: 'gap'; from: number; to: number };

/**
 * What a subscriber resuming after `since` receives, in order, up to `until`: every retained message with a
 * larger sequence number, and an explicit gap for every range it can no longer get. `since = 0` means
 * "from the beginning": no gap is reported for numbers before the channel's base.
 */
export function planReplay(since: number, read: HistoryRead, until = read.current): ReplayItem[] {
  const items: ReplayItem[] = [];
  let expected = (since === 0 ? read.base : since) + 1;
  for (const message of read.entries) {
    if (message.seq > until) break;
    if (message.seq < expected) continue;
    if (message.seq > expected) items.push({ kind: 'gap', from: expected, to: message.seq - 1 });
    items.push({ kind: 'message', message });
    expected = message.seq + 1;
  }
  if (expected <= until) items.push({ kind: 'gap', from: expected, to: until });
  return items;
}

/**
 * A channel's retained messages (the in-memory backend's store): consecutive sequence numbers, at most
 * `size` messages and `maxBytes` bytes, the oldest dropped first.
 */
export class MessageRing {
  private messages: StoredMessage[] = [];
  private head = 0;
  /** Bytes of the retained messages. */
  bytes = 0;

  constructor(
    private readonly size: number,
    private readonly maxBytes: number,
  ) {}

  get length(): number {
    return this.messages.length - this.head;
  }

  /** Sequence number of the oldest retained message. */
  get firstSeq(): number | undefined {
    return this.messages[this.head]?.seq;
  }

  /** Keeps a message, dropping the oldest beyond the bounds. */
  push(message: StoredMessage): void {
    this.messages.push(message);
    this.bytes += messageBytes(message);
    while (this.length > 0 && (this.length > this.size || this.bytes > this.maxBytes)) this.shift();
  }

  /** Drops the oldest message. */
  shift(): void {
    const message = this.messages[this.head];
    if (!message) return;
    this.head += 1;
    this.bytes -= messageBytes(message);
    if (this.head > 1024 && this.head * 2 > this.messages.length) {
      this.messages = this.messages.slice(this.head);
      this.head = 0;
    }
  }

  /** Retained messages with `seq > since`, oldest first, at most `limit`. */
  after(since: number, limit: number): StoredMessage[] {
    const first = this.firstSeq;
    if (first === undefined) return [];
    const start = this.head + Math.max(0, Math.min(this.length, since - first + 1));
    return this.messages.slice(start, Math.min(this.messages.length, start + limit));
  }
}
