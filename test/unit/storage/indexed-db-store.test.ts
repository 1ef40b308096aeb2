import { IDBDatabase as FakeDatabase, IDBFactory, IDBObjectStore, forceCloseDatabase } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionError } from '../../../src/protocol/errors.js';
import { indexedDbStore, type IndexedDbStoreOptions, type StoredMessage } from '../../../src/storage/index.js';
import { keysOf, message, OriginLocks, tick, ticksUntil, invalidOption } from './support.js';

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

/** The keys a store opened anew on `factory` (the next run of the app) loads. */
async function restored(factory: IDBFactory): Promise<string[]> {
  const restarted = indexedDbStore({ indexedDB: factory });
  const keys = keysOf(await restarted.load());
  await restarted.close();
  return keys;
}

function openRaw(factory: IDBFactory, name: string, version?: number): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = factory.open(name, version);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains('messages')) request.result.createObjectStore('messages', { keyPath: 'key' });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function putRaw(db: IDBDatabase, records: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const transaction = db.transaction('messages', 'readwrite');
    for (const record of records) transaction.objectStore('messages').put(record);
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
  });
}

it('uses globalThis.indexedDB by default, in a database named socketchart', async () => {
  const factory = new IDBFactory();
  vi.stubGlobal('indexedDB', factory);
  const store = indexedDbStore();
  store.put(message('a'));
  await store.close();
  expect((await factory.databases()).map((db) => db.name)).toEqual(['socketchart']);
  expect(keysOf(await indexedDbStore({ indexedDB: factory }).load())).toEqual(['a']);
});

it('throws an InvalidOptionError naming `indexedDB` when there is none and none is given', () => {
  const error = invalidOption(() => indexedDbStore());
  expect(error.option).toBe('indexedDB');
  expect(error.message).toMatch(/no globalThis\.indexedDB/);
});

it('validates its options at creation', () => {
  const factory = new IDBFactory();
  expect(invalidOption(() => indexedDbStore({ indexedDB: {} as IDBFactory })).option).toBe('indexedDB');
  expect(invalidOption(() => indexedDbStore({ indexedDB: factory, name: '' })).option).toBe('name');
  expect(invalidOption(() => indexedDbStore({ indexedDB: factory, onError: true } as unknown as IndexedDbStoreOptions)).option).toBe('onError');
  expect(invalidOption(() => indexedDbStore({ indexedDB: factory, locks: { request: () => undefined } } as unknown as IndexedDbStoreOptions)).option).toBe('locks');
});

it('keeps stores with different names apart', async () => {
  const factory = new IDBFactory();
  const one = indexedDbStore({ indexedDB: factory, name: 'one' });
  const two = indexedDbStore({ indexedDB: factory, name: 'two' });
  one.put(message('a'));
  two.put(message('b'));
  await Promise.all([one.close(), two.close()]);
  expect(keysOf(await indexedDbStore({ indexedDB: factory, name: 'one' }).load())).toEqual(['a']);
  expect(keysOf(await indexedDbStore({ indexedDB: factory, name: 'two' }).load())).toEqual(['b']);
});

it('writes a burst of put / delete in one transaction', async () => {
  const factory = new IDBFactory();
  const store = indexedDbStore({ indexedDB: factory });
  await store.load();
  const transaction = vi.spyOn(FakeDatabase.prototype, 'transaction');
  for (let i = 0; i < 100; i++) store.put(message(`m${i}`));
  for (let i = 0; i < 50; i++) store.delete(`m${i}`);
  await tick();
  await store.close();
  expect(transaction.mock.calls.filter(([, mode]) => mode === 'readwrite')).toHaveLength(1);
  expect(await indexedDbStore({ indexedDB: factory }).load()).toHaveLength(50);
});

it('changes made while a transaction runs go together in the next one', async () => {
  const factory = new IDBFactory();
  const store = indexedDbStore({ indexedDB: factory });
  await store.load();
  const transaction = vi.spyOn(FakeDatabase.prototype, 'transaction');
  store.put(message('first'));
  await Promise.resolve();
  await Promise.resolve();
  for (let i = 0; i < 10; i++) {
    store.put(message(`m${i}`));
    await Promise.resolve();
  }
  await store.close();
  expect(transaction.mock.calls.filter(([, mode]) => mode === 'readwrite')).toHaveLength(2);
  expect(await indexedDbStore({ indexedDB: factory }).load()).toHaveLength(11);
});

it('load() waits for pending writes and sees them', async () => {
  const factory = new IDBFactory();
  const store = indexedDbStore({ indexedDB: factory });
  store.put(message('b', 2));
  store.put(message('a', 1));
  expect(keysOf(await store.load())).toEqual(['a', 'b']);
  store.delete('a');
  expect(keysOf(await store.load())).toEqual(['b']);
  await store.close();
});

it('close() waits for every pending write, and the store opens again if used afterwards', async () => {
  const factory = new IDBFactory();
  const store = indexedDbStore({ indexedDB: factory });
  for (let i = 0; i < 20; i++) store.put(message(`m${i}`, i));
  await store.close();
  expect(keysOf(await indexedDbStore({ indexedDB: factory }).load())).toHaveLength(20);
  store.put(message('late', 99));
  expect(keysOf(await store.load())).toContain('late');
  await store.close();
});

it('skips records it did not write, and orders by sentAt then put order across runs', async () => {
  const factory = new IDBFactory();
  const first = indexedDbStore({ indexedDB: factory });
  first.put(message('b', 5));
  first.put(message('a', 5));
  await first.close();
  const db = await openRaw(factory, 'socketchart');
  await putRaw(db, [
    { key: 'plain', value: 1 },
    { key: 'no-seq', message: message('no-seq') },
    { key: 'mismatch', seq: 9, message: message('other') },
    { key: 'bad', seq: 10, message: { ...message('bad'), ack: 'yes' } },
  ]);
  db.close();
  const second = indexedDbStore({ indexedDB: factory });
  second.put(message('c', 5));
  second.put(message('early', 1));
  expect(keysOf(await second.load())).toEqual(['early', 'b', 'a', 'c']);
  await second.close();
});

it('reports a message it cannot write through onError, without throwing into put; the rest of its batch is written', async () => {
  const factory = new IDBFactory();
  const errors: Array<{ error: unknown; keys: readonly string[] }> = [];
  const store = indexedDbStore({ indexedDB: factory, onError: (error, keys) => errors.push({ error, keys }) });
  await store.load();
  const unclonable = { ...message('fn'), frame: (() => 'x') as unknown as string } satisfies StoredMessage;
  expect(() => store.put(unclonable)).not.toThrow();
  store.put(message('ok'));
  await store.close();
  expect(errors).toHaveLength(1);
  expect(errors[0]?.keys).toEqual(['fn']);
  expect((errors[0]?.error as Error).name).toBe('DataCloneError');
  store.put(message('after'));
  expect(keysOf(await store.load()), 'the rest of the batch, and the next batch, are written').toEqual(['ok', 'after']);
  await store.close();
});

it('a burst refused once as a whole whose changes then go through one by one is not reported, and every change is kept', async () => {
  const factory = new IDBFactory();
  const errors: Array<readonly string[]> = [];
  const store = indexedDbStore({ indexedDB: factory, onError: (_error, keys) => errors.push(keys) });
  await store.load();
  vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementationOnce(() => {
    throw new Error('transient');
  });
  store.put(message('a', 1));
  store.put(message('b', 2));
  await store.close();
  expect(errors).toEqual([]);
  expect(keysOf(await indexedDbStore({ indexedDB: factory }).load())).toEqual(['a', 'b']);
});

it('when the database cannot be opened, put reports through onError and load() rejects', async () => {
  const factory = new IDBFactory();
  (await openRaw(factory, 'socketchart', 5)).close();
  const onError = vi.fn();
  const store = indexedDbStore({ indexedDB: factory, onError });
  store.put(message('a'));
  store.delete('b');
  await ticksUntil(() => onError.mock.calls.length > 0);
  await tick();
  expect(onError).toHaveBeenCalledTimes(1);
  expect(onError.mock.calls[0]?.[1]).toEqual(['a', 'b']);
  expect((onError.mock.calls[0]?.[0] as Error).name).toBe('VersionError');
  await expect(store.load()).rejects.toMatchObject({ name: 'VersionError' });
  await expect(store.close()).resolves.toBeUndefined();
});

it('closes its connection when another one upgrades the database, so that the upgrade is not blocked', async () => {
  const factory = new IDBFactory();
  const store = indexedDbStore({ indexedDB: factory });
  store.put(message('a'));
  await store.load();
  const upgraded = await openRaw(factory, 'socketchart', 2);
  upgraded.close();
  await expect(store.load()).rejects.toMatchObject({ name: 'VersionError' });
  await store.close();
});

const realPut = IDBObjectStore.prototype.put;
afterEach(() => {
  IDBObjectStore.prototype.put = realPut;
});

/** The next puts of `key` fail as a full disk / quota would. */
function quotaFor(key: string): void {
  IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, ...rest: unknown[]) {
    if ((value as { key?: string }).key === key) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    return (realPut as (...args: unknown[]) => IDBRequest).call(this, value, ...rest);
  } as typeof realPut;
}

describe('indexedDbStore: one message over the quota costs only that message', () => {
  it('a delete in the same burst stands: the message is not restored and sent again after a restart', async () => {
    const factory = new IDBFactory();
    const errors: Array<readonly string[]> = [];
    const store = indexedDbStore({ indexedDB: factory, onError: (_error, keys) => errors.push(keys) });
    await store.load();
    store.put(message('sent-already', 1_000, { ack: false }));
    await store.load(); // written
    // In one burst: the queued message was written (deleted from the store) and a big one is queued.
    quotaFor('big');
    store.delete('sent-already');
    store.put(message('big', 2_000, { ack: false }));
    await store.load();
    IDBObjectStore.prototype.put = realPut;
    // Later bursts go through as usual.
    store.put(message('later', 3_000, { ack: false }));
    await store.close();

    const next = indexedDbStore({ indexedDB: factory });
    const loaded = keysOf(await next.load());
    await next.close();
    expect(errors.length).toBeGreaterThan(0);
    expect(loaded).not.toContain('sent-already');
  });

  it('persists the other messages put in the same burst', async () => {
    const factory = new IDBFactory();
    const store = indexedDbStore({ indexedDB: factory, onError: () => undefined });
    await store.load();
    quotaFor('big');
    store.put(message('small', 1_000));
    store.put(message('big', 1_000));
    await store.load();
    IDBObjectStore.prototype.put = realPut;
    await store.close();
    const next = indexedDbStore({ indexedDB: factory });
    const loaded = keysOf(await next.load());
    await next.close();
    expect(loaded).toContain('small');
  });
});

describe('a delete that fails', () => {
  /** The next `times` deletes throw, as an IndexedDB server that has lost its backing store does. */
  const deletesFail = (times = Infinity) => {
    let left = times;
    const real = IDBObjectStore.prototype.delete;
    return vi.spyOn(IDBObjectStore.prototype, 'delete').mockImplementation(function (this: IDBObjectStore, key: IDBValidKey | IDBKeyRange) {
      if (left-- > 0) throw new DOMException('Internal error.', 'UnknownError');
      return real.call(this, key);
    });
  };

  it('on its own is reported and tried again by the next write: the acknowledged message is not restored (and sent again) after a restart', async () => {
    const factory = new IDBFactory();
    const onError = vi.fn();
    const store = indexedDbStore({ indexedDB: factory, onError });
    store.put(message('sent', 1));
    await store.load();
    deletesFail(1);
    store.delete('sent'); // acknowledged
    await ticksUntil(() => onError.mock.calls.length > 0);
    expect(onError.mock.calls.map(([, keys]) => keys)).toEqual([['sent']]);
    store.put(message('later', 2));
    await store.close();
    expect(await restored(factory)).toEqual(['later']);
  });

  it('again when its burst, refused as a whole, goes change by change: it is tried again by close()', async () => {
    const factory = new IDBFactory();
    const onError = vi.fn();
    const store = indexedDbStore({ indexedDB: factory, onError });
    store.put(message('sent', 1));
    await store.load();
    quotaFor('big');
    store.put(message('big', 2));
    store.delete('sent');
    deletesFail(1);
    await ticksUntil(() => onError.mock.calls.length > 0);
    expect(onError.mock.calls.map(([, keys]) => keys)).toEqual([['big', 'sent']]);
    IDBObjectStore.prototype.put = realPut;
    await store.close();
    expect(await restored(factory)).toEqual([]);
  });

  it('for good is not tried for ever: only with each later write, load() and close(); load() leaves the message out', async () => {
    const factory = new IDBFactory();
    const onError = vi.fn();
    const store = indexedDbStore({ indexedDB: factory, onError });
    store.put(message('sent', 1));
    await store.load();
    const deletes = deletesFail();
    store.delete('sent');
    await ticksUntil(() => onError.mock.calls.length > 0);
    for (let turn = 0; turn < 5; turn++) await tick();
    expect(deletes).toHaveBeenCalledTimes(1);
    store.put(message('later', 2));
    await tick();
    expect(deletes).toHaveBeenCalledTimes(3); // with the put, then on its own
    expect(keysOf(await store.load())).toEqual(['later']);
    const tried = deletes.mock.calls.length;
    for (let turn = 0; turn < 5; turn++) await tick();
    expect(deletes).toHaveBeenCalledTimes(tried);
    await store.close();
    expect(deletes).toHaveBeenCalledTimes(tried + 1);
    expect(new Set(onError.mock.calls.map(([, keys]) => keys.join()))).toEqual(new Set(['sent']));
    deletes.mockRestore();
    expect(await restored(factory)).toEqual(['sent', 'later']);
  });
});

describe('put orders from storage', () => {
  it('a record whose put order is too large to count on from: the store numbers them again, and what is put afterwards survives a reload, in order', async () => {
    const factory = new IDBFactory();
    const db = await openRaw(factory, 'socketchart', 1);
    await putRaw(db, [
      { key: 'old', seq: Number.MAX_SAFE_INTEGER, message: message('old', 1_000) },
      { key: 'older', seq: 3, message: message('older', 500) },
    ]);
    db.close();
    const first = indexedDbStore({ indexedDB: factory });
    expect(keysOf(await first.load())).toEqual(['older', 'old']);
    first.put(message('new-1', 2_000));
    first.put(message('new-2', 2_000));
    await first.close();
    const second = indexedDbStore({ indexedDB: factory });
    expect(keysOf(await second.load())).toEqual(['older', 'old', 'new-1', 'new-2']);
    await second.close();
    const raw = await openRaw(factory, 'socketchart', 1);
    const seqs = await new Promise<number[]>((resolve) => {
      const request = raw.transaction('messages').objectStore('messages').getAll();
      request.onsuccess = () => resolve((request.result as Array<{ seq: number }>).map((record) => record.seq).sort((a, b) => a - b));
    });
    raw.close();
    expect(seqs).toEqual([0, 1, 2, 3]);
  });
});

/** A factory whose opens fail while `failing.now` holds, once each (Safari's transient "Connection to Indexed Database server lost"). */
function flaky(real: IDBFactory, failing: { now: boolean }): IDBFactory {
  return new Proxy(real, {
    get(target, property) {
      if (property !== 'open') return Reflect.get(target, property, target);
      return (name: string, version?: number) => {
        if (!failing.now) return target.open(name, version);
        failing.now = false;
        const request = { onerror: null as null | (() => void), onsuccess: null, onupgradeneeded: null, error: new DOMException('Connection to Indexed Database server lost', 'UnknownError'), result: undefined };
        setTimeout(() => request.onerror?.(), 0);
        return request;
      };
    },
  });
}

describe('an open that fails', () => {
  /** The factory's first open fails; later ones work. */
  const failingOnce = (real: IDBFactory): IDBFactory => flaky(real, { now: true });

  it('is tried again by the next write: the put it failed is reported, a later one is written and loads', async () => {
    const onError = vi.fn();
    const store = indexedDbStore({ indexedDB: failingOnce(new IDBFactory()), onError });
    store.put(message('on-the-failed-open'));
    await tick();
    await tick();
    expect(onError).toHaveBeenCalledTimes(1);
    store.put(message('later', 2_000));
    await tick();
    await tick();
    expect(onError).toHaveBeenCalledTimes(1);
    expect(keysOf(await store.load())).toEqual(['later']);
    await store.close();
  });

  it('a delete made before the first open, which fails, still stands: load() does not restore the message a previous run left', async () => {
    const factory = new IDBFactory();
    const previous = indexedDbStore({ indexedDB: factory });
    previous.put(message('sent', 1));
    await previous.close();
    const onError = vi.fn();
    const store = indexedDbStore({ indexedDB: failingOnce(factory), onError });
    store.delete('sent'); // acknowledged meanwhile
    await ticksUntil(() => onError.mock.calls.length > 0);
    expect(keysOf(await store.load())).toEqual([]);
    await store.close();
  });

  it('a delete kept by a failed open is written before load() reads: the message is not restored', async () => {
    const factory = new IDBFactory();
    const failing = { now: false };
    const onError = vi.fn();
    const store = indexedDbStore({ indexedDB: flaky(factory, failing), onError });
    store.put(message('sent', 1));
    await store.load();
    await store.close();
    failing.now = true;
    store.delete('sent');
    await ticksUntil(() => onError.mock.calls.length > 0);
    expect(keysOf(await store.load())).toEqual([]);
    await store.close();
  });
});

it('a message put and deleted before the database was read, under the key of one an earlier run left: load() does not return it, and a restart does not restore it', async () => {
  const factory = new IDBFactory();
  const previous = indexedDbStore({ indexedDB: factory });
  previous.put(message('id', 1, { frame: 'left by the earlier run' }));
  await previous.close();
  const store = indexedDbStore({ indexedDB: factory });
  store.put(message('id', 2)); // sent again under its id
  store.delete('id'); // then given up
  expect(keysOf(await store.load())).toEqual([]);
  await store.close();
  expect(await restored(factory)).toEqual([]);
});

it('a message put under the key of one an earlier run left, by a burst whose open fails, then deleted once the database was read (no load()): a restart does not restore it', async () => {
  const factory = new IDBFactory();
  const previous = indexedDbStore({ indexedDB: factory });
  previous.put(message('id', 1, { frame: 'left by the earlier run' }));
  await previous.close();
  const onError = vi.fn();
  const store = indexedDbStore({ indexedDB: flaky(factory, { now: true }), onError });
  store.put(message('id', 2)); // sent again under its id
  await ticksUntil(() => onError.mock.calls.length > 0);
  expect(onError.mock.calls.map(([, keys]) => keys)).toEqual([['id']]);
  const transaction = vi.spyOn(FakeDatabase.prototype, 'transaction');
  store.put(message('later', 3));
  await ticksUntil(() => transaction.mock.calls.some(([, mode]) => mode === 'readwrite'));
  store.delete('id'); // acknowledged
  await store.close();
  expect(await restored(factory)).toEqual(['later']);
});

it('a message written, deleted, then put again under its key by a burst whose open fails: the delete stands, so the first one is not restored (and sent again) after a restart', async () => {
  const factory = new IDBFactory();
  const failing = { now: false };
  const onError = vi.fn();
  const store = indexedDbStore({ indexedDB: flaky(factory, failing), onError });
  store.put(message('id', 1, { frame: 'first' }));
  const transaction = vi.spyOn(FakeDatabase.prototype, 'transaction');
  await store.load();
  const db = transaction.mock.contexts[0] as IDBDatabase;
  transaction.mockRestore();
  forceCloseDatabase(db as never);
  await ticksUntil(() => (db as unknown as { _closed: boolean })._closed);
  failing.now = true;
  store.delete('id'); // acknowledged
  store.put(message('id', 2, { frame: 'second' })); // its id used again
  store.put(message('id', 2, { frame: 'third' }));
  await ticksUntil(() => onError.mock.calls.length > 0);
  expect(onError.mock.calls.map(([, keys]) => keys)).toEqual([['id']]);
  await store.close();
  expect(await restored(factory)).toEqual([]);
});

it('a message written, then deleted and put again under its key in one burst over the quota: the delete stands, so the first one is not restored (and sent again) after a restart', async () => {
  const factory = new IDBFactory();
  const onError = vi.fn();
  const store = indexedDbStore({ indexedDB: factory, onError });
  store.put(message('id', 1, { frame: 'first' }));
  await store.load();
  quotaFor('id');
  store.delete('id'); // acknowledged
  store.put(message('id', 2, { frame: 'second' })); // its id used again
  await ticksUntil(() => onError.mock.calls.length > 0);
  IDBObjectStore.prototype.put = realPut;
  expect(onError.mock.calls.map(([, keys]) => keys)).toEqual([['id']]);
  await store.close();
  expect(await restored(factory)).toEqual([]);
});

/** Puts then deletes each key, one burst each, as a connection does with messages written then acknowledged; the keys each failure reports. */
async function sendAndForget(store: ReturnType<typeof indexedDbStore>, onError: ReturnType<typeof vi.fn>, keys: string[]): Promise<string[][]> {
  for (const key of keys) {
    const reported = onError.mock.calls.length;
    store.put(message(key));
    await ticksUntil(() => onError.mock.calls.length > reported);
    store.delete(key);
    for (let turn = 0; turn < 3; turn++) await tick();
  }
  return onError.mock.calls.map(([, reported]) => reported as string[]);
}

describe('a database that cannot be opened', () => {
  it('for good: a message it never wrote is not kept once deleted, so each failure reports only what changed since', async () => {
    const factory = new IDBFactory();
    (await openRaw(factory, 'socketchart', 5)).close();
    const onError = vi.fn();
    const store = indexedDbStore({ indexedDB: factory, onError });
    expect(await sendAndForget(store, onError, ['m1', 'm2', 'm3'])).toEqual([['m1'], ['m2'], ['m3']]);
    await store.close();
  });

  it('after another tab upgraded it: a message it never wrote is not kept once deleted; the delete of one it wrote is', async () => {
    const factory = new IDBFactory();
    const onError = vi.fn();
    const store = indexedDbStore({ indexedDB: factory, onError });
    store.put(message('written'));
    await store.load();
    (await openRaw(factory, 'socketchart', 2)).close();
    expect(await sendAndForget(store, onError, ['m1', 'm2'])).toEqual([['m1'], ['m2']]);
    store.delete('written');
    await ticksUntil(() => onError.mock.calls.length > 2);
    store.put(message('m3'));
    await ticksUntil(() => onError.mock.calls.length > 3);
    expect(onError.mock.calls.slice(2).map(([, keys]) => keys)).toEqual([['written'], ['written', 'm3']]);
    await store.close();
  });

  it('while its open hangs: what is put and then deleted is not kept, and nothing is written for it once the open answers', async () => {
    const real = new IDBFactory();
    const opens: Array<() => void> = [];
    const hanging = new Proxy(real, {
      get: (target, property) =>
        property === 'open'
          ? (name: string, version?: number) => {
              const request = { onsuccess: null as null | (() => void), onerror: null, onupgradeneeded: null as null | (() => void), error: null, result: undefined as unknown };
              opens.push(() => {
                const inner = target.open(name, version);
                inner.onupgradeneeded = () => ((request.result = inner.result), request.onupgradeneeded?.());
                inner.onsuccess = () => ((request.result = inner.result), request.onsuccess?.());
              });
              return request;
            }
          : Reflect.get(target, property, target),
    });
    const store = indexedDbStore({ indexedDB: hanging as IDBFactory });
    for (let n = 0; n < 100; n++) {
      store.put(message(`m${n}`, n));
      await tick();
      store.delete(`m${n}`);
      await tick();
    }
    store.put(message('queued', 100));
    const puts = vi.spyOn(IDBObjectStore.prototype, 'put');
    const deletes = vi.spyOn(IDBObjectStore.prototype, 'delete');
    opens.splice(0).forEach((answer) => answer());
    expect(keysOf(await store.load())).toEqual(['queued']);
    expect(puts.mock.calls.map(([record]) => (record as { key: string }).key)).toEqual(['queued']);
    expect(deletes).not.toHaveBeenCalled();
    await store.close();
  });
});

/** A connection of fake-indexeddb (its `forceCloseDatabase()` is typed for the class, not the instance). */
type FakeConnection = IDBDatabase;

describe('a connection closed under the store', () => {
  /** The store's open connection, as its next transaction sees it. */
  async function connectionOf(use: () => Promise<unknown>): Promise<FakeConnection> {
    const spy = vi.spyOn(FakeDatabase.prototype, 'transaction');
    await use();
    const db = spy.mock.contexts[0] as FakeConnection;
    spy.mockRestore();
    return db;
  }

  /** A transaction the browser aborts as it closes its connection (forced): AbortError, then, in a later task, the connection's close event (none when `db` is omitted). */
  function abortedByForcedClose(db?: FakeConnection): IDBTransaction {
    const transaction = {
      error: new DOMException('The connection was closed.', 'AbortError'),
      oncomplete: null,
      onabort: null as null | (() => void),
      objectStore: () => ({ put: () => undefined, delete: () => undefined }),
      abort: () => undefined,
    };
    setTimeout(() => transaction.onabort?.(), 0);
    if (db) setTimeout(() => forceCloseDatabase(db as never), 5);
    return transaction as unknown as IDBTransaction;
  }

  it('by the browser (site data cleared, the database server lost): the store opens it again, and later puts are kept', async () => {
    const factory = new IDBFactory();
    const onError = vi.fn();
    const store = indexedDbStore({ indexedDB: factory, onError });
    store.put(message('before', 1));
    const db = await connectionOf(() => store.load());
    forceCloseDatabase(db as never);
    await ticksUntil(() => (db as unknown as { _closed: boolean })._closed);
    store.put(message('after', 2));
    await tick();
    store.put(message('later', 3));
    await store.close();
    expect(onError).not.toHaveBeenCalled();
    expect(await restored(factory)).toEqual(['before', 'after', 'later']);
  });

  it('for another tab deleting the database while a write runs: what is put meanwhile goes to the database opened again', async () => {
    const factory = new IDBFactory();
    const onError = vi.fn();
    const store = indexedDbStore({ indexedDB: factory, onError });
    const db = await connectionOf(() => store.load());
    db.addEventListener('versionchange', () => store.put(message('b', 2)));
    store.put(message('a', 1));
    const deletion = factory.deleteDatabase('socketchart');
    let deleted = false;
    deletion.onsuccess = () => (deleted = true);
    await ticksUntil(() => deleted);
    store.put(message('c', 3));
    await store.close();
    expect(onError).not.toHaveBeenCalled();
    expect(await restored(factory)).toEqual(['b', 'c']);
  });

  it('and then opened again in vain: a delete made meanwhile still stands, so the message is not restored (and sent again) after a restart', async () => {
    const factory = new IDBFactory();
    const failing = { now: false };
    const onError = vi.fn();
    const store = indexedDbStore({ indexedDB: flaky(factory, failing), onError });
    store.put(message('sent', 1));
    const db = await connectionOf(() => store.load());
    forceCloseDatabase(db as never);
    await ticksUntil(() => (db as unknown as { _closed: boolean })._closed);
    failing.now = true;
    store.delete('sent'); // written, then acknowledged
    await ticksUntil(() => onError.mock.calls.length > 0);
    expect(onError.mock.calls.map(([, keys]) => keys)).toEqual([['sent']]);
    store.put(message('later', 2)); // the store works again
    await tick();
    await store.close();
    expect(onError).toHaveBeenCalledTimes(1);
    expect(await restored(factory)).toEqual(['later']);
  });

  it('writes a burst again once only: a connection that aborts every transaction has the burst reported, not tried for ever', async () => {
    const factory = new IDBFactory();
    const onError = vi.fn();
    const store = indexedDbStore({ indexedDB: factory, onError });
    await store.load();
    const transaction = vi.spyOn(FakeDatabase.prototype, 'transaction').mockImplementation(() => abortedByForcedClose());
    store.put(message('a', 1));
    await ticksUntil(() => onError.mock.calls.length > 0);
    expect(onError.mock.calls.map(([, keys]) => keys)).toEqual([['a']]);
    expect(transaction).toHaveBeenCalledTimes(2);
    transaction.mockRestore();
    await store.close();
  });

  it('while its transaction runs, aborted as a browser aborts it: the changes of that transaction are written again on a new connection', async () => {
    const factory = new IDBFactory();
    const onError = vi.fn();
    const store = indexedDbStore({ indexedDB: factory, onError });
    const db = await connectionOf(() => store.load());
    vi.spyOn(FakeDatabase.prototype, 'transaction').mockImplementationOnce(function (this: FakeConnection) {
      return abortedByForcedClose(this);
    });
    store.put(message('a', 1));
    await ticksUntil(() => (db as unknown as { _closed: boolean })._closed);
    await store.close();
    expect(onError).not.toHaveBeenCalled();
    expect(await restored(factory)).toEqual(['a']);
  });
  it('a change made while an aborted transaction runs wins over that transaction\'s change of the same message when both are written again', async () => {
    const factory = new IDBFactory();
    const store = indexedDbStore({ indexedDB: factory });
    const db = await connectionOf(() => store.load());
    vi.spyOn(FakeDatabase.prototype, 'transaction').mockImplementationOnce(function (this: FakeConnection) {
      store.put(message('a', 1, { frame: 'second' })); // while the first write runs
      return abortedByForcedClose(this);
    });
    store.put(message('a', 1, { frame: 'first' }));
    await ticksUntil(() => (db as unknown as { _closed: boolean })._closed);
    await store.close();
    const restarted = indexedDbStore({ indexedDB: factory });
    expect((await restarted.load()).map((m) => m.frame)).toEqual(['second']);
    await restarted.close();
  });
});

describe('tabs sharing one database', () => {
  it('load() takes over what a closed tab left, never what an open one holds; records of an earlier version (no owner) are taken over', async () => {
    const factory = new IDBFactory();
    const origin = new OriginLocks();
    const raw = await openRaw(factory, 'socketchart', 1);
    await putRaw(raw, [{ key: 'old', seq: 0, message: message('old', 1) }]);
    raw.close();
    const tabA = origin.tab();
    const a = indexedDbStore({ indexedDB: factory, locks: tabA });
    a.put(message('a', 2));
    const b = indexedDbStore({ indexedDB: factory, locks: origin.tab() });
    expect(keysOf(await b.load())).toEqual(['old']);
    b.delete('old');
    await b.close();
    const c = indexedDbStore({ indexedDB: factory, locks: origin.tab() });
    expect(keysOf(await c.load()), 'a is open').toEqual([]);
    tabA.close(); // the tab goes away without closing its store
    expect(keysOf(await c.load())).toEqual(['a']);
    const d = indexedDbStore({ indexedDB: factory, locks: origin.tab() });
    expect(keysOf(await d.load()), 'c took them over and is open').toEqual([]);
    await c.close();
    expect(keysOf(await d.load())).toEqual(['a']);
    await Promise.all([a.close(), d.close()]);
  });

  it('tabs that load at once after a restart take over the messages left once, between them', async () => {
    const factory = new IDBFactory();
    const origin = new OriginLocks();
    const previous = indexedDbStore({ indexedDB: factory, locks: origin.tab() });
    previous.put(message('a', 1));
    previous.put(message('b', 2));
    await previous.close();
    const stores = [1, 2, 3].map(() => indexedDbStore({ indexedDB: factory, locks: origin.tab() }));
    const loads = await Promise.all(stores.map((store) => store.load()));
    expect(loads.map(keysOf).sort((x, y) => y.length - x.length)).toEqual([['a', 'b'], [], []]);
    await Promise.all(stores.map((store) => store.close()));
  });
});
