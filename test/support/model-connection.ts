import { expect } from 'vitest';
import type { AnyActorRef, AnyMachineSnapshot, EventObject, InspectionEvent, StateValue } from 'xstate';
import {
  ErrorCode,
  SocketchartError,
  connectionMachine,
  createConnection,
  heartbeatMachine,
  jsonProtocol,
  statusOf,
  type Connection,
  type ConnectionOptions,
  type ConnectionSnapshot,
} from '../../src/index.js';
import { ConnectionRuntime } from '../../src/connection/runtime.js';
import { resolveOptions } from '../../src/connection/options.js';
import type { WebSocketConstructor, WebSocketLike } from '../../src/transport/websocket-like.js';
import type { DialGate } from '../../src/policy/dial-budget.js';
import {
  SimulatedClock,
  activeStateIds,
  createManualEnvironment,
  createMockServer,
  createModel,
  nextTimer,
  transitionsOf,
  type Coverage,
  type ManualEnvironment,
  type MachineModel,
  type MockServer,
  type MockSocket,
  type ModelStateOf,
  type ModelTimer,
  type ReplayOptions,
  type ReplayStep,
  type Stimulus,
} from '../../src/testing/index.js';
import { settle, URL } from './harness.js';
import { checkConnectionInvariants, expectNothingLeftAfterStop } from './model-invariants.js';

// ---------------------------------------------------------------------------------------------------
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
  /** `ConnectionRuntime.flushRetryDelay()`. */
  flushRetryMs: 10,
  /** The server's `retry_after` when it refuses a message for its rate limit. */
  retryAfterMs: 1_000,
} as const;

/**
 * A stimulus that needs real time the model does not count (the flusher's retry) is offered only when
 * no timer falls due within its time plus this margin.
 */
const MARGIN = 200;

export interface Variant {
  readonly name: string;
  /** Auth with a token provider the test answers (so it can hold, give or refuse every token); otherwise no auth. */
  readonly tokenProvider: boolean;
  readonly closeWhenHidden: boolean;
  readonly heartbeat: boolean;
  /** The server's auth_ok carries `expiresAt` (with a token provider: the in-band refresh runs). @default true */
  readonly sessionExpires?: boolean;
  /**
   * A dial gate (`ModelDialGate`) every dial waits for in `queued`: `held`, it holds each request until
   * the model grants it (`permit.granted`, a step of its own); `open`, it grants within `request()`.
   * @default none: the connection dials freely
   */
  readonly dialGate?: 'held' | 'open';
}

export const variants: readonly Variant[] = [
  { name: 'token provider, in-band refresh, heartbeat', tokenProvider: true, closeWhenHidden: false, heartbeat: true },
  { name: 'no auth, closeWhenHidden, no heartbeat', tokenProvider: false, closeWhenHidden: true, heartbeat: false },
  // Every dial through the gate: a token provider for the fresh-token redial after a 4001, closeWhenHidden
  // for a page hidden while queued; no in-band refresh and no heartbeat (the first variant covers them),
  // which keeps the graph to the size of the others.
  {
    name: 'dial gate the model grants, token provider, closeWhenHidden, no heartbeat',
    tokenProvider: true,
    closeWhenHidden: true,
    heartbeat: false,
    sessionExpires: false,
    dialGate: 'held',
  },
  // The second variant again, through a gate with permits to spare: `queued` is left within the step.
  { name: 'dial gate that grants at once, no auth, closeWhenHidden, no heartbeat', tokenProvider: false, closeWhenHidden: true, heartbeat: false, dialGate: 'open' },
];

/** The priority the gated variants dial at (the gate must be asked with it). */
export const GATE_PRIORITY = 3;

type TokenProvider = (context: { reason: string }) => Promise<string>;

function connectionOptions(
  variant: Variant,
  deps: {
    WebSocket: WebSocketConstructor;
    clock: SimulatedClock;
    environment: ManualEnvironment;
    token: TokenProvider;
    gate?: DialGate;
    inspect?: (event: unknown) => void;
  },
): ConnectionOptions {
  if (variant.dialGate && !deps.gate) throw new Error(`variant "${variant.name}" needs a dial gate`);
  return {
    url: URL,
    WebSocket: deps.WebSocket,
    clock: deps.clock,
    environment: deps.environment,
    random: () => 0.5,
    connectTimeoutMs: TIMING.connectTimeoutMs,
    authTimeoutMs: TIMING.authTimeoutMs,
    closeTimeoutMs: TIMING.closeTimeoutMs,
    reconnect: { ...TIMING.reconnect },
    circuit: { ...TIMING.circuit },
    heartbeat: variant.heartbeat ? { ...TIMING.heartbeat } : false,
    queue: { ...TIMING.queue },
    closeWhenHidden: variant.closeWhenHidden,
    ...(variant.tokenProvider ? { auth: { token: deps.token, refreshLeadMs: TIMING.refreshLeadMs } } : {}),
    ...(variant.dialGate ? { dialGate: deps.gate, priority: GATE_PRIORITY } : {}),
    ...(deps.inspect ? { inspect: deps.inspect } : {}),
  };
}

/** Stands for the dial gate while the pure machine is traversed (its `permit` actor is never started). */
const gateStandIn: DialGate = {
  request: () => {
    throw new Error('the model asked the dial gate: no actor runs in graph traversal');
  },
};

// ---------------------------------------------------------------------------------------------------
// The model's runtime: a real ConnectionRuntime whose external state (network, page, queue, socket id,
// token, time) is set from the model before each step. It never dials: actions are not executed.

/** A SimulatedClock whose time the model sets (graph traversal visits states out of time order). */
export class ModelClock extends SimulatedClock {
  at = 0;
  override now(): number {
    return this.at;
  }
}

/** Stands for an open socket while the pure machine is traversed: it accepts writes and closes, and does nothing. */
const openSocketStandIn: WebSocketLike = {
  readyState: 1,
  bufferedAmount: 0,
  protocol: '',
  binaryType: 'arraybuffer',
  send: () => {},
  close: () => {},
  onopen: null,
  onclose: null,
  onerror: null,
  onmessage: null,
};

export class ModelRuntime extends ConnectionRuntime {
  queued = 0;
  override get queuedCount(): number {
    return this.queued;
  }
  override watchEnvironment(): void {}
  override unwatchEnvironment(): void {}
}

/** Builds the runtime graph traversal runs the pure machines with (no socket is ever opened). */
export function modelRuntime(variant: Variant, overrides: Partial<ConnectionOptions> = {}): { rt: ModelRuntime; clock: ModelClock } {
  const clock = new ModelClock();
  const server = createMockServer({ autoOpen: false });
  const options = connectionOptions(variant, {
    WebSocket: server.WebSocket,
    clock,
    environment: createManualEnvironment(),
    token: () => Promise.resolve('token'),
    gate: gateStandIn,
  });
  return { rt: new ModelRuntime(resolveOptions({ ...options, ...overrides })), clock };
}

// ---------------------------------------------------------------------------------------------------
// The world around the machine

export interface World {
  readonly online: boolean;
  readonly hidden: boolean;
  /**
   * The outbound queue: `empty`; messages wait and the network pushes back (`blocked`: sockets report a
   * full buffer); they wait for the server's `retry_after` (`throttled`); or nothing holds them any more
   * (`free`: the flusher writes them as soon as it runs).
   */
  readonly queue: 'empty' | 'blocked' | 'throttled' | 'free';
  /** The connection's socket as the server sees it. */
  readonly socket: 'none' | 'dialed' | 'open' | 'closing';
  /** The socket actor waits for the token provider (nothing dialed yet). */
  readonly tokenHeld: boolean;
  /** An auth (or refresh) frame waits for the server's answer. */
  readonly authAwaited: boolean;
  /**
   * The heartbeat probe of `connected.liveness.probing` (its ping is out): `awaiting` a pong, or `heard`
   * other traffic since the ping (proof enough when its pong timeout fires). Within a step, `answered`
   * and `unanswered` say what the probe reports (its done event, or `heartbeat.timeout`).
   */
  readonly probe: 'none' | 'awaiting' | 'heard' | 'answered' | 'unanswered';
}

export type ConnectionModel = MachineModel<typeof connectionMachine, World>;
export type State = ModelStateOf<typeof connectionMachine, World>;

/** A model event with its payload. */
type ModelEvent = EventObject & Record<string, unknown>;

/** Socket id the model stamps on socket events: always the connection's current socket. */
const SOCKET = 1;
export const CLOSE_CODES = [1006, 1012, 1013, 4001, 4003, 1008, 4029, 1000] as const;
export const AUTH_ERROR_CODES = [ErrorCode.AUTHENTICATION_FAILED, ErrorCode.AUTHORIZATION_FAILED, ErrorCode.RATE_LIMIT_EXCEEDED] as const;

/** The errors the client builds from the server's error frames (decoded by the real protocol). */
const authErrors = new Map<string, SocketchartError>(
  AUTH_ERROR_CODES.map((code) => {
    let decoded: SocketchartError | undefined;
    jsonProtocol.decode(JSON.stringify({ type: 'error', code, message: `refused: ${code}` }), {
      data: () => {},
      authOk: () => {},
      pong: () => {},
      ping: () => {},
      serverError: (error) => {
        decoded = error;
      },
      control: () => {},
      invalid: () => {},
    });
    if (!decoded) throw new Error(`the protocol did not decode an error frame with code ${code}`);
    return [code, decoded];
  }),
);

/** Id of the model's timer for the pong timeout of the probe (the heartbeat child's own timer). */
export const PROBE_TIMER = 'probe.pongTimeout';
/** The event of that timer: the probe's pong timeout fires (the machine sees what the probe then reports). */
export const PONG_TIMEOUT = 'heartbeat.pongTimeout';
/** The heartbeat child's own delayed event for it. */
const childPongTimeout = (() => {
  const type = heartbeatMachine
    .getStateNodeById('heartbeat.awaitingPong')
    .after.map((transition) => transition.eventType)
    .find((type) => type.startsWith('xstate.after.pongTimeout.'));
  if (!type) throw new Error('heartbeat.awaitingPong has no pongTimeout');
  return type;
})();

const heartbeatInvokeId = (() => {
  const id = connectionMachine.getStateNodeById('connection.link.connected.liveness.probing').invoke[0]?.id;
  if (!id) throw new Error('connection.link.connected.liveness.probing invokes no heartbeat');
  return id;
})();

const tokenInvokeId = (() => {
  const id = connectionMachine.getStateNodeById('connection.link.connected.token.refreshing').invoke[0]?.id;
  if (!id) throw new Error('connection.link.connected.token.refreshing invokes no token actor');
  return id;
})();
export const EVENT = {
  tokenDone: `xstate.done.actor.${tokenInvokeId}`,
  tokenError: `xstate.error.actor.${tokenInvokeId}`,
  flusherDone: 'xstate.done.actor.flusher',
  heartbeatDone: `xstate.done.actor.${heartbeatInvokeId}`,
} as const;

const PROBING = 'link.connected.liveness.probing';
/** The delayed event that ends `outbound.throttled`. */
const THROTTLE_DELAY = 'xstate.after.throttleDelay.';
/** Transitions that start a probe (a heartbeat child, which pings at once). */
const probeStarts = transitionsOf(connectionMachine).filter((id) => id.endsWith(`→ connection.${PROBING}`));

const is = (snapshot: AnyMachineSnapshot, path: string) =>
  activeStateIds(connectionMachine, snapshot.value as StateValue).includes(`connection.${path}`);

const childOf = (snapshot: AnyMachineSnapshot, id: string): unknown => (snapshot.children as Record<string, unknown>)[id];

export function describeEvent(event: EventObject): string {
  const e = event as EventObject & { code?: number; error?: SocketchartError };
  if (event.type === 'socket.close') return `socket.close ${e.code}`;
  if (event.type === 'auth.error') return `auth.error ${e.error?.code}`;
  if (event.type.startsWith('xstate.after.')) return `after ${event.type.slice('xstate.after.'.length).split('.')[0]}`;
  if (event.type === EVENT.tokenDone) return 'token refreshed';
  if (event.type === EVENT.tokenError) return 'token refresh failed';
  if (event.type === EVENT.flusherDone) return 'flusher done';
  if (event.type === 'queue.pending' && (event as EventObject & { throttled?: boolean }).throttled) return 'queue.pending (rate limited)';
  if (event.type === PONG_TIMEOUT) return 'pong timeout';
  return event.type;
}

/**
 * What the probe makes of an event while it runs: a pong answers it; any other frame from the server
 * (auth_ok, an error frame) is traffic since its ping; its pong timeout finds one or the other, or nothing.
 */
function probeAfter(probe: World['probe'], event: EventObject): World['probe'] {
  if (event.type === 'heartbeat.pong') return 'answered';
  const frame = event.type === 'auth.ok' || event.type === 'auth.error' || (event.type === 'queue.pending' && (event as EventObject & { throttled?: boolean }).throttled);
  if (frame) return probe === 'awaiting' ? 'heard' : probe;
  if (event.type === PONG_TIMEOUT) return probe === 'heard' ? 'answered' : 'unanswered';
  return probe;
}

/** The model of the connection machine in one variant. */
export function connectionModel(variant: Variant): ConnectionModel {
  const { rt, clock } = modelRuntime(variant);
  return createModel<typeof connectionMachine, World>({
    machine: connectionMachine,
    input: { rt },
    world: { online: true, hidden: false, queue: 'empty', socket: 'none', tokenHeld: false, authAwaited: false, probe: 'none' },
    // What decides the future: the state value, the context fields guards and delays read (capped where
    // more makes no difference: backoff is capped from attempt 2, recovery from trip 2, the circuit
    // opens at `threshold`), and the world. `outcome` and `retryKind` are only read in the transient
    // `retrying` state, `retryDelayMs` lives on as the pending timer, and the session is always renewed
    // (auth.ok) before `connected` is entered. In closing, closed and failed the context no longer
    // matters: the only ways on are closed, or start()/retry(), which reset it.
    abstract: (snapshot, world) => ({
      value: snapshot.value,
      context: contextOf(snapshot),
      world,
    }),
    sync: (world, now) => {
      rt.online = world.online;
      rt.hidden = world.hidden;
      rt.queued = world.queue === 'empty' ? 0 : 1;
      rt.throttleDelayMs = world.queue === 'throttled' ? TIMING.retryAfterMs : 0;
      rt.currentSocket = SOCKET;
      rt.ws = world.socket === 'open' || world.socket === 'closing' ? openSocketStandIn : null;
      rt.token = variant.tokenProvider ? 'token' : undefined;
      clock.at = now;
    },
    describeEvent,
    events: (state) => {
      const s = state.snapshot;
      const w = state.world;
      const at = (path: string) => is(s, path);
      const events: ModelEvent[] = [];
      const socketClose = (code: number) => ({ type: 'socket.close', socket: SOCKET, code, reason: '', wasClean: code !== 1006 });
      const authError = (code: string) => ({ type: 'auth.error', socket: SOCKET, error: authErrors.get(code) });
      // The environment: `online` may fire while online (a network change); the rest only flips.
      events.push({ type: 'env.online' });
      if (w.online) events.push({ type: 'env.offline' });
      if (w.hidden) events.push({ type: 'page.visible' }, { type: 'page.resume' });
      else events.push({ type: 'page.hidden' }, { type: 'page.freeze' });
      // The user.
      if (at('idle') || at('closed')) events.push({ type: 'connection.start' });
      if (!at('closed')) events.push({ type: 'connection.stop' });
      if (at('reconnecting') || at('circuitOpen') || at('failed')) events.push({ type: 'connection.retry' });
      // The dial gate: a held request waits in `queued` until the model grants it.
      if (variant.dialGate === 'held' && at('queued')) events.push({ type: 'permit.granted' });
      // The socket, the server and the token provider.
      const opening = at('link.connecting') || at('link.halfOpen');
      if (opening && (w.tokenHeld || w.socket === 'dialed')) events.push({ type: 'socket.open', socket: SOCKET }, socketClose(1006));
      if ((opening || at('link.closing')) && w.tokenHeld) {
        events.push({ type: 'token.granted' });
        for (const code of AUTH_ERROR_CODES) events.push(authError(code));
      }
      if ((at('link.authenticating') || at('link.connected')) && w.socket === 'open') {
        for (const code of CLOSE_CODES) events.push(socketClose(code));
        if (w.authAwaited) {
          const expiresAt = variant.sessionExpires === false ? {} : { expiresAt: state.now + TIMING.sessionTtlMs };
          events.push({ type: 'auth.ok', socket: SOCKET, session: { userId: 'user-1', sessionId: 's1', ...expiresAt } });
          for (const code of AUTH_ERROR_CODES) events.push(authError(code));
        }
      }
      if (at('link.closing') && w.socket === 'closing') events.push(socketClose(1000));
      if (at('link.closing') && w.socket === 'dialed') events.push(socketClose(1006));
      if (at('link.connected')) {
        const quiet = (nextTimer(state.timers)?.dueAt ?? Infinity) - state.now;
        // A pong answers the probe; outside a probe it is stray traffic. (The probe's pong timeout is a
        // timer of the model's world: see `timers`.)
        events.push({ type: 'heartbeat.pong' });
        if (at('link.connected.outbound.streaming') && w.queue === 'empty') {
          events.push({ type: 'queue.pending' });
          // The server refuses a message for its rate limit, and the next send waits out its retry_after.
          if (!w.authAwaited) events.push({ type: 'queue.pending', throttled: true });
        }
        // While messages wait for the rate limit, a new one wakes the flusher (the server refuses once more).
        if (at('link.connected.outbound.throttled') && !w.authAwaited) events.push({ type: 'queue.pending', throttled: true });
        if (at('link.connected.outbound.draining') && w.queue === 'blocked' && quiet > TIMING.flushRetryMs + MARGIN) events.push({ type: EVENT.flusherDone, actorId: 'flusher', output: undefined });
        if (at('link.connected.token.refreshing')) {
          events.push(
            { type: EVENT.tokenDone, actorId: tokenInvokeId, output: 'token-refreshed' },
            { type: EVENT.tokenError, actorId: tokenInvokeId, error: new Error('token service down') },
          );
        }
      }
      return events;
    },
    before: (current, event, state) => {
      const world = is(state.snapshot, PROBING) ? { ...current, probe: probeAfter(current.probe, event) } : current;
      switch (event.type) {
        case 'env.online':
          return { ...world, online: true };
        case 'env.offline':
          return { ...world, online: false };
        case 'page.hidden':
        case 'page.freeze':
          return { ...world, hidden: true };
        case 'page.visible':
        case 'page.resume':
          return { ...world, hidden: false };
        case 'queue.pending':
          return { ...world, queue: (event as EventObject & { throttled?: boolean }).throttled ? 'throttled' : 'blocked' };
        case EVENT.flusherDone:
          return { ...world, queue: 'empty' };
        case 'token.granted':
          return { ...world, socket: 'dialed', tokenHeld: false };
        case 'socket.open':
          return { ...world, socket: 'open', tokenHeld: false };
        case 'socket.close':
          return { ...world, socket: 'none', tokenHeld: false };
        case 'auth.ok':
          return { ...world, authAwaited: false };
        case 'auth.error':
          return { ...world, authAwaited: false, tokenHeld: false };
        default:
          return event.type.startsWith(THROTTLE_DELAY) && world.queue === 'throttled' ? { ...world, queue: 'free' } : world;
      }
    },
    after: (world, _event, previous, next) => {
      const prev = previous.snapshot;
      let w = world;
      if (!is(next, 'link')) {
        w = { ...w, socket: 'none', tokenHeld: false, authAwaited: false };
      } else {
        if (childOf(next, 'socket') !== childOf(prev, 'socket')) {
          // A new socket actor: it dials at once, or first asks the token provider.
          w = { ...w, socket: variant.tokenProvider ? 'none' : 'dialed', tokenHeld: variant.tokenProvider, authAwaited: false };
        }
        if (is(next, 'link.authenticating') && !is(prev, 'link.authenticating')) w = { ...w, authAwaited: true };
        if (is(next, 'link.connected.token.confirming') && !is(prev, 'link.connected.token.confirming')) w = { ...w, authAwaited: true };
        if (is(prev, 'link.connected') && !is(next, 'link.connected')) w = { ...w, authAwaited: false };
        if (is(next, 'link.closing') && !is(prev, 'link.closing') && w.socket === 'open') w = { ...w, socket: 'closing' };
      }
      // The server's holds end with the socket; messages written by the flusher leave the queue.
      if (w.queue === 'throttled' && !is(next, 'link.connected')) w = { ...w, queue: 'free' };
      if (is(next, 'closed') || is(next, 'failed')) w = { ...w, queue: 'empty' };
      if (!is(next, PROBING)) w = { ...w, probe: 'none' };
      else if (childOf(next, heartbeatInvokeId) !== childOf(prev, heartbeatInvokeId)) w = { ...w, probe: 'awaiting' };
      return w;
    },
    // A probe reports at once what its pong timeout found: traffic since the ping (done), or none.
    // An open dial gate grants as it is asked: `queued` is left in the step that enters it.
    // A flusher that meets no push-back ends within the step it starts in: it writes what nothing holds.
    beforeInternal: (world, event) => (event.type === EVENT.flusherDone && world.queue === 'free' ? { ...world, queue: 'empty' } : world),
    internal: (snapshot, world) => {
      if (variant.dialGate === 'open' && is(snapshot, 'queued')) return { type: 'permit.granted' };
      if (is(snapshot, 'link.connected.outbound.draining') && (world.queue === 'throttled' || world.queue === 'free')) {
        return { type: EVENT.flusherDone, actorId: 'flusher', output: undefined };
      }
      if (!is(snapshot, PROBING)) return undefined;
      if (world.probe === 'answered') return { type: EVENT.heartbeatDone, actorId: heartbeatInvokeId, output: undefined };
      if (world.probe === 'unanswered') return { type: 'heartbeat.timeout' };
      return undefined;
    },
    // The pong timeout of the probe: the heartbeat child's timer, started with it, gone with it.
    timers: (_world, _event, previous, next) => {
      if (!is(next, PROBING)) return { cancel: [PROBE_TIMER] };
      if (childOf(next, heartbeatInvokeId) === childOf(previous.snapshot, heartbeatInvokeId)) return undefined;
      return { start: [{ id: PROBE_TIMER, event: { type: PONG_TIMEOUT }, delay: TIMING.heartbeat.timeoutMs }] };
    },
  });
}

// ---------------------------------------------------------------------------------------------------
// The real system: createConnection on the mock server, a SimulatedClock and a manual environment

interface PendingToken {
  readonly reason: string;
  /** Connection status when the token was asked for. */
  readonly status: string;
  resolve(token: string): void;
  reject(error: unknown): void;
}

/** A token provider the test answers by hand. */
export class TokenGate {
  readonly pending: PendingToken[] = [];
  /** Why each token was asked for, in order. */
  readonly reasons: string[] = [];
  /** Connection status at each request, in order. */
  readonly statuses: string[] = [];
  issued = 0;

  constructor(private readonly statusNow: () => string = () => 'unknown') {}

  readonly provider: TokenProvider = ({ reason }) =>
    new Promise<string>((resolve, reject) => {
      const status = this.statusNow();
      this.reasons.push(reason);
      this.statuses.push(status);
      this.pending.push({ reason, status, resolve, reject });
    });

  give(): void {
    this.pending.pop()?.resolve(`token-${++this.issued}`);
  }

  refuse(error: unknown): void {
    this.pending.pop()?.reject(error);
  }

  /** Answers every request but the latest (those of socket or token actors that are gone), or all of them. */
  answerStale(keepLatest: boolean): void {
    const stale = this.pending.splice(0, keepLatest ? Math.max(0, this.pending.length - 1) : this.pending.length);
    for (const request of stale) request.resolve(`stale-token-${++this.issued}`);
  }
}

/** One request a connection made at the dial gate. */
export interface GateRequest {
  readonly priority: number;
  /** Connection status when it asked. */
  readonly status: string;
  /** Requests of this connection still waiting when it asked (other than this one). */
  readonly waitingBefore: number;
  /** `granted` once the gate called its grant; `withdrawn` if withdrawn while it waited. */
  state: 'waiting' | 'granted' | 'withdrawn';
  /** Times the connection called the withdraw function. */
  withdrawals: number;
  /** Connection status when it first withdrew the request. */
  withdrawnIn: string | undefined;
  readonly grant: () => void;
}

/**
 * A dial gate the model controls. `held`: it grants a waiting request only when the model's
 * `permit.granted` step says so (`grant()`); `open`: it grants every request within `request()`, as a
 * dial budget with permits to spare does. A withdrawn request is never granted.
 */
export class ModelDialGate implements DialGate {
  readonly requests: GateRequest[] = [];
  /** Permits granted so far. */
  granted = 0;

  constructor(
    private readonly mode: 'held' | 'open',
    private readonly statusNow: () => string,
  ) {}

  request(priority: number, grant: () => void): () => void {
    const request: GateRequest = {
      priority,
      status: this.statusNow(),
      waitingBefore: this.waiting().length,
      state: 'waiting',
      withdrawals: 0,
      withdrawnIn: undefined,
      grant,
    };
    this.requests.push(request);
    if (this.mode === 'open') this.give(request);
    return () => {
      request.withdrawals++;
      request.withdrawnIn ??= this.statusNow();
      if (request.state === 'waiting') request.state = 'withdrawn';
    };
  }

  /** Requests waiting for a permit (neither granted nor withdrawn). */
  waiting(): GateRequest[] {
    return this.requests.filter((request) => request.state === 'waiting');
  }

  /** The model's `permit.granted`: grants the one request that waits. */
  grant(): void {
    const waiting = this.waiting();
    expect(waiting.length, 'permit.granted: requests waiting at the gate').toBe(1);
    this.give(waiting[0] as GateRequest);
  }

  private give(request: GateRequest): void {
    if (request.state !== 'waiting') throw new Error(`the gate must not grant a ${request.state} request`);
    request.state = 'granted';
    this.granted++;
    request.grant();
  }
}

export interface Dial {
  /** Status of the connection when it dialed. */
  readonly status: string;
  readonly online: boolean;
  readonly hidden: boolean;
  /** Live sockets (opening or open) just before the dial. */
  readonly liveBefore: number;
  /** Which halfOpen visit the dial belongs to (0 outside halfOpen). */
  readonly halfOpenVisit: number;
  /** With a dial gate: permits granted before the dial, and requests then waiting at the gate. */
  readonly permits: number;
  readonly gateWaiting: number;
}

export interface RealTimer {
  readonly dueAt: number;
  readonly delay: number;
}

export interface Sut {
  readonly variant: Variant;
  readonly connection: Connection;
  readonly server: MockServer;
  readonly clock: SimulatedClock;
  readonly env: ManualEnvironment;
  readonly tokens: TokenGate;
  /** The dial gate of the gated variants. */
  readonly gate: ModelDialGate | undefined;
  readonly dials: Dial[];
  /** Event types the connection actor processed, in order. */
  readonly rootEvents: string[];
  /** Event types each child actor processed, by actor id. */
  readonly childEvents: Map<string, string[]>;
  /** Times the connection entered halfOpen. */
  halfOpenVisits: number;
  /** Times the connection entered queued. */
  queuedVisits: number;
  /** The network pushes back: new sockets report a full buffer. */
  blocked: boolean;
  /** Dials at the start of the current step. */
  dialsAtStep: number;
  /** Pings the server had received at the start of the current step. */
  pingsAtStep: number;
  /** Dials when the connection last entered `failed` or `closed`. */
  dialsAtRest: number | undefined;
  /** Every backoff delay the connection scheduled, with its kind. */
  readonly delays: Array<{ kind: string; ms: number }>;
  /** Every delayed event the connection actor scheduled, in order. */
  readonly scheduled: Array<{ id: string; delay: number }>;
  /** Delayed events each actor has scheduled on the clock (by actor id, `root` for the connection), by timer id. */
  readonly timers: Map<string, Map<string, RealTimer>>;
}

/** A connection on a mock server that opens nothing by itself, with everything it does recorded. */
export function createSut(variant: Variant, coverage: Coverage | undefined, serverOptions: { autoPong?: boolean; autoOpen?: boolean } = {}): Sut {
  const clock = new SimulatedClock(1_700_000_000_000);
  // The server answers nothing by itself (pings included): every answer is a step of the model.
  const server = createMockServer({ autoOpen: false, autoAuth: false, autoPong: false, now: () => clock.now(), ...serverOptions });
  // The server never completes a close handshake by itself: `closing` is a state the test leaves.
  server.onClientClose = () => {};
  const env = createManualEnvironment();
  let lastRoot: AnyMachineSnapshot | undefined;
  const statusNow = () => (lastRoot ? statusOf(lastRoot as ConnectionSnapshot) : 'idle');
  const tokens = new TokenGate(statusNow);
  const gate = variant.dialGate ? new ModelDialGate(variant.dialGate, statusNow) : undefined;
  const sutRef: { current?: Sut } = {};
  const Base = server.WebSocket;
  const WebSocket = class {
    constructor(url: string, protocols?: string | string[]) {
      const sut = sutRef.current;
      const liveBefore = server.live.length;
      const socket = new Base(url, protocols) as unknown as MockSocket;
      if (sut) {
        if (sut.blocked) socket.bufferedAmount = TIMING.queue.highWaterMark;
        const status = statusNow();
        sut.dials.push({
          status,
          online: env.online,
          hidden: env.hidden,
          liveBefore,
          halfOpenVisit: status === 'halfOpen' ? sut.halfOpenVisits : 0,
          permits: gate?.granted ?? 0,
          gateWaiting: gate?.waiting().length ?? 0,
        });
      }
      return socket;
    }
  } as unknown as WebSocketConstructor;
  const inspect = (raw: unknown) => {
    const event = raw as InspectionEvent;
    coverage?.inspect(event);
    const sut = sutRef.current;
    if (!sut) return;
    const isRoot = event.actorRef.sessionId === event.rootId;
    const actor = isRoot ? 'root' : (event.actorRef as AnyActorRef).id;
    let timers = sut.timers.get(actor);
    if (!timers) sut.timers.set(actor, (timers = new Map()));
    if (event.type === '@xstate.action') {
      const params = event.action.params as { id?: string; delay?: number; sendId?: string } | undefined;
      if (event.action.type === 'xstate.raise' && typeof params?.delay === 'number' && params.id !== undefined) {
        timers.set(params.id, { dueAt: clock.now() + params.delay, delay: params.delay });
        if (isRoot) sut.scheduled.push({ id: params.id, delay: params.delay });
      }
      if (event.action.type === 'xstate.cancel' && params?.sendId !== undefined) timers.delete(params.sendId);
    }
    if (event.type === '@xstate.event') {
      timers.delete(event.event.type);
      if (isRoot) sut.rootEvents.push(event.event.type);
      else {
        const list = sut.childEvents.get(actor) ?? [];
        list.push(event.event.type);
        sut.childEvents.set(actor, list);
      }
    }
    if (isRoot && (event.type === '@xstate.microstep' || event.type === '@xstate.snapshot')) {
      const snapshot = event.snapshot as AnyMachineSnapshot;
      const wasHalfOpen = lastRoot !== undefined && is(lastRoot, 'link.halfOpen');
      if (is(snapshot, 'link.halfOpen') && !wasHalfOpen) sut.halfOpenVisits++;
      if (is(snapshot, 'queued') && (lastRoot === undefined || !is(lastRoot, 'queued'))) sut.queuedVisits++;
      if (is(snapshot, 'reconnecting') && (lastRoot === undefined || !is(lastRoot, 'reconnecting'))) {
        sut.delays.push({ kind: String(snapshot.context.retryKind), ms: Number(snapshot.context.retryDelayMs) });
      }
      lastRoot = snapshot;
    }
  };
  const connection = createConnection(
    connectionOptions(variant, { WebSocket, clock, environment: env, token: tokens.provider, ...(gate ? { gate } : {}), inspect }),
  );
  const sut: Sut = {
    variant,
    connection,
    server,
    clock,
    env,
    tokens,
    gate,
    dials: [],
    rootEvents: [],
    childEvents: new Map(),
    halfOpenVisits: 0,
    queuedVisits: 0,
    blocked: false,
    dialsAtStep: 0,
    pingsAtStep: 0,
    dialsAtRest: undefined,
    delays: [],
    timers: new Map(),
    scheduled: [],
  };
  sutRef.current = sut;
  lastRoot = connection.snapshot;
  connection.on('state', ({ status }) => {
    if (status === 'failed' || status === 'closed') sut.dialsAtRest = connection.dials;
  });
  return sut;
}

export const socketOf = (sut: Sut): MockSocket => {
  const socket = sut.server.last;
  if (!socket) throw new Error('the connection never dialed');
  return socket;
};

const afterEventsSince = (events: readonly string[], mark: number) => events.slice(mark).filter((type) => type.startsWith('xstate.after.'));

/** Where the real system keeps a model timer: the actor that scheduled it (`root` or a child id) and its delayed event. */
export type TimerOwner = (timer: ModelTimer) => { readonly actor: string; readonly type: string };

/**
 * A delayed step: the timers it fires (the one offered, and every other due at the same instant). Each
 * was scheduled by its actor with the modelled delay (those the step itself schedules, at zero delay, are
 * checked by their firing); the first fires exactly when due, not a millisecond earlier; and the actors
 * fire these delayed events, in this order, and no other. (Real time can run a little ahead of model
 * time — the flusher's retry — so the waits are measured from the real timers.)
 */
export function fireDelayed(sut: Sut, step: ReplayStep<{ readonly fired: readonly ModelTimer[] }>, owner: TimerOwner): void {
  const fired = step.after.fired.map((timer) => ({ timer, ...owner(timer) }));
  expect(fired.length, `${step.event.type} is a timer of the model`).toBeGreaterThan(0);
  const actors = [...new Set(['root', ...fired.map(({ actor }) => actor)])];
  const eventsOf = (actor: string) => (actor === 'root' ? sut.rootEvents : (sut.childEvents.get(actor) ?? []));
  const marks = new Map(actors.map((actor) => [actor, eventsOf(actor).length]));
  const firedSince = () => actors.map((actor) => [actor, afterEventsSince(eventsOf(actor), marks.get(actor) ?? 0)] as const);
  const expected = actors.map((actor) => [actor, fired.filter((f) => f.actor === actor).map((f) => f.type)] as const);
  const realOf = ({ actor, type }: { actor: string; type: string }) => sut.timers.get(actor)?.get(type);
  for (const f of fired) {
    const real = realOf(f);
    if (real) expect(real.delay, `${f.actor}: ${f.type} is scheduled with the modelled delay`).toBe(f.timer.delay);
  }
  const first = fired[0];
  const real = first && realOf(first);
  expect(real, `${first?.actor} has scheduled ${first?.type}`).toBeDefined();
  const ms = Math.max(0, (real?.dueAt ?? 0) - sut.clock.now());
  if (ms > 0) {
    sut.clock.advance(ms - 1);
    expect(firedSince(), `${first?.type} must not fire before ${ms} ms`).toEqual(actors.map((actor) => [actor, []]));
  }
  sut.clock.advance(ms > 0 ? 1 : 0);
  for (const f of fired.slice(1)) {
    const later = realOf(f);
    if (later && later.dueAt > sut.clock.now() && !eventsOf(f.actor).slice(marks.get(f.actor) ?? 0).includes(f.type)) sut.clock.advance(later.dueAt - sut.clock.now());
  }
  expect(firedSince(), `${fired.map((f) => f.type).join(' + ')} fire after exactly ${ms} ms, and nothing else`).toEqual(expected);
}

/** The connection's timers are its own, but for the probe's pong timeout: the heartbeat child's. */
const connectionTimerOwner: TimerOwner = (timer) => {
  if (!timer.world) return { actor: 'root', type: timer.event.type };
  if (timer.id !== PROBE_TIMER) throw new Error(`unknown world timer ${timer.id}`);
  return { actor: heartbeatInvokeId, type: childPongTimeout };
};

const pingsSent = (sut: Sut) => sut.server.sockets.reduce((n, socket) => n + socket.sentOfType('ping').length, 0);

type ConnectionStimulus = Stimulus<Sut, State>;

/** Before every step: answer token requests of actors that are gone (they must not dial), and mark the step. */
function prologue(sut: Sut, step: ReplayStep<State>): void {
  const keep = step.before.world.tokenHeld || is(step.before.snapshot, 'link.connected.token.refreshing');
  sut.tokens.answerStale(keep);
  sut.dialsAtStep = sut.dials.length;
  sut.pingsAtStep = pingsSent(sut);
}

const stimuli: Record<string, ConnectionStimulus> = {
  'connection.start': ({ connection }) => void connection.start(),
  'connection.stop': ({ connection }) => void connection.stop(),
  'connection.retry': ({ connection }) => void connection.retry(),
  'env.online': ({ env }) => env.emit('online'),
  'env.offline': ({ env }) => env.emit('offline'),
  'page.hidden': ({ env }) => env.emit('hidden'),
  'page.visible': ({ env }) => env.emit('visible'),
  'page.freeze': ({ env }) => env.emit('freeze'),
  'page.resume': ({ env }) => env.emit('resume'),
  'token.granted': (sut) => sut.tokens.give(),
  'socket.open': async (sut, step) => {
    if (step.before.world.tokenHeld) {
      sut.tokens.give();
      await settle();
    }
    const socket = socketOf(sut);
    expect(socket.readyState, 'a socket is being opened').toBe(0);
    socket.accept();
  },
  'socket.close': async (sut, step) => {
    const { code } = step.event as EventObject & { code: number };
    const { world, snapshot } = step.before;
    if (world.tokenHeld) {
      sut.tokens.give();
      await settle();
    }
    const socket = socketOf(sut);
    if (is(snapshot, 'link.closing') && world.socket === 'closing') socket.finish(code, 'client closed', true);
    else if (code === 1006) socket.drop();
    else socket.closeFromServer(code);
  },
  'auth.error': (sut, step) => {
    const { error } = step.event as EventObject & { error: SocketchartError };
    if (step.before.world.tokenHeld) sut.tokens.refuse(error);
    else socketOf(sut).push({ type: 'error', code: error.code, message: error.message });
  },
  'auth.ok': (sut) => {
    const expiresAt = sut.variant.sessionExpires === false ? {} : { expiresAt: sut.clock.now() + TIMING.sessionTtlMs };
    socketOf(sut).push({ type: 'auth_ok', userId: 'user-1', sessionId: 's1', ...expiresAt });
  },
  'permit.granted': (sut) => {
    if (!sut.gate) throw new Error('permit.granted without a dial gate');
    sut.gate.grant();
  },
  'heartbeat.pong': (sut) => socketOf(sut).push({ type: 'pong', ts: sut.clock.now() }),
  // The probe's pong timeout (a timer of the heartbeat child), with what it reports to the connection.
  [PONG_TIMEOUT]: (sut, step) => fireDelayed(sut, step, connectionTimerOwner),
  'queue.pending': (sut, step) => {
    const queuedBefore = sut.connection.queued;
    if ((step.event as EventObject & { throttled?: boolean }).throttled) {
      socketOf(sut).push({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'rate limit exceeded', retry_after: TIMING.retryAfterMs / 1000 });
      void sut.connection.send({ n: 1 }).catch(() => {});
      expect(sut.connection.queued, 'send() queues while the server asks to wait').toBe(queuedBefore + 1);
      return;
    }
    sut.blocked = true;
    socketOf(sut).bufferedAmount = TIMING.queue.highWaterMark;
    void sut.connection.send({ n: 1 }).catch(() => {});
    expect(sut.connection.queued, 'send() queues while the socket pushes back').toBe(queuedBefore + 1);
  },
  [EVENT.flusherDone]: (sut) => {
    // The network drains: the flusher writes the queue at its next retry.
    sut.blocked = false;
    for (const socket of sut.server.sockets) socket.bufferedAmount = 0;
    sut.clock.advance(TIMING.flushRetryMs);
  },
  [EVENT.tokenDone]: (sut) => sut.tokens.give(),
  [EVENT.tokenError]: (sut) => sut.tokens.refuse(new Error('token service down')),
};

const delayed: ConnectionStimulus = (sut, step) => fireDelayed(sut, step, connectionTimerOwner);

/** The model's abstraction of a real snapshot's context (the fields that decide what happens next). */
function contextFacts(snapshot: AnyMachineSnapshot) {
  const c = snapshot.context as ConnectionSnapshot['context'];
  return {
    attempt: Math.min(c.attempt, 2),
    failures: Math.min(c.failures, TIMING.circuit.failureThreshold),
    trips: Math.min(c.trips, 2),
    circuitOpen: c.circuitOpen,
    probing: c.probing,
    tokenRejections: c.tokenRejections,
    stable: c.stable,
  };
}

/** The context as far as it decides the future (nothing in closing, closed and failed). */
function contextOf(snapshot: AnyMachineSnapshot) {
  return is(snapshot, 'link.closing') || is(snapshot, 'closed') || is(snapshot, 'failed') ? null : contextFacts(snapshot);
}

/** Checks that the real connection is where the model says, then every invariant. */
export function assertMatches(sut: Sut, state: State, step: ReplayStep<State> | undefined): void {
  const real = sut.connection.snapshot;
  expect(real.value, 'state value').toEqual(state.snapshot.value);
  expect(contextOf(real), 'context').toEqual(contextOf(state.snapshot));
  const { world } = state;
  expect(sut.connection.queued > 0, 'messages queued').toBe(world.queue !== 'empty');
  const live = sut.server.live;
  const last = sut.server.last;
  switch (world.socket) {
    case 'none':
      expect(live, 'no live socket').toHaveLength(0);
      break;
    case 'dialed':
      expect(live.map((s) => s.readyState), 'one socket, opening').toEqual([0]);
      break;
    case 'open':
      expect(live.map((s) => s.readyState), 'one socket, open').toEqual([1]);
      break;
    case 'closing':
      expect(live, 'no live socket').toHaveLength(0);
      expect(last?.readyState, 'the client closed its socket').toBe(2);
      break;
  }
  if (world.tokenHeld) expect(sut.tokens.pending.length, 'a token request waits').toBeGreaterThan(0);
  // 4, inside `link` too: the clock holds exactly the model's timers (the connection's delayed events and
  // the probe's pong timeout), and the flusher's retry while it waits for the socket to drain.
  const flusherWaits = is(state.snapshot, 'link.connected.outbound.draining') ? 1 : 0;
  expect(sut.clock.pending, `4: pending timers (${state.timers.map((timer) => timer.id).join(', ') || 'none'} modelled)`).toBe(state.timers.length + flusherWaits);
  // The liveness region pings as a probe starts (after a quiet interval, or as the page wakes), and only then.
  if (step) {
    const probes = step.after.taken.filter((id) => probeStarts.includes(id)).length;
    expect(pingsSent(sut) - sut.pingsAtStep, 'pings sent: one per probe started').toBe(probes);
  }
  checkConnectionInvariants(sut, step);
}

/** Stops the connection at the end of every path, and checks that nothing is left. */
export async function stopAndCheck(sut: Sut): Promise<void> {
  sut.connection.stop();
  await settle();
  if (sut.connection.status === 'closing') {
    const socket = sut.server.last;
    if (socket && socket.readyState === 2) socket.finish(1000, 'client closed', true);
    await settle();
  }
  if (sut.connection.status === 'closing') {
    sut.clock.advance(TIMING.closeTimeoutMs);
    await settle();
  }
  const dials = sut.dials.length;
  sut.tokens.answerStale(false);
  await settle();
  expect(sut.dials.length, 'a token that arrives after stop() dials nothing').toBe(dials);
  expectNothingLeftAfterStop(sut);
  sut.connection.dispose();
}

/**
 * Right after the stimulus (synchronously, for a synchronous one: before any microtask), a connection
 * that is not in `queued` has no request waiting at the gate: leaving `queued` withdraws it at once.
 */
function epilogue(sut: Sut): void {
  if (sut.gate && sut.connection.status !== 'queued') {
    expect(sut.gate.waiting(), `8: requests waiting at the gate right after the step, in ${sut.connection.status}`).toEqual([]);
  }
}

/** A stimulus between the prologue and the epilogue, without a microtask turn when it is synchronous. */
const framed =
  (stimulus: ConnectionStimulus): ConnectionStimulus =>
  (sut, step) => {
    prologue(sut, step);
    const done = stimulus(sut, step);
    if (done instanceof Promise) return done.then(() => epilogue(sut));
    epilogue(sut);
    return undefined;
  };

export function replayOptions(variant: Variant, coverage: Coverage): ReplayOptions<Sut, State> {
  const wrapped: Record<string, ConnectionStimulus> = {};
  for (const [type, stimulus] of Object.entries(stimuli)) wrapped[type] = framed(stimulus);
  return {
    setup: () => createSut(variant, coverage),
    stimuli: wrapped,
    delayed: framed(delayed),
    assert: assertMatches,
    teardown: async (sut, _path, failed) => {
      if (failed) {
        sut.connection.dispose();
        return;
      }
      await stopAndCheck(sut);
    },
  };
}
