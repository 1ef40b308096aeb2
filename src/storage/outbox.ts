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

/** How many keys a run remembers while its store's load is unanswered; past them, a late answer is left for the next run. */
const MAX_OWN_KEYS = 10_000;

/** The connection's side of a `MessageStore`: what it keeps, under which key, and until when. */
export class Outbox {
  private readonly prefix = Math.random().toString(36).slice(2, 10);
  private keys = 0;
  /** The latest `sentAt` given or loaded: a wall clock stepped back (in this run, or since an earlier one) does not put a later message before an earlier one. */
  private sentAt = 0;
  /** Every key this run put before the store answered its load: what the store loads under them is not a previous run's. Null once there were too many to remember. */
  private own: Set<string> | null | undefined = new Set();

  /**
   * `failed` hears of each put or delete the store threw on or whose promise rejected (the message itself goes on), and of
   * loaded entries that are not messages (left in the store).
   * `inFlight`: whether a message is in flight under an ack id, which is then not forgotten when an earlier message of that id settles.
   */
  constructor(
    private readonly store: MessageStore,
    private readonly clock: Pick<Clock, 'now'>,
    private readonly failed: (what: string, cause?: unknown) => void,
    private readonly inFlight: (key: string) => boolean | undefined,
  ) {}

  /** What earlier runs left, oldest first. */
  async load(): Promise<StoredMessage[]> {
    try {
      const messages = await Promise.resolve().then(() => this.store.load());
      const own = this.own;
      if (!own) throw new Error('answered too late');
      let broken = 0;
      const loaded = messages.filter((message) => {
        if (typeof message?.frame != 'string' || typeof message.key != 'string') return !++broken;
        if (message.sentAt > this.sentAt) this.sentAt = message.sentAt;
        return !own.has(message.key);
      });
      if (broken) this.failed(`load ${broken} entries: they are not messages`);
      return loaded;
    } finally {
      this.own = undefined;
    }
  }

  /** Keeps a text frame until `settled` settles; binary frames are not kept. */
  keepUntil(settled: Promise<unknown>, frame: OutgoingFrame, options: KeepOptions): void {
    if (typeof frame !== 'string') return;
    const key = options.key ?? `${this.prefix}-${++this.keys}`;
    this.sentAt = Math.max(this.sentAt, this.clock.now());
    if (this.own) this.own = this.own.size < MAX_OWN_KEYS ? this.own.add(key) : null;
    const message: StoredMessage = {
      key,
      frame,
      priority: options.priority,
      ack: options.ack,
      sentAt: this.sentAt,
      channel: options.channel,
      expiresAt: options.ttlMs ? this.sentAt + options.ttlMs : undefined,
    };
    if (this.write('keep a message', () => this.store.put(message))) this.forgetWhenSettled(key, settled);
  }

  forgetWhenSettled(key: string, settled: Promise<unknown>): void {
    // an id given up (aborted) and sent again at once: the store holds the new message under it
    const forget = () => this.inFlight(key) || this.forget(key);
    settled.then(forget, forget);
  }

  forget(key: string): void {
    this.write('forget a message', () => this.store.delete(key));
  }

  /** Runs a put or delete: false when it threw; a promise it returns that rejects goes to `failed` too. */
  private write(what: 'keep a message' | 'forget a message', run: () => unknown): boolean {
    try {
      Promise.resolve(run()).catch((cause) => this.failed(what, cause));
    } catch (cause) {
      this.failed(what, cause);
      return false;
    }
    return true;
  }
}
