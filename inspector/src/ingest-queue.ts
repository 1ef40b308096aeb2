/**
 * Records waiting to be ingested, taken a time slice per animation frame so that a burst never stalls the
 * page: the clock is read every `step` records, and the rest waits for the next frame.
 */
export class IngestQueue<T> {
  private batches: (readonly T[])[] = [];
  private head = 0;
  /** Records `ingest` threw on: left out, and the queue goes on. */
  rejected = 0;

  constructor(private readonly step = 100) {}

  push(records: readonly T[]): void {
    if (records.length > 0) this.batches.push(records);
  }

  get isEmpty(): boolean {
    return this.batches.length === 0;
  }

  clear(): void {
    this.batches = [];
    this.head = 0;
    this.rejected = 0;
  }

  /**
   * Hands records in arrival order to `ingest` until `budgetMs` has passed since the call (at least one
   * step is taken, so a slow clock still makes progress); returns how many `ingest` accepted. Each record is
   * handed over once: one that `ingest` throws on is counted in `rejected`.
   */
  drain(ingest: (record: T) => boolean, now: () => number, budgetMs: number): number {
    const started = now();
    let accepted = 0;
    do {
      const batch = this.batches[0];
      if (batch === undefined) break;
      const end = Math.min(batch.length, this.head + this.step);
      while (this.head < end) {
        try {
          if (ingest(batch[this.head++]!)) accepted++;
        } catch {
          this.rejected++;
        }
      }
      if (end === batch.length) {
        this.batches.shift();
        this.head = 0;
      }
    } while (now() - started < budgetMs);
    return accepted;
  }
}
