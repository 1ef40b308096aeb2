import { assign, type AnyMachineSnapshot, type EventObject, type StateValue } from 'xstate';
import { connectionMachine } from '../../../machines/connection.machine.js';
import type { ConnectionContext, Failure } from '../../../machines/connection.types.js';

import { ErrorCode, SocketchartError, jsonProtocol, type ConnectionOptions } from '../../../src/index.js';
import { classifyClose, classifyErrorFrame } from '../../../src/protocol/close-codes.js';
import { recoveryDelay } from '../../../src/policy/backoff.js';
import { planRetry } from '../../../src/policy/retry-plan.js';
import { resolveOptions } from '../../../src/connection/options.js';
import { settingsOf } from '../../../src/connection/settings.js';
import { activeStateIds, createModel, createMockServer, nextTimer, transitionsOf, type MachineModel, type ModelStateOf } from '../../../src/testing/index.js';
import { URL } from '../harness.js';

/**
 * The model of the connection machine: the pure machine (no runtime, no socket: its effects are not
 * run, its actors never start) with the two policies that draw on time and chance taken from
 * `src/policy`, and a small world for what the machine cannot see (the outbound queue, the heartbeat
 * probe it invokes). Paths of this model are checked against the reference policies and replayed
 * against a real connection.
 */

// Options: small and round, so that the circuit opens after two failures and every delay is a multiple
// of the flusher's 10 ms retry. The heartbeat interval divides `minUptime` and the token refresh: timers
// of `connected` do fall due together, and the model fires them together, as the clock does.
export const TIMING = {
  connectTimeoutMs: 2_000,
  authTimeoutMs: 2_000,
  closeTimeoutMs: 1_000,
  reconnect: { baseMs: 100, capMs: 400, multiplier: 2, jitter: 0.5, minUptimeMs: 5_000, restartWindowMs: 1_000, tryLaterMs: 1_000 },
  circuit: { failureThreshold: 2, recoveryMs: 1_000, recoveryMultiplier: 2, maxRecoveryMs: 2_000 },
  heartbeat: { intervalMs: 1_000, timeoutMs: 500 },
  queue: { highWaterMark: 1_024 },
  /** `auth_ok.expiresAt` is this far ahead; the in-band refresh starts `refreshLeadMs` before it. */
  sessionTtlMs: 10_000,
  refreshLeadMs: 4_000,
  /** The flusher's retry when the socket pushes back. */
  flushRetryMs: 10,
  /** The server's `retry_after` when it refuses a message for its rate limit. */
  retryAfterMs: 1_000,
} as const;

/** A stimulus that needs real time the model does not count (the flusher's retry) is offered only when no timer falls due within it and this margin. */
const MARGIN = 200;

export interface Variant {
  readonly name: string;
  /** Auth with a token provider the test answers (so it can hold, give or refuse every token); otherwise no auth. */
  readonly tokenProvider: boolean;
  readonly closeWhenHidden: boolean;
  readonly heartbeat: boolean;
  /** The server's auth_ok carries `expiresAt` (with a token provider: the in-band refresh runs). @default true */
  readonly sessionExpires?: boolean;
  /** A dial gate: `held` until the model grants each request (`permit.granted`), or `open` (granted as asked). @default none */
  readonly dialGate?: 'held' | 'open';
}

export const variants: readonly Variant[] = [
  { name: 'token provider, in-band refresh, heartbeat', tokenProvider: true, closeWhenHidden: false, heartbeat: true },
  { name: 'no auth, closeWhenHidden, no heartbeat', tokenProvider: false, closeWhenHidden: true, heartbeat: false },
  {
    name: 'dial gate the model grants, token provider, closeWhenHidden, no heartbeat',
    tokenProvider: true,
    closeWhenHidden: true,
    heartbeat: false,
    sessionExpires: false,
    dialGate: 'held',
  },
  { name: 'dial gate that grants at once, no auth, closeWhenHidden, no heartbeat', tokenProvider: false, closeWhenHidden: true, heartbeat: false, dialGate: 'open' },
];

/** The priority the gated variants dial at. */
export const GATE_PRIORITY = 3;

/**
 * The random draws of the retry plan, varied along a path: a function of what the model already tells
 * apart (attempt, failures, the failure's code), so that a vertex has one future and jitter is exercised.
 */
const DRAWS = [0, 0.999, 0.25, 0.75, 0.5] as const;
export const drawFor = ({ attempt, circuit, lastError }: Pick<ConnectionContext, 'attempt' | 'circuit' | 'lastError'>): number =>
  DRAWS[(Math.min(attempt, 3) * 3 + Math.min(circuit.failures, 3) + (lastError?.code.length ?? 0)) % DRAWS.length]!;

/** The options of a variant's connection (the replay adds its socket, clock, environment, token and gate). */
export function variantOptions(variant: Variant, deps: Partial<ConnectionOptions> = {}): ConnectionOptions {
  return {
    url: URL,
    connectTimeoutMs: TIMING.connectTimeoutMs,
    authTimeoutMs: TIMING.authTimeoutMs,
    closeTimeoutMs: TIMING.closeTimeoutMs,
    reconnect: { ...TIMING.reconnect },
    circuit: { ...TIMING.circuit },
    heartbeat: variant.heartbeat ? { ...TIMING.heartbeat } : false,
    queue: { ...TIMING.queue },
    closeWhenHidden: variant.closeWhenHidden,
    ...(variant.tokenProvider ? { auth: { token: () => 'token', refreshLeadMs: TIMING.refreshLeadMs } } : {}),
    ...(variant.dialGate ? { dialGate: { request: () => () => {} }, priority: GATE_PRIORITY } : {}),
    WebSocket: createMockServer().WebSocket,
    ...deps,
  };
}

/** What the model keeps of the world around the machine. */
export interface World {
  /**
   * The outbound queue: `empty`; messages wait and the network pushes back (`blocked`); they wait for
   * the server's `retry_after` (`throttled`); or nothing holds them any more (`free`).
   */
  readonly queue: 'empty' | 'blocked' | 'throttled' | 'free';
  /**
   * The heartbeat probe of `liveness.probing`: `awaiting` its pong, or it `heard` other traffic since
   * its ping; within a step, what it reports: `answered` (it ends) or `unanswered` (`heartbeat.timeout`).
   */
  readonly probe: 'none' | 'awaiting' | 'heard' | 'answered' | 'unanswered';
}

export type ConnectionModel = MachineModel<typeof connectionMachine, World>;
export type State = ModelStateOf<typeof connectionMachine, World>;

type ModelEvent = EventObject & Record<string, unknown>;

export const CLOSE_CODES = [1006, 1012, 1013, 4001, 4003, 1008, 4029, 1000] as const;
export const ERROR_CODES = [ErrorCode.AUTHENTICATION_FAILED, ErrorCode.AUTHORIZATION_FAILED, ErrorCode.RATE_LIMIT_EXCEEDED] as const;

/** The errors the client builds from the server's error frames (decoded by the real protocol). */
export const errorFrames = new Map<string, SocketchartError>(
  [...ERROR_CODES, ErrorCode.SERVER_ERROR].map((code) => {
    let decoded: SocketchartError | undefined;
    const ignore = () => {};
    jsonProtocol.decode(JSON.stringify({ type: 'error', code, message: `refused: ${code}` }), {
      data: ignore,
      authOk: ignore,
      pong: ignore,
      ping: ignore,
      serverError: (error) => void (decoded = error),
      control: ignore,
      invalid: ignore,
    });
    if (!decoded) throw new Error(`the protocol did not decode an error frame with code ${code}`);
    return [code, decoded];
  }),
);

/** What a token provider that fails with `code` is to the connection (a plain failure for AUTHENTICATION_FAILED, else an error of that code). */
export const tokenFailure = (code: string): SocketchartError =>
  code === ErrorCode.AUTHENTICATION_FAILED
    ? new SocketchartError(ErrorCode.AUTHENTICATION_FAILED, { message: 'The token provider failed', recovery: 'retry' })
    : errorFrames.get(code)!;

/** The probe's pong deadline: a timer of the heartbeat child, which the model keeps as a timer of its world. */
export const PROBE_TIMER = 'probe.deadline';
export const PONG_DEADLINE = 'heartbeat.deadline';

export const EVENT = {
  tokenDone: 'xstate.done.actor.tokenFetch',
  tokenError: 'xstate.error.actor.tokenFetch',
  flusherDone: 'xstate.done.actor.flusher',
  heartbeatDone: 'xstate.done.actor.heartbeat',
} as const;

const PROBING = 'link.connected.liveness.probing';

/** Transitions that start a probe (a heartbeat child, which pings at once). */
export const probeStarts = transitionsOf(connectionMachine).filter((id) => id.endsWith(`→ connection.${PROBING}`));

/** Transitions that send a keepalive ping and judge nothing (a hidden page's quiet interval). */
export const keepalives = transitionsOf(connectionMachine).filter((id) => id.startsWith('connection.link.connected.liveness.suspended: after(heartbeatInterval)'));

export const is = (snapshot: Pick<AnyMachineSnapshot, 'value'>, path: string) =>
  activeStateIds(connectionMachine, snapshot.value as StateValue).includes(`connection.${path}`);

const childOf = (snapshot: AnyMachineSnapshot, id: string): unknown => (snapshot.children as Record<string, unknown>)[id];

export function describeEvent(event: EventObject): string {
  const e = event as ModelEvent & { code?: number; error?: Failure; output?: { waitMs: number } };
  if (event.type === 'socket.close') return `socket.close ${e.code}`;
  if (event.type === 'auth.error') return `token refused ${e.error?.code}`;
  if (event.type === 'server.error') return `server.error ${e.error?.code}`;
  if (event.type.startsWith('xstate.after.')) return `after ${event.type.slice('xstate.after.'.length).split('.')[0]}`;
  if (event.type === EVENT.tokenDone) return 'token refreshed';
  if (event.type === EVENT.tokenError) return 'token refresh failed';
  if (event.type === EVENT.flusherDone) return e.output?.waitMs ? 'flusher throttled' : 'flusher done';
  if (event.type === 'queue.pending' && e.throttled) return 'queue.pending (rate limited)';
  if (event.type === PONG_DEADLINE) return 'pong deadline';
  return event.type;
}

/** Events that bring a frame from the server (traffic, as the probe sees it). */
const bringsFrame = (event: EventObject) =>
  event.type === 'heartbeat.traffic' || event.type === 'auth.ok' || event.type === 'server.error' || (event.type === 'queue.pending' && (event as ModelEvent).throttled === true);

/** What the probe makes of an event while it runs: a pong answers it; other frames are traffic; its deadline finds one or the other, or nothing. */
function probeAfter(probe: World['probe'], event: EventObject): World['probe'] {
  if (event.type === 'heartbeat.pong') return 'answered';
  if (bringsFrame(event)) return probe === 'awaiting' ? 'heard' : probe;
  if (event.type === PONG_DEADLINE) return probe === 'heard' ? 'answered' : 'unanswered';
  return probe;
}

/**
 * The context as far as it decides the future, capped where more makes no difference: in closing,
 * closed and failed only the environment (the only ways on, start() and retry(), reset the rest).
 */
export function contextOf(snapshot: AnyMachineSnapshot) {
  const c = snapshot.context as ConnectionContext;
  if (is(snapshot, 'link.closing') || is(snapshot, 'closed') || is(snapshot, 'failed')) return { online: c.online, hidden: c.hidden };
  return {
    online: c.online,
    hidden: c.hidden,
    attempt: Math.min(c.attempt, 3),
    failures: Math.min(c.circuit.failures, TIMING.circuit.failureThreshold),
    trips: Math.min(c.circuit.trips, 2),
    circuitOpen: c.circuit.open,
    probing: c.circuit.probing,
    tokenRejections: c.tokenRequest.rejections,
    stable: c.stable,
    serverAskedToWait: c.outcome === 'reconnect-slow',
  };
}

/** The pure machine as the model runs it: the retry plan and the recovery delay from `src/policy`, on model time and the model's draws. */
export function modelMachine(clock: { at: number }) {
  return connectionMachine.provide({
    actions: { planRetry: assign(({ context }) => planRetry(context, clock.at, () => drawFor(context))) },
    delays: {
      reconnectDelay: ({ context }) => Math.max(0, context.retryAt - clock.at),
      recoveryTimeout: ({ context }) =>
        context.settings.circuit === false ? 0 : Math.max(recoveryDelay(context.circuit.trips, context.settings.circuit), context.retryKind === 'later' ? context.retryDelayMs : 0),
    },
  });
}

/** The model of the connection machine in one variant. */
export function connectionModel(variant: Variant): ConnectionModel {
  const clock = { at: 0 };
  const closeOf = (socket: number, code: number) => {
    const { action, error } = classifyClose({ code });
    return { type: 'socket.close', socket, code, reason: '', wasClean: code !== 1006, action, error };
  };
  const serverError = (socket: number, code: string) => {
    const error = errorFrames.get(code)!;
    return { type: 'server.error', socket, action: classifyErrorFrame(error), error };
  };
  return createModel<typeof connectionMachine, World>({
    machine: modelMachine(clock) as unknown as typeof connectionMachine,
    input: { settings: settingsOf(resolveOptions(variantOptions(variant))) },
    world: { queue: 'empty', probe: 'none' },
    abstract: (snapshot, world) => ({ value: snapshot.value, context: contextOf(snapshot), world }),
    sync: (_world, now) => {
      clock.at = now;
    },
    describeEvent,
    events: (state) => {
      const s = state.snapshot;
      const w = state.world;
      const at = (path: string) => is(s, path);
      const { socket, online, hidden } = s.context;
      const events: ModelEvent[] = [{ type: 'env.online' }];
      if (online) events.push({ type: 'env.offline' });
      if (hidden) events.push({ type: 'page.visible' }, { type: 'page.resume' });
      else events.push({ type: 'page.hidden' }, { type: 'page.freeze' });
      if (at('idle') || at('closed') || at('link.closing')) events.push({ type: 'connection.start' });
      if (!at('closed')) events.push({ type: 'connection.stop' });
      if (at('reconnecting') || at('circuitOpen') || at('failed')) events.push({ type: 'connection.retry' });
      if (variant.dialGate === 'held' && at('queued')) events.push({ type: 'permit.granted' });
      if (at('link.connecting') || at('link.halfOpen')) {
        events.push({ type: 'socket.open', socket }, closeOf(socket, 1006));
        if (variant.tokenProvider) {
          for (const code of ERROR_CODES) events.push({ type: 'auth.error', socket, action: classifyErrorFrame(tokenFailure(code)), error: tokenFailure(code) });
        }
      }
      const awaitingAuth = s.hasTag('awaitingAuth');
      const authOk = () => {
        const expiresAt = variant.sessionExpires === false ? {} : { expiresAt: state.now + TIMING.sessionTtlMs };
        return { type: 'auth.ok', socket, session: { userId: 'user-1', sessionId: 's1', ...expiresAt }, at: state.now };
      };
      if (at('link.authenticating') || at('link.connected')) {
        for (const code of CLOSE_CODES) events.push(closeOf(socket, code));
        if (awaitingAuth) {
          events.push(authOk());
          for (const code of ERROR_CODES) events.push(serverError(socket, code));
        } else events.push(serverError(socket, ErrorCode.SERVER_ERROR));
      }
      // A refresh's confirmation may come after its authTimeout.
      if (at('link.connected.session.expiring')) events.push(authOk());
      if (at('link.closing')) events.push(closeOf(socket, 1000));
      if (at('link.connected')) {
        const quiet = (nextTimer(state.timers)?.dueAt ?? Infinity) - state.now;
        events.push({ type: 'heartbeat.pong' });
        if (at(PROBING) && w.probe === 'awaiting') events.push({ type: 'heartbeat.traffic' });
        if (at('link.connected.outbound.streaming') && w.queue === 'empty') {
          events.push({ type: 'queue.pending' });
          if (!awaitingAuth) events.push({ type: 'queue.pending', throttled: true });
        }
        if (at('link.connected.outbound.throttled') && !awaitingAuth) events.push({ type: 'queue.pending', throttled: true });
        if (at('link.connected.outbound.draining') && w.queue === 'blocked' && quiet > TIMING.flushRetryMs + MARGIN) {
          events.push({ type: EVENT.flusherDone, actorId: 'flusher', output: { waitMs: 0 } });
        }
        if (at('link.connected.session.refreshing')) {
          events.push({ type: EVENT.tokenDone, actorId: 'tokenFetch', output: undefined }, { type: EVENT.tokenError, actorId: 'tokenFetch', error: new Error('token service down') });
        }
      }
      return events;
    },
    before: (current, event, state) => {
      const world = is(state.snapshot, PROBING) ? { ...current, probe: probeAfter(current.probe, event) } : current;
      if (event.type === 'queue.pending') return { ...world, queue: (event as ModelEvent).throttled ? 'throttled' : 'blocked' };
      if (event.type === EVENT.flusherDone) return { ...world, queue: 'empty' };
      if (event.type.startsWith('xstate.after.throttleDelay.') && world.queue === 'throttled') return { ...world, queue: 'free' };
      return world;
    },
    after: (world, _event, previous, next) => {
      let w = world;
      // The server's holds end with the link; closed and failed reject what is queued.
      if (w.queue === 'throttled' && !is(next, 'link.connected')) w = { ...w, queue: 'free' };
      if (is(next, 'closed') || is(next, 'failed')) w = { ...w, queue: 'empty' };
      if (!is(next, PROBING)) w = { ...w, probe: 'none' };
      else if (childOf(next, 'heartbeat') !== childOf(previous.snapshot, 'heartbeat')) w = { ...w, probe: 'awaiting' };
      return w;
    },
    // An open gate grants as it is asked; a link that comes up with messages queued wakes the flusher;
    // a flusher that meets no push-back writes (or throttles) at once; a probe reports at once what its
    // deadline found.
    beforeInternal: (world, event) => (event.type === EVENT.flusherDone && world.queue === 'free' ? { ...world, queue: 'empty' } : world),
    internal: (snapshot, world) => {
      if (variant.dialGate === 'open' && is(snapshot, 'queued')) return { type: 'permit.granted' };
      if (is(snapshot, 'link.connected.outbound.streaming') && world.queue !== 'empty') return { type: 'queue.pending' };
      if (is(snapshot, 'link.connected.outbound.draining') && (world.queue === 'throttled' || world.queue === 'free')) {
        return { type: EVENT.flusherDone, actorId: 'flusher', output: { waitMs: world.queue === 'throttled' ? TIMING.retryAfterMs : 0 } };
      }
      if (!is(snapshot, PROBING)) return undefined;
      if (world.probe === 'answered') return { type: EVENT.heartbeatDone, actorId: 'heartbeat', output: undefined };
      if (world.probe === 'unanswered') return { type: 'heartbeat.timeout' };
      return undefined;
    },
    timers: (_world, _event, previous, next) => {
      if (!is(next, PROBING)) return { cancel: [PROBE_TIMER] };
      if (childOf(next, 'heartbeat') === childOf(previous.snapshot, 'heartbeat')) return undefined;
      return { start: [{ id: PROBE_TIMER, event: { type: PONG_DEADLINE }, delay: TIMING.heartbeat.timeoutMs }] };
    },
  });
}
