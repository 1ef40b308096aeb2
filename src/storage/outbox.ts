import type { Clock } from '../environment/clock.js';
import type { OutgoingFrame } from '../protocol/adapter.js';
import type { Priority } from '../queue/outbound-queue.js';
import type { MessageStore, StoredMessage } from './message-store.js';

export interface KeepOptions {
  /** The ack id; a fresh key otherwise. */
  key?: string | undefined;
  channel?: string | undefined;
  priority: Priority;
  /** Time-to-live from now, in ms (0 or absent: none). */
  ttlMs?: number | undefined;
  ack: boolean;
}

/** The connection's side of a `MessageStore`: what it keeps, under which key, and until when. */
export class Outbox {
  private readonly prefix = Math.random().toString(36).slice(2, 10);
  private keys = 0;
  /** Keys this run put and has not let go of yet: what the store loads under them is not a previous run's. */
  private readonly own = new Set<string>();

  constructor(
    private readonly store: MessageStore,
    private readonly clock: Pick<Clock, 'now'>,
  ) {}

  load(): Promise<StoredMessage[]> {
    return Promise.resolve().then(() => this.store.load());
  }

  /** Keeps a text frame until `settled` settles; binary frames are not kept. */
  keepUntil(settled: Promise<unknown>, frame: OutgoingFrame, options: KeepOptions): void {
    if (typeof frame !== 'string') return;
    const key = options.key ?? `${this.prefix}-${++this.keys}`;
    const now = this.clock.now();
    this.store.put({
      key,
      frame,
      priority: options.priority,
      ack: options.ack,
      sentAt: now,
      ...(options.channel === undefined ? {} : { channel: options.channel }),
      ...(options.ttlMs !== undefined && options.ttlMs > 0 ? { expiresAt: now + options.ttlMs } : {}),
    });
    this.own.add(key);
    this.forgetWhenSettled(key, settled);
  }

  /** Whether `key` was put by this run (a message sent before the store loaded), not left by a previous one. */
  isOwn(key: string): boolean {
    return this.own.has(key);
  }

  forgetWhenSettled(key: string, settled: Promise<unknown>): void {
    const forget = () => this.forget(key);
    settled.then(forget, forget);
  }

  forget(key: string): void {
    this.own.delete(key);
    this.store.delete(key);
  }
}
