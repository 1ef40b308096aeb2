/** The payload every chaos publisher sends: who published it and its number on that channel. */
export interface Numbered {
  src: string;
  n: number;
}

export function isNumbered(value: unknown): value is Numbered {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { src?: unknown }).src === 'string' &&
    typeof (value as { n?: unknown }).n === 'number'
  );
}

export interface Delivery extends Numbered {
  seq: number | undefined;
}

export interface DeliveryFigures {
  /** Messages published (every channel, every publisher). */
  sent: number;
  /** Messages handed to subscriber listeners, summed over subscribers. */
  delivered: number;
  /** Published numbers some subscriber never received. */
  lost: number;
  /** Deliveries of a number the subscriber had already received. */
  duplicated: number;
  /** Deliveries of a number smaller than one the subscriber had already received from the same publisher. */
  outOfOrder: number;
}

/**
 * What was published (per channel, per publisher: numbers 1..last, in order) and what each subscriber
 * received; from them, the figures of the run.
 */
export class Ledger {
  private readonly published = new Map<string, Map<string, number>>();
  private readonly inboxes = new Map<string, Map<string, Delivery[]>>();

  constructor(readonly channels: readonly string[]) {}

  /** Records that `src` published number `n` on `ch`; numbers of one publisher and channel are 1, 2, 3, … */
  publish(ch: string, src: string, n: number): void {
    let bySource = this.published.get(ch);
    if (!bySource) this.published.set(ch, (bySource = new Map()));
    const last = bySource.get(src) ?? 0;
    if (n !== last + 1) throw new Error(`${src} published ${n} on ${ch} after ${last}`);
    bySource.set(src, n);
  }

  /** The inbox of one subscriber; pass its listener `(data, message) => ledger.receive(name, ch, data, message.seq)`. */
  subscriber(name: string): void {
    if (!this.inboxes.has(name)) this.inboxes.set(name, new Map(this.channels.map((ch) => [ch, []])));
  }

  receive(name: string, ch: string, data: unknown, seq: number | undefined): void {
    const inbox = this.inboxes.get(name)?.get(ch);
    if (!inbox) throw new Error(`${name} received on ${ch}, which it never subscribed to`);
    if (!isNumbered(data)) throw new Error(`${name} received a message that is not numbered on ${ch}: ${JSON.stringify(data)}`);
    inbox.push({ src: data.src, n: data.n, seq });
  }

  inbox(name: string, ch: string): readonly Delivery[] {
    return this.inboxes.get(name)?.get(ch) ?? [];
  }

  get subscribers(): string[] {
    return [...this.inboxes.keys()];
  }

  /** Messages published on `ch` (every publisher). */
  sentOn(ch: string): number {
    let total = 0;
    for (const last of this.published.get(ch)?.values() ?? []) total += last;
    return total;
  }

  /** Publishers that published on `ch`. */
  sources(ch: string): string[] {
    return [...(this.published.get(ch)?.keys() ?? [])];
  }

  lastNumber(ch: string, src: string): number {
    return this.published.get(ch)?.get(src) ?? 0;
  }

  /** True once every subscriber holds at least as many messages as were published on every channel. */
  caughtUp(): boolean {
    return this.subscribers.every((name) => this.channels.every((ch) => this.inbox(name, ch).length >= this.sentOn(ch)));
  }

  /** Where numbers first went backwards, once per channel and publisher (for failure messages). */
  inversions(limit = 8): string[] {
    const found = new Map<string, string>();
    for (const name of this.subscribers) {
      for (const ch of this.channels) {
        const highest = new Map<string, Delivery>();
        for (const delivery of this.inbox(name, ch)) {
          const top = highest.get(delivery.src);
          const key = `${ch} ${delivery.src}`;
          if (top && delivery.n <= top.n && !found.has(key) && found.size < limit) {
            found.set(key, `${name} got ${key}#${delivery.n} (seq ${delivery.seq}) after #${top.n} (seq ${top.seq})`);
          }
          if (!top || delivery.n > top.n) highest.set(delivery.src, delivery);
        }
      }
    }
    return [...found.values()];
  }

  figures(): DeliveryFigures {
    const figures: DeliveryFigures = { sent: 0, delivered: 0, lost: 0, duplicated: 0, outOfOrder: 0 };
    for (const ch of this.channels) figures.sent += this.sentOn(ch);
    for (const name of this.subscribers) {
      for (const ch of this.channels) {
        const seen = new Map<string, Set<number>>();
        const highest = new Map<string, number>();
        for (const { src, n } of this.inbox(name, ch)) {
          figures.delivered++;
          let numbers = seen.get(src);
          if (!numbers) seen.set(src, (numbers = new Set()));
          if (numbers.has(n)) {
            figures.duplicated++;
            continue;
          }
          numbers.add(n);
          if (n < (highest.get(src) ?? 0)) figures.outOfOrder++;
          else highest.set(src, n);
        }
        for (const [src, last] of this.published.get(ch) ?? []) {
          const numbers = seen.get(src);
          for (let n = 1; n <= last; n++) if (!numbers?.has(n)) figures.lost++;
        }
      }
    }
    return figures;
  }
}
