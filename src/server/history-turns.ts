/** History reads one connection may have in flight across its channels, each with the replay written from it. */
export const MAX_HISTORY_READS_PER_CONNECTION = 4;

/** Gives a turn back; calling it again does nothing. */
export type Release = () => void;

/**
 * Turns of one connection's history reads: at most one per channel, at most `slots` across channels. A turn
 * covers the read and the replay written from it, so a connection holds at most `slots` read results at
 * once. Turns beyond wait, in arrival order (nothing is refused); one whose subscription was superseded or
 * closed meanwhile passes its place on without reading.
 */
export class HistoryTurns {
  private free: number;
  /** Waiting for a slot, oldest first. */
  private readonly waiting: (() => void)[] = [];
  /** Per channel, the settling of the last turn taken or queued. */
  private readonly channels = new Map<string, Promise<void>>();

  constructor(slots = MAX_HISTORY_READS_PER_CONNECTION) {
    this.free = Math.max(1, slots);
  }

  /** Turns queued or held (for leak checks). */
  get size(): number {
    return this.channels.size;
  }

  /**
   * The turn, at once when the channel has none running and a slot is free; otherwise resolves once no
   * earlier turn of this channel is running and a slot is free, or with undefined (the place passed on,
   * nothing to release) when `skip()` is true by the time this turn comes.
   */
  take(ch: string, skip: () => boolean): Release | Promise<Release | undefined> {
    const before = this.channels.get(ch);
    let finish!: () => void;
    const mine = new Promise<void>((resolve) => (finish = resolve));
    const tail = before ? before.then(() => mine) : mine;
    this.channels.set(ch, tail);
    const done = () => {
      finish();
      if (this.channels.get(ch) === tail) this.channels.delete(ch);
    };
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.give();
      done();
    };
    if (!before && this.free > 0) {
      this.free -= 1;
      return release;
    }
    return (async () => {
      if (before) await before;
      if (skip()) {
        done();
        return undefined;
      }
      await this.slot();
      return release;
    })();
  }

  private slot(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free += 1;
  }
}
