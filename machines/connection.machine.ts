import { and, not, setup } from 'xstate';
import type { ConnectionContext, ConnectionEvent, ConnectionInput } from '../src/connection/types.js';
import { connectionActions, connectionGuards, connectionDelays, initialConnectionContext, socketInput } from '../src/connection/implementation.js';
import { socketActor } from '../src/transport/socket-actor.js';
import { tokenActor } from '../src/connection/token-actor.js';
import { permitActor } from '../src/connection/permit-actor.js';
import { heartbeatMachine } from './heartbeat.machine.js';
import { flusherMachine } from './flusher.machine.js';

/** Every dial from a state without a socket asks the environment first, then the dial gate (if any). */
const dial = [
  { guard: 'closesWhileHidden', target: '#connection.suspended' },
  { guard: 'isOffline', target: '#connection.offline' },
  { guard: 'dialsFreely', target: '#connection.link' },
  { target: '#connection.queued' },
] as const;

/** An explicit start() or retry(): the same, with the attempt counters and the circuit reset. */
const dialAfresh = [
  { guard: 'closesWhileHidden', target: '#connection.suspended', actions: 'resetAttempts' },
  { guard: 'isOffline', target: '#connection.offline', actions: 'resetAttempts' },
  { guard: 'dialsFreely', target: '#connection.link', actions: 'resetAttempts' },
  { target: '#connection.queued', actions: 'resetAttempts' },
] as const;

/** A dial now, through the gate when there is one. */
const redial = [{ guard: 'dialsFreely', target: '#connection.link' }, { target: '#connection.queued' }] as const;


/**
 * One connection's lifecycle. `link` owns the socket: entering it dials, leaving it closes the socket,
 * and events from a socket it no longer owns are ignored (`fromOwnSocket`).
 * `retrying` is the one decision point every failure goes through.
 */
export const connectionMachine = setup({
  types: {} as { context: ConnectionContext; events: ConnectionEvent; input: ConnectionInput },
  actions: connectionActions,
  guards: connectionGuards,
  delays: connectionDelays,
  actors: { socket: socketActor, token: tokenActor, permit: permitActor, heartbeat: heartbeatMachine, flusher: flusherMachine },
}).createMachine({
  id: 'connection',
  context: ({ input }) => initialConnectionContext(input),
  initial: 'idle',
  states: {
    idle: {
      on: {
        'connection.start': dial,
        'connection.stop': 'closed',
      },
    },

    queued: {
      invoke: { id: 'permit', src: 'permit', input: ({ context }) => context.rt },
      on: {
        'permit.granted': [
          { guard: 'closesWhileHidden', target: 'suspended' },
          { guard: 'circuitIsOpen', target: 'link.halfOpen' },
          { target: 'link' },
        ],
        'env.offline': 'offline',
        'page.hidden': { guard: 'closesWhenHidden', target: 'suspended' },
        'connection.stop': 'closed',
      },
    },

    link: {
      invoke: { id: 'socket', src: 'socket', input: socketInput },
      initial: 'connecting',
      on: {
        'socket.close': { guard: 'fromOwnSocket', target: 'retrying', actions: 'recordClose' },
        'auth.error': { guard: 'fromOwnSocket', target: 'retrying', actions: 'recordAuthError' },
        'env.offline': 'offline',
        'page.hidden': { guard: 'closesWhenHidden', target: 'suspended' },
        'connection.stop': [{ guard: 'hasOpenSocket', target: '.closing' }, { target: 'closed' }],
      },
      states: {
        connecting: {
          after: { connectTimeout: { target: '#connection.retrying', actions: 'recordConnectTimeout' } },
          on: { 'socket.open': { guard: 'fromOwnSocket', target: 'authenticating' } },
        },
        halfOpen: {
          entry: 'beginProbe',
          after: { connectTimeout: { target: '#connection.retrying', actions: 'recordConnectTimeout' } },
          on: { 'socket.open': { guard: 'fromOwnSocket', target: 'authenticating' } },
        },
        authenticating: {
          entry: 'authenticate',
          always: { guard: 'authAnswerNotAwaited', target: 'connected' },
          after: { authTimeout: { target: '#connection.retrying', actions: 'recordAuthTimeout' } },
          on: { 'auth.ok': { guard: 'fromOwnSocket', target: 'connected', actions: 'acceptSession' } },
        },
        connected: {
          type: 'parallel',
          entry: ['markConnected', 'resubscribe'],
          exit: 'markDisconnected',
          after: { minUptime: { actions: 'markStable' } },
          on: {
            'heartbeat.timeout': { target: '#connection.retrying', actions: 'recordHeartbeatTimeout' },
            'page.hidden': { guard: 'closesWhenHidden', target: '#connection.suspended' },
            'auth.error': { guard: 'fromOwnSocket', actions: 'reportRefreshRefused' },
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
                    'page.hidden': { guard: not('closesWhenHidden'), target: 'suspended' },
                    'page.freeze': 'suspended',
                  },
                },
                probing: {
                  invoke: { id: 'heartbeat', src: 'heartbeat', input: ({ context }) => context.rt, onDone: 'quiet' },
                  on: {
                    'heartbeat.pong': { actions: 'forwardToHeartbeat' },
                    'page.hidden': { guard: not('closesWhenHidden'), target: 'suspended' },
                    'page.freeze': 'suspended',
                  },
                },
                suspended: {
                  on: { 'page.visible': 'probing', 'page.resume': 'probing' },
                },
                unmonitored: {},
              },
            },
            outbound: {
              initial: 'streaming',
              states: {
                streaming: {
                  entry: 'openFastPath',
                  exit: 'closeFastPath',
                  always: { guard: 'hasQueued', target: 'draining' },
                  on: { 'queue.pending': 'draining' },
                },
                draining: {
                  invoke: {
                    id: 'flusher',
                    src: 'flusher',
                    input: ({ context }) => context.rt,
                    onDone: [{ guard: 'waitsForRateLimit', target: 'throttled' }, { target: 'streaming' }],
                  },
                },
                throttled: {
                  entry: 'markThrottled',
                  exit: 'markUnthrottled',
                  after: { throttleDelay: 'draining' },
                  on: { 'queue.pending': 'draining' },
                },
              },
            },
            token: {
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
                    src: 'token',
                    input: ({ context }) => context.rt,
                    onDone: { target: 'confirming', actions: 'sendRefreshedToken' },
                    onError: { target: 'expiring', actions: 'reportRefreshFailed' },
                  },
                },
                confirming: {
                  after: { authTimeout: { target: 'expiring', actions: 'reportRefreshTimeout' } },
                  on: { 'auth.ok': { guard: 'fromOwnSocket', target: 'valid', actions: 'acceptSession' } },
                },
                expiring: {},
              },
            },
          },
        },
        closing: {
          entry: 'closeSocket',
          after: { closeTimeout: '#connection.closed' },
          on: {
            'socket.close': { guard: 'fromOwnSocket', target: '#connection.closed' },
            'env.offline': {},
            'page.hidden': {},
            'connection.stop': {},
          },
        },
      },
    },

    retrying: {
      always: [
        { guard: 'isFatal', target: 'failed' },
        { guard: 'isOffline', target: 'offline' },
        { guard: and(['mustRefreshToken', 'dialsFreely']), target: 'link', actions: 'requestFreshToken' },
        { guard: 'mustRefreshToken', target: 'queued', actions: 'requestFreshToken' },
        { guard: 'probeFailed', target: 'circuitOpen', actions: 'tripCircuit' },
        { guard: 'circuitTripped', target: 'circuitOpen', actions: 'tripCircuit' },
        { target: 'reconnecting' },
      ],
    },

    reconnecting: {
      entry: 'announceRetry',
      after: { reconnectDelay: [{ guard: 'closesWhileHidden', target: 'suspended' }, ...redial] },
      on: {
        'env.offline': 'offline',
        'env.online': [{ guard: 'closesWhileHidden', target: 'suspended' }, ...redial],
        'page.hidden': { guard: 'closesWhenHidden', target: 'suspended' },
        'connection.retry': [
          { guard: 'dialsFreely', target: 'link', actions: 'resetAttempts' },
          { target: 'queued', actions: 'resetAttempts' },
        ],
        'connection.stop': 'closed',
      },
    },

    circuitOpen: {
      entry: 'announceCircuitOpen',
      after: {
        recoveryTimeout: [
          { guard: 'closesWhileHidden', target: 'suspended' },
          { guard: 'dialsFreely', target: 'link.halfOpen' },
          { target: 'queued' },
        ],
      },
      on: {
        'env.offline': 'offline',
        'page.hidden': { guard: 'closesWhenHidden', target: 'suspended' },
        'connection.retry': [
          { guard: 'dialsFreely', target: 'link', actions: 'resetAttempts' },
          { target: 'queued', actions: 'resetAttempts' },
        ],
        'connection.stop': 'closed',
      },
    },

    offline: {
      on: {
        'env.online': [
          { guard: 'closesWhileHidden', target: 'suspended' },
          { guard: 'circuitIsOpen', target: 'circuitOpen' },
          ...redial,
        ],
        'connection.stop': 'closed',
      },
    },

    suspended: {
      on: {
        'page.visible': [{ guard: 'isOffline', target: 'offline' }, { guard: 'circuitIsOpen', target: 'circuitOpen' }, ...redial],
        'page.resume': [{ guard: 'isOffline', target: 'offline' }, { guard: 'circuitIsOpen', target: 'circuitOpen' }, ...redial],
        'env.offline': 'offline',
        'connection.stop': 'closed',
      },
    },

    closed: {
      entry: 'settleClosed',
      on: { 'connection.start': dialAfresh },
    },

    failed: {
      entry: 'settleFailed',
      on: {
        'connection.retry': dialAfresh,
        'connection.stop': 'closed',
      },
    },
  },
});

export type ConnectionMachine = typeof connectionMachine;
