import type { OperationCodec } from '../protocol/adapter.js';
import { InvalidOptionError } from '../protocol/errors.js';
import type { Operations, OperationsHost } from '../protocol/operations.js';
import type { executeOperation, iterateOperation, runOperation } from '../protocol/operation-calls.js';
import type { iterateChannel } from './channel-iterator.js';
import type { PresenceHost, PresenceSession } from './presence.js';

/** `connection.presence`: presence and typing. */
export interface PresenceFeatureParts {
  readonly feature: 'presence';
  readonly session: (host: PresenceHost) => PresenceSession;
}

/** `connection.operation()`, `execute()`, `iterate()`, and the operations of a protocol that has them. */
export interface OperationsFeatureParts {
  readonly feature: 'operations';
  readonly engine: (host: OperationsHost, codec: OperationCodec) => Operations;
  readonly run: typeof runOperation;
  readonly execute: typeof executeOperation;
  readonly iterate: typeof iterateOperation;
}

/** `connection.channel(name)`: a channel's messages as an async iterator. */
export interface ChannelIterationFeatureParts {
  readonly feature: 'channelIteration';
  readonly iterate: typeof iterateChannel;
}

/**
 * An optional part of a connection, for `createBaseConnection({ features })`: `PresenceFeature`,
 * `OperationsFeature`, `ChannelIterationFeature`. A bundle holds only the features it names;
 * `createConnection()` has them all.
 */
export type ConnectionFeature = PresenceFeatureParts | OperationsFeatureParts | ChannelIterationFeatureParts;

/** The features of one connection, by name. */
export interface FeatureSet {
  readonly presence?: PresenceFeatureParts;
  readonly operations?: OperationsFeatureParts;
  readonly channelIteration?: ChannelIterationFeatureParts;
}

const featureNames = { presence: 'PresenceFeature', operations: 'OperationsFeature', channelIteration: 'ChannelIterationFeature' } as const;
/** A function each feature carries (an object that only names a feature is not one). */
const featurePart = { presence: 'session', operations: 'engine', channelIteration: 'iterate' } as const;

/** The `features` option: an array of features, each at most once. */
export function resolveFeatures(value: unknown): FeatureSet {
  if (value === undefined) return {};
  const expected = `an array of features (${Object.values(featureNames).join(', ')})`;
  if (!Array.isArray(value)) throw new InvalidOptionError('features', expected, value);
  const set: Record<string, ConnectionFeature> = {};
  value.forEach((feature: Partial<ConnectionFeature> | null | undefined, index) => {
    const name = String(feature?.feature);
    const part = Object.hasOwn(featurePart, name) ? featurePart[name as keyof typeof featurePart] : undefined;
    if (part === undefined || typeof (feature as Record<string, unknown>)[part] !== 'function') throw new InvalidOptionError(`features[${index}]`, expected, feature);
    set[name] = feature as ConnectionFeature;
  });
  return set as FeatureSet;
}

/** The error of a call that needs a feature the connection was created without. */
export const missingFeature = (feature: keyof FeatureSet, call: string): InvalidOptionError =>
  new InvalidOptionError('features', `${featureNames[feature]} for ${call}`, undefined, 'a connection created without it');
