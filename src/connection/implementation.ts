import { setup, type ActionFunction } from 'xstate';
import { classifyClose, errorFrameAction, type CloseAction } from '../protocol/close-codes.js';
import { ErrorCode, SocketchartError } from '../protocol/errors.js';
import { recoveryDelay } from '../policy/backoff.js';
import { retryDelay } from '../policy/retry-delay.js';
import type { SocketInput } from '../transport/socket-actor.js';
import type { ConnectionContext, ConnectionEvent, ConnectionInput, RetryKind, SocketEvent } from './types.js';

type Args = { context: ConnectionContext; event: ConnectionEvent };
const typed = setup({ types: {} as { context: ConnectionContext; events: ConnectionEvent } });

export function initialConnectionContext({ rt }: ConnectionInput): ConnectionContext {
  return {
    rt,
    attempt: 0,
    failures: 0,
    trips: 0,
    circuitOpen: false,
    probing: false,
    tokenRejections: 0,
    stable: false,
    connectedAt: null,
    session: null,
    lastError: null,
    outcome: null,
    retryKind: 'backoff',
    retryDelayMs: 0,
    urlIndex: 0,
    urlFailures: 0,
    failedOverAt: 0,
  };
}

/** The url the next dial uses: the current one, or the primary again once `primaryRetryMs` has passed. */
export function urlToDial(context: ConnectionContext): number {
  const { rt } = context;
  if (context.urlIndex === 0 || !rt.options.urls) return 0;
  return rt.options.clock.now() - context.failedOverAt >= rt.options.failover.primaryRetryMs ? 0 : context.urlIndex;
}

/** The socket actor's input: the runtime and the url to dial (not the context, which the actor would keep). */
export function socketInput({ context }: { context: ConnectionContext }): SocketInput {
  return { rt: context.rt, urlIndex: urlToDial(context) };
}

/** Moves to the next url after `failover.after` consecutive failures on the current one. */
function failoverAfterFailure(context: ConnectionContext): Pick<ConnectionContext, 'urlIndex' | 'urlFailures' | 'failedOverAt'> {
  const { rt } = context;
  const urls = rt.options.urls;
  const { urlIndex, urlFailures, failedOverAt } = context;
  if (!urls || urls.length < 2) return { urlIndex, urlFailures, failedOverAt };
  const now = rt.options.clock.now();
  if (rt.dialedUrl !== urlIndex) return { urlIndex, urlFailures, failedOverAt: now };
  if (urlFailures + 1 < rt.options.failover.after) return { urlIndex, urlFailures: urlFailures + 1, failedOverAt };
  const next = (urlIndex + 1) % urls.length;
  rt.announceFailover(urlIndex, next);
  return { urlIndex: next, urlFailures: 0, failedOverAt: now };
}

/** Records a failed attempt or a lost connection and decides how the next dial is timed. */
function failure(context: ConnectionContext, action: CloseAction, error: SocketchartError): Partial<ConnectionContext> {
  const { rt } = context;
  let outcome = action;
  let tokenRejections = context.tokenRejections;
  if (action === 'refresh-token') {
    const canRefresh = typeof rt.options.auth?.token === 'function';
    if (!canRefresh || tokenRejections >= 1) outcome = 'fail';
    else tokenRejections++;
  }
  const counts = outcome === 'reconnect' || outcome === 'reconnect-fast' || outcome === 'reconnect-slow';
  const failover = counts ? failoverAfterFailure(context) : {};
  const kind: RetryKind =
    outcome === 'reconnect-fast' ? 'restart' : outcome === 'reconnect-slow' ? 'later' : context.stable ? 'immediate' : 'backoff';
  return {
    lastError: error,
    outcome,
    tokenRejections,
    failures: counts ? context.failures + 1 : context.failures,
    retryKind: kind,
    retryDelayMs: retryDelay(kind, context.attempt, error.retryAfterMs, rt.options.reconnect, rt.options.random),
    attempt: kind === 'immediate' ? context.attempt : context.attempt + 1,
    stable: false,
    connectedAt: null,
    ...failover,
  };
}

function recordFailure(build: (args: Args) => { action: CloseAction; error: SocketchartError }) {
  return typed.enqueueActions(({ context, event, enqueue }) => {
    const built = build({ context, event });
    const action = built.action;
    const error = context.rt.redactError(built.error);
    enqueue.assign(failure(context, action, error));
    enqueue(() => context.rt.reportError(error));
  });
}

const timeout = (message: string) => new SocketchartError(ErrorCode.TIMEOUT, { message, recovery: 'retry' });

function actionForError(error: SocketchartError): CloseAction {
  if (error.recovery === 'retry') return error.code === ErrorCode.RATE_LIMIT_EXCEEDED ? 'reconnect-slow' : 'reconnect';
  if (error.recovery === 'fail') return 'fail';
  return errorFrameAction[error.code] ?? 'reconnect';
}

const sideEffect = (fn: (args: Args) => void): ActionFunction<ConnectionContext, ConnectionEvent, ConnectionEvent, undefined, never, never, never, never, never> =>
  fn as never;

export const connectionActions = {
  recordClose: recordFailure(({ event }) => {
    const closed = event as Extract<ConnectionEvent, { type: 'socket.close' }>;
    return classifyClose(closed);
  }),
  recordAuthError: recordFailure(({ event }) => {
    const { error } = event as Extract<ConnectionEvent, { type: 'auth.error' }>;
    return { action: actionForError(error), error };
  }),
  recordConnectTimeout: recordFailure(({ context }) => ({
    action: 'reconnect',
    error: timeout(`The socket did not open within ${context.rt.options.connectTimeoutMs} ms`),
  })),
  recordAuthTimeout: recordFailure(({ context }) => ({
    action: 'reconnect',
    error: timeout(`The server did not answer the auth frame within ${context.rt.options.authTimeoutMs} ms`),
  })),
  recordHeartbeatTimeout: recordFailure(() => ({
    action: 'reconnect',
    error: new SocketchartError(ErrorCode.NETWORK_ERROR, { message: 'No pong: the socket is dead (half-open)', recovery: 'retry' }),
  })),
  beginProbe: typed.assign({ probing: true }),
  tripCircuit: typed.assign(({ context }) => ({ trips: context.trips + 1, circuitOpen: true, probing: false })),
  authenticate: sideEffect(({ context }) => context.rt.authenticate()),
  acceptSession: typed.assign(({ context, event }) => {
    const { session } = event as Extract<ConnectionEvent, { type: 'auth.ok' }>;
    context.rt.awaitingAuth = false;
    return { session, tokenRejections: 0 };
  }),
  markConnected: typed.assign(({ context }) => {
    const { rt } = context;
    if (rt.dialedUrl !== context.urlIndex) rt.announceFailover(context.urlIndex, rt.dialedUrl);
    return {
      connectedAt: rt.options.clock.now(),
      probing: false,
      circuitOpen: false,
      outcome: null,
      urlIndex: rt.dialedUrl,
      urlFailures: 0,
    };
  }),
  markStable: typed.assign({ stable: true, attempt: 0, failures: 0, trips: 0 }),
  markDisconnected: sideEffect(({ context }) => context.rt.leaveConnected()),
  resubscribe: sideEffect(({ context }) => context.rt.resubscribe()),
  openFastPath: sideEffect(({ context }) => {
    context.rt.fastPath = true;
    context.rt.endThrottle();
  }),
  closeFastPath: sideEffect(({ context }) => {
    context.rt.fastPath = false;
  }),
  markThrottled: sideEffect(({ context }) => {
    context.rt.throttled = true;
  }),
  markUnthrottled: sideEffect(({ context }) => {
    context.rt.throttled = false;
  }),
  forwardToHeartbeat: typed.sendTo('heartbeat', ({ event }) => event),
  sendRefreshedToken: sideEffect(({ context, event }) => {
    const token = (event as unknown as { output: string | undefined }).output;
    if (token !== undefined) context.rt.sendRefreshedToken(token);
  }),
  reportRefreshRefused: sideEffect(({ context, event }) => context.rt.reportError((event as Extract<ConnectionEvent, { type: 'auth.error' }>).error)),
  reportRefreshFailed: sideEffect(({ context, event }) => {
    const cause = (event as unknown as { error: unknown }).error;
    context.rt.reportError(
      cause instanceof SocketchartError
        ? cause
        : new SocketchartError(ErrorCode.AUTHENTICATION_FAILED, { message: 'Token refresh failed; the session will end at expiry', recovery: 'retry', cause }),
    );
  }),
  reportRefreshTimeout: sideEffect(({ context }) =>
    context.rt.reportError(timeout('The server did not confirm the refreshed token; the session will end at expiry')),
  ),
  requestFreshToken: sideEffect(({ context }) => {
    context.rt.tokenReason = 'rejected';
  }),
  closeSocket: sideEffect(({ context, event }) => {
    const stop = event as Extract<ConnectionEvent, { type: 'connection.stop' }>;
    context.rt.closeSocket(stop.code ?? 1000, stop.reason ?? 'client closed');
  }),
  announceRetry: sideEffect(({ context }) =>
    context.rt.log('info', `reconnecting in ${context.retryDelayMs} ms`, { attempt: context.attempt, kind: context.retryKind }),
  ),
  announceCircuitOpen: sideEffect(({ context }) =>
    context.rt.log('warn', 'circuit open', { trips: context.trips, failures: context.failures }),
  ),
  resetAttempts: typed.assign(({ context }) => {
    const { rt: _rt, ...fresh } = initialConnectionContext({ rt: context.rt });
    return fresh;
  }),
  settleClosed: sideEffect(({ context }) => {
    context.rt.unwatchEnvironment();
    context.rt.rejectQueued(new SocketchartError(ErrorCode.CLOSED, { message: 'The connection was closed' }));
  }),
  settleFailed: sideEffect(({ context }) => {
    context.rt.unwatchEnvironment();
    const cause = context.lastError;
    context.rt.rejectQueued(
      new SocketchartError(ErrorCode.CLOSED, { message: `The connection failed${cause ? `: ${cause.message}` : ''}`, cause }),
    );
  }),
};

export const connectionGuards = {
  fromOwnSocket: ({ context, event }: Args) => (event as SocketEvent).socket === context.rt.currentSocket,
  isOffline: ({ context }: Args) => !context.rt.online,
  dialsFreely: ({ context }: Args) => context.rt.options.dialGate === undefined,
  hasOpenSocket: ({ context }: Args) => context.rt.ws !== null,
  closesWhenHidden: ({ context }: Args) => context.rt.options.closeWhenHidden,
  pageHidden: ({ context }: Args) => context.rt.hidden,
  heartbeatOff: ({ context: { rt } }: Args) => rt.options.heartbeat === false || rt.options.protocol.pingFrame(0) === undefined,
  closesWhileHidden: ({ context }: Args) => context.rt.options.closeWhenHidden && context.rt.hidden,
  authAnswerNotAwaited: ({ context: { rt } }: Args) =>
    !rt.options.protocol.awaitsAuthAnswer({ mode: rt.options.auth?.mode ?? 'message', token: rt.token }),
  hasQueued: ({ context }: Args) => context.rt.queuedCount > 0,
  waitsForRateLimit: ({ context }: Args) => context.rt.throttleDelayMs > 0,
  tokenExpires: ({ context }: Args) => context.session?.expiresAt !== undefined && context.rt.canRefreshInBand(),
  isFatal: ({ context }: Args) => context.outcome === 'fail',
  mustRefreshToken: ({ context }: Args) => context.outcome === 'refresh-token',
  probeFailed: ({ context }: Args) => context.probing,
  circuitTripped: ({ context }: Args) => {
    const circuit = context.rt.options.circuit;
    return circuit !== false && context.failures >= circuit.failureThreshold;
  },
  circuitIsOpen: ({ context }: Args) => context.circuitOpen,
};

export const connectionDelays = {
  connectTimeout: ({ context }: Args) => context.rt.options.connectTimeoutMs,
  authTimeout: ({ context }: Args) => context.rt.options.authTimeoutMs,
  closeTimeout: ({ context }: Args) => context.rt.options.closeTimeoutMs,
  minUptime: ({ context }: Args) => context.rt.options.reconnect.minUptimeMs,
  heartbeatInterval: ({ context }: Args) => (context.rt.options.heartbeat ? context.rt.options.heartbeat.intervalMs : 0),
  reconnectDelay: ({ context }: Args) => context.retryDelayMs,
  throttleDelay: ({ context }: Args) => context.rt.throttleDelayMs,
  recoveryTimeout: ({ context }: Args) => {
    const circuit = context.rt.options.circuit;
    return circuit === false ? 0 : recoveryDelay(context.trips, circuit);
  },
  tokenRefresh: ({ context }: Args) => {
    const expiresAt = context.session?.expiresAt ?? 0;
    const lead = context.rt.options.auth?.refreshLeadMs ?? 0;
    return Math.max(0, expiresAt - lead - context.rt.options.clock.now());
  },
};
