import type { Connection } from '../connection/connection.js';
import type { InboundMessage } from '../protocol/adapter.js';
import type { SocketchartError } from '../protocol/errors.js';

/**
 * What the store needs from a connection: acknowledged publishes, a channel subscription and its `control`/`gap` events;
 * its `session`, when it has one, tells this user's messages from other users' with the same id.
 */
export type OptimisticConnection = Pick<Connection, 'send' | 'subscribe' | 'on'> & Partial<Pick<Connection, 'session'>>;

/** Folds one change into a key's value (`current` is `undefined` for a key with no value yet). */
export type MergeChange<Value, Change> = (current: Value | undefined, change: Change, key: string) => Value;

/** The change that sets a key to `value` whatever it held before; published to settle a conflict on the server. */
export type ChangeFromValue<Value, Change> = (value: Value, key: string) => Change;

/** A change, or a function of the key's current (optimistic) value returning one. */
export type OptimisticChangeInput<Value, Change> = Change | ((current: Value | undefined) => Change);

/**
 * A message from another client for a key while an `update()` for that key is unsettled (changes given up in
 * an earlier conflict and the store's own publishes settling one do not count).
 * The server orders their message before the local changes still in flight.
 */
export interface OptimisticConflict<Value, Change> {
  key: string;
  /** The value shown before their message arrived: the confirmed value with every local change on top. */
  mine: Value;
  /** The server's value once their message is applied (with any of our acknowledged changes it orders after it). */
  theirs: Value;
  /** The confirmed value their message was applied to; `undefined` for a key that had none. */
  base: Value | undefined;
  /** Their change, as it came over the wire. */
  change: Change;
  /** The inbound message that carried it. */
  message: InboundMessage<Change>;
}

/**
 * How a conflict ends:
 * - `'theirs'`: local changes in flight for the key are given up (their promises reject with
 *   `OptimisticConflictError`) and the store publishes `theirs`, so it is what every client ends with;
 * - `'mine'`: local changes stay on top of theirs, as the server will apply them; nothing more is published;
 * - `{ merged }`: the store shows and publishes `merged`; local changes in flight still confirm as usual.
 */
export type ConflictResolution<Value> = 'mine' | 'theirs' | { merged: Value };

/** Decides a conflict; called synchronously when their message arrives. */
export type ConflictResolver<Value, Change> = (conflict: OptimisticConflict<Value, Change>) => ConflictResolution<Value>;

/** `'server-wins'` resolves every conflict as `'theirs'`, `'client-wins'` as `'mine'`. */
export type ConflictPolicy<Value, Change> = 'server-wins' | 'client-wins' | ConflictResolver<Value, Change>;

interface BaseOptions<Value, Change> {
  /** The connection to publish and listen on; it may be started before or after the store is created. */
  connection: OptimisticConnection;
  /** The channel changes are published on and heard from. */
  channel: string;
  /**
   * The key a change belongs to. Inbound messages for which it returns `undefined` are not the store's and are ignored;
   * a local change must belong to the key it is made for.
   */
  key: (change: Change) => string | undefined;
  /**
   * Values the server has already confirmed, to start from.
   * @default no values
   */
  initial?: ReadonlyMap<string, Value> | Iterable<readonly [string, Value]> | Readonly<Record<string, Value>>;
  /**
   * What to do when another client's message for a key arrives while an `update()` for it is unsettled.
   * @default 'server-wins'
   */
  conflict?: ConflictPolicy<Value, Change>;
  /**
   * Event name carried by every publish; inbound messages with another event are ignored.
   * @default undefined (publishes carry no event; inbound messages are not filtered by event)
   */
  event?: string;
  /**
   * Makes the id of each publish. An id must not repeat among this user's publishes on the channel, from any
   * store or device (the server de-duplicates ids per user). A message of another user with the same id is
   * told apart by its sender when the connection knows its user id (`session.userId`); without one, ids must
   * be unique among every publisher on the channel.
   * @default a random prefix per store followed by a counter
   */
  createId?: () => string;
}

interface MergeOption<Value, Change> {
  /**
   * Folds a change into a key's value, for local changes and for the server's messages alike.
   * Required unless a change is itself a value.
   * @default the change replaces the value
   */
  merge: MergeChange<Value, Change>;
}

interface FromValueOption<Value, Change> {
  /**
   * Builds the change that sets a key to a value, which the store publishes to settle a conflict
   * resolved as `'theirs'` or `{ merged }`. Required unless a value is itself a change.
   * @default the value itself
   */
  fromValue: ChangeFromValue<Value, Change>;
}

/** Options of `createOptimisticStore`; `merge` and `fromValue` are required only when values and changes differ in type. */
export type OptimisticStoreOptions<Value, Change = Value> = BaseOptions<Value, Change> &
  ([Change] extends [Value] ? Partial<MergeOption<Value, Change>> : MergeOption<Value, Change>) &
  ([Value] extends [Change] ? Partial<FromValueOption<Value, Change>> : FromValueOption<Value, Change>);

/** How a local change was confirmed. */
export interface OptimisticUpdateReceipt {
  id: string;
  key: string;
  /** Sequence number the server gave the change on its channel, when known. */
  seq: number | undefined;
  /** What confirmed it first: the server's ack, or its echo of the message on the channel. */
  via: 'ack' | 'echo';
}

/** A key's shown value or its number of unconfirmed local changes moved. */
export interface OptimisticStoreChange<Value> {
  key: string;
  value: Value | undefined;
  previous: Value | undefined;
  /** Local changes for the key still waiting for the server. */
  pending: number;
}

/** A conflict as it was resolved. */
export interface OptimisticConflictEvent<Value, Change> extends OptimisticConflict<Value, Change> {
  resolution: ConflictResolution<Value>;
  /** The value shown once resolved. */
  value: Value;
}

/**
 * A local change the server refused, that could not be sent, or that `merge` throws on once another client's
 * message changed its key (CONFLICT): it no longer counts in the key's value.
 */
export interface OptimisticRollbackEvent<Change> {
  key: string;
  id: string;
  change: Change;
  /** `update` for the app's changes, `resolution` for a change the store published to settle a conflict. */
  kind: 'update' | 'resolution';
  error: SocketchartError;
}

/** Events `on()` can listen to. */
export interface OptimisticStoreEvents<Value, Change> {
  change: OptimisticStoreChange<Value>;
  conflict: OptimisticConflictEvent<Value, Change>;
  rollback: OptimisticRollbackEvent<Change>;
  /**
   * A message on the channel the store could not apply: `key`, `merge`, the conflict resolver or `fromValue`
   * threw on it (INVALID_MESSAGE_FORMAT, the exception as `cause`), or `merge` threw on one of this store's
   * acknowledged changes when it took its place in the channel. A message `key` or `merge` threw on is skipped;
   * one the resolver or `fromValue` threw on stays applied, in the order the server gave it. Nothing throws.
   */
  error: SocketchartError;
}

