import type { InboundMessage } from '../protocol/adapter.js';
import { rethrowLater } from '../events/emitter.js';
import { isSeq } from '../protocol/wire.js';

/** Receives inbound application data. */
export type MessageListener<T = unknown> = (data: T, message: InboundMessage<T>) => void;

/** One subscription: the same function subscribed twice is two of them, each ended by its own unsubscribe. */
interface Subscription {
  readonly listener: MessageListener;
}

interface ChannelEntry {
  subscriptions: Set<Subscription>;
  lastSeq: number | undefined;
}

/** Calls `listener`; an exception it throws reaches the host later, without breaking the data plane. */
function tell(listener: MessageListener, message: InboundMessage): void {
  try {
    listener(message.data, message);
  } catch (error) {
    rethrowLater(error);
  }
}

/** Tells those subscribed when `message` arrived and not unsubscribed since, each once. */
function tellAll(subscriptions: Set<Subscription>, message: InboundMessage): void {
  if (subscriptions.size === 1) {
    for (const { listener } of subscriptions) {
      tell(listener, message);
      break;
    }
  } else if (subscriptions.size > 1) {
    for (const subscription of [...subscriptions]) if (subscriptions.has(subscription)) tell(subscription.listener, message);
  }
}

/** Plain maps of listeners: inbound data goes from the socket straight here, never through the machine. */
export class Router {
  private channels: Map<string, ChannelEntry> | undefined;
  private any: Set<Subscription> | undefined;
  /**
   * Per channel, the answers still due to subscribes unsubscribed on this socket while pending: two each (to the
   * subscribe and to the unsubscribe), one for the oldest once its subscribe is answered. Until they come, a refusal
   * concerns those old subscribes. Kept once the server is heard confirming a subscribe.
   */
  private pending: Map<string, number> | undefined;

  /** `released`: told when the last listener of a channel leaves. */
  constructor(private readonly released?: (channel: string) => void) {}

  subscribe(channel: string, listener: MessageListener): { first: boolean; unsubscribe: () => boolean } {
    const channels = (this.channels ??= new Map());
    let entry = channels.get(channel);
    const first = entry === undefined;
    if (!entry) channels.set(channel, (entry = { subscriptions: new Set(), lastSeq: undefined }));
    const subscription: Subscription = { listener };
    entry.subscriptions.add(subscription);
    const current = entry;
    return {
      first,
      unsubscribe: () => {
        if (!current.subscriptions.delete(subscription)) return false;
        if (current.subscriptions.size > 0 || channels.get(channel) !== current) return false;
        channels.delete(channel);
        if (current.lastSeq === undefined && this.pending) this.left(channel, (this.pending.get(channel) ?? 0) + 2);
        this.released?.(channel);
        return true;
      },
    };
  }

  onAny(listener: MessageListener): () => void {
    const any = (this.any ??= new Set());
    const subscription: Subscription = { listener };
    any.add(subscription);
    return () => {
      any.delete(subscription);
    };
  }

  /** The channels, to subscribe again; on a `fresh` socket, which answers nothing asked before. */
  channelNames(fresh?: boolean): string[] {
    if (fresh) this.pending?.clear();
    return this.channels ? [...this.channels.keys()] : [];
  }

  lastSeq(channel: string): number | undefined {
    return this.channels?.get(channel)?.lastSeq;
  }

  /** The server said numbers `from..to` of a channel can no longer be delivered: resume continues after them. */
  passGap(channel: string, to: number): boolean {
    const entry = this.channels?.get(channel);
    if (!entry) return false;
    if (entry.lastSeq === undefined || to > entry.lastSeq) entry.lastSeq = to;
    return true;
  }

  /** The server refused the channel: it is forgotten (not subscribed again); false when it was not subscribed, or when the refusal concerns an unsubscribed one. */
  refuse(channel: string): boolean {
    return !this.oldAnswered(channel) && this.channels?.delete(channel) === true;
  }

  /**
   * The server answered an unsubscribe, or confirmed a subscription at `seq`: a channel that has seen nothing yet, or
   * more than the server numbered (it numbers anew, behind), resumes from there (not from a withdrawn subscribe's).
   */
  answered(channel: string, seq?: number): void {
    this.pending ??= new Map();
    if (seq === undefined) this.left(channel, ((this.pending.get(channel) ?? 1) - 1) & ~1); // the oldest is over
    else if (this.oldAnswered(channel)) return;
    const entry = this.channels?.get(channel);
    if (entry && (entry.lastSeq === undefined || seq! < entry.lastSeq)) entry.lastSeq = seq;
  }

  /** A subscribe of `channel` was answered: true when it was the oldest unsubscribed one not answered yet. */
  private oldAnswered(channel: string): boolean {
    let n = this.pending?.get(channel) ?? 0;
    if (n & 1) n--; // the oldest was answered: its unsubscribe is not answered, the answer is a later one's
    this.left(channel, n && n - 1);
    return n > 0;
  }

  private left(channel: string, n: number): void {
    if (n > 0) this.pending!.set(channel, n);
    else this.pending?.delete(channel);
  }

  /**
   * Hands a message to the listeners of its channel, then to every `onAny` listener: those listening when
   * it arrived and not removed since, each once (a listener subscribed during the delivery gets the next one).
   * False when it was dropped: its channel's sequence number was already delivered (a `seq` the wire cannot carry is neither checked nor kept).
   */
  deliver(message: InboundMessage): boolean {
    const ch = message.ch;
    if (typeof ch === 'string' && this.channels !== undefined) {
      const entry = this.channels.get(ch);
      if (entry !== undefined) {
        const seq = message.seq;
        if (isSeq(seq)) {
          if (entry.lastSeq !== undefined && seq <= entry.lastSeq) return false;
          entry.lastSeq = seq;
        }
        tellAll(entry.subscriptions, message);
      }
    }
    if (this.any !== undefined) tellAll(this.any, message);
    return true;
  }
}
