/** What became of a local change that is no longer tracked. */
export type PastOutcome = 'confirmed' | 'rolledBack';

/** A value (by default the outcome) for the most recent local changes, oldest forgotten first, so a late echo or ack is recognised. */
export class RecentIds<T = PastOutcome> {
  private readonly outcomes = new Map<string, T>();

  constructor(private readonly capacity: number) {}

  get(id: string): T | undefined {
    return this.outcomes.get(id);
  }

  has(id: string): boolean {
    return this.outcomes.has(id);
  }

  set(id: string, outcome: T): void {
    this.outcomes.delete(id);
    this.outcomes.set(id, outcome);
    if (this.outcomes.size > this.capacity) this.outcomes.delete(this.outcomes.keys().next().value as string);
  }

  delete(id: string): void {
    this.outcomes.delete(id);
  }

  clear(): void {
    this.outcomes.clear();
  }
}
