import { ringValues, ringWrite } from './ring.js';

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
 * The last 100 state changes (timestamps and state indices in small rings that grow with use) and the
 * time accumulated in each state. States not named to the constructor are added on first entry.
 */
export class StateHistory {
  private names: readonly string[];
  private totals: number[] | undefined;
  private times: number[] | undefined;
  private states: number[] | undefined;
  private changes = 0;
  private currentIndex = -1;
  private enteredAt = 0;

  constructor(stateNames: readonly string[]) {
    this.names = stateNames.length > MAX_STATES ? stateNames.slice(0, MAX_STATES) : stateNames;
  }

  /** State entered last, or `undefined` before the first `enter()`. */
  get current(): string | undefined {
    return this.currentIndex < 0 ? undefined : this.names[this.currentIndex];
  }

  /** Records entering `state` at clock time `at`; re-entering the current state is not a change. */
  enter(state: string, at: number): void {
    const index = this.indexOf(state);
    if (index < 0 || index === this.currentIndex) return;
    if (this.currentIndex >= 0 && at > this.enteredAt) {
      const totals = (this.totals ??= new Array<number>(this.names.length).fill(0));
      totals[this.currentIndex] = (totals[this.currentIndex] ?? 0) + (at - this.enteredAt);
    }
    this.times = ringWrite(this.times, this.changes, STATE_HISTORY_SIZE, at);
    this.states = ringWrite(this.states, this.changes, STATE_HISTORY_SIZE, index);
    this.changes++;
    this.currentIndex = index;
    this.enteredAt = at;
  }

  /** Ms spent in each known state, including the ongoing stay in the current one up to `now`. */
  timeInState(now: number): Record<string, number> {
    const result: Record<string, number> = {};
    for (let i = 0; i < this.names.length; i++) {
      let total = this.totals?.[i] ?? 0;
      if (i === this.currentIndex && now > this.enteredAt) total += now - this.enteredAt;
      result[this.names[i]!] = total;
    }
    return result;
  }

  /** The remembered state changes, oldest first. */
  recent(): StateChange[] {
    const times = ringValues(this.times, this.changes, STATE_HISTORY_SIZE);
    const states = ringValues(this.states, this.changes, STATE_HISTORY_SIZE);
    return times.map((at, i) => ({ state: this.names[states[i]!]!, at }));
  }

  private indexOf(state: string): number {
    const index = this.names.indexOf(state);
    if (index >= 0 || this.names.length >= MAX_STATES) return index;
    this.names = [...this.names, state];
    this.totals?.push(0);
    return this.names.length - 1;
  }
}
