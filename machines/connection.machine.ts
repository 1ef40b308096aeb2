import { and, assign, fromCallback, fromPromise, not, sendTo, setup } from 'xstate';
import type {
  CircuitState,
  ConnectionContext,
  ConnectionEvent,
  ConnectionInput,
  ConnectionTag,
  Failure,
  FailoverState,
  FailureAction,
  RetryKind,
  SocketInput,
  TokenState,
} from './connection.types.js';
import type { FlusherOutput } from './flusher.types.js';
import { flusherMachine } from './flusher.machine.js';
import { heartbeatMachine } from './heartbeat.machine.js';

type Of<T extends ConnectionEvent['type']> = Extract<ConnectionEvent, { type: T }>;

/** A dial now, through the gate when there is one. */
const redial = [{ guard: 'dialsFreely', target: '#connection.link' }, { target: '#connection.queued' }] as const;

/** No dial while the page is hidden and the connection closes while hidden: it waits, suspended. */
const suspendWhileHidden = { guard: 'closesWhileHidden', target: '#connection.suspended' } as const;

/** Every dial from a state without a socket asks the environment first, then the dial gate (if any). */
const dial = [suspendWhileHidden, { guard: 'isOffline', target: '#connection.offline' }, ...redial] as const;

/** The server asked for a wait (1013, 4029, their `retry_after`): back online or visible, the rest of it is waited out. */
const waitForServer = { guard: 'serverAskedToWait', target: '#connection.reconnecting' } as const;

/** A dial after a pause (offline, suspended), unless the circuit or the server says wait. */
const dialAfterPause = [{ guard: 'circuitIsOpen', target: '#connection.circuitOpen' }, waitForServer, ...redial] as const;

/** The page is back: dial, unless the network, the circuit or the server says wait. */
const wake = [{ guard: 'isOffline', target: '#connection.offline' }, ...dialAfterPause] as const;

/** The same branches, each also taking `actions` (an environment fact noted as it is acted on, a reset). */
const noting = <A extends string | readonly string[], T extends object>(actions: A, branches: readonly T[]): Array<T & { readonly actions: A }> =>
  branches.map((branch) => ({ ...branch, actions }));

/** `start()` or `retry()` from rest: attempts and the circuit start afresh, and the environment is read before the dial. */
const startAfresh = { target: '#connection.starting', actions: 'resetAttempts' } as const;

/** `retry()` while waiting: dial now (unless the page is hidden and closes while hidden), with the attempts reset. */
const retryNow = /* @__PURE__ */ noting('resetAttempts', [suspendWhileHidden, ...redial] as const);

const goOffline = { target: '#connection.offline', actions: 'noteOffline' } as const;
const suspendWhenHidden = { guard: 'closesWhenHidden', target: '#connection.suspended', actions: 'notePageHidden' } as const;

const CIRCUIT_CLOSED: CircuitState = /* @__PURE__ */ Object.freeze({ failures: 0, trips: 0, open: false, probing: false });
const FIRST_TOKEN: TokenState = /* @__PURE__ */ Object.freeze({ reason: 'connect', rejections: 0 });
const ON_PRIMARY: FailoverState = /* @__PURE__ */ Object.freeze({ dialIndex: 0, urlFailures: 0, failedOverAt: 0 });

/** A failure that counts toward the circuit and url failover: one the connection reconnects after. */
export const countsAsFailure = (action: FailureAction | null) => action === 'reconnect' || action === 'reconnect-fast' || action === 'reconnect-slow';

function retryKindOf(action: FailureAction, stable: boolean): RetryKind {
  if (action === 'reconnect-fast') return 'restart';
  if (action === 'reconnect-slow') return 'later';
  return stable ? 'immediate' : 'backoff';
}

/**
 * Records a failed attempt or a lost link: what it asks for, and the counters the next decisions read.
 * `noToken`: the dial got no token (the provider failed or did not answer): the next one asks again for the same reason.
 */
function failure(context: ConnectionContext, action: FailureAction, error: Failure, noToken?: boolean): Partial<ConnectionContext> {
  const { tokenRequest, circuit } = context;
  let outcome = action;
  let rejections = tokenRequest.rejections;
  if (action === 'refresh-token') {
    if (!context.settings.canRefreshToken || rejections >= 1) outcome = 'fail';
    else rejections++;
  }
  const retryKind = retryKindOf(outcome, context.stable);
  return {
    lastError: error,
    outcome,
    tokenRequest: rejections === 0 ? FIRST_TOKEN : { reason: noToken ? tokenRequest.reason : 'connect', rejections },
    circuit: countsAsFailure(outcome) ? { ...circuit, failures: circuit.failures + 1 } : circuit,
    retryKind,
    attempt: retryKind === 'immediate' ? context.attempt : context.attempt + 1,
    stable: false,
  };
}

const timeout = (message: string): Failure => ({ code: 'TIMEOUT', message, recovery: 'retry' });

/** A dial that did not connect within `connectTimeoutMs`, still waiting for the token or for the socket to open. */
export const connectTimedOut = (context: ConnectionContext, waitingFor: 'token' | 'socket'): Partial<ConnectionContext> => {
  const ms = context.settings.connectTimeoutMs;
  const noToken = waitingFor === 'token';
  return failure(
    context,
    'reconnect',
    timeout(`The ${noToken ? 'token provider did not answer' : 'socket did not open'} within ${ms} ms (connectTimeoutMs)`),
    noToken,
  );
};

/**
 * One connection's lifecycle. `link` owns the socket: entering it dials, leaving it closes the socket,
 * and events from a socket it no longer owns are ignored (`fromOwnSocket`). `retrying` is the one
 * decision point every failure goes through. Environment facts arrive as events and live in context.
 *
 * Guards read only context and event. No secret enters the machine: the tokenFetch actor keeps the fresh
 * token to itself until `sendRefreshedToken` writes it. The socket, tokenFetch, permit and deadline actors, the effects, and
 * the policies that draw on time and chance (`planRetry`, `chooseUrl`, `recoveryTimeout`) are stubs here:
 * the runtime supplies them with `.provide()`.
 */
export const connectionMachine = /* @__PURE__ */ defineConnectionMachine();

// Defined in a function called once and marked pure: a bundle that does not use the machine drops it
// (the calls its definition makes, assign() and the like, would otherwise count as side effects).
function defineConnectionMachine() {
  return setup({
    types: {} as { context: ConnectionContext; events: ConnectionEvent; input: ConnectionInput; tags: ConnectionTag },
    actions: {
      noteOnline: assign({ online: true }),
      noteOffline: assign({ online: false }),
      notePageHidden: assign({ hidden: true }),
      notePageVisible: assign({ hidden: false }),
      beginSocket: assign(({ context }) => ({ socket: context.socket + 1 })),
      chooseUrl: () => undefined,
      beginProbe: assign(({ context }) => ({ circuit: { ...context.circuit, probing: true } })),
      acceptSession: assign(({ context, event }) => {
        const { session, at } = event as Of<'auth.ok'>;
        const { rejections } = context.tokenRequest;
        return { session, sessionAt: at, tokenRequest: rejections === 0 ? FIRST_TOKEN : { reason: 'connect', rejections } };
      }),
      markConnected: assign(({ context }) => ({
        circuit: context.circuit.open || context.circuit.probing ? { ...context.circuit, open: false, probing: false } : context.circuit,
        outcome: null,
        urlIndex: context.failover.dialIndex,
        failover: context.failover === ON_PRIMARY ? ON_PRIMARY : { ...context.failover, urlFailures: 0 },
      })),
      markStable: assign({ stable: true, attempt: 0, circuit: CIRCUIT_CLOSED, tokenRequest: FIRST_TOKEN }),
      recordClose: assign(({ context, event }) => {
        const { action, error } = event as Of<'socket.close'>;
        return failure(context, action, error);
      }),
      recordAuthError: assign(({ context, event }) => {
        const { action, error } = event as Of<'auth.error' | 'server.error'>;
        return failure(context, action, error, event.type === 'auth.error');
      }),
      recordConnectTimeout: assign(({ context }) => connectTimedOut(context, 'socket')),
      recordAuthTimeout: assign(({ context }) =>
        failure(context, 'reconnect', timeout(`The server did not answer the auth frame within ${context.settings.authTimeoutMs} ms`)),
      ),
      recordHeartbeatTimeout: assign(({ context }) =>
        failure(context, 'reconnect', { code: 'NETWORK_ERROR', message: 'No pong: the socket is dead (half-open)', recovery: 'retry' }),
      ),
      planRetry: assign(({ context }) => ({ retryDelayMs: context.retryKind === 'immediate' ? 0 : context.settings.reconnect.baseMs })),
      tripCircuit: assign(({ context }) => ({ circuit: { ...context.circuit, trips: context.circuit.trips + 1, open: true, probing: false } })),
      requestFreshToken: assign(({ context }) => ({ tokenRequest: { ...context.tokenRequest, reason: 'rejected' } })),
      noteThrottle: assign(({ event }) => ({ throttleMs: (event as unknown as { output: FlusherOutput }).output.waitMs })),
      resetAttempts: assign({
        attempt: 0,
        circuit: CIRCUIT_CLOSED,
        tokenRequest: FIRST_TOKEN,
        stable: false,
        outcome: null,
        retryKind: 'backoff',
        retryDelayMs: 0,
        urlIndex: 0,
        failover: ON_PRIMARY,
      }),
      forwardToHeartbeat: sendTo('heartbeat', ({ event }) => event),
      readEnvironment: () => {},
      watchEnvironment: () => {},
      sendKeepalive: () => {},
      authenticate: () => {},
      sendRefreshedToken: () => {},
      resume: () => {},
      leaveConnected: () => {},
      reportFailure: () => {},
      reportRefreshRefused: () => {},
      reportServerError: () => {},
      reportRefreshFailed: () => {},
      reportRefreshTimeout: () => {},
      closeSocket: () => {},
      settleClosed: () => {},
      settleFailed: () => {},
    },
    guards: {
      fromOwnSocket: ({ context, event }) => (event as Of<'socket.open'>).socket === context.socket,
      /** An error frame of the own socket that answers an in-band refresh: one about another frame (a subscribe, a rate limit) does not. */
      refusesRefresh: ({ context, event }) => {
        const { socket, error } = event as Of<'server.error'>;
        return socket === context.socket && error.code === 'AUTHENTICATION_FAILED';
      },
      isOffline: ({ context }) => !context.online,
      pageHidden: ({ context }) => context.hidden,
      dialsFreely: ({ context }) => !context.settings.dialGated,
      closesWhenHidden: ({ context }) => context.settings.closeWhenHidden,
      closesWhileHidden: ({ context }) => context.settings.closeWhenHidden && context.hidden,
      heartbeatOff: ({ context }) => context.settings.heartbeat === false,
      authAnswerNotAwaited: ({ context }) => !context.settings.awaitsAuthAnswer,
      waitsForRateLimit: ({ event }) => (event as unknown as { output: FlusherOutput }).output.waitMs > 0,
      tokenExpires: ({ context }) => context.session?.expiresAt !== undefined && context.settings.refreshesInBand,
      isFatal: ({ context }) => context.outcome === 'fail',
      mustRefreshToken: ({ context }) => context.outcome === 'refresh-token',
      probeFailed: ({ context }) => context.circuit.probing,
      circuitTripped: ({ context }) => context.settings.circuit !== false && countsAsFailure(context.outcome) && context.circuit.failures >= context.settings.circuit.failureThreshold,
      circuitIsOpen: ({ context }) => context.circuit.open,
      serverAskedToWait: ({ context }) => context.outcome === 'reconnect-slow',
    },
    delays: {
      connectTimeout: ({ context }) => context.settings.connectTimeoutMs,
      authTimeout: ({ context }) => context.settings.authTimeoutMs,
      closeTimeout: ({ context }) => context.settings.closeTimeoutMs,
      minUptime: ({ context }) => context.settings.reconnect.minUptimeMs,
      heartbeatInterval: ({ context }) => (context.settings.heartbeat === false ? 0 : context.settings.heartbeat.intervalMs),
      reconnectDelay: ({ context }) => context.retryDelayMs,
      throttleDelay: ({ context }) => context.throttleMs,
      recoveryTimeout: ({ context }) => (context.settings.circuit === false ? 0 : context.settings.circuit.recoveryMs),
      tokenRefresh: ({ context }) => {
        const life = (context.session?.expiresAt ?? 0) - context.sessionAt;
        const lead = life - context.settings.refreshLeadMs;
        if (lead > 0) return lead;
        return life > 0 ? life / 2 : context.settings.authTimeoutMs;
      },
    },
    actors: {
      socket: fromCallback<ConnectionEvent, SocketInput>(() => undefined),
      permit: fromCallback<ConnectionEvent>(({ sendBack }) => sendBack({ type: 'permit.granted' })),
      tokenFetch: fromPromise<void>(() => new Promise<void>(() => {})),
      heartbeat: heartbeatMachine,
      flusher: flusherMachine,
    },
  }).createMachine({
    id: 'connection',
    context: ({ input }) => ({
      settings: input.settings,
      online: input.online ?? true,
      hidden: input.hidden ?? false,
      socket: 0,
      tokenRequest: FIRST_TOKEN,
      attempt: 0,
      stable: false,
      outcome: null,
      retryKind: 'backoff',
      retryDelayMs: 0,
      retryAt: 0,
      circuit: CIRCUIT_CLOSED,
      session: null,
      sessionAt: 0,
      lastError: null,
      urlIndex: 0,
      failover: ON_PRIMARY,
      throttleMs: 0,
    }),
    initial: 'idle',
    on: {
      'server.error': { guard: 'fromOwnSocket', actions: 'reportServerError' },
      'env.online': { actions: 'noteOnline' },
      'env.offline': { actions: 'noteOffline' },
      'page.hidden': { actions: 'notePageHidden' },
      'page.freeze': { actions: 'notePageHidden' },
      'page.visible': { actions: 'notePageVisible' },
      'page.resume': { actions: 'notePageVisible' },
    },
    states: {
      idle: {
        tags: ['socketless'],
        on: {
          'connection.start': 'starting',
          'connection.stop': 'closed',
        },
      },

      starting: {
        tags: ['socketless'],
        entry: ['readEnvironment', 'watchEnvironment'],
        always: dial,
      },

      queued: {
        tags: ['socketless'],
        invoke: { id: 'permit', src: 'permit' },
        on: {
          'permit.granted': [suspendWhileHidden, { guard: 'circuitIsOpen', target: 'link.halfOpen' }, { target: 'link' }],
          'env.offline': goOffline,
          'page.hidden': suspendWhenHidden,
          'connection.stop': 'closed',
        },
      },

      link: {
        entry: ['chooseUrl', 'beginSocket'],
        invoke: {
          id: 'socket',
          src: 'socket',
          input: ({ context }) => ({ socket: context.socket, urlIndex: context.failover.dialIndex, tokenReason: context.tokenRequest.reason }),
        },
        initial: 'connecting',
        on: {
          'socket.close': { guard: 'fromOwnSocket', target: 'retrying', actions: 'recordClose' },
          'auth.error': { guard: 'fromOwnSocket', target: 'retrying', actions: 'recordAuthError' },
          'env.offline': goOffline,
          'page.hidden': suspendWhenHidden,
          'connection.stop': 'closed',
        },
        states: {
          connecting: {
            tags: ['dialing'],
            after: { connectTimeout: { target: '#connection.retrying', actions: 'recordConnectTimeout' } },
            on: { 'socket.open': { guard: 'fromOwnSocket', target: 'authenticating' } },
          },
          halfOpen: {
            tags: ['dialing'],
            entry: 'beginProbe',
            after: { connectTimeout: { target: '#connection.retrying', actions: 'recordConnectTimeout' } },
            on: { 'socket.open': { guard: 'fromOwnSocket', target: 'authenticating' } },
          },
          authenticating: {
            tags: ['awaitingAuth'],
            entry: 'authenticate',
            always: { guard: 'authAnswerNotAwaited', target: 'connected' },
            after: { authTimeout: { target: '#connection.retrying', actions: 'recordAuthTimeout' } },
            on: {
              'auth.ok': { guard: 'fromOwnSocket', target: 'connected', actions: 'acceptSession' },
              'server.error': { guard: 'fromOwnSocket', target: '#connection.retrying', actions: 'recordAuthError' },
              'connection.stop': 'closing',
            },
          },
          connected: {
            tags: ['connected'],
            type: 'parallel',
            entry: ['markConnected', 'resume'],
            exit: 'leaveConnected',
            after: { minUptime: { actions: 'markStable' } },
            on: {
              'heartbeat.timeout': { target: '#connection.retrying', actions: 'recordHeartbeatTimeout' },
              'page.hidden': suspendWhenHidden,
              'connection.stop': 'closing',
            },
            states: {
              liveness: {
                initial: 'quiet',
                states: {
                  quiet: {
                    always: [
                      { guard: 'heartbeatOff', target: 'unmonitored' },
                      { guard: 'pageHidden', target: 'suspended' },
                    ],
                    after: { heartbeatInterval: 'probing' },
                    on: {
                      'page.hidden': { guard: not('closesWhenHidden'), target: 'suspended', actions: 'notePageHidden' },
                      'page.freeze': { target: 'suspended', actions: 'notePageHidden' },
                    },
                  },
                  probing: {
                    tags: ['probing'],
                    invoke: {
                      id: 'heartbeat',
                      src: 'heartbeat',
                      input: ({ context }) => ({ timeoutMs: context.settings.heartbeat === false ? 0 : context.settings.heartbeat.timeoutMs }),
                      onDone: 'quiet',
                    },
                    on: {
                      'heartbeat.pong': { actions: 'forwardToHeartbeat' },
                      'heartbeat.traffic': { actions: 'forwardToHeartbeat' },
                      'page.hidden': { guard: not('closesWhenHidden'), target: 'suspended', actions: 'notePageHidden' },
                      'page.freeze': { target: 'suspended', actions: 'notePageHidden' },
                    },
                  },
                  suspended: {
                    after: { heartbeatInterval: { target: 'suspended', reenter: true, actions: 'sendKeepalive' } },
                    on: {
                      'page.visible': { target: 'probing', actions: 'notePageVisible' },
                      'page.resume': { target: 'probing', actions: 'notePageVisible' },
                    },
                  },
                  unmonitored: {},
                },
              },
              outbound: {
                initial: 'streaming',
                states: {
                  streaming: {
                    tags: ['writable'],
                    on: { 'queue.pending': 'draining' },
                  },
                  draining: {
                    invoke: {
                      id: 'flusher',
                      src: 'flusher',
                      input: ({ context }) => ({ retryMs: context.settings.flushRetryMs }),
                      onDone: [{ guard: 'waitsForRateLimit', target: 'throttled', actions: 'noteThrottle' }, { target: 'streaming' }],
                    },
                  },
                  throttled: {
                    tags: ['throttled'],
                    after: { throttleDelay: 'draining' },
                    on: { 'queue.pending': 'draining' },
                  },
                },
              },
              session: {
                initial: 'valid',
                states: {
                  valid: {
                    always: { guard: 'tokenExpires', target: 'scheduled' },
                  },
                  scheduled: {
                    after: { tokenRefresh: 'refreshing' },
                  },
                  refreshing: {
                    invoke: {
                      id: 'tokenFetch',
                      src: 'tokenFetch',
                      onDone: { target: 'confirming', actions: 'sendRefreshedToken' },
                      onError: { target: 'expiring', actions: 'reportRefreshFailed' },
                    },
                  },
                  confirming: {
                    tags: ['awaitingAuth'],
                    after: { authTimeout: { target: 'expiring', actions: 'reportRefreshTimeout' } },
                    on: {
                      'auth.ok': { guard: 'fromOwnSocket', target: 'valid', actions: 'acceptSession' },
                      'server.error': { guard: 'refusesRefresh', target: 'expiring', actions: 'reportRefreshRefused' },
                    },
                  },
                  expiring: {
                    on: { 'auth.ok': { guard: 'fromOwnSocket', target: 'valid', actions: 'acceptSession' } },
                  },
                },
              },
            },
          },
          closing: {
            entry: 'closeSocket',
            after: { closeTimeout: '#connection.closed' },
            on: {
              'socket.close': { guard: 'fromOwnSocket', target: '#connection.closed' },
              'env.offline': { actions: 'noteOffline' },
              'page.hidden': { actions: 'notePageHidden' },
              'connection.stop': {},
              'connection.start': noting('resetAttempts', dial),
            },
          },
        },
      },

      retrying: {
        entry: ['planRetry', 'reportFailure'],
        always: [
          { guard: 'isFatal', target: 'failed' },
          { guard: and(['mustRefreshToken', 'dialsFreely']), target: 'link', actions: 'requestFreshToken' },
          { guard: 'mustRefreshToken', target: 'queued', actions: 'requestFreshToken' },
          { guard: 'probeFailed', target: 'circuitOpen', actions: 'tripCircuit' },
          { guard: 'circuitTripped', target: 'circuitOpen', actions: 'tripCircuit' },
          { target: 'reconnecting' },
        ],
      },

      reconnecting: {
        tags: ['socketless'],
        after: { reconnectDelay: [suspendWhileHidden, ...redial] },
        on: {
          'env.offline': goOffline,
          'env.online': noting('noteOnline', [suspendWhileHidden, waitForServer, ...redial] as const),
          'page.hidden': suspendWhenHidden,
          'connection.retry': retryNow,
          'connection.stop': 'closed',
        },
      },

      circuitOpen: {
        tags: ['socketless'],
        after: {
          recoveryTimeout: [suspendWhileHidden, { guard: 'dialsFreely', target: 'link.halfOpen' }, { target: 'queued' }],
        },
        on: {
          'env.offline': goOffline,
          'page.hidden': suspendWhenHidden,
          'connection.retry': retryNow,
          'connection.stop': 'closed',
        },
      },

      offline: {
        tags: ['socketless'],
        on: {
          'env.online': noting('noteOnline', [suspendWhileHidden, ...dialAfterPause] as const),
          'connection.stop': 'closed',
        },
      },

      suspended: {
        tags: ['socketless'],
        on: {
          'page.visible': noting('notePageVisible', wake),
          'page.resume': noting('notePageVisible', wake),
          'env.offline': goOffline,
          'connection.stop': 'closed',
        },
      },

      closed: {
        tags: ['socketless', 'settled'],
        entry: 'settleClosed',
        on: { 'connection.start': startAfresh },
      },

      failed: {
        tags: ['socketless', 'settled'],
        entry: 'settleFailed',
        on: {
          'connection.retry': startAfresh,
          'connection.stop': 'closed',
        },
      },
    },
  });
}

export type ConnectionMachine = typeof connectionMachine;
