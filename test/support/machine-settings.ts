import type { ConnectionSettings } from '../../machines/connection.types.js';

/**
 * What the pure connection machine reads, at the README options table's defaults (no auth answer, no
 * token refresh, one url), with `overrides` on top: the input of specs that run the machine without
 * `createConnection()`.
 */
export function machineSettings(overrides: Partial<ConnectionSettings> = {}): ConnectionSettings {
  return {
    connectTimeoutMs: 10_000,
    authTimeoutMs: 10_000,
    closeTimeoutMs: 2_000,
    reconnect: { baseMs: 1_000, capMs: 30_000, multiplier: 2, jitter: 0.5, minUptimeMs: 5_000, restartWindowMs: 2_000, tryLaterMs: 10_000 },
    circuit: { failureThreshold: 5, recoveryMs: 30_000, recoveryMultiplier: 2, maxRecoveryMs: 300_000 },
    heartbeat: { intervalMs: 30_000, timeoutMs: 5_000 },
    closeWhenHidden: false,
    dialGated: false,
    awaitsAuthAnswer: false,
    canRefreshToken: false,
    refreshesInBand: false,
    refreshLeadMs: 30_000,
    urls: 1,
    failover: { after: 3, primaryRetryMs: 60_000 },
    flushRetryMs: 10,
    ...overrides,
  };
}
