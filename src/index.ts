export {
  createConnection,
  createBaseConnection,
  connectionOf,
  Connection,
  statusOf,
  type BaseConnectionOptions,
  type ConnectionSnapshot,
} from './connection/connection.js';
export type { ConnectionFeature } from './connection/features.js';
export { PresenceFeature, OperationsFeature, ChannelIterationFeature } from './connection/optional-features.js';
export { connectionLogic, connectionImplementations, type ConnectionLogic } from './connection/implementations.js';
export type {
  ConnectionOptions,
  AuthOptions,
  ReconnectOptions,
  CircuitOptions,
  HeartbeatOptions,
  QueueOptions,
  Logger,
  TokenProvider,
  TokenReason,
} from './connection/options.js';
export type { SendOptions } from './connection/outbound.js';
export type { ConnectionEvents, StateChange, PresenceChange, TypingChange } from './connection/events.js';
export type { ChannelIterator, ChannelIteratorOptions, ChannelOverflow } from './connection/channel-iterator.js';
export type { PresenceSession, PresenceMember } from './connection/presence.js';
export type { OnceOptions } from './connection/waiting.js';
export type { MessageListener } from './connection/router.js';
export {
  connectionStatuses,
  type ConnectionStatus,
  type ConnectionEvent,
  type ConnectionContext,
  type ConnectionInput,
  type ConnectionSettings,
  type ConnectionTag,
  type Failure,
  type FailureAction,
  type RetryKind,
} from './connection/types.js';
export { connectionMachine, type ConnectionMachine } from '../machines/connection.machine.js';
export { heartbeatMachine, type HeartbeatMachine } from '../machines/heartbeat.machine.js';
export { flusherMachine, type FlusherMachine } from '../machines/flusher.machine.js';
export { ErrorCode, SocketchartError, InvalidOptionError, isSocketchartError, defaultRecovery, type Recovery } from './protocol/errors.js';
export { CloseCode, closeCodeTable, classifyClose, type CloseAction, type CloseRule } from './protocol/close-codes.js';
export type {
  ProtocolAdapter,
  FrameSink,
  InboundMessage,
  SessionInfo,
  AuthMode,
  OutgoingFrame,
  IncomingFrame,
  EncodeOptions,
  OperationCodec,
  PresenceAction,
} from './protocol/adapter.js';
export type { OperationSink, OperationOptions } from './protocol/operations.js';
export type { IterateOptions, OperationCallOptions } from './protocol/operation-calls.js';
export { jsonProtocol, JSON_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX } from './protocol/json-protocol.js';
export {
  graphqlTransportWsProtocol,
  graphqlTransportWsCloseRules,
  GRAPHQL_TRANSPORT_WS,
  type GraphqlTransportWsOptions,
  type GraphqlPayload,
  type GraphqlResult,
} from './protocol/graphql-transport-ws.js';
export { plainProtocol, PLAIN_PROTOCOL, type PlainProtocolOptions, type PlainHeartbeat } from './protocol/plain-protocol.js';
export { setDefaultWebSocket, type WebSocketLike, type WebSocketConstructor } from './transport/websocket-like.js';
export type { Clock } from './environment/clock.js';
export type { EnvironmentSource, EnvironmentEvent } from './environment/environment.js';
export { browserEnvironment } from './environment/browser.js';
export type { Priority, OverflowPolicy } from './queue/outbound-queue.js';
export type { ConnectionMetricsSnapshot } from './metrics/connection-metrics.js';
export { createPool, poolOf, Pool, type PoolStatus, type PoolMetrics } from './pool/pool.js';
export { poolLogic, poolImplementations, type PoolLogic } from './pool/implementations.js';
export type { PoolContext, PoolEvent, PoolInput, PoolSettings } from '../machines/pool.types.js';
export type { PoolOptions, EndpointOptions } from './pool/options.js';
export type { PoolEvents, PoolHealth } from './pool/runtime.js';
export type { BalancingStrategy, HealthPolicy } from './pool/balancer.js';
export { poolMachine, type PoolMachine } from '../machines/pool.machine.js';
export { DialBudget, type DialGate, type DialBudgetOptions } from './policy/dial-budget.js';
export type { FailoverOptions } from './connection/options.js';
export type { AckOptions, PersistenceOptions } from './connection/options.js';
export type { AckInfo } from './queue/ack-tracker.js';
export type { RateLimit, RateLimitOptions, RateLimitStatus } from './policy/rate-limiter.js';
export * from './storage/index.js';
export * from './optimistic/index.js';
export {
  connectInspector,
  INSPECTION_FORMAT_VERSION,
  DEFAULT_INSPECTOR_PORT,
  type InspectorOptions,
  type SocketchartInspector,
  type InspectionRecord,
} from './inspection/index.js';
