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
 * The last 100 state changes (time and state index, side by side in one small ring that grows with use)
 * and the time accumulated in each state. States not named to the constructor are added on first entry.
 */
export class StateHistory {
  private names: readonly string[];
  private totals: number[] | undefined;
  private changes: number[] | undefined;
  private written = 0;
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
    if (this.currentIndex >= 0 && at > this.enteredAt) this.addTime(this.currentIndex, at - this.enteredAt);
    this.changes = ringWrite(this.changes, this.written++, 2 * STATE_HISTORY_SIZE, at);
    this.changes = ringWrite(this.changes, this.written++, 2 * STATE_HISTORY_SIZE, index);
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
    const values = ringValues(this.changes, this.written, 2 * STATE_HISTORY_SIZE);
    const recent: StateChange[] = [];
    for (let i = 0; i < values.length; i += 2) recent.push({ state: this.names[values[i + 1]!]!, at: values[i]! });
    return recent;
  }

  /** Totals are kept up to the last state that has any, so a connection pays only for the states it knew. */
  private addTime(index: number, ms: number): void {
    let totals = this.totals;
    if (totals === undefined || index >= totals.length) {
      const grown = new Array<number>(index + 1).fill(0);
      if (totals !== undefined) for (let i = 0; i < totals.length; i++) grown[i] = totals[i]!;
      this.totals = totals = grown;
    }
    totals[index] = totals[index]! + ms;
  }

  private indexOf(state: string): number {
    const index = this.names.indexOf(state);
    if (index >= 0 || this.names.length >= MAX_STATES) return index;
    this.names = [...this.names, state];
    return this.names.length - 1;
  }
}
