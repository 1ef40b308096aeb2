/** What the health score is computed from. */
export interface HealthInput {
  /** Whether the connection is in its `connected` state; the score is 0 otherwise. */
  connected: boolean;
  /** Heartbeat round-trip time p95, in ms; `null` when not measured yet (no penalty). */
  rttP95: number | null;
  /** Errors within the recent window. */
  errorsRecent: number;
  /** Reconnects within the recent window. */
  reconnectsRecent: number;
  /** Messages waiting in the outbound queue. */
  queueDepth: number;
  /** Capacity of the outbound queue, in messages. */
  queueCapacity: number;
  /** Share of outbound messages dropped (0–1). */
  dropRate: number;
}

/**
 * Health of a connection in [0, 1]: 0 when not connected, 1 for a connected link with low latency, no
 * recent errors or reconnects, an empty queue and no drops. Each factor degrades smoothly and the score
 * never rises when any input gets worse: latency halves it at 500 ms and leaves a fifth at 1 s; each
 * recent error costs ~18 %, each recent reconnect ~26 %; a full queue halves it; a 10 % drop rate leaves ~37 %.
 */
export function healthScore(input: HealthInput): number {
  if (!input.connected) return 0;
  const rtt = input.rttP95 === null ? 0 : nonNegative(input.rttP95) / 500;
  const fill = queueFill(input.queueDepth, input.queueCapacity);
  const score =
    (1 / (1 + rtt * rtt)) *
    Math.exp(-0.2 * nonNegative(input.errorsRecent)) *
    Math.exp(-0.3 * nonNegative(input.reconnectsRecent)) *
    (1 - 0.5 * fill * fill) *
    Math.exp(-10 * Math.min(1, nonNegative(input.dropRate)));
  return score > 1 ? 1 : score > 0 ? score : 0;
}

/** A detected problem of a connection. */
export type IssueKind = 'high_latency' | 'poor_health' | 'large_queue' | 'drop_rate';

/** A detected problem with the value that triggered it and what to do about it. */
export interface Issue {
  /** Which problem. */
  issue: IssueKind;
  /** Measured value (ms for latency, 0–1 ratios otherwise). */
  value: number;
  /** Threshold the value crossed. */
  threshold: number;
  /** Recommended action, for people. */
  action: string;
}

/** Thresholds of `detectIssues()`. */
export interface IssueThresholds {
  /**
   * RTT p95 above which latency is reported, in ms.
   * @default 1000
   */
  latencyMs: number;
  /**
   * Health score below which health is reported.
   * @default 0.5
   */
  health: number;
  /**
   * Queue fill ratio (depth / capacity) above which the queue is reported.
   * @default 0.8
   */
  queueFill: number;
  /**
   * Drop rate above which drops are reported.
   * @default 0.05
   */
  dropRate: number;
}

/** Defaults of `IssueThresholds`. */
export const defaultIssueThresholds: Readonly<IssueThresholds> = {
  latencyMs: 1000,
  health: 0.5,
  queueFill: 0.8,
  dropRate: 0.05,
};

/** What `detectIssues()` looks at (a metrics snapshot has these fields, or can supply them). */
export interface IssueInput {
  /** Health score (0–1). */
  healthScore: number;
  /** Heartbeat RTT p95, in ms; `null` when not measured. */
  rttP95: number | null;
  /** Messages waiting in the outbound queue. */
  queueDepth: number;
  /** Capacity of the outbound queue, in messages. */
  queueCapacity: number;
  /** Share of outbound messages dropped (0–1). */
  dropRate: number;
}

const ACTIONS: Readonly<Record<IssueKind, string>> = {
  high_latency: 'Check the network path and server load; prefer a closer endpoint or send less per second.',
  poor_health:
    'Look at recent errors and reconnects: check the server and credentials; the circuit breaker opens if failures go on.',
  large_queue:
    'Messages are not draining: lower the send rate, check the rate limit and socket backpressure, or raise queue limits.',
  drop_rate: 'Messages are being dropped: raise the queue limits or TTLs, send less, or mark important messages high priority.',
};

/** Problems worth reporting, each with its recommended action (empty when all is well). */
export function detectIssues(input: IssueInput, thresholds: Partial<IssueThresholds> = {}): Issue[] {
  const t = { ...defaultIssueThresholds, ...thresholds };
  const issues: Issue[] = [];
  const report = (issue: IssueKind, value: number, threshold: number) => issues.push({ issue, value, threshold, action: ACTIONS[issue] });
  if (input.rttP95 !== null && input.rttP95 > t.latencyMs) report('high_latency', input.rttP95, t.latencyMs);
  if (input.healthScore < t.health) report('poor_health', input.healthScore, t.health);
  const fill = queueFill(input.queueDepth, input.queueCapacity);
  if (fill > t.queueFill) report('large_queue', fill, t.queueFill);
  if (input.dropRate > t.dropRate) report('drop_rate', input.dropRate, t.dropRate);
  return issues;
}

function nonNegative(value: number): number {
  return value > 0 ? value : 0;
}

function queueFill(depth: number, capacity: number): number {
  if (!(depth > 0)) return 0;
  if (!(capacity > 0)) return 1;
  return depth >= capacity ? 1 : depth / capacity;
}
