import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionError } from '../../../src/protocol/errors.js';
import { webStorageStore, type WebStorageStoreOptions } from '../../../src/storage/index.js';
import type { MockSocket } from '../../../src/testing/index.js';
import { harness } from '../../support/harness.js';
import { keysOf, MapStorage, message, OriginLocks, ownerLocksPending, tick, invalidOption } from './support.js';

afterEach(() => {
  vi.unstubAllGlobals();
});

it('uses globalThis.localStorage by default', () => {
  const storage = new MapStorage();
  vi.stubGlobal('localStorage', storage);
  const store = webStorageStore();
  store.put(message('a'));
  store.close();
  expect([...storage.items.keys()]).toEqual(['socketchart:outbox:a']);
});

it('throws an InvalidOptionError naming `storage` when there is no localStorage and none is given', () => {
  expect(invalidOption(() => webStorageStore()).option).toBe('storage');
  expect(invalidOption(() => webStorageStore()).message).toMatch(/no usable globalThis\.localStorage/);
});

it('throws an InvalidOptionError naming `storage` when reading localStorage throws (a sandboxed page)', () => {
  Object.defineProperty(globalThis, 'localStorage', {
    configurable: true,
    get() {
      throw new DOMException('The operation is insecure.', 'SecurityError');
    },
  });
  try {
    expect(invalidOption(() => webStorageStore()).option).toBe('storage');
  } finally {
    Reflect.deleteProperty(globalThis, 'localStorage');
  }
});

it('validates its options at creation', () => {
  const storage = new MapStorage();
  expect(invalidOption(() => webStorageStore({ storage: {} as unknown as Storage })).option).toBe('storage');
  const partial = { getItem: () => null, setItem: () => {}, key: () => null, length: 0 };
  expect(invalidOption(() => webStorageStore({ storage: partial as unknown as Storage })).option, 'no removeItem').toBe('storage');
  expect(invalidOption(() => webStorageStore({ storage: { ...partial, removeItem: () => {}, length: '0' } as unknown as Storage })).option, 'a length that is not a number').toBe('storage');
  expect(invalidOption(() => webStorageStore({ storage, key: '' })).option).toBe('key');
  expect(invalidOption(() => webStorageStore({ storage, key: 7 } as unknown as WebStorageStoreOptions)).option).toBe('key');
  expect(invalidOption(() => webStorageStore({ storage, onError: 'log' } as unknown as WebStorageStoreOptions)).option).toBe('onError');
  expect(invalidOption(() => webStorageStore({ storage, locks: {} } as unknown as WebStorageStoreOptions)).option).toBe('locks');
  expect(invalidOption(() => webStorageStore('x' as unknown as WebStorageStoreOptions)).option).toBe('options');
});

it('keeps each message under `${key}:${message key}`, marked with the store that wrote it, and leaves other entries alone', async () => {
  const storage = new MapStorage();
  storage.setItem('theme', 'dark');
  const store = webStorageStore({ storage, key: 'app:outbox' });
  store.put(message('m1'));
  store.put(message('m2'));
  store.close();
  expect([...storage.items.keys()].sort()).toEqual(['app:outbox:m1', 'app:outbox:m2', 'theme']);
  expect(JSON.parse(storage.getItem('app:outbox:m1') ?? '')).toEqual({ seq: 0, message: message('m1'), owner: expect.any(String) });
  expect(keysOf(await webStorageStore({ storage, key: 'other' }).load())).toEqual([]);
});

it('writes a burst of put / delete once, at the end of the microtask: one write per changed message, none for one put and deleted', async () => {
  const storage = new MapStorage();
  const store = webStorageStore({ storage });
  await store.load();
  for (let round = 0; round < 5; round++) for (let i = 0; i < 20; i++) store.put(message(`m${i}`, 1_000, { frame: `round ${round}` }));
  store.put(message('gone'));
  store.delete('gone');
  expect(storage.writes).toBe(0);
  await tick();
  expect(storage.writes).toBe(20);
  for (let i = 0; i < 20; i++) store.delete(`m${i}`);
  store.put(message('m0'));
  await tick();
  expect(storage.writes, '19 removals and one write for m0, deleted then put again').toBe(40);
  expect([...storage.items.keys()]).toEqual(['socketchart:outbox:m0']);
});

it('skips corrupt and foreign values under its prefix without throwing, reads the entries after them, and leaves them in place', async () => {
  const storage = new MapStorage();
  const foreign = {
    'socketchart:outbox:torn': '{"seq":1,"message":{"key":"torn"',
    'socketchart:outbox:text': 'hello',
    'socketchart:outbox:null': 'null',
    'socketchart:outbox:no-seq': JSON.stringify({ message: message('no-seq') }),
    'socketchart:outbox:bad-priority': JSON.stringify({ seq: 2, message: message('bad-priority', 1, { priority: 'urgent' as 'low' }) }),
    'socketchart:outbox:elsewhere': JSON.stringify({ seq: 3, message: message('other-key') }),
    'socketchart:outbox:sub:x': JSON.stringify({ seq: 4, message: message('x') }),
  };
  for (const [key, value] of Object.entries(foreign)) storage.setItem(key, value);
  const good = webStorageStore({ storage });
  good.put(message('ok'));
  good.close();
  const store = webStorageStore({ storage });
  expect(keysOf(await store.load())).toEqual(['ok']);
  store.delete('ok');
  store.close();
  expect(Object.fromEntries(storage.items)).toEqual(foreign);
});

it('on a quota error reports through onError, does not throw, keeps its own copy and writes the rest', async () => {
  const storage = new MapStorage();
  const errors: Array<{ error: unknown; keys: readonly string[] }> = [];
  const store = webStorageStore({ storage, onError: (error, keys) => errors.push({ error, keys }) });
  await store.load();
  storage.quota = 2_000;
  expect(() => {
    store.put(message('small'));
    store.put(message('huge', 1_000, { frame: 'x'.repeat(5_000) }));
  }).not.toThrow();
  await tick();
  expect(errors).toHaveLength(1);
  expect(errors[0]?.keys).toEqual(['huge']);
  expect((errors[0]?.error as DOMException).name).toBe('QuotaExceededError');
  expect(keysOf(await store.load()), 'this run keeps it').toEqual(['small', 'huge']);
  expect([...storage.items.keys()], 'a restart does not have it').toEqual(['socketchart:outbox:small']);
  store.delete('huge');
  store.close();
  expect(storage.writes).toBe(2);
  expect(errors, 'batches that wrote are not reported').toHaveLength(1);
});

describe('a storage near its quota', () => {
  /** A store over a storage with room for `room` messages of 1,000 characters, holding `held` of them. */
  async function nearlyFull(room: number, held: string[]) {
    const storage = new MapStorage();
    const errors: string[][] = [];
    const store = webStorageStore({ storage, onError: (_error, keys) => errors.push([...keys]) });
    for (const key of held) store.put(message(key, 1_000, { frame: key[0]!.repeat(1_000) }));
    await tick();
    const one = Math.max(...[...storage.items].map(([key, value]) => key.length + value.length));
    storage.quota = Math.floor(one * (room + 0.5));
    return { storage, store, errors };
  }
  const big = (key: string, sentAt = 2_000) => message(key, sentAt, { frame: key[0]!.repeat(1_000) });
  const restored = async (storage: MapStorage) => keysOf(await webStorageStore({ storage }).load());

  it('a burst that deletes a message frees its room before writing the new one of that burst', async () => {
    const { storage, store, errors } = await nearlyFull(1, ['old']);
    store.put(big('new'));
    store.delete('old');
    await tick();
    expect(errors).toEqual([]);
    expect(await restored(storage)).toEqual(['new']);
  });

  it('a write refused for the quota is reported once, and written once a later burst frees room', async () => {
    const { storage, store, errors } = await nearlyFull(2, ['a-old', 'b-old']);
    store.put(big('c-new'));
    await tick();
    expect(errors).toEqual([['c-new']]);
    store.put(big('d-new', 3_000));
    await tick();
    expect(errors).toEqual([['c-new'], ['d-new']]);
    store.delete('a-old');
    await tick();
    expect(errors, 'a retry that is refused again is not reported again').toEqual([['c-new'], ['d-new']]);
    expect(await restored(storage)).toEqual(['b-old', 'c-new']);
    store.delete('b-old');
    await tick();
    expect(await restored(storage)).toEqual(['c-new', 'd-new']);
    expect(errors).toHaveLength(2);
  });

  it('a refused message deleted before room is freed is not written afterwards', async () => {
    const { storage, store } = await nearlyFull(1, ['old']);
    store.put(big('gone'));
    await tick();
    store.delete('gone');
    store.delete('old');
    await tick();
    expect(await restored(storage)).toEqual([]);
  });
});

it('a throwing onError does not break the store', async () => {
  const storage = new MapStorage();
  storage.quota = 10;
  const store = webStorageStore({
    storage,
    onError: () => {
      throw new Error('listener bug');
    },
  });
  store.put(message('a'));
  await tick();
  expect(() => store.close()).not.toThrow();
  expect(keysOf(await store.load())).toEqual(['a']);
});

it('a removal the storage refuses is reported once and tried again with the next burst: an acknowledged message does not come back after a restart', async () => {
  const storage = new MapStorage();
  const errors: string[][] = [];
  const store = webStorageStore({ storage, onError: (_error, keys) => errors.push([...keys]) });
  store.put(message('acked'));
  await tick();
  const removeItem = storage.removeItem.bind(storage);
  storage.removeItem = () => {
    throw new DOMException('The operation is insecure.', 'SecurityError');
  };
  store.delete('acked');
  await tick();
  store.put(message('next'));
  await tick();
  expect(errors, 'reported once').toEqual([['acked']]);
  storage.removeItem = removeItem;
  store.put(message('last'));
  store.close();
  expect(keysOf(await webStorageStore({ storage }).load())).toEqual(['next', 'last']);
});

it('when the storage cannot be read, load() reports it and returns what it has instead of throwing', async () => {
  const storage = new MapStorage();
  storage.setItem('socketchart:outbox:a', JSON.stringify({ seq: 0, message: message('a') }));
  storage.key = () => {
    throw new DOMException('The operation is insecure.', 'SecurityError');
  };
  const onError = vi.fn();
  const store = webStorageStore({ storage, onError });
  expect(await store.load()).toEqual([]);
  expect(onError).toHaveBeenCalledTimes(1);
  store.put(message('a'));
  expect(keysOf(await store.load())).toEqual(['a']);
});

it('keeps put order across restarts with many messages of the same sentAt', async () => {
  const storage = new MapStorage();
  const keys = Array.from({ length: 50 }, (_, i) => `k${(i * 37) % 50}`);
  let store = webStorageStore({ storage });
  for (const key of keys.slice(0, 25)) store.put(message(key));
  store.close();
  store = webStorageStore({ storage });
  for (const key of keys.slice(25)) store.put(message(key));
  store.close();
  expect(keysOf(await webStorageStore({ storage }).load())).toEqual(keys);
});

it('a put before load() replacing a message an earlier run left keeps that message\'s place, and one deleted and put again goes last, also one replaced first', async () => {
  const storage = new MapStorage();
  let store = webStorageStore({ storage });
  store.put(message('a'));
  store.put(message('b'));
  store.close();
  store = webStorageStore({ storage });
  store.put(message('a', 1_000, { frame: 'again' }));
  store.close();
  expect(keysOf(await webStorageStore({ storage }).load())).toEqual(['a', 'b']);
  store = webStorageStore({ storage });
  store.delete('a');
  store.put(message('a'));
  store.close();
  expect(keysOf(await webStorageStore({ storage }).load())).toEqual(['b', 'a']);
  store = webStorageStore({ storage });
  store.put(message('b', 1_000, { frame: 'again' }));
  store.delete('b');
  store.put(message('b'));
  store.close();
  expect(keysOf(await webStorageStore({ storage }).load())).toEqual(['a', 'b']);
});

it('an entry whose put order is too large to count on from: the store numbers them again, and what is put afterwards survives a reload, in order', async () => {
  const storage = new MapStorage();
  storage.setItem('socketchart:outbox:old', JSON.stringify({ seq: Number.MAX_SAFE_INTEGER, message: message('old', 1_000) }));
  storage.setItem('socketchart:outbox:older', JSON.stringify({ seq: 2 ** 60, message: message('older', 500) }));
  const first = webStorageStore({ storage });
  expect(keysOf(await first.load())).toEqual(['older', 'old']);
  first.put(message('new-1', 2_000));
  first.put(message('new-2', 2_000));
  first.close();
  expect(keysOf(await webStorageStore({ storage }).load())).toEqual(['older', 'old', 'new-1', 'new-2']);
  const seqs = ['older', 'old', 'new-1', 'new-2'].map((key) => (JSON.parse(storage.getItem(`socketchart:outbox:${key}`)!) as { seq: number }).seq);
  expect(seqs).toEqual([0, 1, 2, 3]);
});

it('after numbering the entries again, what is put next is numbered on from them, not from the old numbers', async () => {
  const storage = new MapStorage();
  storage.setItem('socketchart:outbox:old', JSON.stringify({ seq: 2 ** 60, message: message('old', 1_000) }));
  const store = webStorageStore({ storage });
  await store.load();
  store.put(message('new', 2_000));
  store.close();
  expect((JSON.parse(storage.getItem('socketchart:outbox:new')!) as { seq: number }).seq).toBe(1);
});

it('put orders that are not numbers ≥ 0 are unreadable entries (skipped); ordinary ones are kept as they are', async () => {
  const storage = new MapStorage();
  for (const [key, seq] of [['negative', -1], ['text', '3'], ['kept', 7], ['also-kept', 5]] as const) {
    storage.setItem(`socketchart:outbox:${key}`, JSON.stringify({ seq, message: message(key, 1_000) }));
  }
  storage.setItem('socketchart:outbox:infinite', '{"seq":1e400,"message":' + JSON.stringify(message('infinite', 1_000)) + '}');
  const store = webStorageStore({ storage });
  expect(keysOf(await store.load())).toEqual(['also-kept', 'kept']);
  store.put(message('new', 2_000));
  store.close();
  const seqOf = (key: string) => (JSON.parse(storage.getItem(`socketchart:outbox:${key}`)!) as { seq: number }).seq;
  expect([seqOf('also-kept'), seqOf('kept'), seqOf('new')]).toEqual([5, 7, 8]);
});

describe('tabs sharing one key', () => {
  const publishes = (socket: MockSocket | undefined) => (socket?.sentOfType('publish') ?? []).map((frame) => frame.data);

  it('a message queued by a tab that is still open is not restored and sent by a second tab using the default webStorageStore key', async () => {
    const localStorage = new MapStorage(); // one origin's localStorage, shared by its tabs
    vi.stubGlobal('navigator', { locks: new OriginLocks().tab() });
    const tabA = harness({ heartbeat: false, persistence: { store: webStorageStore({ storage: localStorage }) } });
    await tabA.settle();
    const sent = tabA.connection.send('from-tab-a', { channel: 'c' }); // offline for now: queued and stored
    await tabA.settle();

    // the user opens the app in a second tab while the first is still running
    const tabB = harness({ heartbeat: false, persistence: { store: webStorageStore({ storage: localStorage }) } });
    await tabB.settle();
    await tabB.connect();
    await tabB.advance(100);
    tabB.connection.stop();

    await tabA.connect();
    await tabA.advance(100);
    await sent;

    // not `ack`: at most once (README, Reliable messaging); tab A sends its own message
    expect([...publishes(tabA.server.last), ...publishes(tabB.server.last)]).toEqual(['from-tab-a']);
  });

  it('load() takes over what a closed tab left, never what an open one holds; entries of an earlier version (no owner) are taken over', async () => {
    const storage = new MapStorage();
    const origin = new OriginLocks();
    storage.setItem('socketchart:outbox:old', JSON.stringify({ seq: 0, message: message('old', 1) }));
    const tabA = origin.tab();
    const a = webStorageStore({ storage, locks: tabA });
    a.put(message('a', 2));
    await tick();
    const b = webStorageStore({ storage, locks: origin.tab() });
    expect(keysOf(await b.load())).toEqual(['old']);
    b.delete('old');
    b.close();
    const c = webStorageStore({ storage, locks: origin.tab() });
    expect(keysOf(await c.load()), 'a is open').toEqual([]);
    tabA.close(); // the tab goes away without closing its store
    expect(keysOf(await c.load())).toEqual(['a']);
    const d = webStorageStore({ storage, locks: origin.tab() });
    expect(keysOf(await d.load()), 'c took them over and is open').toEqual([]);
    c.close();
    expect(keysOf(await d.load())).toEqual(['a']);
  });

  it('load() does not take over what a tab left whose owner lock is only pending: the tab is open, not gone', async () => {
    const storage = new MapStorage();
    const locks = ownerLocksPending();
    webStorageStore({ storage, locks }).put(message('a'));
    await tick();
    expect(keysOf(await webStorageStore({ storage, locks }).load())).toEqual([]);
  });

  it('load() takes over what a tab left whose owner lock is neither held nor pending', async () => {
    const storage = new MapStorage();
    const locks = ownerLocksPending(false);
    webStorageStore({ storage, locks }).put(message('a'));
    await tick();
    expect(keysOf(await webStorageStore({ storage, locks }).load())).toEqual(['a']);
  });

  it('tabs that load at once after a restart take over the messages left once, between them', async () => {
    const storage = new MapStorage();
    const origin = new OriginLocks();
    const previous = webStorageStore({ storage, locks: origin.tab() });
    previous.put(message('a', 1));
    previous.put(message('b', 2));
    previous.close();
    const loads = await Promise.all([1, 2, 3].map(() => webStorageStore({ storage, locks: origin.tab() }).load()));
    expect(loads.map(keysOf).sort((x, y) => y.length - x.length)).toEqual([['a', 'b'], [], []]);
  });

  it('without Web Locks, load() takes over every message under its key', async () => {
    const storage = new MapStorage();
    const a = webStorageStore({ storage });
    a.put(message('a'));
    await tick();
    expect(keysOf(await webStorageStore({ storage }).load())).toEqual(['a']);
  });

  it('with locks: false, load() takes over every message under its key, though the page has Web Locks', async () => {
    const storage = new MapStorage();
    vi.stubGlobal('navigator', { locks: new OriginLocks().tab() });
    const a = webStorageStore({ storage });
    a.put(message('a'));
    await tick();
    expect(keysOf(await webStorageStore({ storage }).load()), 'a is open').toEqual([]);
    expect(keysOf(await webStorageStore({ storage, locks: false }).load())).toEqual(['a']);
  });
});
