import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDBFactory } from 'fake-indexeddb';
import { expect } from 'vitest';
import { InvalidOptionError } from '../../../src/protocol/errors.js';
import { fileStore } from '../../../src/storage/file-store.js';
import { indexedDbStore, memoryStore, webStorageStore, type LockManagerLike, type MessageStore, type StoredMessage } from '../../../src/storage/index.js';

/** A `Storage` kept in a Map, counting writes, with an optional quota on the characters it holds (keys + values). */
export class MapStorage implements Pick<Storage, 'getItem' | 'setItem' | 'removeItem' | 'key' | 'clear' | 'length'> {
  readonly items = new Map<string, string>();
  writes = 0;
  quota = Infinity;

  get length(): number {
    return this.items.size;
  }

  key(index: number): string | null {
    return [...this.items.keys()][index] ?? null;
  }

  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }

  setItem(key: string, value: string): void {
    this.writes++;
    const previous = this.items.get(key);
    const used = [...this.items].reduce((total, [k, v]) => total + k.length + v.length, 0);
    if (used - (previous === undefined ? 0 : key.length + previous.length) + key.length + value.length > this.quota) {
      throw new DOMException(`Setting the value of '${key}' exceeded the quota.`, 'QuotaExceededError');
    }
    this.items.set(key, String(value));
  }

  removeItem(key: string): void {
    this.writes++;
    this.items.delete(key);
  }

  clear(): void {
    this.items.clear();
  }
}

/**
 * One origin's Web Locks (exclusive locks only), shared by its tabs: `tab()` is the `navigator.locks` of
 * one tab, and `tab().close()` releases what that tab holds, as the browser does when the tab goes away.
 */
export class OriginLocks {
  readonly #held = new Map<string, object>();
  readonly #waiting: Array<{ name: string; tab: object; grant: () => void }> = [];

  tab(): LockManagerLike & { close(): void } {
    const tab = {};
    return {
      request: <T>(name: string, callback: (lock: unknown) => Promise<T> | T) =>
        new Promise<void>((grant) => {
          this.#waiting.push({ name, tab, grant });
          queueMicrotask(() => this.#grant());
        }).then(async () => {
          try {
            return await callback({ name });
          } finally {
            if (this.#held.get(name) === tab) this.#held.delete(name);
            this.#grant();
          }
        }),
      query: async () => ({
        held: [...this.#held.keys()].map((name) => ({ name })),
        pending: this.#waiting.map(({ name }) => ({ name })),
      }),
      close: () => {
        for (const [name, holder] of this.#held) if (holder === tab) this.#held.delete(name);
        this.#grant();
      },
    };
  }

  #grant(): void {
    for (const waiting of [...this.#waiting]) {
      if (this.#held.has(waiting.name)) continue;
      this.#held.set(waiting.name, waiting.tab);
      this.#waiting.splice(this.#waiting.indexOf(waiting), 1);
      waiting.grant();
    }
  }
}

/**
 * Web Locks that grant no store its owner lock: each request for one waits for good, and `query()` lists it as
 * `pending` (with `listed: false`, nowhere, like a request its tab gave up); every other lock is granted at once.
 */
export function ownerLocksPending(listed = true): LockManagerLike {
  const pending: Array<{ name: string }> = [];
  return {
    request: async <T>(name: string, callback: (lock: unknown) => Promise<T> | T) => {
      if (!name.includes(':owner:')) return callback({ name });
      pending.push({ name });
      return new Promise<never>(() => undefined);
    },
    query: async () => ({ held: [], pending: listed ? pending : [] }),
  };
}

/** A message with defaults for what a test does not care about. */
export function message(key: string, sentAt = 1_000, extra: Partial<StoredMessage> = {}): StoredMessage {
  return { key, frame: JSON.stringify({ type: 'publish', ch: 'room', id: key, data: key }), priority: 'normal', ack: true, sentAt, ...extra };
}

export const keysOf = (messages: readonly StoredMessage[]): string[] => messages.map((m) => m.key);

/** Lets the microtasks (and the IndexedDB requests) that are due run. */
export const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** Turns of the event loop until `done()` holds, at most `max`: how many a fake database needs depends on the machine's load. */
export async function ticksUntil(done: () => boolean, max = 100): Promise<void> {
  for (let turn = 0; turn < max && !done(); turn++) await tick();
}

export function temporaryDirectory(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'socketchart-store-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** What stores persist to; `open()` makes a new store over it, as an app does when it starts again. */
export interface Backing {
  open(): MessageStore;
  dispose(): void;
}

export const backings: ReadonlyArray<{ name: string; create(): Backing }> = [
  {
    name: 'memoryStore',
    create: () => {
      const store = memoryStore();
      return { open: () => store, dispose: () => undefined };
    },
  },
  {
    name: 'webStorageStore',
    create: () => {
      const storage = new MapStorage();
      return { open: () => webStorageStore({ storage }), dispose: () => undefined };
    },
  },
  {
    name: 'indexedDbStore',
    create: () => {
      const factory = new IDBFactory();
      return { open: () => indexedDbStore({ indexedDB: factory }), dispose: () => undefined };
    },
  },
  {
    name: 'fileStore',
    create: () => {
      const directory = temporaryDirectory();
      const path = join(directory.path, 'outbox.jsonl');
      return { open: () => fileStore({ path }), dispose: directory.remove };
    },
  },
];

/** Runs `create` and returns the InvalidOptionError it throws (fails the test when it throws nothing else). */
export function invalidOption(create: () => unknown): InvalidOptionError {
  try {
    create();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected an InvalidOptionError');
}
