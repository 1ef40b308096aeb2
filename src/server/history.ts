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
 * What a subscriber resuming after `since` receives, in order: every retained message with a larger
 * sequence number, and an explicit gap for every range it can no longer get. `since = 0` means
 * "from the beginning": no gap is reported for numbers before the channel's base.
 */
export function planReplay(since: number, read: HistoryRead): ReplayItem[] {
  const items: ReplayItem[] = [];
  let expected = (since === 0 ? read.base : since) + 1;
  for (const message of read.entries) {
    if (message.seq < expected) continue;
    if (message.seq > expected) items.push({ kind: 'gap', from: expected, to: message.seq - 1 });
    items.push({ kind: 'message', message });
    expected = message.seq + 1;
  }
  if (expected <= read.current) items.push({ kind: 'gap', from: expected, to: read.current });
  return items;
}

/** Bounded history of consecutive sequence numbers (the in-memory backend's store); grows as messages arrive. */
export class MessageRing {
  private readonly slots: (StoredMessage | undefined)[];
  private start = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.slots = [];
  }

  push(message: StoredMessage): void {
    if (this.capacity === 0) return;
    if (this.size < this.capacity) {
      this.slots[(this.start + this.size) % this.capacity] = message;
      this.size += 1;
    } else {
      this.slots[this.start] = message;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** Retained messages with `seq > since`, oldest first, at most `limit`. */
  after(since: number, limit: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    if (this.size === 0) return out;
    const first = this.slots[this.start]!.seq;
    const skip = Math.max(0, Math.min(this.size, since - first + 1));
    for (let i = skip; i < this.size && out.length < limit; i++) {
      out.push(this.slots[(this.start + i) % this.capacity]!);
    }
    return out;
  }
}
