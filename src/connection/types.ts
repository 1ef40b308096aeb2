export type {
  ConnectionContext,
  ConnectionEvent,
  ConnectionEventType,
  ConnectionInput,
  ConnectionSettings,
  ConnectionTag,
  Failure,
  FailureAction,
  RetryKind,
  SessionInfo,
  SocketEvent,
  TokenReason,
} from '../../machines/connection.types.js';

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
