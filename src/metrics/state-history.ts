/** One remembered state change. */
export interface StateChange {
  /** State entered. */
  state: string;
  /** Clock time at which it was entered, in ms. */
  at: number;
}

/** Capacity of the ring of remembered state changes. */
export const STATE_HISTORY_SIZE = 100;

const MAX_STATES = 256;

/**
 * The last 100 state changes (timestamps in a Float64Array, states as indices in a Uint8Array) and the
 * time accumulated in each state. States not named to the constructor are added on first entry.
 */
export class StateHistory {
  private readonly names: string[];
  private totals: Float64Array;
  private times: Float64Array | undefined;
  private states: Uint8Array | undefined;
  private changes = 0;
  private currentIndex = -1;
  private enteredAt = 0;

  constructor(stateNames: readonly string[]) {
    this.names = stateNames.slice(0, MAX_STATES);
    this.totals = new Float64Array(this.names.length);
  }

  /** State entered last, or `undefined` before the first `enter()`. */
  get current(): string | undefined {
    return this.currentIndex < 0 ? undefined : this.names[this.currentIndex];
  }

  /** Records entering `state` at clock time `at`; re-entering the current state is not a change. */
  enter(state: string, at: number): void {
    const index = this.indexOf(state);
    if (index < 0 || index === this.currentIndex) return;
    if (this.currentIndex >= 0 && at > this.enteredAt) this.totals[this.currentIndex]! += at - this.enteredAt;
    const slot = this.changes % STATE_HISTORY_SIZE;
    (this.times ??= new Float64Array(STATE_HISTORY_SIZE))[slot] = at;
    (this.states ??= new Uint8Array(STATE_HISTORY_SIZE))[slot] = index;
    this.changes++;
    this.currentIndex = index;
    this.enteredAt = at;
  }

  /** Ms spent in each known state, including the ongoing stay in the current one up to `now`. */
  timeInState(now: number): Record<string, number> {
    const result: Record<string, number> = {};
    for (let i = 0; i < this.names.length; i++) {
      let total = this.totals[i]!;
      if (i === this.currentIndex && now > this.enteredAt) total += now - this.enteredAt;
      result[this.names[i]!] = total;
    }
    return result;
  }

  /** The remembered state changes, oldest first. */
  recent(): StateChange[] {
    const result: StateChange[] = [];
    if (this.times === undefined || this.states === undefined) return result;
    const n = Math.min(this.changes, STATE_HISTORY_SIZE);
    for (let i = this.changes - n; i < this.changes; i++) {
      const slot = i % STATE_HISTORY_SIZE;
      result.push({ state: this.names[this.states[slot]!]!, at: this.times[slot]! });
    }
    return result;
  }

  private indexOf(state: string): number {
    const index = this.names.indexOf(state);
    if (index >= 0 || this.names.length >= MAX_STATES) return index;
    this.names.push(state);
    const totals = new Float64Array(this.names.length);
    totals.set(this.totals);
    this.totals = totals;
    return this.names.length - 1;
  }
}
