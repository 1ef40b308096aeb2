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

/** One key: the value the server confirmed and the local changes shown on top of it, in the order they were made. */
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

  /** The confirmed value with the acknowledged changes still waiting for their place in the channel. */
  confirmedView(): Value | undefined {
    let value = this.confirmed;
    for (const local of this.changes) if (local.status === 'acked') value = this.merge(value, local.change, this.key);
    return value;
  }

  remove(local: LocalChange<Change>): boolean {
    const index = this.changes.indexOf(local);
    if (index < 0) return false;
    this.changes.splice(index, 1);
    return true;
  }

  /** Recomputes the shown value; true when it or the pending count moved. */
  recompute(): { moved: boolean; previous: Value | undefined } {
    const previous = this.value;
    const previousPending = this.pending;
    let value = this.confirmed;
    let pending = 0;
    for (const local of this.changes) {
      value = this.merge(value, local.change, this.key);
      if (local.status === 'sent') pending++;
    }
    this.value = value;
    this.pending = pending;
    return { moved: !Object.is(previous, value) || pending !== previousPending, previous };
  }
}
