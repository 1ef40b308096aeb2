import { expect } from 'vitest';
import type { EventObject } from 'xstate';
import { statusOf } from '../../../src/connection/status.js';
import type { ModelPath } from '../../../src/testing/index.js';
import { EVENT, PONG_DEADLINE, TIMING, drawFor, is, type State, type Variant } from './connection-model.js';

/**
 * The connection's policies as the README states them (its close-code table, the options table, the
 * statechart), written out here on their own, with nothing taken from socketchart's code: what a
 * failure leads to, how long the next wait is, when the circuit opens and for how long, when a token
 * is asked for again, when the heartbeat may probe. Walked along a path of the model, it predicts every
 * decision the machine takes, and `checkPolicies` holds the machine to it.
 */

/** What a failure asks for. */
type Decision = 'normal' | 'retry' | 'restart' | 'later' | 'token' | 'fail';

/** README, "Close codes and errors". */
const closeTable: Readonly<Record<number, Decision>> = {
  1000: 'normal',
  1001: 'normal',
  1005: 'retry',
  1006: 'retry',
  1015: 'retry',
  1002: 'fail',
  1003: 'fail',
  1007: 'fail',
  1008: 'fail',
  1009: 'retry',
  1011: 'retry',
  1014: 'retry',
  1012: 'restart',
  1013: 'later',
  4008: 'later',
  4001: 'token',
  3000: 'token',
  4003: 'fail',
  3003: 'fail',
  4029: 'later',
};

/** The seed's error taxonomy, for an error that answers an auth frame: its recovery. */
const authErrorTable: Readonly<Record<string, Decision>> = {
  AUTHENTICATION_FAILED: 'token',
  AUTHORIZATION_FAILED: 'fail',
  RATE_LIMIT_EXCEEDED: 'later',
  SERVER_ERROR: 'retry',
};

/** A token provider that fails is retried with backoff; one that says the user is not allowed ends it. */
const tokenProviderTable: Readonly<Record<string, Decision>> = {
  AUTHENTICATION_FAILED: 'retry',
  AUTHORIZATION_FAILED: 'fail',
  RATE_LIMIT_EXCEEDED: 'later',
};

/** What the oracle says a step must lead to. */
interface Prediction {
  readonly status?: string | readonly string[];
  /** The delay of the `reconnectDelay` timer. */
  readonly retryMs?: number;
  /** The delay of the `recoveryTimeout` timer. */
  readonly recoveryMs?: number;
  /** The liveness region probes (`true`) or does not (`false`). */
  readonly probing?: boolean;
  readonly why: string;
}

export class PolicyOracle {
  private attempt = 0;
  private failures = 0;
  private trips = 0;
  private rejections = 0;
  private stable = false;
  private open = false;
  private probe = false;
  private online = true;
  private hidden = false;
  /** Model time at which the wait the server asked for (1013, 4008, 4029) ends; undefined when the last failure asked for none. */
  private serverWaitEnds: number | undefined;

  constructor(private readonly variant: Variant) {}

  /** Exponential, capped, jittered: uniform over the part of `raw ± raw × jitter` within [base, cap]. */
  backoff(exponent: number, draw: number): number {
    const { baseMs, capMs, multiplier, jitter } = TIMING.reconnect;
    const raw = Math.min(capMs, baseMs * multiplier ** exponent);
    const low = Math.max(baseMs, raw - raw * jitter);
    const high = Math.min(capMs, raw + raw * jitter);
    return Math.round(low + draw * (high - low));
  }

  /** Open time of the circuit after its `trips`-th trip. */
  recovery(trips: number): number {
    const { recoveryMs, recoveryMultiplier, maxRecoveryMs } = TIMING.circuit;
    return Math.min(maxRecoveryMs, recoveryMs * recoveryMultiplier ** (trips - 1));
  }

  /** Where a dial goes: a page hidden with closeWhenHidden waits, the network must be up, a gate queues. */
  private dial(why: string, halfOpen = false): Prediction {
    if (this.variant.closeWhenHidden && this.hidden) return { status: 'suspended', why };
    if (!this.online) return { status: 'offline', why };
    if (this.variant.dialGate === 'held') return { status: 'queued', why };
    return { status: halfOpen || (this.variant.dialGate && this.open) ? 'halfOpen' : 'connecting', why };
  }

  /** Back online or visible again, with nothing else in the way: the rest of a server's wait, else a dial. */
  private wake(now: number, why: string): Prediction {
    if (this.serverWaitEnds === undefined || (this.variant.closeWhenHidden && this.hidden)) return this.dial(why);
    return { status: 'reconnecting', retryMs: Math.max(0, this.serverWaitEnds - now), why: `${why}: the rest of the server's wait` };
  }

  /** A failed dial or a lost link, at model time `now`. */
  private fail(decision: Decision, draw: number, now: number, why: string): Prediction {
    this.serverWaitEnds = undefined;
    if (decision === 'token') {
      if (this.variant.tokenProvider && this.rejections === 0) this.rejections = 1;
      else decision = 'fail';
    }
    if (decision === 'fail') return { status: 'failed', why: `${why}: final` };
    const exponent = this.attempt;
    const serverWait = decision === 'later' ? Math.max(this.backoff(exponent, draw), TIMING.reconnect.tryLaterMs) : undefined;
    if (serverWait !== undefined) this.serverWaitEnds = now + serverWait;
    const immediate = this.stable && (decision === 'retry' || decision === 'normal' || decision === 'token');
    if (!immediate) this.attempt++;
    this.stable = false;
    const counted = decision === 'retry' || decision === 'restart' || decision === 'later';
    if (counted) this.failures++;
    if (decision === 'token') {
      const status = !this.variant.dialGate ? 'connecting' : this.variant.dialGate === 'held' ? 'queued' : this.granted();
      return { status, why: `${why}: one fresh token, dialed at once` };
    }
    if (this.probe || (counted && this.failures >= TIMING.circuit.failureThreshold)) {
      this.trips++;
      this.open = true;
      this.probe = false;
      return { status: 'circuitOpen', recoveryMs: this.recovery(this.trips), why: `${why}: the circuit opens (trip ${this.trips})` };
    }
    const retryMs = immediate
      ? 0
      : decision === 'restart'
        ? Math.round(draw * TIMING.reconnect.restartWindowMs)
        : (serverWait ?? this.backoff(exponent, draw));
    return { status: 'reconnecting', retryMs, why: `${why}: ${immediate ? 'retried at once after a stable link' : `${decision}, attempt ${exponent}, draw ${draw}`}` };
  }

  /** Where a granted permit leads. */
  private granted(): string {
    return this.variant.closeWhenHidden && this.hidden ? 'suspended' : this.open ? 'halfOpen' : 'connecting';
  }

  private reset(): void {
    this.attempt = this.failures = this.trips = this.rejections = 0;
    this.stable = this.open = this.probe = false;
    this.serverWaitEnds = undefined;
  }

  /** The oracle's prediction for one step of a path (every timer it fires, in order), and what it learns from it. */
  step(event: EventObject, before: State, after: State): Prediction | undefined {
    let prediction: Prediction | undefined;
    for (const fired of after.fired.length > 0 ? after.fired.map((timer) => timer.event) : [event]) prediction = this.apply(fired, before, after) ?? prediction;
    if (statusOf(after.snapshot) === 'connected' && statusOf(before.snapshot) !== 'connected') {
      this.probe = this.open = false;
      this.serverWaitEnds = undefined;
    }
    if (statusOf(after.snapshot) === 'halfOpen' && statusOf(before.snapshot) !== 'halfOpen') this.probe = true;
    return prediction;
  }

  private apply(event: EventObject, before: State, after: State): Prediction | undefined {
    const b = before.snapshot;
    const status = statusOf(b);
    const draw = drawFor(after.snapshot.context);
    const inLink = is(b, 'link') && !is(b, 'link.closing');
    const dialing = status === 'connecting' || status === 'halfOpen';
    const code = (event as { code?: number }).code;
    const errorCode = (event as { error?: { code: string } }).error?.code ?? '';
    let prediction: Prediction | undefined;
    switch (event.type) {
      case 'connection.start':
      case 'connection.retry':
        if (status === 'idle' || status === 'closed' || status === 'failed' || (event.type === 'connection.retry' && (status === 'reconnecting' || status === 'circuitOpen'))) {
          this.reset();
          prediction = this.dial(`${event.type} from ${status}`);
        }
        break;
      case 'env.offline':
        this.online = false;
        if (inLink || ['queued', 'reconnecting', 'circuitOpen', 'suspended'].includes(status)) prediction = { status: 'offline', why: 'the network went down' };
        break;
      case 'env.online':
        this.online = true;
        if (status === 'offline') prediction = this.open && !(this.variant.closeWhenHidden && this.hidden) ? { status: 'circuitOpen', why: 'back online, the circuit still open' } : this.wake(after.now, 'back online');
        else if (status === 'reconnecting') {
          const hiddenAway = this.variant.closeWhenHidden && this.hidden;
          prediction = this.serverWaitEnds === undefined || hiddenAway ? this.dial('online while reconnecting') : { status: 'reconnecting', why: "online while waiting out the server's wait" };
        }
        break;
      case 'page.hidden':
      case 'page.freeze':
        this.hidden = true;
        if (event.type === 'page.hidden' && this.variant.closeWhenHidden && (inLink || ['queued', 'reconnecting', 'circuitOpen'].includes(status))) {
          prediction = { status: 'suspended', why: 'hidden, closeWhenHidden' };
        } else if (status === 'connected' && this.variant.heartbeat) prediction = { status: 'connected', probing: false, why: 'no probe while hidden or frozen' };
        break;
      case 'page.visible':
      case 'page.resume': {
        const wasHidden = this.hidden;
        this.hidden = false;
        if (status === 'suspended') prediction = !this.online ? { status: 'offline', why: 'visible, offline' } : this.open ? { status: 'circuitOpen', why: 'visible, circuit open' } : this.wake(after.now, 'visible again');
        else if (status === 'connected' && this.variant.heartbeat && wasHidden) prediction = { status: 'connected', probing: true, why: 'awake: the link is verified at once' };
        break;
      }
      case 'permit.granted':
        if (status === 'queued') prediction = { status: this.granted(), why: 'permit granted' };
        break;
      case 'socket.close':
        if (inLink && code !== undefined) prediction = this.fail(closeTable[code] ?? 'retry', draw, after.now, `close ${code} in ${status}`);
        break;
      case 'auth.error':
        if (dialing) prediction = this.fail(tokenProviderTable[errorCode] ?? 'retry', draw, after.now, `token provider failed with ${errorCode}`);
        break;
      case 'server.error':
        if (status === 'authenticating') prediction = this.fail(authErrorTable[errorCode] ?? 'retry', draw, after.now, `${errorCode} answers the auth frame`);
        break;
      case PONG_DEADLINE:
        if (before.world.probe === 'awaiting') prediction = this.fail('retry', draw, after.now, 'no pong before the deadline');
        else prediction = { status: 'connected', probing: false, why: 'traffic since the ping proves the link' };
        break;
      case EVENT.heartbeatDone:
        break;
      default: {
        const timer = event.type.startsWith('xstate.after.') ? event.type.slice('xstate.after.'.length).split('.')[0] : undefined;
        if (timer === 'minUptime') {
          this.stable = true;
          this.attempt = this.failures = this.trips = this.rejections = 0;
        } else if ((timer === 'connectTimeout' && dialing) || (timer === 'authTimeout' && status === 'authenticating')) {
          prediction = this.fail('retry', draw, after.now, `${timer} in ${status}`);
        } else if (timer === 'reconnectDelay') prediction = this.dial('the backoff is over');
        else if (timer === 'recoveryTimeout') prediction = this.dial('the recovery time is over: one probe', true);
        else if (timer === 'heartbeatInterval') {
          prediction = this.hidden ? { status: 'connected', probing: false, why: 'hidden: a keepalive ping, no probe' } : { status: 'connected', probing: true, why: 'a quiet interval: probe' };
        }
      }
    }
    return prediction;
  }
}

const timerDelay = (state: State, name: string) => state.timers.find((timer) => timer.id.startsWith(`xstate.after.${name}.`))?.delay;

/** Walks a path of the model with the oracle and holds every step to its prediction. */
export function checkPolicies(variant: Variant, path: ModelPath<State>): void {
  const oracle = new PolicyOracle(variant);
  let before = path.start;
  path.steps.forEach(({ event, state: after }, i) => {
    const prediction = oracle.step(event, before, after);
    before = after;
    if (!prediction) return;
    const where = `step ${i + 1} of ${path.description}: ${prediction.why}`;
    const status = statusOf(after.snapshot);
    if (prediction.status !== undefined) {
      const allowed = typeof prediction.status === 'string' ? [prediction.status] : prediction.status;
      expect(allowed, `${where}: status`).toContain(status);
    }
    if (prediction.retryMs !== undefined && status === 'reconnecting') expect(timerDelay(after, 'reconnectDelay'), `${where}: retry delay`).toBe(prediction.retryMs);
    if (prediction.recoveryMs !== undefined && status === 'circuitOpen') expect(timerDelay(after, 'recoveryTimeout'), `${where}: recovery time`).toBe(prediction.recoveryMs);
    if (prediction.probing !== undefined && status === 'connected') {
      expect(is(after.snapshot, 'link.connected.liveness.probing'), `${where}: liveness probing`).toBe(prediction.probing);
    }
  });
}
