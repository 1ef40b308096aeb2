import { InvalidOptionError } from '../protocol/errors.js';
import type { ConflictResolver, ChangeFromValue, MergeChange, OptimisticConnection, OptimisticStoreOptions } from './types.js';

export interface ResolvedStoreOptions<Value, Change> {
  connection: OptimisticConnection;
  channel: string;
  key: (change: Change) => string | undefined;
  initial: Map<string, Value>;
  merge: MergeChange<Value, Change>;
  fromValue: ChangeFromValue<Value, Change>;
  resolve: ConflictResolver<Value, Change>;
  event: string | undefined;
  createId: () => string;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;
const isFunction = (value: unknown): value is (...args: never[]) => unknown => typeof value === 'function';

const replaceValue = <Value, Change>(_current: Value | undefined, change: Change): Value => change as unknown as Value;
const valueAsChange = <Value, Change>(value: Value): Change => value as unknown as Change;
const serverWins = (): 'theirs' => 'theirs';
const clientWins = (): 'mine' => 'mine';

function idFactory(): () => string {
  const prefix = Math.random().toString(36).slice(2, 10);
  let next = 0;
  return () => `${prefix}-o${++next}`;
}

function initialValues<Value>(initial: unknown): Map<string, Value> {
  if (initial === undefined) return new Map();
  if (!isRecord(initial)) throw new InvalidOptionError('initial', 'a Map, an iterable of [key, value] pairs or an object', initial);
  const pairs: Iterable<unknown> = Symbol.iterator in initial ? (initial as Iterable<unknown>) : Object.entries(initial);
  const values = new Map<string, Value>();
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') {
      throw new InvalidOptionError('initial', '[key, value] pairs with string keys', pair);
    }
    values.set(pair[0], pair[1] as Value);
  }
  return values;
}

function conflictResolver<Value, Change>(policy: unknown): ConflictResolver<Value, Change> {
  if (policy === undefined || policy === 'server-wins') return serverWins;
  if (policy === 'client-wins') return clientWins;
  if (isFunction(policy)) return policy as ConflictResolver<Value, Change>;
  throw new InvalidOptionError('conflict', "'server-wins', 'client-wins' or a resolver function", policy);
}

function optionalFunction<F>(name: string, value: unknown, fallback: F): F {
  if (value === undefined) return fallback;
  if (!isFunction(value)) throw new InvalidOptionError(name, 'a function', value);
  return value as F;
}

/** Checks every option, naming the first bad one, and fills in the defaults. */
export function resolveStoreOptions<Value, Change>(options: OptimisticStoreOptions<Value, Change>): ResolvedStoreOptions<Value, Change> {
  const raw: unknown = options;
  if (!isRecord(raw)) throw new InvalidOptionError('options', 'an object', raw);
  const { connection, channel, key, event } = raw;
  if (!isRecord(connection) || !isFunction(connection.send) || !isFunction(connection.subscribe) || !isFunction(connection.on)) {
    throw new InvalidOptionError('connection', 'a Connection (with send, subscribe and on)', connection);
  }
  if (typeof channel !== 'string' || channel === '') throw new InvalidOptionError('channel', 'a non-empty string', channel);
  if (!isFunction(key)) throw new InvalidOptionError('key', 'a function of a change returning its key', key);
  if (event !== undefined && (typeof event !== 'string' || event === '')) throw new InvalidOptionError('event', 'a non-empty string', event);
  return {
    connection: connection as OptimisticConnection,
    channel,
    key: key as (change: Change) => string | undefined,
    initial: initialValues<Value>(raw.initial),
    merge: optionalFunction<MergeChange<Value, Change>>('merge', raw.merge, replaceValue),
    fromValue: optionalFunction<ChangeFromValue<Value, Change>>('fromValue', raw.fromValue, valueAsChange),
    resolve: conflictResolver<Value, Change>(raw.conflict),
    event,
    createId: optionalFunction<() => string>('createId', raw.createId, idFactory()),
  };
}
