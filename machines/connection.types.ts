/** Why the token provider is being asked. */
export type TokenReason = 'connect' | 'refresh' | 'rejected';

/** How the next dial is timed. */
export type RetryKind = 'backoff' | 'immediate' | 'restart' | 'later';

/**
 * What a failure asks of the connection.
 * - `reconnect`: back off and dial again (counts toward the circuit breaker);
 * - `reconnect-fast`: the server is restarting: dial again soon, spread by jitter;
 * - `reconnect-slow`: the server is overloaded: wait at least the "try later" delay;
 * - `reconnect-normal`: a clean close by the server: dial again without counting a failure;
 * - `refresh-token`: fetch a fresh token and dial once more; a second refusal is fatal;
 * - `fail`: go to `failed`; only `retry()` dials again.
 */
export type FailureAction = 'reconnect' | 'reconnect-fast' | 'reconnect-slow' | 'reconnect-normal' | 'refresh-token' | 'fail';

/** A failure as the machine keeps it: plain data (a `SocketchartError` is one), never a secret. */
export interface Failure {
  readonly code: string;
  readonly message: string;
  /** What the engine does about it: `retry`, `refresh_token`, `fail` or `none`. */
  readonly recovery: string;
  /** The wait the server asked for (`retry_after`), in ms. */
  readonly retryAfterMs?: number | undefined;
}

/** Successful authentication as the server reports it. */
export interface SessionInfo {
  userId?: string;
  sessionId?: string;
  /** Epoch milliseconds at which the credential expires; drives in-band refresh. */
  expiresAt?: number;
}

/** Backoff of the reconnecting state. */
export interface ReconnectSettings {
  readonly baseMs: number;
  readonly capMs: number;
  readonly multiplier: number;
  readonly jitter: number;
  readonly minUptimeMs: number;
  readonly restartWindowMs: number;
  readonly tryLaterMs: number;
}

/** The circuit breaker. */
export interface CircuitSettings {
  readonly failureThreshold: number;
  readonly recoveryMs: number;
  readonly recoveryMultiplier: number;
  readonly maxRecoveryMs: number;
}

export interface HeartbeatSettings {
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export interface FailoverSettings {
  readonly after: number;
  readonly primaryRetryMs: number;
}

/** What the connection machine knows of its options: plain numbers and switches, read by guards and delays. */
export interface ConnectionSettings {
  readonly connectTimeoutMs: number;
  readonly authTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly reconnect: ReconnectSettings;
  /** `false`: no circuit breaker. */
  readonly circuit: CircuitSettings | false;
  /** `false`: no heartbeat (switched off, or the protocol has no ping). */
  readonly heartbeat: HeartbeatSettings | false;
  /** Close the socket while the page is hidden. */
  readonly closeWhenHidden: boolean;
  /** Every dial waits in `queued` for a permit of the dial gate. */
  readonly dialGated: boolean;
  /** The server answers the auth frame (`auth.ok` / `auth.error`) before the link counts as connected. */
  readonly awaitsAuthAnswer: boolean;
  /** A token provider can be asked for a fresh token (a 4001 gets one more dial). */
  readonly canRefreshToken: boolean;
  /** The session is renewed in band before it expires. */
  readonly refreshesInBand: boolean;
  /** How long before `expiresAt` the in-band refresh starts. */
  readonly refreshLeadMs: number;
  /** How many urls the connection can dial (failover walks them in order). */
  readonly urls: number;
  readonly failover: FailoverSettings;
  /** How long the flusher waits when the socket pushes back. */
  readonly flushRetryMs: number;
}

export interface ConnectionInput {
  readonly settings: ConnectionSettings;
  /** The network is reachable at creation. @default true */
  readonly online?: boolean;
  /** The page is hidden (or frozen) at creation. @default false */
  readonly hidden?: boolean;
}

/** The circuit breaker's counters. */
export interface CircuitState {
  /** Consecutive failures counted toward the circuit breaker. */
  readonly failures: number;
  /** Times the circuit opened since the last stable connection. */
  readonly trips: number;
  /** The circuit is open (no dialing until the recovery timeout, then one probe). */
  readonly open: boolean;
  /** The current dial is the half-open probe. */
  readonly probing: boolean;
}

/** Where the token of the next dial comes from. */
export interface TokenState {
  /** Why the next dial asks for a token. */
  readonly reason: TokenReason;
  /** 4001 refusals since the last accepted token. */
  readonly rejections: number;
}

/** Url failover (connections with several urls). */
export interface FailoverState {
  /** Index of the url the next dial uses: `urlIndex`, or the primary again once `primaryRetryMs` has passed. */
  readonly dialIndex: number;
  /** Consecutive failed dials on the url in use. */
  readonly urlFailures: number;
  /** Clock time of the last move away from the primary (drives the primary retry). */
  readonly failedOverAt: number;
}

export interface ConnectionContext {
  readonly settings: ConnectionSettings;
  /** The environment as its events told it. */
  online: boolean;
  hidden: boolean;
  /** Id of the socket actor `link` runs now; socket events stamped with another id are stale. */
  socket: number;
  tokenRequest: TokenState;
  /** Backoff exponent: failed attempts since the last stable connection. */
  attempt: number;
  /** The last connection stayed up for `minUptime`. */
  stable: boolean;
  /** What the last failure asks for. */
  outcome: FailureAction | null;
  retryKind: RetryKind;
  /** Delay before the next dial, planned when the failure was recorded. */
  retryDelayMs: number;
  /** Clock time the planned wait ends: a dial that waits out a server's wait (back online, visible again) waits only what is left of it. */
  retryAt: number;
  circuit: CircuitState;
  session: SessionInfo | null;
  /** Clock time the session was accepted (the in-band refresh is timed from it). */
  sessionAt: number;
  lastError: Failure | null;
  /** Index of the url in use (0 is the primary). */
  urlIndex: number;
  failover: FailoverState;
  /** How long queued messages wait for a rate limit before the flusher tries again. */
  throttleMs: number;
}

export type ConnectionEvent =
  | { type: 'connection.start' }
  | { type: 'connection.stop'; code?: number; reason?: string }
  | { type: 'connection.retry' }
  | { type: 'socket.open'; socket: number }
  | { type: 'socket.close'; socket: number; code: number; reason: string; wasClean: boolean; action: FailureAction; error: Failure }
  | { type: 'auth.ok'; socket: number; session: SessionInfo; at: number }
  /** The dial got no token: the token provider failed. */
  | { type: 'auth.error'; socket: number; action: FailureAction; error: Failure }
  /** An error frame that concerns no single message: it answers an auth frame when one waits, else it is only reported. */
  | { type: 'server.error'; socket: number; action: FailureAction; error: Failure }
  | { type: 'heartbeat.timeout' }
  | { type: 'heartbeat.pong'; stale?: boolean }
  | { type: 'heartbeat.traffic' }
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

/** What the socket actor of `link` is given: its id, the url to dial and why a token is asked for. */
export interface SocketInput {
  readonly socket: number;
  readonly urlIndex: number;
  readonly tokenReason: TokenReason;
}

/**
 * What a state allows, read by the runtime from the snapshot:
 * - `socketless`: no socket may exist;
 * - `dialing`: the socket is being opened;
 * - `awaitingAuth`: an auth frame waits for its answer;
 * - `connected`: the link is up (subscriptions and acknowledged messages may be written);
 * - `writable`: `send()` may write directly (the fast path);
 * - `throttled`: queued messages wait for a rate limit;
 * - `probing`: a heartbeat probe waits for its pong (any traffic counts);
 * - `settled`: closed or failed: sends reject at once.
 */
export type ConnectionTag = 'socketless' | 'dialing' | 'awaitingAuth' | 'connected' | 'writable' | 'throttled' | 'probing' | 'settled';
