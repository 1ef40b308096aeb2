import { seedFeeds } from './seed-feeds.js';

/** How often the pool pings and how long it waits for the pong. */
export interface HeartbeatTiming {
  intervalMs: number;
  timeoutMs: number;
}

/** When each fault of one cycle begins (ms into the cycle), whom it targets, and the token lifetime that lets the expiry happen in time. */
export interface FaultPlan {
  restartAtMs: number;
  blackholeAtMs: number;
  /** Late enough that every heartbeat has missed a pong. */
  healAtMs: number;
  tokenExpiryAtMs: number;
  /** The last seed feed in the pool: its identity provider goes down. */
  tokenTarget: string;
  /** Lifetime of every token the demo issues. */
  tokenTtlMs: number;
  /** How long before expiry a feed refreshes its token. */
  refreshLeadMs: number;
  /** `--duration`, or longer when the faults need it: the token can have expired and the feed reconnected by then. */
  cycleMs: number;
}

const RECONNECT_MARGIN_MS = 1_500;

const clamp = (value: number, min: number, max: number) => Math.min(Math.max(value, min), max);

/** Spreads the faults over `durationSec` (restart at 15 %, blackhole at 30 %, token expiry at 50 %), each after the previous one is over. */
export function planFaults(durationSec: number, connections: number, heartbeat: HeartbeatTiming): FaultPlan {
  const durationMs = durationSec * 1_000;
  const tokenTtlMs = clamp(Math.round(durationMs * 0.2), 2_000, 10_000);
  const blackholeAtMs = durationMs * 0.3;
  const healAtMs = blackholeAtMs + Math.max(durationMs * 0.12, heartbeat.intervalMs + heartbeat.timeoutMs + 500);
  const tokenExpiryAtMs = Math.max(durationMs * 0.5, healAtMs + 1_000);
  return {
    restartAtMs: durationMs * 0.15,
    blackholeAtMs,
    healAtMs,
    tokenExpiryAtMs,
    tokenTarget: seedFeeds[clamp(connections, 1, seedFeeds.length) - 1]![0],
    tokenTtlMs,
    refreshLeadMs: Math.round(tokenTtlMs * 0.3),
    cycleMs: Math.max(durationMs, tokenExpiryAtMs + tokenTtlMs + RECONNECT_MARGIN_MS),
  };
}
