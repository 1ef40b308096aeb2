import { Operations } from '../protocol/operations.js';
import { executeOperation, iterateOperation, runOperation } from '../protocol/operation-calls.js';
import { iterateChannel } from './channel-iterator.js';
import type { ChannelIterationFeatureParts, FeatureSet, OperationsFeatureParts, PresenceFeatureParts } from './features.js';
import { PresenceSession } from './presence.js';

/** `connection.presence`: joining, leaving and listing a channel's members, and typing. */
export const PresenceFeature: PresenceFeatureParts = { feature: 'presence', session: (host) => new PresenceSession(host) };

/** The operations of a protocol that has them (graphql-transport-ws): `operation()`, `execute()`, `iterate()`. */
export const OperationsFeature: OperationsFeatureParts = {
  feature: 'operations',
  engine: (host, codec) => new Operations(host, codec),
  run: runOperation,
  execute: executeOperation,
  iterate: iterateOperation,
};

/** `connection.channel(name)`: `for await (const message of connection.channel('x'))`. */
export const ChannelIterationFeature: ChannelIterationFeatureParts = { feature: 'channelIteration', iterate: iterateChannel };

/** Every feature: what `createConnection()`, pools and `connectionLogic()` have. */
export const allFeatures: FeatureSet = { presence: PresenceFeature, operations: OperationsFeature, channelIteration: ChannelIterationFeature };
