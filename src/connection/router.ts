import type { InboundMessage } from '../protocol/adapter.js';
import { rethrowLater } from '../events/emitter.js';

/** Receives inbound application data. */
export type MessageListener<T = unknown> = (data: T, message: InboundMessage<T>) => void;

interface ChannelEntry {
  listeners: Set<MessageListener>;
  lastSeq: number | undefined;
}

/** Plain maps of listeners: inbound data goes from the socket straight here, never through the machine. */
export class Router {
  private channels: Map<string, ChannelEntry> | undefined;
  private any: MessageListener[] | undefined;
  /** Inbound messages dropped because their sequence number was already seen. */
  duplicates = 0;

  /** `released`: told when the last listener of a channel leaves. */
  constructor(private readonly released?: (channel: string) => void) {}

  subscribe(channel: string, listener: MessageListener): { first: boolean; unsubscribe: () => boolean } {
    const channels = (this.channels ??= new Map());
    let entry = channels.get(channel);
    const first = entry === undefined;
    if (!entry) channels.set(channel, (entry = { listeners: new Set(), lastSeq: undefined }));
    entry.listeners.add(listener);
    const current = entry;
    return {
      first,
      unsubscribe: () => {
        current.listeners.delete(listener);
        if (current.listeners.size > 0 || channels.get(channel) !== current) return false;
        channels.delete(channel);
        this.released?.(channel);
        return true;
      },
    };
  }

  onAny(listener: MessageListener): () => void {
    (this.any ??= []).push(listener);
    return () => {
      if (!this.any) return;
      const index = this.any.indexOf(listener);
      if (index >= 0) this.any.splice(index, 1);
    };
  }

  channelNames(): string[] {
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

  /** The server confirmed a subscription at `seq`: a channel that has seen nothing yet resumes from there. */
  startAt(channel: string, seq: number): void {
    const entry = this.channels?.get(channel);
    if (entry && entry.lastSeq === undefined) entry.lastSeq = seq;
  }

  deliver(message: InboundMessage): void {
    const ch = message.ch;
    if (typeof ch === 'string' && this.channels !== undefined) {
      const entry = this.channels.get(ch);
      if (entry !== undefined) {
        const seq = message.seq;
        if (typeof seq === 'number') {
          if (entry.lastSeq !== undefined && seq <= entry.lastSeq) {
            this.duplicates++;
            return;
          }
          entry.lastSeq = seq;
        }
        for (const listener of entry.listeners) {
          try {
            listener(message.data, message);
          } catch (error) {
            rethrowLater(error);
          }
        }
      }
    }
    const any = this.any;
    if (any !== undefined) {
      for (let i = 0; i < any.length; i++) {
        try {
          any[i]!(message.data, message);
        } catch (error) {
          rethrowLater(error);
        }
      }
    }
  }

  clear(): void {
    this.channels = undefined;
    this.any = undefined;
  }
}
