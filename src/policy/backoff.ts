import { unitRandom } from './unit-random.js';

/** Exponential backoff with a cap and symmetric jitter. */
export interface BackoffPolicy {
  /** Smallest delay, in ms; also the raw delay of the first retry (attempt 0). Every delay is at least this. */
  baseMs: number;
  /** Largest delay, in ms. Every delay is at most this (a cap below `baseMs` is treated as `baseMs`). */
  capMs: number;
  /** Growth factor of the raw delay per attempt (`base * multiplier ^ attempt`); values below 1 count as 1. */
  multiplier: number;
  /**
   * Jitter ratio in [0, 1]: the delay is drawn uniformly from the part of `raw ± raw * jitter` that lies
   * within [`baseMs`, `capMs`] (no delay drawn more often at the base or the cap). 0 gives the raw delay;
   * spreading retries stops clients reconnecting in lockstep.
   */
  jitter: number;
}

/** Settings of the circuit breaker's recovery timeout, which grows on repeated trips. */
export interface RecoveryPolicy {
  /** Recovery timeout after the first trip, in ms. */
  recoveryMs: number;
  /** Factor applied to the recovery timeout on each further trip without a stable connection (one up for `minUptimeMs`): a probe that connects and drops at once does not reset it. */
  recoveryMultiplier: number;
  /** Upper bound of the recovery timeout, in ms. */
  maxRecoveryMs: number;
}

/**
 * Delay before retry number `attempt` (0 is the first retry), in whole ms.
 * Always within [`policy.baseMs`, `policy.capMs`], for any attempt and any `random()` in [0, 1).
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const base = Math.max(0, policy.baseMs);
  const cap = Math.max(base, policy.capMs);
  const raw = growth(base, Math.max(1, policy.multiplier), attempt > 0 ? attempt : 0, cap);
  const jitter = policy.jitter > 0 ? Math.min(1, policy.jitter) : 0;
  let delay = raw;
  if (jitter > 0) {
    const spread = raw * jitter;
    const low = Math.max(base, raw - spread);
    delay = low + unitRandom(random()) * (Math.min(cap, raw + spread) - low);
  }
  return Math.round(delay);
}

/** Recovery timeout of the circuit breaker after its `trips`-th consecutive trip (1 is the first), in ms. */
export function recoveryDelay(trips: number, policy: RecoveryPolicy): number {
  const first = Math.max(0, policy.recoveryMs);
  const max = Math.max(0, policy.maxRecoveryMs);
  return growth(Math.min(first, max), Math.max(1, policy.recoveryMultiplier), trips > 1 ? trips - 1 : 0, max);
}

function growth(start: number, multiplier: number, exponent: number, cap: number): number {
  if (start === 0) return 0;
  const value = start * multiplier ** exponent;
  return value < cap ? value : cap;
}
