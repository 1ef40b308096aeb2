export { createServer, type PublishResult, type SocketchartServer } from './create-server.js';
export type { ServerOptions, ServerAuthOptions, RedisBackendOptions, RedisConnectionOptions, ServerMetricsOptions } from './options.js';
export type { ForwardedHeader } from './client-address.js';
export type { Identity, TokenMode, VerifiedToken, VerifyToken } from './auth.js';
export { createToken, type CreateTokenOptions } from './tokens.js';
export { MissingDependencyError, type ServerDependency } from './dependencies.js';
export { InvalidOptionError } from '../protocol/errors.js';
export {
  BROADCAST_ALL_CHANNEL,
  defaultChannelRules,
  userChannel,
  type ChannelAction,
  type ChannelRule,
  type Grant,
} from './channels.js';
export { defaultRateLimits } from './rate-limit.js';
export type { RateLimit } from '../policy/rate-limiter.js';
export { clientFrameSchema } from './schema.js';
export type { HealthReport } from './http-endpoints.js';
export type { HistoryLimit } from './retention.js';
export {
  CloseCode,
  ErrorCode,
  JSON_SUBPROTOCOL,
  TOKEN_SUBPROTOCOL_PREFIX,
  clientFrameTypes,
  serverFrameTypes,
  type ClientFrame,
  type ClientFrameType,
  type ServerFrame,
  type ServerFrameType,
  type PresenceMember,
  type RateLimitStatus,
  type AuthFrame,
  type PingFrame,
  type PongFrame,
  type SubscribeFrame,
  type UnsubscribeFrame,
  type PublishFrame,
  type PresenceRequestFrame,
  type TypingRequestFrame,
  type AuthOkFrame,
  type SubscribedFrame,
  type UnsubscribedFrame,
  type AckFrame,
  type MessageFrame,
  type GapFrame,
  type PresenceFrame,
  type PresenceStateFrame,
  type TypingFrame,
  type RateLimitStatusFrame,
  type ErrorFrame,
} from '../protocol/wire.js';
