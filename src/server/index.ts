export { createServer, type PublishResult, type SocketchartServer } from './create-server.js';
export type { ServerOptions, ServerAuthOptions, RedisBackendOptions, ServerMetricsOptions } from './options.js';
export { SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX, type Identity, type TokenMode, type VerifiedToken, type VerifyToken } from './auth.js';
export {
  BROADCAST_ALL_CHANNEL,
  defaultChannelRules,
  userChannel,
  type ChannelAction,
  type ChannelRule,
  type Grant,
} from './channels.js';
export { ServerCloseCode, WireErrorCode } from './close-codes.js';
export { defaultRateLimits, type RateLimit, type RateLimitStatus } from './rate-limit.js';
export { clientFrameSchema, type ClientFrame, type PresenceMember, type ServerFrame } from './schema.js';
export type { HealthReport } from './http-endpoints.js';
