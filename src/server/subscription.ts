import { planReplay, type HistoryRead, type ReplayItem, type StoredMessage } from './history.js';
import { HistoryTurns, type Release } from './history-turns.js';

/** Where a subscription writes its frames (a connection). */
export interface SubscriberSink {
  readonly open: boolean;
  /** True while the socket holds more unsent bytes than a replay may add to: the replay then waits. */
  readonly backlogged: boolean;
  /** Resolves a moment later, for a waiting replay to look at `backlogged` again. */
  writable(): Promise<void>;
  sendText(text: string | Buffer, type: string): void;
  /** A failure of the server while serving the subscription; the sink contains it. */
  fail(error: unknown): void;
}

/** Reads a channel's history; resolves once every live message the read counts has been offered to the subscription. */
export type HistoryReader = (ch: string, since: number, limit: number) => Promise<HistoryRead>;

/** Messages held while a subscription catches up; beyond, the oldest are dropped (history or a gap covers them). */
const MAX_BUFFERED = 10_000;
/** A repair whose history read failed is tried again after this long, doubling up to the maximum (or at once on `resync()`). */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

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
 * until history has filled the hole; what history no longer has is announced with an explicit `gap`
 * (a history read that fails is tried again, never turned into a gap). Replays and catch-ups are written
 * at the pace the socket takes them.
 */
export class Subscription {
  private state: 'syncing' | 'live' | 'closed';
  private buffer: StoredMessage[] = [];
  /** Set while a repair waits to read the history again after a failed read. */
  private retry: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;
  /** A resync asked for while a catch-up was running: it repairs again once that one is done. */
  private resyncAgain = false;
  /** The lowest number ever held, counting those dropped past `MAX_BUFFERED`: a start from now begins before it. */
  private lowestHeld = Infinity;
  /** Last sequence number delivered; undefined while an implicit subscription has neither delivered a message nor read the number it starts after. */
  lastSeq: number | undefined;

  constructor(
    readonly ch: string,
    private readonly sink: SubscriberSink,
    private readonly reader: HistoryReader,
    private readonly historyLimit: number,
    /** Implicit subscriptions start live, without `subscribed`, and without a starting number until `startAtCurrent()`. */
    readonly implicit = false,
    /** The connection's turns: every history read (and the replay written from it) waits for one. */
    private readonly turns: HistoryTurns = new HistoryTurns(),
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
    const replayed = await this.inTurn(async () => {
      const read = await this.reader(this.ch, since ?? 0, since === undefined ? 0 : this.historyLimit);
      if (this.state === 'closed') return false;
      const from = since === undefined ? Math.min(read.current, this.lowestHeld - 1) : read.current;
      this.sink.sendText(JSON.stringify({ type: 'subscribed', ch: this.ch, seq: from }), 'subscribed');
      if (since !== undefined && !(await this.emit(planReplay(since, read)))) return false;
      this.lastSeq = from;
      return true;
    });
    if (replayed) await this.drain();
  }

  /**
   * Of an implicit subscription whose channel is watched: takes the channel's current number for the one it starts
   * after (unless a message came first), so that a resync fetches from there what fan-out lost. Rejects if the
   * history is unreachable.
   */
  async startAtCurrent(): Promise<void> {
    await this.inTurn(async () => {
      const read = await this.reader(this.ch, 0, 0);
      this.lastSeq ??= read.current;
      return true;
    });
  }

  offer(message: StoredMessage, text?: Buffer): void {
    if (this.state === 'closed') return;
    if (this.state === 'syncing') {
      this.hold(message);
      return;
    }
    if (this.lastSeq !== undefined && message.seq > this.lastSeq + 1) {
      this.state = 'syncing';
      this.hold(message);
      this.catchUp();
      return;
    }
    this.deliver(message, text);
  }

  /** After the shared store came back: fetch whatever was published while fan-out was down. */
  resync(): void {
    if (this.state === 'closed') return;
    if (this.state === 'syncing' && this.retry === undefined) {
      this.resyncAgain = true;
      return;
    }
    if (this.lastSeq === undefined) return;
    clearTimeout(this.retry);
    this.retry = undefined;
    this.state = 'syncing';
    this.catchUp();
  }

  close(): void {
    this.state = 'closed';
    this.buffer = [];
    clearTimeout(this.retry);
    this.retry = undefined;
  }

  /** The lowest number held, or Infinity. */
  private firstHeld(): number {
    let first = Infinity;
    for (const message of this.buffer) first = Math.min(first, message.seq);
    return first;
  }

  private hold(message: StoredMessage): void {
    this.lowestHeld = Math.min(this.lowestHeld, message.seq);
    if (this.buffer.length >= MAX_BUFFERED) this.buffer.shift();
    this.buffer.push(message);
  }

  private catchUp(): void {
    this.repair().catch((error: unknown) => this.sink.fail(error));
  }

  /**
   * Fills the hole after `lastSeq` from history, up to the first message held or the last the read counts (what
   * history no longer has becomes a gap), then delivers what was held, and reads again for what the read counts after
   * those (fan-out lost it); a failed read keeps holding and is tried again.
   */
  private async repair(): Promise<void> {
    let counted = -Infinity;
    const replayed = await this.inTurn(async () => {
      const since = this.lastSeq!;
      let read: HistoryRead;
      try {
        read = await this.reader(this.ch, since, this.historyLimit);
      } catch {
        if (this.state === 'closed') return false;
        this.retry = setTimeout(() => this.resync(), this.retryMs);
        this.retry.unref();
        this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
        return false;
      }
      this.retryMs = RETRY_MIN_MS;
      counted = read.current;
      const held = this.firstHeld() - 1;
      // what comes after the read's messages but before those held was lost by fan-out: read again, not a gap
      const until = read.current > since || held === Infinity ? Math.min(held, read.current) : held;
      return this.state !== 'closed' && (await this.emit(planReplay(since, read, until)));
    });
    if (!replayed) return;
    await this.drain();
    if (this.state === 'live' && this.lastSeq! < counted) this.resync();
  }

  /**
   * Runs a history read and the replay written from it in a turn of the connection (one per channel, a few
   * across channels); false without reading when the subscription is closed (superseded) before its turn.
   */
  private async inTurn(readAndReplay: () => Promise<boolean>): Promise<boolean> {
    const turn = this.turns.take(this.ch, () => this.state === 'closed');
    const release: Release | undefined = typeof turn === 'function' ? turn : await turn;
    if (!release) return false;
    try {
      return this.state !== 'closed' && (await readAndReplay());
    } finally {
      release();
    }
  }

  /** Writes replay items as the socket takes them; false once the subscription or its socket is closed. */
  private async emit(items: readonly ReplayItem[]): Promise<boolean> {
    for (const item of items) {
      if (!(await this.writable())) return false;
      if (item.kind === 'gap') this.gap(item.from, item.to);
      else this.deliver(item.message);
    }
    return true;
  }

  /** Delivers what was held (and what arrives meanwhile) in order, then goes live; a hole among them is filled from history first. */
  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const pending = this.buffer.sort((a, b) => a.seq - b.seq);
      this.buffer = [];
      for (const [index, message] of pending.entries()) {
        if (!(await this.writable())) return;
        if (this.lastSeq !== undefined && message.seq > this.lastSeq + 1) {
          this.buffer = pending.slice(index).concat(this.buffer).slice(-MAX_BUFFERED);
          this.catchUp();
          return;
        }
        this.deliver(message);
      }
    }
    if (this.state !== 'syncing') return;
    this.state = 'live';
    if (this.resyncAgain) {
      this.resyncAgain = false;
      this.resync();
    }
  }

  /** Waits while the socket is backlogged; false once the subscription or its socket is closed. */
  private async writable(): Promise<boolean> {
    while (this.state !== 'closed' && this.sink.open && this.sink.backlogged) await this.sink.writable();
    return this.state !== 'closed' && this.sink.open;
  }

  private gap(from: number, to: number): void {
    this.sink.sendText(JSON.stringify({ type: 'gap', ch: this.ch, from, to }), 'gap');
    this.lastSeq = to;
  }

  private deliver(message: StoredMessage, text?: Buffer): void {
    if (this.lastSeq !== undefined && message.seq <= this.lastSeq) return;
    this.sink.sendText(text ?? encodeMessage(this.ch, message), 'message');
    this.lastSeq = message.seq;
  }
}
