/** WebSocket close codes the reference server sends, and what each one means for a client. */
export const ServerCloseCode = {
  /** Idle timeout: the client sent nothing for `idleTimeoutMs`. */
  GoingAway: 1001,
  /** Origin not allowed (`originRejection: 'close'`). */
  PolicyViolation: 1008,
  /** A frame larger than `maxPayload`. */
  MessageTooBig: 1009,
  /** Unexpected server failure. */
  InternalError: 1011,
  /** Graceful shutdown (`close()`): reconnect soon, with jitter. */
  ServiceRestart: 1012,
  /** Connection limits (`maxConnections`, `maxConnectionsPerUser`): try again later. */
  TryAgainLater: 1013,
  /** Missing, invalid or expired token; authentication timeout; session expiry; `logout()`. */
  Unauthorized: 4001,
  /** A refreshed token names another user than the session's. */
  Forbidden: 4003,
  /** Slow consumer: the socket's send buffer went over `maxBufferedBytes`; reconnect and resume. */
  SlowConsumer: 4008,
  /** Persistent flooding past the rate limit; the reason carries `retry_after=<seconds>`. */
  RateLimited: 4029,
} as const;
export type ServerCloseCode = (typeof ServerCloseCode)[keyof typeof ServerCloseCode];

/** Codes carried by `error` frames (a subset of the engine's error taxonomy). */
export const WireErrorCode = {
  CONNECTION_FAILED: 'CONNECTION_FAILED',
  AUTHENTICATION_FAILED: 'AUTHENTICATION_FAILED',
  AUTHORIZATION_FAILED: 'AUTHORIZATION_FAILED',
  RATE_LIMIT_EXCEEDED: 'RATE_LIMIT_EXCEEDED',
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  INVALID_MESSAGE_FORMAT: 'INVALID_MESSAGE_FORMAT',
  SERVER_ERROR: 'SERVER_ERROR',
  TIMEOUT: 'TIMEOUT',
} as const;
export type WireErrorCode = (typeof WireErrorCode)[keyof typeof WireErrorCode];
