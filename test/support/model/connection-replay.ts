import { expect } from 'vitest';
import type { AnyActorRef, AnyMachineSnapshot, EventObject, InspectionEvent } from 'xstate';
import { createConnection, statusOf, type Connection, type ConnectionSnapshot, type Failure } from '../../../src/index.js';
import { SocketchartError } from '../../../src/protocol/errors.js';
import type { WebSocketConstructor } from '../../../src/transport/websocket-like.js';
import {
  SimulatedClock,
  createManualEnvironment,
  createMockServer,
  type Coverage,
  type ManualEnvironment,
  type MockServer,
  type MockSocket,
  type ReplayOptions,
  type ReplayStep,
  type Stimulus,
} from '../../../src/testing/index.js';
import { settle } from '../harness.js';
import { ModelDialGate, TokenGate } from './gates.js';
import { checkConnectionInvariants, expectNothingLeftAfterStop } from './invariants.js';
import { fireDelayed, type RealTimer, type TimerLog, type TimerOwner } from './timers.js';
import { EVENT, PONG_DEADLINE, PROBE_TIMER, TIMING, contextOf, drawFor, is, keepalives, probeStarts, variantOptions, type State, type Variant } from './connection-model.js';

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

export interface Sut extends TimerLog {
  readonly variant: Variant;
  readonly connection: Connection;
  readonly server: MockServer;
  readonly clock: SimulatedClock;
  readonly env: ManualEnvironment;
  readonly tokens: TokenGate;
  /** The dial gate of the gated variants. */
  readonly gate: ModelDialGate | undefined;
  readonly dials: Dial[];
  /** Times the connection entered halfOpen, and queued. */
  halfOpenVisits: number;
  queuedVisits: number;
  /** The network pushes back: new sockets report a full buffer. */
  blocked: boolean;
  /** Dials, and pings the server had received, at the start of the current step. */
  dialsAtStep: number;
  pingsAtStep: number;
  /** Dials when the connection last entered `failed` or `closed`. */
  dialsAtRest: number | undefined;
  /** Every retry delay the connection planned, with its kind and the draw it was planned with. */
  readonly delays: Array<{ kind: string; ms: number; draw: number }>;
  /** Every delayed event the connection actor scheduled, in order. */
  readonly scheduled: Array<{ id: string; delay: number }>;
  /** The draw `random()` gives during the current step (the model's, for the state it predicts). */
  draw: number;
}

/** A connection on a mock server that answers nothing by itself, with everything it does recorded. */
export function createSut(variant: Variant, coverage: Coverage | undefined, serverOptions: { autoPong?: boolean; autoOpen?: boolean } = {}): Sut {
  const clock = new SimulatedClock(1_700_000_000_000);
  const server = createMockServer({ autoOpen: false, autoAuth: false, autoPong: false, now: () => clock.now(), ...serverOptions });
  // The server never completes a close handshake by itself: `closing` is a state the test leaves.
  server.onClientClose = () => {};
  const env = createManualEnvironment();
  let lastRoot: AnyMachineSnapshot | undefined;
  const statusNow = () => (lastRoot ? statusOf(lastRoot as ConnectionSnapshot) : 'idle');
  const tokens = new TokenGate(statusNow);
  const gate = variant.dialGate ? new ModelDialGate(variant.dialGate, statusNow) : undefined;
  const ref: { sut?: Sut } = {};
  const Base = server.WebSocket;
  const WebSocket = class {
    constructor(url: string, protocols?: string | string[]) {
      const sut = ref.sut;
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
  const timersOf = (sut: Sut, actor: string) => {
    let timers = sut.timers.get(actor);
    if (!timers) sut.timers.set(actor, (timers = new Map<string, RealTimer>()));
    return timers;
  };
  const inspect = (event: InspectionEvent) => {
    coverage?.inspect(event);
    const sut = ref.sut;
    if (!sut) return;
    const isRoot = event.actorRef.sessionId === event.rootId;
    const actor = isRoot ? 'root' : (event.actorRef as AnyActorRef).id;
    // The heartbeat's deadline is a clock timer of its `deadline` actor, set as the actor starts.
    if (event.type === '@xstate.actor' && actor === 'deadline') {
      timersOf(sut, 'heartbeat').set(PONG_DEADLINE, { dueAt: clock.now() + TIMING.heartbeat.timeoutMs, delay: TIMING.heartbeat.timeoutMs });
    }
    if (event.type === '@xstate.action') {
      const params = event.action.params as { id?: string; delay?: number; sendId?: string } | undefined;
      if (event.action.type === 'xstate.raise' && typeof params?.delay === 'number' && params.id !== undefined) {
        timersOf(sut, actor).set(params.id, { dueAt: clock.now() + params.delay, delay: params.delay });
        if (isRoot) sut.scheduled.push({ id: params.id, delay: params.delay });
      }
      if (event.action.type === 'xstate.cancel' && params?.sendId !== undefined) timersOf(sut, actor).delete(params.sendId);
    }
    if (event.type === '@xstate.event') {
      timersOf(sut, actor).delete(event.event.type);
      if (isRoot) sut.rootEvents.push(event.event.type);
      else sut.childEvents.set(actor, [...(sut.childEvents.get(actor) ?? []), event.event.type]);
    }
    if (isRoot && (event.type === '@xstate.microstep' || event.type === '@xstate.snapshot')) {
      const snapshot = event.snapshot as AnyMachineSnapshot;
      const entered = (path: string) => is(snapshot, path) && (lastRoot === undefined || !is(lastRoot, path));
      if (entered('link.halfOpen')) sut.halfOpenVisits++;
      if (entered('queued')) sut.queuedVisits++;
      if (entered('reconnecting')) sut.delays.push({ kind: String(snapshot.context.retryKind), ms: Number(snapshot.context.retryDelayMs), draw: sut.draw });
      lastRoot = snapshot;
    }
  };
  const sut: Sut = {
    variant,
    connection: undefined as unknown as Connection,
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
    draw: 0.5,
  };
  ref.sut = sut;
  const connection = createConnection(
    variantOptions(variant, {
      WebSocket,
      clock,
      environment: env,
      random: () => sut.draw,
      ...(variant.tokenProvider ? { auth: { token: tokens.provider, refreshLeadMs: TIMING.refreshLeadMs } } : {}),
      ...(gate ? { dialGate: gate } : {}),
      inspect,
    }),
  );
  (sut as { connection: Connection }).connection = connection;
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

/** The connection's timers are its own, but for the probe's pong deadline: the heartbeat child's. */
const connectionTimerOwner: TimerOwner = (timer) => {
  if (!timer.world) return { actor: 'root', type: timer.event.type };
  if (timer.id !== PROBE_TIMER) throw new Error(`unknown world timer ${timer.id}`);
  return { actor: 'heartbeat', type: PONG_DEADLINE };
};

const pingsSent = (sut: Sut) => sut.server.sockets.reduce((n, socket) => n + socket.sentOfType('ping').length, 0);

type ConnectionStimulus = Stimulus<Sut, State>;

/** A token waits for the test: the socket actor of a dialing state asks for one before it dials. */
const tokenHeld = (sut: Sut, state: State) => sut.variant.tokenProvider && (is(state.snapshot, 'link.connecting') || is(state.snapshot, 'link.halfOpen'));

/** The socket actor of a dialing state dials: with a token provider, once the test gives it a token. */
async function dialed(sut: Sut, step: ReplayStep<State>): Promise<MockSocket> {
  if (tokenHeld(sut, step.before)) {
    sut.tokens.give();
    await settle();
  }
  return socketOf(sut);
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
  'socket.open': async (sut, step) => {
    const socket = await dialed(sut, step);
    expect(socket.readyState, 'a socket is being opened').toBe(0);
    socket.accept();
  },
  'socket.close': async (sut, step) => {
    const { code } = step.event as EventObject & { code: number };
    const socket = is(step.before.snapshot, 'link.closing') ? socketOf(sut) : await dialed(sut, step);
    if (is(step.before.snapshot, 'link.closing')) socket.finish(code, 'client closed', true);
    else if (code === 1006) socket.drop();
    else socket.closeFromServer(code);
  },
  'auth.error': (sut, step) => {
    const { error } = step.event as EventObject & { error: Failure };
    sut.tokens.refuse(error.code === 'AUTHENTICATION_FAILED' ? new Error('token service down') : new SocketchartError(error.code as never, { message: error.message, recovery: error.recovery as never }));
  },
  'server.error': (sut, step) => {
    const { error } = step.event as EventObject & { error: Failure };
    socketOf(sut).push({ type: 'error', code: error.code, message: error.message });
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
  'heartbeat.traffic': (sut) => socketOf(sut).push({ type: 'message', ch: 'news', seq: 1, data: 'traffic' }),
  [PONG_DEADLINE]: (sut, step) => fireDelayed(sut, step, connectionTimerOwner),
  'queue.pending': (sut, step) => {
    const queuedBefore = sut.connection.queued;
    if ((step.event as EventObject & { throttled?: boolean }).throttled) {
      socketOf(sut).push({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'rate limit exceeded', retry_after: TIMING.retryAfterMs / 1000 });
      void sut.connection.send('{"n":1}').catch(() => {});
      expect(sut.connection.queued, 'send() queues while the server asks to wait').toBe(queuedBefore + 1);
      return;
    }
    sut.blocked = true;
    socketOf(sut).bufferedAmount = TIMING.queue.highWaterMark;
    void sut.connection.send('{"n":1}').catch(() => {});
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

/**
 * The context the real connection must share with the model. At rest (idle, closed, failed) it does not
 * listen to the environment: what changes meanwhile it learns as it starts again.
 */
function comparable(snapshot: AnyMachineSnapshot) {
  const { online, hidden, ...rest } = contextOf(snapshot) as ReturnType<typeof contextOf> & { online: boolean; hidden: boolean };
  return is(snapshot, 'idle') || is(snapshot, 'closed') || is(snapshot, 'failed') ? rest : { online, hidden, ...rest };
}

/** Checks that the real connection is where the model says, then every invariant. */
export function assertMatches(sut: Sut, state: State, step: ReplayStep<State> | undefined): void {
  const real = sut.connection.snapshot;
  expect(real.value, 'state value').toEqual(state.snapshot.value);
  expect(comparable(real), 'context').toEqual(comparable(state.snapshot));
  expect(sut.connection.queued > 0, 'messages queued').toBe(state.world.queue !== 'empty');
  const live = sut.server.live.map((socket) => socket.readyState);
  const s = state.snapshot;
  if (is(s, 'link.connecting') || is(s, 'link.halfOpen')) expect(live, 'a socket opening, once a token is given').toEqual(sut.variant.tokenProvider ? [] : [0]);
  else if (is(s, 'link.authenticating') || is(s, 'link.connected')) expect(live, 'one open socket').toEqual([1]);
  else expect(live, 'no live socket').toEqual([]);
  if (is(s, 'link.closing')) expect(sut.server.last?.readyState, 'the client closed its socket').toBe(2);
  // 4, inside `link` too: the clock holds exactly the model's timers, and the flusher's retry while it waits for the socket to drain.
  const flusherWaits = is(s, 'link.connected.outbound.draining') ? 1 : 0;
  expect(sut.clock.pending, `4: pending timers (${state.timers.map((timer) => timer.id).join(', ') || 'none'} modelled)`).toBe(state.timers.length + flusherWaits);
  if (step) {
    const pings = step.after.taken.filter((id) => probeStarts.includes(id) || keepalives.includes(id)).length;
    expect(pingsSent(sut) - sut.pingsAtStep, 'pings sent: one per probe started or keepalive').toBe(pings);
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
 * Around every stimulus: token requests of actors that are gone are answered (they must not dial), the
 * step is marked, `random()` gives the model's draw; right after it (before any microtask for a
 * synchronous one), a connection not in `queued` has no request waiting at the gate.
 */
const framed =
  (stimulus: ConnectionStimulus): ConnectionStimulus =>
  (sut, step) => {
    sut.tokens.answerStale(tokenHeld(sut, step.before) || is(step.before.snapshot, 'link.connected.session.refreshing'));
    sut.dialsAtStep = sut.dials.length;
    sut.pingsAtStep = pingsSent(sut);
    sut.draw = drawFor(step.after.snapshot.context);
    const epilogue = () => {
      if (sut.gate && sut.connection.status !== 'queued') {
        expect(sut.gate.waiting(), `8: requests waiting at the gate right after the step, in ${sut.connection.status}`).toEqual([]);
      }
    };
    const done = stimulus(sut, step);
    if (done instanceof Promise) return done.then(epilogue);
    epilogue();
    return undefined;
  };

export function replayOptions(variant: Variant, coverage: Coverage): ReplayOptions<Sut, State> {
  const wrapped: Record<string, ConnectionStimulus> = {};
  for (const [type, stimulus] of Object.entries(stimuli)) wrapped[type] = framed(stimulus);
  return {
    setup: () => createSut(variant, coverage),
    stimuli: wrapped,
    delayed: framed((sut, step) => fireDelayed(sut, step, connectionTimerOwner)),
    assert: assertMatches,
    teardown: async (sut, _path, failed) => {
      if (failed) sut.connection.dispose();
      else await stopAndCheck(sut);
    },
  };
}
