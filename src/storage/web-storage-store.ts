import { InvalidOptionError } from '../protocol/errors.js';
import type { MessageStore, StoredMessage } from './message-store.js';
import { Owner, resolveLocks, type LockManagerLike } from './owner.js';
import {
  errorListener,
  isSeq,
  microtaskBatch,
  nonEmptyString,
  oldestFirst,
  optionsObject,
  renumbered,
  report,
  toStoredMessage,
  type Sequenced,
  type StoreErrorListener,
} from './shared.js';

/**
 * The part of the Web Storage `Storage` interface the store uses: `localStorage` and `sessionStorage` are
 * one, and so is any object with these members. Declared here, so that the package's types need no DOM lib.
 */
export interface WebStorageLike {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface WebStorageStoreOptions {
  /**
   * Where the messages are kept.
   * @default globalThis.localStorage
   */
  storage?: WebStorageLike;
  /**
   * Prefix of the storage keys: a message is kept under `${key}:${message.key}`. Give each connection
   * that persists its own prefix. Tabs may share one where Web Locks are available (see `locks`).
   * @default 'socketchart:outbox'
   */
  key?: string;
  /**
   * The Web Locks the store holds while it is open, so that a store opened in another tab (window,
   * worker) of the same origin loads only what a closed one left, never the messages of a live one.
   * Without it (or with `false`), `load()` takes every message under the prefix: give each tab its own
   * `key` then. Chromium keeps no page that holds a Web Lock in its back/forward cache.
   * @default globalThis.navigator.locks (none in Node)
   */
  locks?: LockManagerLike | false;
  /**
   * Told when a write fails, typically because the storage quota is exceeded: the message is still
   * returned by this store's `load()` but may not survive a restart. It is written, untold, once a later
   * burst frees room.
   * @default undefined (failures are ignored)
   */
  onError?: StoreErrorListener;
}

/** A `MessageStore` over Web Storage, with a synchronous `close()`. */
export interface WebStorageStore extends MessageStore {
  /** This store's messages, and those under the prefix that no open store owns (a closed tab's, an earlier run's), which it takes over. */
  load(): Promise<StoredMessage[]>;
  /** Writes what is batched and releases its Web Lock: another store may then load what it leaves. */
  close(): void;
}

/**
 * Keeps messages in `localStorage` (or any `Storage`), one entry per message under the `key` prefix,
 * each marked with the store that wrote it. The changes of a burst of `put` / `delete` are written once,
 * at the end of the current microtask (a message put and deleted in the same burst costs nothing).
 * Values it cannot read are skipped.
 */
export function webStorageStore(options?: WebStorageStoreOptions): WebStorageStore {
  const given = optionsObject(options, 'options');
  return new WebStorageMessageStore(
    resolveStorage(given.storage),
    nonEmptyString(given.key, 'key', 'socketchart:outbox'),
    errorListener(given.onError),
    resolveLocks(given.locks),
  );
}

function resolveStorage(given: unknown): WebStorageLike {
  if (given !== undefined) {
    if (!isStorage(given)) throw new InvalidOptionError('storage', 'a Storage (getItem, setItem, removeItem, key, length)', given);
    return given;
  }
  let found: unknown;
  try {
    found = (globalThis as { localStorage?: unknown }).localStorage;
  } catch {
    found = undefined;
  }
  if (!isStorage(found)) {
    throw new InvalidOptionError('storage', 'a Storage, as this environment has no usable globalThis.localStorage', found);
  }
  return found;
}

function isStorage(value: unknown): value is WebStorageLike {
  if (typeof value !== 'object' || value === null) return false;
  const storage = value as Record<string, unknown>;
  return ['getItem', 'setItem', 'removeItem', 'key'].every((name) => typeof storage[name] === 'function') && typeof storage.length === 'number';
}

class WebStorageMessageStore implements WebStorageStore {
  readonly #storage: WebStorageLike;
  readonly #prefix: string;
  readonly #onError: StoreErrorListener | undefined;
  readonly #owner: Owner;
  /** This store's messages: put by it, or taken over by its `load()`. */
  readonly #messages = new Map<string, Sequenced>();
  /** Keys of the other messages under the prefix, as last read, with their put order: a `delete` of one removes it, a `put` takes its place. */
  readonly #others = new Map<string, number>();
  /** Keys of the messages present in the storage. */
  readonly #written = new Set<string>();
  readonly #changed = new Set<string>();
  /** Keys whose write was refused (and reported): tried again, unreported, once a later burst frees room. */
  readonly #refused = new Set<string>();
  /** Keys whose removal was refused (and reported): tried again, unreported, with every later burst. */
  #unremoved = new Set<string>();
  readonly #schedule = microtaskBatch(() => this.#flush());
  #nextSeq = 0;
  #read = false;

  constructor(storage: WebStorageLike, prefix: string, onError: StoreErrorListener | undefined, locks: LockManagerLike | undefined) {
    this.#storage = storage;
    this.#prefix = `${prefix}:`;
    this.#onError = onError;
    this.#owner = new Owner(locks, this.#prefix);
  }

  load(): Promise<StoredMessage[]> {
    return this.#owner.adopting((gone) => {
      this.#flush();
      this.#scan(gone);
      this.#flush();
      return oldestFirst(this.#messages.values());
    });
  }

  put(message: StoredMessage): void {
    this.#readOnce();
    const seq = this.#messages.get(message.key)?.seq ?? this.#others.get(message.key) ?? this.#nextSeq++;
    this.#others.delete(message.key);
    this.#messages.set(message.key, { seq, message });
    this.#change(message.key);
  }

  delete(key: string): void {
    this.#readOnce();
    if (this.#messages.delete(key) || this.#others.delete(key)) this.#change(key);
  }

  close(): void {
    this.#flush();
    this.#owner.release();
  }

  #change(key: string): void {
    this.#changed.add(key);
    this.#schedule();
  }

  /** Removals first, so that the room they free is there for the burst's writes. */
  #flush(): void {
    const failed: string[] = [];
    let failure: unknown;
    const writes: string[] = [];
    let freed = false;
    const unremoved = new Set<string>();
    for (const key of this.#changed) {
      this.#refused.delete(key);
      if (this.#messages.has(key)) writes.push(key);
      else if (this.#written.has(key)) {
        try {
          this.#storage.removeItem(this.#prefix + key);
          this.#written.delete(key);
          freed = true;
        } catch (error) {
          unremoved.add(key);
          if (this.#unremoved.has(key)) continue;
          failure ??= error;
          failed.push(key);
        }
      }
    }
    this.#changed.clear();
    for (const key of unremoved) this.#changed.add(key);
    this.#unremoved = unremoved;
    const retries = freed ? [...this.#refused] : [];
    for (const key of [...retries, ...writes]) {
      try {
        this.#storage.setItem(this.#prefix + key, JSON.stringify({ ...this.#messages.get(key), owner: this.#owner.id }));
        this.#written.add(key);
        this.#refused.delete(key);
      } catch (error) {
        if (this.#refused.has(key)) continue;
        this.#refused.add(key);
        failure ??= error;
        failed.push(key);
      }
    }
    if (failed.length > 0) report(this.#onError, failure, failed);
  }

  /** Put orders go on from the highest under the prefix; nothing is taken over before `load()`. */
  #readOnce(): void {
    if (this.#read) return;
    this.#read = true;
    this.#scan(() => false);
  }

  /** Reads the entries under the prefix: takes over those of owners that are `gone` (rewritten as this store's), notes the others. */
  #scan(gone: (owner: string | undefined) => boolean): void {
    this.#read = true;
    this.#others.clear();
    const storage = this.#storage;
    try {
      for (let index = 0; index < storage.length; index++) {
        const name = storage.key(index);
        if (name === null || !name.startsWith(this.#prefix)) continue;
        const entry = parseEntry(storage.getItem(name));
        if (!entry || this.#prefix + entry.message.key !== name) continue;
        const { key } = entry.message;
        if (this.#messages.has(key)) continue;
        this.#written.add(key);
        this.#nextSeq = Math.max(this.#nextSeq, entry.seq + 1);
        if (!gone(entry.owner)) {
          this.#others.set(key, entry.seq);
          continue;
        }
        this.#messages.set(key, { seq: entry.seq, message: entry.message });
        if (entry.owner !== this.#owner.id) this.#changed.add(key);
      }
    } catch (error) {
      report(this.#onError, error, []);
    }
    const again = renumbered([...this.#messages.values()]);
    if (!again) return;
    for (const entry of again) {
      this.#messages.set(entry.message.key, entry);
      this.#changed.add(entry.message.key);
    }
    this.#nextSeq = again.length;
  }
}

function parseEntry(text: string | null): (Sequenced & { owner: string | undefined }) | undefined {
  if (text === null) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { seq, message, owner } = value as Record<string, unknown>;
  const stored = toStoredMessage(message);
  return stored && isSeq(seq) ? { seq, message: stored, owner: typeof owner === 'string' ? owner : undefined } : undefined;
}
