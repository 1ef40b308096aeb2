export type TimerHandle = unknown;

/**
 * The only source of time in socketchart. The default uses the host's timers and `Date.now()`;
 * tests pass a `SimulatedClock` from `socketchart/testing`.
 * It is also handed to XState as the actor clock, so delayed transitions follow it.
 */
export interface Clock {
  now(): number;
  /** May be asked for delays longer than host timers keep (2^31 - 1 ms): a clock over host timers shortens them, as `systemClock` does. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The longest delay a host timer keeps: a longer one fires at once (so it is shortened to this). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.min(ms, MAX_TIMER_MS)),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

type Delay<A> = number | ((args: A) => number);

/**
 * A machine's delays, `own` over its own, each shortened to what a host timer keeps: an actor run on
 * XState's own clock (raw host timers) waits as long as one run on `systemClock`.
 */
export function withinTimerRange<A>(machine: { implementations: { delays?: object } }, own: Record<string, Delay<A>>): Record<string, (args: A) => number> {
  const delays = { ...machine.implementations.delays, ...own } as Record<string, Delay<A>>;
  const out: Record<string, (args: A) => number> = {};
  for (const name in delays) {
    const delay = delays[name]!;
    out[name] = (args) => Math.min(MAX_TIMER_MS, typeof delay === 'function' ? delay(args) : delay);
  }
  return out;
}
