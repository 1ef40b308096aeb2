import { assign, fromCallback, fromPromise, type AnyActorRef, type EventObject } from 'xstate';
import { connectionMachine, connectTimedOut } from '../../machines/connection.machine.js';
import type { ConnectionContext, ConnectionEvent, ConnectionInput } from '../../machines/connection.types.js';
import { flusherMachine } from '../../machines/flusher.machine.js';
import { heartbeatMachine } from '../../machines/heartbeat.machine.js';
import type { DeadlineInput, HeartbeatEvent } from '../../machines/heartbeat.types.js';
import { withinTimerRange } from '../environment/clock.js';
import { ErrorCode, SocketchartError } from '../protocol/errors.js';
import { attempt, rethrowLater } from '../events/emitter.js';
import { recoveryDelay } from '../policy/backoff.js';
import { planRetry, urlForDial } from '../policy/retry-plan.js';
import { awaitsToken, socketLogic } from '../transport/socket-actor.js';
import { resolveOptions, type ConnectionOptions, type ResolvedOptions } from './options.js';
import { ConnectionRuntime, errorOf } from './runtime.js';
import { allFeatures } from './optional-features.js';
import type { FeatureSet } from './features.js';
import { settingsOf } from './settings.js';
import { withDefaultInput, type WithInput } from './with-input.js';

type Of<T extends ConnectionEvent['type']> = Extract<ConnectionEvent, { type: T }>;

const runtimes = new WeakMap<AnyActorRef, ConnectionRuntime>();
/** Options of the logics `connectionLogic()` made: an actor of one gets its runtime when it first needs it. */
const embedded = new WeakMap<object, { options: ResolvedOptions; features: FeatureSet }>();

/** Makes `runtime` the one that carries out what `actor` (a connection actor) asks. */
export function bindRuntime(actor: AnyActorRef, runtime: ConnectionRuntime): void {
  runtimes.set(actor, runtime);
  runtime.attach(actor);
}

/** The runtime of the connection actor `ref` is, or runs under. */
export function runtimeOf(ref: AnyActorRef): ConnectionRuntime {
  for (let actor: AnyActorRef | undefined = ref; actor; actor = actor._parent) {
    const runtime = runtimes.get(actor);
    if (runtime) return runtime;
    const made = embedded.get((actor as { logic?: object }).logic ?? {});
    if (made) {
      const created = new ConnectionRuntime(made.options, made.features);
      bindRuntime(actor, created);
      return created;
    }
  }
  throw new Error('This actor does not run a socketchart connection');
}

/** The runtime of `ref` when it is a connection actor, else `undefined`. */
export function findRuntime(ref: AnyActorRef): ConnectionRuntime | undefined {
  return runtimes.get(ref) ?? (embedded.has((ref as { logic?: object }).logic ?? {}) ? runtimeOf(ref) : undefined);
}

const closed = () => new SocketchartError(ErrorCode.CLOSED, { message: 'The connection was closed' });

const boundHeartbeat = /* @__PURE__ */ heartbeatMachine.provide({
  actions: {
    sendPing: ({ self }) => runtimeOf(self).sendPing(),
  },
  actors: {
    deadline: /* @__PURE__ */ fromCallback<HeartbeatEvent, DeadlineInput>(({ input, self, sendBack }) => {
      const { clock } = runtimeOf(self).options;
      const setAt = clock.now();
      const timer = clock.setTimeout(() => sendBack({ type: 'heartbeat.deadline', elapsedMs: clock.now() - setAt }), input.ms);
      return () => clock.clearTimeout(timer);
    }),
  },
});

const boundFlusher = /* @__PURE__ */ flusherMachine.provide({
  actions: {
    drain: ({ self }) => {
      const result = runtimeOf(self).outbound.drain();
      self.send(result.outcome === 'throttled' ? { type: 'flush.throttled', waitMs: result.waitMs } : { type: result.outcome === 'empty' ? 'flush.empty' : 'flush.blocked' });
    },
  },
});

/**
 * What the runtime supplies to the pure connection machine: the effects, the socket, token, permit and
 * heartbeat deadline actors, and the policies that draw on time and chance (the retry plan and the
 * circuit's recovery delay). Each finds its connection's runtime through the actor it runs in.
 */
export const connectionImplementations = {
  actions: {
    planRetry: /* @__PURE__ */ assign(({ context, self }: { context: ConnectionContext; self: AnyActorRef }) => {
      const { clock, random } = runtimeOf(self).options;
      return planRetry(context, clock.now(), random);
    }),
    recordConnectTimeout: /* @__PURE__ */ assign(({ context, self }: { context: ConnectionContext; self: AnyActorRef }) =>
      connectTimedOut(context, awaitsToken(self.getSnapshot().children.socket) ? 'token' : 'socket'),
    ),
    chooseUrl: /* @__PURE__ */ assign(({ context, self }: { context: ConnectionContext; self: AnyActorRef }) => (!context.outcome && urlForDial(context, runtimeOf(self).options.clock.now())) || {}),
    readEnvironment: /* @__PURE__ */ assign(({ self }: { self: AnyActorRef }) => environmentNow(runtimeOf(self).options)),
    watchEnvironment: ({ self }: { self: AnyActorRef }) => runtimeOf(self).watchEnvironment(),
    sendKeepalive: ({ self }: { self: AnyActorRef }) => runtimeOf(self).sendPing(),
    authenticate: ({ self }: { self: AnyActorRef }) => runtimeOf(self).authenticate(),
    sendRefreshedToken: ({ self }: { self: AnyActorRef }) => runtimeOf(self).sendRefreshedToken(),
    resume: ({ self }: { self: AnyActorRef }) => runtimeOf(self).resume(),
    leaveConnected: ({ event, self }: { event: ConnectionEvent; self: AnyActorRef }) => runtimeOf(self).leaveConnected(event.type === 'connection.stop'),
    reportFailure: ({ context, self }: { context: ConnectionContext; self: AnyActorRef }) => {
      if (context.lastError) runtimeOf(self).reportError(errorOf(context.lastError));
    },
    reportRefreshRefused: ({ event, self }: { event: ConnectionEvent; self: AnyActorRef }) =>
      runtimeOf(self).reportError(errorOf((event as Of<'server.error'>).error)),
    reportServerError: ({ event, self }: { event: ConnectionEvent; self: AnyActorRef }) => runtimeOf(self).reportServerError(errorOf((event as Of<'server.error'>).error)),
    reportRefreshFailed: ({ event, self }: { event: EventObject; self: AnyActorRef }) => runtimeOf(self).reportError((event as EventObject & { error: SocketchartError }).error),
    reportRefreshTimeout: ({ self }: { self: AnyActorRef }) =>
      runtimeOf(self).reportError(
        new SocketchartError(ErrorCode.TIMEOUT, { message: 'The server did not confirm the refreshed token; the session will end at expiry', recovery: 'retry' }),
      ),
    closeSocket: ({ event, self }: { event: ConnectionEvent; self: AnyActorRef }) => {
      const stop = event as Of<'connection.stop'>;
      runtimeOf(self).closeSocket(stop.code ?? 1000, stop.reason ?? 'client closed');
    },
    settleClosed: ({ self }: { self: AnyActorRef }) => runtimeOf(self).settle(closed()),
    settleFailed: ({ context, self }: { context: ConnectionContext; self: AnyActorRef }) => {
      const cause = context.lastError ? errorOf(context.lastError) : undefined;
      runtimeOf(self).settle(new SocketchartError(ErrorCode.CLOSED, { message: `The connection failed${cause ? `: ${cause.message}` : ''}`, cause }));
    },
  },
  delays: /* @__PURE__ */ withinTimerRange<{ context: ConnectionContext; self: AnyActorRef }>(connectionMachine, {
    reconnectDelay: ({ context, self }) => Math.max(0, context.retryAt - runtimeOf(self).options.clock.now()),
    recoveryTimeout: ({ context }) =>
      context.settings.circuit === false ? 0 : Math.max(recoveryDelay(context.circuit.trips, context.settings.circuit), context.retryKind === 'later' ? context.retryDelayMs : 0),
  }),
  actors: {
    socket: /* @__PURE__ */ socketLogic(runtimeOf),
    tokenFetch: /* @__PURE__ */ fromPromise<void>(({ self }) => runtimeOf(self).fetchRefreshToken()),
    permit: /* @__PURE__ */ fromCallback<ConnectionEvent>(({ self, sendBack }) => {
      const { dialGate, priority } = runtimeOf(self).options;
      const grant = () => sendBack({ type: 'permit.granted' });
      if (!dialGate) {
        grant();
        return undefined;
      }
      try {
        const withdraw = dialGate.request(priority, grant);
        return typeof withdraw === 'function' ? () => void attempt(withdraw) : undefined;
      } catch (error) {
        rethrowLater(error);
        grant();
        return undefined;
      }
    }),
    heartbeat: boundHeartbeat,
    flusher: boundFlusher,
  },
};

/** The connection machine with the runtime's implementations: every connection actor runs it. */
export const boundConnectionMachine = /* @__PURE__ */ connectionMachine.provide(connectionImplementations as never);

/** The input a connection actor is created with: its settings, and the environment as it is now. */
export function connectionInput(options: ResolvedOptions): ConnectionInput {
  return { settings: settingsOf(options), ...environmentNow(options) };
}

/** The environment's facts as they are now. */
function environmentNow({ environment }: ResolvedOptions): { online: boolean; hidden: boolean } {
  return { online: environment.isOnline?.() ?? true, hidden: environment.isHidden?.() ?? false };
}

/** The connection machine with its implementations and its settings: its input is optional. */
export type ConnectionLogic = WithInput<typeof boundConnectionMachine, Partial<ConnectionInput> | undefined>;

/**
 * The connection machine for `options`, ready to run on its own: `createActor(connectionLogic(options))`,
 * `useActorRef(connectionLogic(options))`, or invoked or spawned inside an app's own machine. No input is
 * needed. Each actor of it is one connection; `connectionOf(actor)` gives its handle (send, subscribe, …).
 */
export function connectionLogic(options: ConnectionOptions): ConnectionLogic {
  const resolved = resolveOptions(options);
  const logic: ConnectionLogic = withDefaultInput(boundConnectionMachine, () => connectionInput(resolved));
  embedded.set(logic, { options: resolved, features: allFeatures });
  return logic;
}
