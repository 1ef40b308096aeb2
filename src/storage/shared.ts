import { InvalidOptionError } from '../protocol/errors.js';
import type { StoredMessage } from './message-store.js';

/**
 * Told when a store could not write: `keys` are the messages whose last `put` or `delete` may not
 * survive a restart. The store keeps its own copy and never throws into `put` / `delete`.
 */
export type StoreErrorListener = (error: unknown, keys: readonly string[]) => void;

const priorities: ReadonlySet<string> = new Set(['critical', 'high', 'normal', 'low']);

/** The `StoredMessage` in `value` (unknown fields dropped), or `undefined` when it is not one. */
export function toStoredMessage(value: unknown): StoredMessage | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { key, frame, channel, priority, expiresAt, ack, sentAt } = value as Record<string, unknown>;
  if (typeof key !== 'string' || typeof frame !== 'string' || typeof ack !== 'boolean') return undefined;
  if (typeof sentAt !== 'number' || !Number.isFinite(sentAt)) return undefined;
  if (typeof priority !== 'string' || !priorities.has(priority)) return undefined;
  if (channel != null && typeof channel !== 'string') return undefined;
  if (expiresAt != null && typeof expiresAt !== 'number') return undefined;
  const message: { -readonly [K in keyof StoredMessage]: StoredMessage[K] } = {
    key,
    frame,
    priority: priority as StoredMessage['priority'],
    ack,
    sentAt,
  };
  if (channel != null) message.channel = channel;
  if (expiresAt != null) message.expiresAt = expiresAt;
  return message;
}

/** A message with the order it was first put in (kept when it is replaced). */
export interface Sequenced {
  readonly seq: number;
  readonly message: StoredMessage;
}

const older = (a: Sequenced, b: Sequenced) => a.message.sentAt - b.message.sentAt || a.seq - b.seq;

/** Oldest first: by `sentAt`, then in the order the messages were first put. */
export function oldestFirst(entries: Iterable<Sequenced>): StoredMessage[] {
  return [...entries].sort(older).map((entry) => entry.message);
}

/** A put order read back from storage: any number ≥ 0 (one too large to count on from is numbered again, see `renumbered`). */
export const isSeq = (value: unknown): value is number => Number.isFinite(value) && (value as number) >= 0;

/** Put orders from this on cannot be counted on exactly (2^53 is near): a store that loads one numbers its messages again. */
const RENUMBER_AT = 2 ** 52;

/** The entries numbered 0, 1, … oldest first, when one of them has a put order too large to count on from; else undefined. */
export function renumbered<T extends Sequenced>(entries: readonly T[]): T[] | undefined {
  if (!entries.some((entry) => entry.seq >= RENUMBER_AT)) return undefined;
  return [...entries].sort(older).map((entry, seq) => ({ ...entry, seq }));
}

/** Schedules `flush` once per microtask however many times it is called before then. */
export function microtaskBatch(flush: () => void): () => void {
  let scheduled = false;
  const run = (): void => {
    scheduled = false;
    flush();
  };
  return () => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(run);
  };
}

export function optionsObject<T extends object>(options: T | undefined, name: string): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError(name, 'an options object', options);
  return options;
}

export function nonEmptyString(value: unknown, option: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0) throw new InvalidOptionError(option, 'a non-empty string', value);
  return value;
}

export function errorListener(value: unknown): StoreErrorListener | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new InvalidOptionError('onError', 'a function', value);
  return value as StoreErrorListener;
}

/** Calls `listener` without letting it throw into the store. */
export function report(listener: StoreErrorListener | undefined, error: unknown, keys: readonly string[]): void {
  if (!listener) return;
  try {
    listener(error, keys);
  } catch {
    /* a failing listener must not break the store */
  }
}
