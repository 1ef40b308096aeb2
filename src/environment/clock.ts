export type TimerHandle = unknown;

/**
 * The only source of time in socketchart. The default uses the host's timers and `Date.now()`;
 * tests pass a `SimulatedClock` from `socketchart/testing`.
 * It is also handed to XState as the actor clock, so delayed transitions follow it.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
