import { planReplay, type HistoryRead, type ReplayItem, type StoredMessage } from './history.js';

/** Where a subscription writes its frames (a connection). */
export interface SubscriberSink {
  readonly open: boolean;
  sendText(text: string, type: string): void;
  /** A failure of the server while serving the subscription; the sink contains it. */
  fail(error: unknown): void;
}

export type HistoryReader = (ch: string, since: number, limit: number) => Promise<HistoryRead>;

/** Messages held while a subscription catches up; beyond, the oldest are dropped (history or a gap covers them). */
const MAX_BUFFERED = 10_000;

/** The `message` frame of a stored message; built once per message and node, shared by every local subscriber. */
export function encodeMessage(ch: string, message: StoredMessage): string {
  let text = `{"type":"message","ch":${JSON.stringify(ch)},"seq":${message.seq}`;
  if (message.id !== undefined) text += `,"id":${JSON.stringify(message.id)}`;
  if (message.event !== undefined) text += `,"event":${JSON.stringify(message.event)}`;
  if (message.from !== undefined) text += `,"from":${JSON.stringify(message.from)}`;
  return `${text},"data":${message.dataJson},"ts":${message.ts}}`;
}

/**
 * One connection's subscription to one channel. It delivers every message exactly once and in sequence
 * order: live messages that skip a number, and messages arriving while it starts or catches up, wait
 * until history has filled the hole; what history cannot fill is announced with an explicit `gap`.
 */
export class Subscription {
  private state: 'syncing' | 'live' | 'closed';
  private buffer: StoredMessage[] = [];
  /** Last sequence number delivered; undefined until the first message of an implicit subscription. */
  lastSeq: number | undefined;

  constructor(
    readonly ch: string,
    private readonly sink: SubscriberSink,
    private readonly reader: HistoryReader,
    private readonly historyLimit: number,
    /** Implicit subscriptions start live, without `subscribed` and without a starting number. */
    readonly implicit = false,
  ) {
    this.state = implicit ? 'live' : 'syncing';
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /**
   * Answers `subscribed {ch, seq}`, replays what came after `since` (with gaps), then goes live. Without
   * `since` it starts from now: every message published after the subscribe arrived is delivered, even one
   * the history read already counts (`seq` is then the number before the first of them). Rejects if the
   * history is unreachable.
   */
  async start(since: number | undefined): Promise<void> {
    const read = await this.reader(this.ch, since ?? 0, since === undefined ? 0 : this.historyLimit);
    if (this.state === 'closed') return;
    const from = since === undefined ? Math.min(read.current, this.firstHeld() - 1) : read.current;
    this.sink.sendText(JSON.stringify({ type: 'subscribed', ch: this.ch, seq: from }), 'subscribed');
    if (since !== undefined) this.emit(planReplay(since, read));
    this.lastSeq = from;
    this.drain();
  }

  offer(message: StoredMessage, text?: string): void {
    if (this.state === 'closed') return;
    if (this.state === 'syncing') {
      this.hold(message);
      return;
    }
    if (this.lastSeq !== undefined && message.seq > this.lastSeq + 1) {
      this.state = 'syncing';
      this.hold(message);
      this.repair().catch((error: unknown) => this.sink.fail(error));
      return;
    }
    this.deliver(message, text);
  }

  /** After the shared store came back: fetch whatever was published while fan-out was down. */
  resync(): void {
    if (this.state !== 'live' || this.lastSeq === undefined) return;
    this.state = 'syncing';
    this.repair().catch((error: unknown) => this.sink.fail(error));
  }

  close(): void {
    this.state = 'closed';
    this.buffer = [];
  }

  /** The lowest number held, or Infinity. */
  private firstHeld(): number {
    let first = Infinity;
    for (const message of this.buffer) first = Math.min(first, message.seq);
    return first;
  }

  private hold(message: StoredMessage): void {
    if (this.buffer.length >= MAX_BUFFERED) this.buffer.shift();
    this.buffer.push(message);
  }

  private async repair(): Promise<void> {
    const since = this.lastSeq;
    let items: ReplayItem[] = [];
    if (since !== undefined) {
      try {
        items = planReplay(since, await this.reader(this.ch, since, this.historyLimit));
      } catch {
        items = [];
      }
    }
    if (this.state === 'closed') return;
    this.emit(items);
    this.drain();
  }

  private emit(items: readonly ReplayItem[]): void {
    for (const item of items) {
      if (!this.sink.open) return;
      if (item.kind === 'gap') this.gap(item.from, item.to);
      else this.deliver(item.message);
    }
  }

  private drain(): void {
    const pending = this.buffer.sort((a, b) => a.seq - b.seq);
    this.buffer = [];
    for (const message of pending) {
      if (this.lastSeq !== undefined && message.seq > this.lastSeq + 1) this.gap(this.lastSeq + 1, message.seq - 1);
      this.deliver(message);
    }
    if (this.state === 'syncing') this.state = 'live';
  }

  private gap(from: number, to: number): void {
    this.sink.sendText(JSON.stringify({ type: 'gap', ch: this.ch, from, to }), 'gap');
    this.lastSeq = to;
  }

  private deliver(message: StoredMessage, text?: string): void {
    if (this.lastSeq !== undefined && message.seq <= this.lastSeq) return;
    this.sink.sendText(text ?? encodeMessage(this.ch, message), 'message');
    this.lastSeq = message.seq;
  }
}
