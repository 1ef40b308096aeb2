import { ringSize, ringWrite } from './ring.js';
import type { Clock } from '../environment/clock.js';
import { detectIssues, healthScore, type Issue, type IssueThresholds } from './health.js';
import { LatencySamples, type LatencySummary } from './latency.js';
import { StateHistory, type StateChange } from './state-history.js';

/** A connection's metrics at one moment; plain data, safe to `JSON.stringify`. */
export interface ConnectionMetricsSnapshot {
  /** Current state of the connection (a connection's is `idle` from its creation), or `null` before the first state recorded. */
  state: string | null;
  /** Ms spent in each state since creation, including the ongoing stay in the current one. */
  timeInState: Record<string, number>;
  /** Times the connection entered `connected`. */
  connects: number;
  /** Entries into `connected` after the first. */
  reconnects: number;
  /**
   * Time to recover, in ms: from leaving `connected` to entering it again (one timed across a clock that stepped back is
   * left out, and so is one across `closed`, where `stop()` leads, or `suspended`, where `closeWhenHidden` leads: the
   * app asked for it, it was no outage; such a reconnect does not lower the health score either).
   */
  timeToRecover: LatencySummary;
  /** Heartbeat round-trip times, in ms (one timed across a clock that stepped back is left out). */
  rtt: LatencySummary;
  /** Data messages received. */
  messagesIn: number;
  /** Data messages written to the socket, operations included (a message written again while it awaits its ack counts once). */
  messagesOut: number;
  /** Bytes received in data messages (UTF-16 length for small text frames outside Node). */
  bytesIn: number;
  /** Bytes written in data messages (text in UTF-8), writes again included. */
  bytesOut: number;
  /** Messages waiting in the outbound queue. */
  queueDepth: number;
  /** Outbound messages dropped: evicted, expired or refused by the queue, or over `maxMessageBytes`. */
  drops: number;
  /**
   * Inbound messages of a subscribed channel dropped because their sequence number was already delivered
   * (a replay after a reconnect that overlaps what had arrived): no listener saw them twice.
   */
  duplicates: number;
  /** Errors reported by the connection. */
  errors: number;
  /** Times the outbound queue had to wait for a rate limit (`connected.outbound.throttled`). */
  throttles: number;
  /** Ms spent throttled, including an ongoing wait. */
  throttledMs: number;
  /** The last state changes, oldest first. */
  history: StateChange[];
  /** Health score in [0, 1] (see `healthScore()`). */
  healthScore: number;
  /** Detected problems with recommended actions (see `detectIssues()`). */
  issues: Issue[];
}

/** Options of `ConnectionMetrics`. */
export interface ConnectionMetricsOptions {
  /**
   * Window in which errors and reconnects count as recent for the health score, in ms (one timed before the clock stepped back no longer counts).
   * @default 60000
   */
  recentWindowMs?: number;
  /**
   * Thresholds of issue detection.
   * @default defaultIssueThresholds
   */
  issueThresholds?: Partial<IssueThresholds>;
}

const CONNECTED = 'connected';
const RECENT_SLOTS = 32;

class RecentEvents {
  private stamps: number[] | undefined;
  private total = 0;

  add(at: number): void {
    this.stamps = ringWrite(this.stamps, this.total, RECENT_SLOTS, at);
    this.total++;
  }

  /** Events timed in [from, now]; one timed after now was timed before the clock stepped back, and is forgotten. */
  since(from: number, now: number): number {
    const stamps = this.stamps ?? [];
    let n = 0;
    for (let i = 0; i < ringSize(this.total, RECENT_SLOTS); i++) {
      if (stamps[i]! > now) stamps[i] = -Infinity;
      else if (stamps[i]! >= from) n++;
    }
    return n;
  }
}

/**
 * Plain per-connection metrics: counters the data path bumps directly, RTT and recovery samples, state
 * durations and history, health score and issues. Nothing here goes through a state machine.
 */
const noOptions: ConnectionMetricsOptions = /* @__PURE__ */ Object.freeze({});

export class ConnectionMetrics {
  /** Entries into `connected`. */
  connects = 0;
  /** Entries into `connected` after the first. */
  reconnects = 0;
  /** Data messages received. */
  messagesIn = 0;
  /** Data messages written to the socket. */
  messagesOut = 0;
  /** Bytes received in data messages. */
  bytesIn = 0;
  /** Bytes written in data messages. */
  bytesOut = 0;
  /** Outbound messages dropped by the queue (evicted, expired, refused). */
  drops = 0;
  /** Inbound messages dropped as already delivered. */
  duplicates = 0;
  /** Errors seen; prefer `recordError()`, which also counts the error as recent for the health score. */
  errors = 0;
  /** Times the outbound queue had to wait for a rate limit. */
  throttles = 0;
  private rttSamples: LatencySamples | undefined;
  private recoverySamples: LatencySamples | undefined;
  private readonly history: StateHistory;
  private readonly clock: Pick<Clock, 'now'>;
  private readonly options: ConnectionMetricsOptions;
  private recentErrors: RecentEvents | undefined;
  private recentReconnects: RecentEvents | undefined;
  /** When the link last left `connected`; NaN when no recovery is to be timed (a NaN one is not recorded). */
  private leftConnectedAt = NaN;
  private linkRtt: number | null = null;
  private throttledTotal = 0;
  private throttledSince: number | undefined;

  constructor(stateNames: readonly string[], clock: Pick<Clock, 'now'>, options: ConnectionMetricsOptions = noOptions) {
    this.history = new StateHistory(stateNames);
    this.clock = clock;
    this.options = options;
  }

  /** Heartbeat round-trip times, in ms (created on first use). */
  get rtt(): LatencySamples {
    return (this.rttSamples ??= new LatencySamples());
  }

  /** Time to recover, in ms: from leaving `connected` to entering it again (created on first use). */
  get recovery(): LatencySamples {
    return (this.recoverySamples ??= new LatencySamples());
  }

  /** The last heartbeat round-trip time on the current link in ms, or `null` before its first pong. */
  get lastRtt(): number | null {
    return this.linkRtt;
  }

  /** A heartbeat round trip took `ms`. */
  recordRtt(ms: number): void {
    if (!(ms >= 0)) return;
    this.rtt.record(ms);
    this.linkRtt = ms;
  }

  /** Current state, or `undefined` before the first `onState()`. */
  get state(): string | undefined {
    return this.history.current;
  }

  /** Records a state change (the same state again is ignored), counting connects, reconnects and recovery time. */
  onState(state: string): void {
    const previous = this.history.current;
    if (state === previous) return;
    const now = this.clock.now();
    this.history.enter(state, now);
    if (previous === CONNECTED) {
      this.leftConnectedAt = now;
      this.linkRtt = null;
    } else if (state === CONNECTED && this.connects++) {
      this.reconnects++;
      if (!Number.isNaN(this.leftConnectedAt)) {
        (this.recentReconnects ??= new RecentEvents()).add(now);
        this.recovery.record(now - this.leftConnectedAt);
      }
    }
    // where the app's stop() and closeWhenHidden lead: no outage, nothing recovers across them
    if (state === 'closed' || state === 'suspended') this.leftConnectedAt = NaN;
  }

  /** The outbound queue starts (`true`) or stops waiting for a rate limit. */
  onThrottle(throttled: boolean): void {
    const now = this.clock.now();
    if (throttled) {
      this.throttles++;
      this.throttledSince = now;
    } else if (this.throttledSince !== undefined) {
      this.throttledTotal += Math.max(0, now - this.throttledSince);
      this.throttledSince = undefined;
    }
  }

  /** Counts one error, also as recent for the health score. */
  recordError(): void {
    this.errors++;
    (this.recentErrors ??= new RecentEvents()).add(this.clock.now());
  }

  /** The metrics now, as plain data. */
  snapshot(extra: { queueDepth: number; queueCapacity: number }): ConnectionMetricsSnapshot {
    const now = this.clock.now();
    const from = now - (this.options.recentWindowMs ?? 60_000);
    const rtt = this.rtt.summary();
    const state = this.history.current ?? null;
    const dropRate = this.drops > 0 ? this.drops / (this.drops + this.messagesOut) : 0;
    const score = healthScore({
      connected: state === CONNECTED,
      rttP95: rtt.p95,
      errorsRecent: this.recentErrors?.since(from, now) ?? 0,
      reconnectsRecent: this.recentReconnects?.since(from, now) ?? 0,
      queueDepth: extra.queueDepth,
      queueCapacity: extra.queueCapacity,
      dropRate,
    });
    return {
      state,
      timeInState: this.history.timeInState(now),
      connects: this.connects,
      reconnects: this.reconnects,
      timeToRecover: this.recovery.summary(),
      rtt,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      queueDepth: extra.queueDepth,
      drops: this.drops,
      duplicates: this.duplicates,
      errors: this.errors,
      throttles: this.throttles,
      throttledMs: this.throttledTotal + (this.throttledSince === undefined ? 0 : Math.max(0, now - this.throttledSince)),
      history: this.history.recent(),
      healthScore: score,
      issues: detectIssues(
        { healthScore: score, rttP95: rtt.p95, queueDepth: extra.queueDepth, queueCapacity: extra.queueCapacity, dropRate },
        this.options.issueThresholds,
      ),
    };
  }
}
