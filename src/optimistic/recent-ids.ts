/** What became of a local change that is no longer tracked. */
export type PastOutcome = 'confirmed' | 'rolledBack';

/** The outcome of the most recent local changes, oldest forgotten first, so a late echo is recognised. */
export class RecentIds {
  private readonly outcomes = new Map<string, PastOutcome>();

  constructor(private readonly capacity: number) {}

  get(id: string): PastOutcome | undefined {
    return this.outcomes.get(id);
  }

  has(id: string): boolean {
    return this.outcomes.has(id);
  }

  set(id: string, outcome: PastOutcome): void {
    this.outcomes.delete(id);
    this.outcomes.set(id, outcome);
    if (this.outcomes.size > this.capacity) this.outcomes.delete(this.outcomes.keys().next().value as string);
  }

  clear(): void {
    this.outcomes.clear();
  }
}
