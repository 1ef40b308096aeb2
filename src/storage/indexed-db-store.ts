import { InvalidOptionError } from '../protocol/errors.js';
import type { MessageStore, StoredMessage } from './message-store.js';
import { Owner, resolveLocks, type LockManagerLike } from './owner.js';
import { errorListener, isSeq, nonEmptyString, oldestFirst, optionsObject, renumbered, report, toStoredMessage, type StoreErrorListener } from './shared.js';

/**
 * The part of IndexedDB the store uses, from the factory down: `globalThis.indexedDB` (an `IDBFactory`) is one,
 * and so is fake-indexeddb's. Declared here, so that the package's types need no DOM lib.
 */
export interface IndexedDbFactoryLike {
  open(name: string, version?: number): IndexedDbOpenRequestLike;
}

/** An event handler property of IndexedDB: the store sets it and ignores the event. */
type IndexedDbHandler = ((...event: never[]) => unknown) | null;

/** The part of an `IDBRequest` the store uses. */
interface IndexedDbRequestLike<Result> {
  readonly result: Result;
  readonly error: unknown;
  onsuccess: IndexedDbHandler;
  onerror: IndexedDbHandler;
}

/** The part of an `IDBOpenDBRequest` the store uses. */
interface IndexedDbOpenRequestLike extends IndexedDbRequestLike<IndexedDbDatabaseLike> {
  onupgradeneeded: IndexedDbHandler;
}

/** The part of an `IDBDatabase` the store uses. */
interface IndexedDbDatabaseLike {
  readonly objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string, options: { keyPath: string }): unknown;
  transaction(storeName: string, mode: 'readonly' | 'readwrite'): IndexedDbTransactionLike;
  close(): void;
  onversionchange: IndexedDbHandler;
  onclose?: IndexedDbHandler;
}

/** The part of an `IDBTransaction` the store uses. */
interface IndexedDbTransactionLike {
  readonly error: unknown;
  objectStore(name: string): IndexedDbObjectStoreLike;
  abort(): void;
  oncomplete: IndexedDbHandler;
  onabort: IndexedDbHandler;
}

/** The part of an `IDBObjectStore` the store uses. */
interface IndexedDbObjectStoreLike {
  getAll(): IndexedDbRequestLike<unknown[]>;
  put(value: unknown): unknown;
  delete(key: string): unknown;
}

export interface IndexedDbStoreOptions {
  /**
   * Name of the database (it holds one object store, `messages`). Give each connection that persists
   * its own name. Tabs may share one where Web Locks are available (see `locks`).
   * @default 'socketchart'
   */
  name?: string;
  /**
   * The Web Locks the store holds while it is open, so that a store opened in another tab (window,
   * worker) of the same origin loads only what a closed one left, never the messages of a live one.
   * Without it (or with `false`), `load()` takes every message in the database: give each tab its own
   * `name` then. Chromium keeps no page that holds a Web Lock in its back/forward cache.
   * @default globalThis.navigator.locks
   */
  locks?: LockManagerLike | false;
  /**
   * The IndexedDB factory to open it with.
   * @default globalThis.indexedDB
   */
  indexedDB?: IndexedDbFactoryLike;
  /**
   * Told of the messages that cannot be written (quota exceeded, database unavailable): they may not
   * survive a restart. A burst that fails is written change by change, so the rest of it is kept.
   * @default undefined (failures are ignored)
   */
  onError?: StoreErrorListener;
}

/** A `MessageStore` over IndexedDB. */
export interface IndexedDbStore extends MessageStore {
  /** This store's messages, and those that no open store owns (a closed tab's, an earlier run's), which it takes over. */
  load(): Promise<StoredMessage[]>;
  /** Waits for every pending write, then closes the database and releases its Web Lock: another store may then load what it leaves. */
  close(): Promise<void>;
}

const OBJECT_STORE = 'messages';

interface StoredRecord {
  key: string;
  seq: number;
  message: StoredMessage;
  /** The store that wrote it (none: an earlier version). */
  owner?: string | undefined;
}

/**
 * Keeps messages in an IndexedDB database. The changes of a burst of `put` / `delete` are written in
 * one transaction after the current microtask (more, while a transaction is running, wait for the
 * next one). `load()` waits for pending writes and returns messages by `sentAt`, then put order. A
 * connection closed under the store (another tab's upgrade or deletion, the browser) is opened again, and
 * a transaction it aborted is written again on the new one. When an open (or a write) fails, the puts waiting on it
 * are reported and dropped; its deletes are kept and tried again by the next `put`, `delete`, `load()` or `close()`.
 */
export function indexedDbStore(options?: IndexedDbStoreOptions): IndexedDbStore {
  const given = optionsObject(options, 'options');
  return new IndexedDbMessageStore(
    resolveFactory(given.indexedDB),
    nonEmptyString(given.name, 'name', 'socketchart'),
    errorListener(given.onError),
    resolveLocks(given.locks),
  );
}

function resolveFactory(given: unknown): IndexedDbFactoryLike {
  const factory = given === undefined ? (globalThis as { indexedDB?: unknown }).indexedDB : given;
  if (typeof factory === 'object' && factory !== null && typeof (factory as { open?: unknown }).open === 'function') {
    return factory as IndexedDbFactoryLike;
  }
  throw new InvalidOptionError(
    'indexedDB',
    given === undefined ? 'an IDBFactory, as this environment has no globalThis.indexedDB' : 'an IDBFactory',
    factory,
  );
}

class IndexedDbMessageStore implements IndexedDbStore {
  readonly #factory: IndexedDbFactoryLike;
  readonly #name: string;
  readonly #onError: StoreErrorListener | undefined;
  readonly #owner: Owner;
  #db: Promise<IndexedDbDatabaseLike> | undefined;
  /** Put order of every stored key, known once the database has been read. */
  #seqs: Map<string, number> | undefined;
  #nextSeq = 0;
  /** Changes made before the database was read; they get their order once it has been. */
  #early: Array<StoredMessage | string> = [];
  /** Latest change per key, not yet written: the record to put, or `null` to delete. */
  #pending = new Map<string, StoredRecord | null>();
  /** Keys put by this store that no write has had yet, nor the database held: a delete of one only drops its put. */
  readonly #unwritten = new Set<string>();
  /** Keys put and deleted before the database was read: deleted once it has been, if it holds an earlier run's message under one. */
  readonly #unread = new Set<string>();
  /** Puts over a delete not written yet: one that is dropped leaves that delete to be written. */
  readonly #overDelete = new WeakSet<StoredRecord>();
  #writing: Promise<void> | undefined;
  /** The last open or write failed: the deletes it kept wait for the next put / delete, `load()` or `close()` to try again. */
  #stalled = false;
  /** Connections closed under the store (another tab's upgrade or deletion, the browser): a write to one is tried again on a new connection. */
  readonly #lost = new WeakSet<IndexedDbDatabaseLike>();

  constructor(factory: IndexedDbFactoryLike, name: string, onError: StoreErrorListener | undefined, locks: LockManagerLike | undefined) {
    this.#factory = factory;
    this.#name = name;
    this.#onError = onError;
    this.#owner = new Owner(locks, `${name}:`);
  }

  load(): Promise<StoredMessage[]> {
    return this.#owner.adopting(async (gone) => {
      await this.#written();
      const db = await this.#open();
      const records = await request<unknown[]>(db.transaction(OBJECT_STORE, 'readonly').objectStore(OBJECT_STORE).getAll());
      const { id } = this.#owner;
      const mine = records
        .flatMap((record) => toRecord(record) ?? [])
        .filter((record) => (record.owner === id || gone(record.owner)) && this.#pending.get(record.key) !== null);
      const adopted = mine.filter((record) => record.owner !== id && !this.#pending.has(record.key));
      for (const record of adopted) this.#pending.set(record.key, { ...record, owner: id });
      if (adopted.length > 0) this.#kick();
      await this.#written();
      return oldestFirst(mine);
    });
  }

  put(message: StoredMessage): void {
    this.#change(message);
  }

  delete(key: string): void {
    this.#change(key);
  }

  async close(): Promise<void> {
    await this.#written();
    const db = this.#db;
    this.#db = undefined;
    (await db?.catch(() => undefined))?.close();
    this.#owner.release();
  }

  #change(change: StoredMessage | string): void {
    if (typeof change !== 'string') {
      if (!this.#seqs?.has(change.key) && !this.#pending.has(change.key)) this.#unwritten.add(change.key);
    } else if (this.#unwritten.delete(change)) {
      // never written: its put, if not dropped yet, is all there is to undo
      this.#early = this.#early.filter((early) => typeof early === 'string' || early.key !== change);
      if (!this.#seqs) this.#unread.add(change);
      this.#seqs?.delete(change);
      this.#pending.delete(change);
      return;
    }
    if (this.#seqs) this.#apply(this.#seqs, change);
    else this.#early.push(change);
    this.#kick();
  }

  #apply(seqs: Map<string, number>, change: StoredMessage | string): void {
    if (typeof change === 'string') {
      seqs.delete(change);
      this.#pending.set(change, null);
      return;
    }
    let seq = seqs.get(change.key);
    if (seq === undefined) {
      seq = this.#nextSeq++;
      seqs.set(change.key, seq);
    }
    const record = { key: change.key, seq, message: change, owner: this.#owner.id };
    const replaced = this.#pending.get(change.key);
    if (replaced === null || this.#overDelete.has(replaced as StoredRecord)) this.#overDelete.add(record);
    this.#pending.set(change.key, record);
  }

  #kick(): void {
    this.#stalled = false;
    if (this.#writing) return;
    this.#writing = this.#writeAll().then(() => {
      this.#writing = undefined;
      if (!this.#stalled && (this.#pending.size > 0 || this.#early.length > 0)) this.#kick();
    });
  }

  /** Every change written or reported; changes kept by a failed open are tried again first. */
  async #written(): Promise<void> {
    if (this.#stalled) this.#kick();
    while (this.#writing) await this.#writing;
  }

  async #writeAll(): Promise<void> {
    await null;
    let retried = false;
    do {
      const opening = this.#open();
      let db: IndexedDbDatabaseLike;
      try {
        db = await opening;
      } catch (error) {
        // puts are reported and dropped (one over a delete leaves that delete); deletes are kept (doing one again is harmless), lest a message written before comes back
        const keys = [...this.#early.map((change) => (typeof change === 'string' ? change : change.key)), ...this.#pending.keys()];
        this.#early = this.#early.filter((change) => typeof change === 'string');
        for (const [key, record] of this.#pending) {
          if (record && this.#overDelete.has(record)) this.#pending.set(key, null);
          else if (record) this.#pending.delete(key);
        }
        this.#stalled = true;
        report(this.#onError, error, keys);
        return;
      }
      const batch = this.#pending;
      this.#pending = new Map();
      if (batch.size === 0) return;
      for (const key of batch.keys()) this.#unwritten.delete(key);
      try {
        await write(db, batch);
        retried = false;
      } catch (error) {
        if (!retried && (this.#lost.has(db) || closedUnder(error))) {
          retried = true;
          if (this.#db === opening) this.#db = undefined;
          db.close();
          this.#pending = new Map([...batch, ...this.#pending]);
          continue;
        }
        retried = false;
        const kept = await this.#writeEach(db, batch, error);
        if (kept.size > 0) {
          // kept as a failed open keeps them: tried again at once only with changes made meanwhile
          this.#stalled = this.#pending.size === 0;
          this.#pending = new Map([...kept, ...this.#pending]);
        }
      }
    } while (this.#pending.size > 0 && !this.#stalled);
  }

  /** A batch failed as a whole (one record over the quota): each change goes on its own, and only those that fail again are reported. Returns the deletes among them. */
  async #writeEach(db: IndexedDbDatabaseLike, batch: ReadonlyMap<string, StoredRecord | null>, error: unknown): Promise<Map<string, null>> {
    if (batch.size === 1) {
      report(this.#onError, error, [...batch.keys()]);
      return this.#deletesIn(batch, batch.keys());
    }
    const failed: string[] = [];
    let cause: unknown;
    for (const change of batch) {
      try {
        await write(db, new Map([change]));
      } catch (again) {
        failed.push(change[0]);
        cause ??= again;
      }
    }
    if (failed.length > 0) report(this.#onError, cause, failed);
    return this.#deletesIn(batch, failed);
  }

  /** The deletes of `batch` among `keys`, and those of its puts that replaced one. */
  #deletesIn(batch: ReadonlyMap<string, StoredRecord | null>, keys: Iterable<string>): Map<string, null> {
    return new Map([...keys].filter((key) => batch.get(key) === null || this.#overDelete.has(batch.get(key)!)).map((key) => [key, null]));
  }

  /** The open database, its put orders read; a failed open (or read) is tried again by the next call. */
  #open(): Promise<IndexedDbDatabaseLike> {
    if (this.#db) return this.#db;
    const opening = openDatabase(this.#factory, this.#name).then(async (db) => {
      const lost = () => {
        this.#lost.add(db);
        if (this.#db === opening) this.#db = undefined;
      };
      db.onversionchange = () => {
        db.close();
        lost();
      };
      db.onclose = lost;
      try {
        if (!this.#seqs) await this.#readOrder(db);
      } catch (error) {
        db.close();
        throw error;
      }
      return db;
    });
    opening.catch(() => {
      if (this.#db === opening) this.#db = undefined;
    });
    return (this.#db = opening);
  }

  async #readOrder(db: IndexedDbDatabaseLike): Promise<void> {
    const records = await request<unknown[]>(db.transaction(OBJECT_STORE, 'readonly').objectStore(OBJECT_STORE).getAll());
    let valid = records.flatMap((record) => toRecord(record) ?? []);
    const again = renumbered(valid);
    if (again) {
      for (const record of again) this.#pending.set(record.key, record);
      valid = again;
    }
    const seqs = new Map<string, number>();
    for (const record of valid) {
      seqs.set(record.key, record.seq);
      this.#nextSeq = Math.max(this.#nextSeq, record.seq + 1);
      this.#unwritten.delete(record.key);
      if (this.#unread.delete(record.key)) this.#early.unshift(record.key);
    }
    this.#unread.clear();
    this.#seqs = seqs;
    for (const change of this.#early) this.#apply(seqs, change);
    this.#early = [];
  }
}

/** What a transaction fails with when its connection is closed or closing: the browser's forced close aborts it with AbortError. */
function closedUnder(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'AbortError' || name === 'InvalidStateError';
}

function toRecord(value: unknown): StoredRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { key, seq, message, owner } = value as Record<string, unknown>;
  const stored = toStoredMessage(message);
  if (!stored || stored.key !== key || !isSeq(seq)) return undefined;
  return { key: stored.key, seq, message: stored, owner: typeof owner === 'string' ? owner : undefined };
}

function openDatabase(factory: IndexedDbFactoryLike, name: string): Promise<IndexedDbDatabaseLike> {
  return new Promise((resolve, reject) => {
    const opening = factory.open(name, 1);
    opening.onupgradeneeded = () => {
      if (!opening.result.objectStoreNames.contains(OBJECT_STORE)) opening.result.createObjectStore(OBJECT_STORE, { keyPath: 'key' });
    };
    opening.onsuccess = () => resolve(opening.result);
    opening.onerror = () => reject(opening.error ?? new Error(`IndexedDB: cannot open ${name}`));
  });
}

function request<T>(pending: IndexedDbRequestLike<unknown>): Promise<T> {
  return new Promise((resolve, reject) => {
    pending.onsuccess = () => resolve(pending.result as T);
    pending.onerror = () => reject(pending.error ?? new Error('IndexedDB request failed'));
  });
}

function write(db: IndexedDbDatabaseLike, batch: ReadonlyMap<string, StoredRecord | null>): Promise<void> {
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(OBJECT_STORE, 'readwrite');
    transaction.oncomplete = () => resolve();
    transaction.onabort = () => reject(transaction.error ?? new Error('IndexedDB transaction aborted'));
    const store = transaction.objectStore(OBJECT_STORE);
    try {
      for (const [key, record] of batch) {
        if (record) store.put(record);
        else store.delete(key);
      }
    } catch (error) {
      transaction.abort();
      reject(error);
    }
  });
}
