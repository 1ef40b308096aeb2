import type { SessionInfo } from '../protocol/adapter.js';
import type { CloseAction } from '../protocol/close-codes.js';
import type { SocketchartError } from '../protocol/errors.js';
import type { ConnectionRuntime } from './runtime.js';

/** Every state a connection can rest in, as `status` reports it. */
export const connectionStatuses = [
  'idle',
  'queued',
  'connecting',
  'halfOpen',
  'authenticating',
  'connected',
  'closing',
  'reconnecting',
  'circuitOpen',
  'offline',
  'suspended',
  'closed',
  'failed',
] as const;
export type ConnectionStatus = (typeof connectionStatuses)[number];

/** How the next dial is timed. */
export type RetryKind = 'backoff' | 'immediate' | 'restart' | 'later';

export interface ConnectionContext {
  readonly rt: ConnectionRuntime;
  /** Backoff exponent: failed attempts since the last stable connection. */
  attempt: number;
  /** Consecutive failures counted toward the circuit breaker. */
  failures: number;
  /** Times the circuit opened since the last stable connection. */
  trips: number;
  /** The circuit is open (no dialing until the recovery timeout, then one probe). */
  circuitOpen: boolean;
  /** The current dial is the half-open probe. */
  probing: boolean;
  /** 4001 refusals since the last accepted token. */
  tokenRejections: number;
  /** The last connection stayed up for `minUptime`. */
  stable: boolean;
  connectedAt: number | null;
  session: SessionInfo | null;
  lastError: SocketchartError | null;
  /** What the last failure asks for. */
  outcome: CloseAction | null;
  retryKind: RetryKind;
  /** Delay before the next dial, decided when the failure was recorded. */
  retryDelayMs: number;
  /** Index of the url in use, when the connection has several (0 is the primary). */
  urlIndex: number;
  /** Consecutive failed dials on that url. */
  urlFailures: number;
  /** Clock time of the last move away from the primary (drives the primary retry). */
  failedOverAt: number;
}

export interface ConnectionInput {
  rt: ConnectionRuntime;
}

export type ConnectionEvent =
  | { type: 'connection.start' }
  | { type: 'connection.stop'; code?: number; reason?: string }
  | { type: 'connection.retry' }
  | { type: 'socket.open'; socket: number }
  | { type: 'socket.close'; socket: number; code: number; reason: string; wasClean: boolean }
  | { type: 'auth.ok'; socket: number; session: SessionInfo }
  | { type: 'auth.error'; socket: number; error: SocketchartError }
  | { type: 'heartbeat.timeout' }
  | { type: 'heartbeat.pong'; ts?: number }
  | { type: 'queue.pending' }
  | { type: 'permit.granted' }
  | { type: 'env.online' }
  | { type: 'env.offline' }
  | { type: 'page.hidden' }
  | { type: 'page.visible' }
  | { type: 'page.freeze' }
  | { type: 'page.resume' };

export type ConnectionEventType = ConnectionEvent['type'];

/** Events that come from one socket; the machine ignores them once that socket is no longer its own. */
export type SocketEvent = Extract<ConnectionEvent, { socket: number }>;
