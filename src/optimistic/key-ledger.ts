import type { MergeChange, OptimisticUpdateReceipt } from './types.js';

/** The app's promise for one local change. */
export interface Settlement {
  resolve: (receipt: OptimisticUpdateReceipt) => void;
  reject: (error: unknown) => void;
}

/** A change published by this store and not yet folded into its key's confirmed value. */
export interface LocalChange<Change> {
  readonly id: string;
  readonly key: string;
  readonly change: Change;
  readonly kind: 'update' | 'resolution';
  /**
   * `sent`: waiting for the server; `acked`: acknowledged with a sequence number the channel has not
   * reached yet, so it is folded in when the channel gets there.
   */
  status: 'sent' | 'acked';
  seq: number | undefined;
  /** Present until the app's promise settles (never for resolutions). */
  settlement: Settlement | undefined;
}

/** A local change `merge` no longer accepts, with what it threw. */
export interface Refusal<Change> {
  readonly local: LocalChange<Change>;
  readonly cause: unknown;
}

/**
 * One key: the value the server confirmed and the local changes shown on top of it: those acknowledged, in the
 * channel's order, then those still unanswered, in the order they were made.
 */
export class KeyLedger<Value, Change> {
  confirmed: Value | undefined;
  readonly changes: LocalChange<Change>[] = [];
  /** The value shown: `confirmed` with every local change folded on top. */
  value: Value | undefined;
  pending = 0;

  constructor(
    readonly key: string,
    private readonly merge: MergeChange<Value, Change>,
    confirmed?: Value,
  ) {
    this.confirmed = confirmed;
    this.value = confirmed;
  }

  get isEmpty(): boolean {
    return this.confirmed === undefined && this.changes.length === 0;
  }

  apply(change: Change): void {
    this.confirmed = this.merge(this.confirmed, change, this.key);
  }

  /** Throws what `merge` throws when `change` does not apply on top of the shown value. */
  check(change: Change): void {
    this.merge(this.value, change, this.key);
  }

  /** The confirmed value with the acknowledged changes still waiting for their place in the channel (those `merge` throws on skipped). */
  confirmedView(): Value | undefined {
    let value = this.confirmed;
    for (const local of this.changes) {
      if (local.status !== 'acked') continue;
      try {
        value = this.merge(value, local.change, this.key);
      } catch {
        // reported when it takes its place
      }
    }
    return value;
  }

  /** Moves a change just acknowledged among the acknowledged ones, which come first, in the channel's order: the server stored it before those still unanswered. */
  placeAcked(local: LocalChange<Change>): void {
    this.remove(local);
    let index = 0;
    while (index < this.changes.length && this.changes[index]!.status === 'acked' && this.changes[index]!.seq! < local.seq!) index++;
    this.changes.splice(index, 0, local);
  }

  remove(local: LocalChange<Change>): boolean {
    const index = this.changes.indexOf(local);
    if (index < 0) return false;
    this.changes.splice(index, 1);
    return true;
  }

  /**
   * Recomputes the shown value; `moved` when it or the pending count moved. Changes waiting for the server
   * that `merge` throws on are taken out and returned as `refused`; acknowledged ones are skipped (they are
   * reported when they take their place).
   */
  recompute(): { moved: boolean; previous: Value | undefined; refused: Array<Refusal<Change>> } {
    const previous = this.value;
    const previousPending = this.pending;
    const refused: Array<Refusal<Change>> = [];
    let value = this.confirmed;
    let pending = 0;
    for (const local of this.changes) {
      try {
        value = this.merge(value, local.change, this.key);
        if (local.status === 'sent') pending++;
      } catch (cause) {
        if (local.status === 'sent') refused.push({ local, cause });
      }
    }
    for (const { local } of refused) this.remove(local);
    this.value = value;
    this.pending = pending;
    return { moved: !Object.is(previous, value) || pending !== previousPending, previous, refused };
  }
}
