/**
 * The default of every connection option, in one place: `resolveOptions` falls back to these, and each
 * option's JSDoc `@default` says the same (a spec reads both and compares them).
 */
export const connectionDefaults = /* @__PURE__ */ Object.freeze({
  failover: /* @__PURE__ */ Object.freeze({ after: 3, primaryRetryMs: 60_000 }),
  auth: /* @__PURE__ */ Object.freeze({ mode: 'message', queryParam: 'token', refreshLeadMs: 30_000 }),
  heartbeat: /* @__PURE__ */ Object.freeze({ intervalMs: 30_000, timeoutMs: 5_000 }),
  reconnect: /* @__PURE__ */ Object.freeze({ baseMs: 1_000, capMs: 30_000, multiplier: 2, jitter: 0.5, minUptimeMs: 5_000, restartWindowMs: 2_000, tryLaterMs: 10_000 }),
  circuit: /* @__PURE__ */ Object.freeze({ failureThreshold: 5, recoveryMs: 30_000, recoveryMultiplier: 2, maxRecoveryMs: 300_000 }),
  queue: /* @__PURE__ */ Object.freeze({ maxMessages: 1_000, maxBytes: 1_048_576, overflow: 'evict-lowest', defaultTtlMs: 0, highWaterMark: 1_048_576 }),
  acks: /* @__PURE__ */ Object.freeze({ timeoutMs: 10_000, maxAttempts: 3 }),
  rateLimit: /* @__PURE__ */ Object.freeze({ channels: /* @__PURE__ */ Object.freeze({}), followServer: true }),
  protocols: /* @__PURE__ */ Object.freeze([] as string[]),
  connectTimeoutMs: 10_000,
  authTimeoutMs: 10_000,
  closeTimeoutMs: 2_000,
  maxMessageBytes: 65_536,
  maxInboundBytes: 1_048_576,
  closeWhenHidden: false,
  priority: 1,
} as const);

/** The default of every pool option (the same rule as `connectionDefaults`). */
export const poolDefaults = /* @__PURE__ */ Object.freeze({
  defaults: /* @__PURE__ */ Object.freeze({}),
  staggerMs: 100,
  maxConnections: 10_000,
  dialBudget: /* @__PURE__ */ Object.freeze({ ratePerSec: 200, burst: 20 }),
  balancing: 'round-robin',
  health: /* @__PURE__ */ Object.freeze({ maxRttMs: 1_000 }),
  stopTimeoutMs: 5_000,
  /** An endpoint's start order and dial priority. */
  priority: 2,
} as const);
