/**
 * socketchart's wire protocol, defined once for the engine and the reference server: subprotocol
 * names, frame names and shapes, close codes, error codes and the rate-limit status.
 */

/** Subprotocol of the JSON wire protocol; the only protocol a socketchart server echoes. */
export const JSON_SUBPROTOCOL = 'socketchart.v1';
/** In `subprotocol` auth mode the client offers `socketchart.v1, socketchart.token.<token>`. */
export const TOKEN_SUBPROTOCOL_PREFIX = 'socketchart.token.';

/** WebSocket close codes socketchart gives meaning to, and when a socketchart server sends them. */
export const CloseCode = {
  /** A close both sides wanted. */
  Normal: 1000,
  /** Going away; the server sends it after `idleTimeoutMs` without a frame. */
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Reported locally when a close frame carried no code. */
  NoStatus: 1005,
  /** Reported locally when the socket dropped without a close frame. */
  Abnormal: 1006,
  /** Invalid UTF-8 in a text frame. */
  InvalidPayload: 1007,
  /** Origin not allowed (`originRejection: 'close'`). */
  PolicyViolation: 1008,
  /** A frame larger than `maxPayload`. */
  MessageTooBig: 1009,
  /** Unexpected server failure; only the socket concerned is closed. */
  InternalError: 1011,
  /** Graceful shutdown: reconnect soon, with jitter, and resume. */
  ServiceRestart: 1012,
  /** Connection limits (`maxConnections`, `maxConnectionsPerUser`): try again later. */
  TryAgainLater: 1013,
  BadGateway: 1014,
  /** Reported locally when the TLS handshake failed. */
  TlsHandshake: 1015,
  /** Missing, invalid or expired token; authentication timeout; session expiry; `logout()`. */
  Unauthorized: 4001,
  /** A refreshed token names another user than the session's. */
  Forbidden: 4003,
  /** Slow consumer: the socket's send buffer went over `maxBufferedBytes`; reconnect and resume. */
  SlowConsumer: 4008,
  /** Persistent flooding past a rate limit; the reason carries `retry_after=<seconds>`. */
  RateLimited: 4029,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Every failure socketchart reports carries one of these codes; a server's `error` frames use the first eight. */
export const ErrorCode = {
  CONNECTION_FAILED: 'CONNECTION_FAILED',
  AUTHENTICATION_FAILED: 'AUTHENTICATION_FAILED',
  AUTHORIZATION_FAILED: 'AUTHORIZATION_FAILED',
  RATE_LIMIT_EXCEEDED: 'RATE_LIMIT_EXCEEDED',
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  INVALID_MESSAGE_FORMAT: 'INVALID_MESSAGE_FORMAT',
  SERVER_ERROR: 'SERVER_ERROR',
  TIMEOUT: 'TIMEOUT',
  NETWORK_ERROR: 'NETWORK_ERROR',
  QUEUE_OVERFLOW: 'QUEUE_OVERFLOW',
  MESSAGE_EXPIRED: 'MESSAGE_EXPIRED',
  CLOSED: 'CLOSED',
  INVALID_OPTION: 'INVALID_OPTION',
  /** An optimistic change lost a conflict with another client's update. */
  CONFLICT: 'CONFLICT',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The scopes of `rate_limit_status` that are not channel types. */
export const RateLimitScope = {
  /** Every channel type without a limit of its own (one bucket for all of them). */
  Default: 'default',
  /** Frames outside a channel (ping, subscribe, unsubscribe, presence, typing, auth refresh) and refused frames. */
  Control: 'control',
} as const;

/** What `rate_limit_status` announces about one limit. */
export interface RateLimitStatus {
  /** What the limit applies to: a channel type, `default` (every other channel type) or `control` (frames outside a channel). */
  scope: string;
  /** Frames allowed per window. */
  limit: number;
  /** Frames that may go at once after a quiet period (the bucket's capacity). */
  burst: number;
  /** Frames allowed right now. */
  remaining: number;
  /** Epoch milliseconds at which the bucket is full again. */
  reset_at: number;
  /** Length of the window, in seconds. */
  window_seconds: number;
}

/** A presence entry: one user on one channel. */
export interface PresenceMember {
  userId: string;
  meta?: Record<string, unknown>;
}

/** First frame in `message` auth mode; later, an in-band token refresh. */
export interface AuthFrame {
  type: 'auth';
  token: string;
}
/** Either side may ping; the other answers `pong` with the same `ts`. */
export interface PingFrame {
  type: 'ping';
  ts?: number;
}
export interface PongFrame {
  type: 'pong';
  ts?: number;
}
/** A sequence number the wire carries (`seq`, `since`, a gap's `from` and `to`): an integer from 0 to 2^53 - 1. */
export const isSeq = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** `since`: the last seq the client has (`0`: everything retained); absent: live messages only. */
export interface SubscribeFrame {
  type: 'subscribe';
  ch: string;
  since?: number;
}
export interface UnsubscribeFrame {
  type: 'unsubscribe';
  ch: string;
}
/** Most characters of a message id (`PublishFrame.id`): a server refuses a longer one, or an empty one, without naming it. */
export const MAX_MESSAGE_ID_LENGTH = 128;

/** With `id`: answered by `ack` (or an `error` carrying the id) and deduplicated; without: fire and forget. */
export interface PublishFrame {
  type: 'publish';
  ch: string;
  /** 1 to `MAX_MESSAGE_ID_LENGTH` characters. */
  id?: string;
  data: unknown;
  event?: string;
}
/** Answered by `presence_state`. */
export interface PresenceRequestFrame {
  type: 'presence';
  ch: string;
  action: 'join' | 'leave' | 'list';
  meta?: Record<string, unknown>;
}
export interface TypingRequestFrame {
  type: 'typing';
  ch: string;
  typing: boolean;
}

/** Every frame a client sends. */
export type ClientFrame = AuthFrame | PingFrame | PongFrame | SubscribeFrame | UnsubscribeFrame | PublishFrame | PresenceRequestFrame | TypingRequestFrame;
export type ClientFrameType = ClientFrame['type'];
export const clientFrameTypes = ['auth', 'ping', 'pong', 'subscribe', 'unsubscribe', 'publish', 'presence', 'typing'] as const satisfies readonly ClientFrameType[];

/** `expiresAt`: epoch ms at which the session ends (the token's `exp`). */
export interface AuthOkFrame {
  type: 'auth_ok';
  userId: string;
  sessionId: string;
  expiresAt?: number;
}
/** `seq`: the channel's current number. */
export interface SubscribedFrame {
  type: 'subscribed';
  ch: string;
  seq: number;
}
export interface UnsubscribedFrame {
  type: 'unsubscribed';
  ch: string;
  reason?: string;
}
/** `duplicate`: the id was already published inside the dedup window; `seq` is the first one's. */
export interface AckFrame {
  type: 'ack';
  id: string;
  seq: number;
  duplicate?: boolean;
}
/** `from`: the publisher's user id (absent for server publishes); `ts`: publish time, epoch ms. */
export interface MessageFrame {
  type: 'message';
  ch: string;
  seq: number;
  id?: string;
  data: unknown;
  event?: string;
  from?: string;
  ts: number;
}
/** Numbers `from..to` (inclusive) cannot be delivered any more. */
export interface GapFrame {
  type: 'gap';
  ch: string;
  from: number;
  to: number;
}
export interface PresenceFrame {
  type: 'presence';
  ch: string;
  joins: PresenceMember[];
  leaves: PresenceMember[];
}
export interface PresenceStateFrame {
  type: 'presence_state';
  ch: string;
  members: PresenceMember[];
  /** A page of a list too large for one frame: more members follow, in the next `presence_state` of the channel. */
  more?: true;
}
export interface TypingFrame {
  type: 'typing';
  ch: string;
  userId: string;
  typing: boolean;
}
export interface RateLimitStatusFrame extends RateLimitStatus {
  type: 'rate_limit_status';
}
/** `id`: the publish concerned; `retry_after`: seconds to wait. */
export interface ErrorFrame {
  type: 'error';
  code: ErrorCode;
  message: string;
  details?: unknown;
  id?: string;
  retry_after?: number;
}

/** Every frame a server sends. */
export type ServerFrame =
  | AuthOkFrame
  | PingFrame
  | PongFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | AckFrame
  | MessageFrame
  | GapFrame
  | PresenceFrame
  | PresenceStateFrame
  | TypingFrame
  | RateLimitStatusFrame
  | ErrorFrame;
export type ServerFrameType = ServerFrame['type'];
export const serverFrameTypes = [
  'auth_ok',
  'ping',
  'pong',
  'subscribed',
  'unsubscribed',
  'ack',
  'message',
  'gap',
  'presence',
  'presence_state',
  'typing',
  'rate_limit_status',
  'error',
] as const satisfies readonly ServerFrameType[];
