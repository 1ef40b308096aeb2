import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IDBFactory } from 'fake-indexeddb';
import { ErrorCode, createConnection, indexedDbStore, memoryStore, webStorageStore, type MemoryStore, type MessageStore } from '../../../src/index.js';
import { MapStorage } from '../storage/support.js';
import { fileStore } from '../../../src/storage/file-store.js';
import type { MockSocket } from '../../../src/testing/index.js';
import { harness, URL, type Harness } from '../../support/harness.js';

const publishes = (socket: MockSocket | undefined) => (socket?.sentOfType('publish') ?? []).map((frame) => [frame.id, frame.data]);

/** What the store held at the moment the app died: the next run starts from this. */
function crashCopy(store: MemoryStore): MemoryStore {
  const copy = memoryStore();
  for (const message of store.load()) copy.put(message);
  return copy;
}

function acking(h: Harness, state = { silent: false }) {
  let seq = 0;
  h.server.onFrame = (socket, frame) => {
    if (!state.silent && frame.json?.type === 'publish' && frame.json.id !== undefined) socket.push({ type: 'ack', id: frame.json.id, seq: ++seq });
  };
  return state;
}

/** A store that reads its contents when asked to load but answers only on `release()` (as IndexedDB's getAll answers on a later task). */
function gatedStore(inner: MemoryStore): MessageStore & { release(): void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    load: async () => {
      const snapshot = inner.load();
      await gate;
      return snapshot;
    },
    put: (message) => inner.put(message),
    delete: (key) => inner.delete(key),
    release: () => release(),
  };
}

/** A first run that queued `data` on channel c and died: what it left in its store. */
async function leftBehind(...data: string[]): Promise<MemoryStore> {
  const store = memoryStore();
  const first = harness({ heartbeat: false, persistence: { store } });
  for (const item of data) void first.connection.send(item, { channel: 'c' }).catch(() => {});
  await first.settle();
  const left = crashCopy(store);
  first.connection.dispose();
  return left;
}

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

describe('persisted messages', () => {
  it('keeps a queued message in the store until it is written', async () => {
    const store = memoryStore();
    const h = harness({ heartbeat: false, persistence: { store } });
    await h.settle();
    const sent = h.connection.send({ n: 1 }, { channel: 'c' });
    expect(store.load().map((message) => [message.frame, message.ack, message.channel])).toEqual([['{"type":"publish","ch":"c","data":{"n":1}}', false, 'c']]);
    await h.connect();
    await sent;
    expect(store.size).toBe(0);
  });

  it('keeps an acknowledged message until the server acks it, even when it was written at once', async () => {
    const store = memoryStore();
    const h = harness({ heartbeat: false, persistence: { store } });
    const server = acking(h, { silent: true });
    await h.connect();
    const sent = h.connection.send('x', { channel: 'c', ack: true });
    await h.settle();
    expect(store.load().map((message) => message.ack)).toEqual([true]);
    const id = h.server.last!.sentOfType('publish')[0]!.id;
    expect(store.load()[0]!.key).toBe(id);
    server.silent = false;
    h.server.last!.push({ type: 'ack', id, seq: 1 });
    await sent;
    expect(store.size).toBe(0);
  });

  it('after a restart of the app, queued and unacknowledged messages go out again in their order, acknowledged ones under their ids', async () => {
    const store = memoryStore();
    const first = harness({ heartbeat: false, persistence: { store } });
    acking(first, { silent: true });
    await first.connect();
    void first.connection.send('acked-1', { channel: 'c', ack: true }).catch(() => {});
    void first.connection.send('acked-2', { channel: 'c', ack: true }).catch(() => {});
    await first.settle();
    first.server.last!.drop();
    await first.settle();
    void first.connection.send('queued-1', { channel: 'c' }).catch(() => {});
    void first.connection.send('queued-2', { channel: 'c', ack: true }).catch(() => {});
    await first.settle();
    const ids = first.server.sockets[0]!.sentOfType('publish').map((frame) => frame.id);
    const left = crashCopy(store);
    first.connection.dispose();

    const second = harness({ heartbeat: false, persistence: { store: left } });
    acking(second);
    const restored: unknown[] = [];
    second.connection.on('restored', (event) => restored.push(event));
    await second.settle();
    expect(restored).toEqual([{ messages: 4, expired: 0 }]);
    expect(second.connection.queued).toBe(4);
    await second.connect();
    await second.settle();
    const written = publishes(second.server.last);
    expect(written.map(([, data]) => data)).toEqual(['acked-1', 'acked-2', 'queued-1', 'queued-2']);
    expect(written.slice(0, 2).map(([id]) => id)).toEqual(ids);
    expect(left.size).toBe(0);
    expect(second.errors).toEqual([]);
  });

  it('after a restart, what the previous run left goes out before what this run queued while the store loaded', async () => {
    const left = await leftBehind('old-1', 'old-2');
    const second = harness({ heartbeat: false, persistence: { store: left } });
    void second.connection.send('new', { channel: 'c' }).catch(() => {});
    await second.connect();
    await second.settle();
    await second.advance(100);
    expect(publishes(second.server.last).map(([, data]) => data)).toEqual(['old-1', 'old-2', 'new']);
  });

  it('after a restart, a send on a link that opened before the store loaded waits for what the previous run left', async () => {
    const store = gatedStore(await leftBehind('old'));
    const h = harness({ heartbeat: false, persistence: { store } });
    await h.connect();
    const sent = h.connection.send('new', { channel: 'c' });
    await h.settle();
    expect(publishes(h.server.last)).toEqual([]);
    await h.advance(100);
    expect(publishes(h.server.last), 'nothing is written while the store loads').toEqual([]);
    store.release();
    await h.settle();
    await h.advance(100);
    await sent;
    expect(publishes(h.server.last).map(([, data]) => data)).toEqual(['old', 'new']);
  });

  it('a message this run gave up between the store reading its contents and answering is not taken for a previous run\'s', async () => {
    const store = gatedStore(memoryStore());
    const h = harness({ heartbeat: false, persistence: { store } });
    const restored: unknown[] = [];
    h.connection.on('restored', (event) => restored.push(event));
    const abort = new AbortController();
    const sent = h.connection.send('given-up', { channel: 'c', signal: abort.signal });
    abort.abort(new Error('not wanted'));
    await expect(sent).rejects.toThrow('not wanted');
    store.release();
    await h.connect();
    await h.settle();
    await h.advance(100);
    expect(publishes(h.server.last)).toEqual([]);
    expect(restored).toEqual([{ messages: 0, expired: 0 }]);
  });

  it('an acknowledged message queued under queue.defaultTtlMs is kept with that expiry, and dropped after a restart that came later', async () => {
    const store = memoryStore();
    const first = harness({ heartbeat: false, persistence: { store }, queue: { defaultTtlMs: 1_000 } });
    void first.connection.send('acked', { channel: 'c', ack: true }).catch(() => {});
    await first.settle();
    expect(store.load().map((message) => message.expiresAt)).toEqual([first.clock.now() + 1_000]);
    const left = crashCopy(store);
    first.connection.dispose();

    const second = harness({ heartbeat: false, persistence: { store: left }, queue: { defaultTtlMs: 1_000 } });
    second.clock.advance(5_000);
    const restored: unknown[] = [];
    second.connection.on('restored', (event) => restored.push(event));
    await second.connect();
    await second.settle();
    expect(restored).toEqual([{ messages: 0, expired: 1 }]);
    expect(publishes(second.server.last)).toEqual([]);
  });

  it('a store whose put or delete throws loses no message: each is written and acknowledged, and each failure is reported', async () => {
    const failing: MessageStore = {
      load: () => [],
      put: (message) => {
        if (message.frame.includes('no-room')) throw new Error('quota exceeded');
      },
      delete: () => {
        throw new Error('store gone');
      },
    };
    const h = harness({ heartbeat: false, persistence: { store: failing } });
    acking(h);
    const queued = h.connection.send('queued', { channel: 'c' });
    await h.connect();
    await h.advance(100);
    await expect(queued).resolves.toBeUndefined();
    await expect(h.connection.send('no-room', { channel: 'c', ack: true, id: 'op-1' })).resolves.toBeUndefined();
    await expect(h.connection.send('again', { channel: 'c', ack: true, id: 'op-1' })).resolves.toBeUndefined();
    expect(publishes(h.server.last)).toEqual([[undefined, 'queued'], ['op-1', 'no-room'], ['op-1', 'again']]);
    expect(h.errors.map((error) => [error.code, error.message, (error.cause as Error).message])).toEqual([
      [ErrorCode.SERVER_ERROR, 'The persistence store could not forget a message', 'store gone'],
      [ErrorCode.SERVER_ERROR, 'The persistence store could not keep a message', 'quota exceeded'],
      [ErrorCode.SERVER_ERROR, 'The persistence store could not forget a message', 'store gone'],
    ]);
  });

  it('after a restart, an acknowledged message the previous run left goes again after a reconnect before one this run sent while the store loaded, as it was first written', async () => {
    const store = memoryStore();
    const first = harness({ heartbeat: false, persistence: { store } });
    void first.connection.send('old', { channel: 'c', ack: true }).catch(() => {});
    await first.settle();
    const left = crashCopy(store);
    first.connection.dispose();

    const second = harness({ heartbeat: false, persistence: { store: left }, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    const server = acking(second, { silent: true });
    void second.connection.send('new', { channel: 'c', ack: true }).catch(() => {});
    await second.connect();
    await second.advance(100);
    expect(publishes(second.server.last).map(([, data]) => data)).toEqual(['old', 'new']);
    second.server.last!.drop();
    await second.settle();
    server.silent = false;
    await second.advance(100);
    expect(publishes(second.server.last).map(([, data]) => data), 'written again in the order first written').toEqual(['old', 'new']);
  });

  it('an acknowledged send given up by its signal and sent again at once under its id is kept in the store under that id until acknowledged', async () => {
    const store = memoryStore();
    const h = harness({ heartbeat: false, persistence: { store } });
    const server = acking(h, { silent: true });
    await h.settle();
    const controller = new AbortController();
    void h.connection.send('old', { channel: 'c', ack: true, id: 'doc-1', signal: controller.signal }).catch(() => {});
    controller.abort();
    const sent = h.connection.send('new', { channel: 'c', ack: true, id: 'doc-1' });
    await h.settle();
    expect(store.load().map((message) => [message.key, message.frame])).toEqual([['doc-1', '{"type":"publish","ch":"c","id":"doc-1","data":"new"}']]);
    server.silent = false;
    await h.connect();
    await sent;
    expect(store.size).toBe(0);
  });

  it('drops messages whose time-to-live passed while the app was down', async () => {
    const store = memoryStore();
    const first = harness({ heartbeat: false, persistence: { store } });
    void first.connection.send('short', { channel: 'c', ttl: 1_000 }).catch(() => {});
    void first.connection.send('long', { channel: 'c', ttl: 60_000 }).catch(() => {});
    await first.settle();
    const left = crashCopy(store);
    first.connection.dispose();

    const second = harness({ heartbeat: false, persistence: { store: left } });
    second.clock.advance(5_000);
    const restored: unknown[] = [];
    second.connection.on('restored', (event) => restored.push(event));
    await second.connect();
    await second.settle();
    expect(restored).toEqual([{ messages: 1, expired: 1 }]);
    expect(publishes(second.server.last).map(([, data]) => data)).toEqual(['long']);
  });

  it('a restored message that fails is reported as a typed error and leaves the store', async () => {
    const store = memoryStore();
    store.put({ key: 'k1', frame: '{"type":"publish","ch":"c","id":"k1","data":1}', channel: 'c', priority: 'normal', ack: true, sentAt: 1 });
    const h = harness({ heartbeat: false, persistence: { store }, acks: { timeoutMs: 1_000, maxAttempts: 1 } });
    await h.connect();
    await h.advance(1_000);
    expect(h.errors.map((error) => [error.code, error.messageId])).toEqual([[ErrorCode.TIMEOUT, 'k1']]);
    expect(store.size).toBe(0);
  });

  it('stop() settles every message with CLOSED and clears the store', async () => {
    const store = memoryStore();
    const h = harness({ heartbeat: false, persistence: { store } });
    const sent = h.connection.send('x', { channel: 'c' });
    h.connection.start();
    h.connection.stop();
    await expect(sent).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    expect(store.size).toBe(0);
  });

  it('keeps nothing of binary frames', async () => {
    const store = memoryStore();
    const h = harness({ heartbeat: false, persistence: { store } });
    void h.connection.send(new Uint8Array([1, 2, 3]).buffer).catch(() => {});
    await h.settle();
    expect(h.connection.queued).toBe(1);
    expect(store.size).toBe(0);
  });

  it('survives a restart through a file in Node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'socketchart-outbox-'));
    dirs.push(dir);
    const path = join(dir, 'outbox.jsonl');
    const before: MessageStore = fileStore({ path });
    const first = harness({ heartbeat: false, persistence: { store: before } });
    void first.connection.send({ n: 1 }, { channel: 'c', ack: true }).catch(() => {});
    void first.connection.send({ n: 2 }, { channel: 'c' }).catch(() => {});
    await first.settle();
    await before.close?.();

    const after = fileStore({ path });
    const second = harness({ heartbeat: false, persistence: { store: after } });
    acking(second);
    await second.connect();
    await second.settle();
    expect(publishes(second.server.last).map(([, data]) => data)).toEqual([{ n: 1 }, { n: 2 }]);
    await second.settle();
    await after.close?.();
    expect(fileStore({ path }).load()).toEqual([]);
    first.connection.dispose();
  });

  it('a custom store that loads entries that are not messages: the messages among them go out in their order, the rest is reported once and left alone', async () => {
    const left = await leftBehind('first', 'second');
    const [first, second] = left.load();
    const broken = [first, null, { key: 'no-frame', priority: 'normal', ack: false, sentAt: 1 }, 'text', { ...second!, frame: 42 }, { ...second!, key: undefined, frame: '"no key"' }, second];
    const deleted: string[] = [];
    const store: MessageStore = { load: () => broken as never, put: () => {}, delete: (key) => void deleted.push(key) };
    const h = harness({ heartbeat: false, persistence: { store } });
    await h.connect();
    await h.advance(100);
    expect(publishes(h.server.last)).toEqual([[undefined, 'first'], [undefined, 'second']]);
    expect(deleted).toEqual([first!.key, second!.key]);
    expect(h.errors.map((error) => [error.code, error.message])).toEqual([[ErrorCode.SERVER_ERROR, 'The persistence store could not load 5 entries: they are not messages']]);
  });

  it('a custom store whose load answers with something other than a list is reported, and this run\'s messages go on', async () => {
    const store: MessageStore = { load: () => ({ messages: [] }) as never, put: () => {}, delete: () => {} };
    const h = harness({ heartbeat: false, persistence: { store } });
    const sent = h.connection.send('now', { channel: 'c' });
    await h.connect();
    await h.advance(100);
    await expect(sent).resolves.toBeUndefined();
    expect(publishes(h.server.last)).toEqual([[undefined, 'now']]);
    expect(h.errors.map((error) => [error.code, error.message])).toEqual([[ErrorCode.SERVER_ERROR, 'The persistence store could not be loaded']]);
  });

  it('rejects a store without the MessageStore methods, naming the option', () => {
    const { server } = harness();
    expect(() => createConnection({ url: URL, WebSocket: server.WebSocket, persistence: { store: {} as MessageStore } })).toThrow(/`persistence\.store`/);
  });
});


const stores: Array<[string, () => MessageStore]> = [
  ['memoryStore', () => memoryStore()],
  ['webStorageStore', () => webStorageStore({ storage: new MapStorage() })],
  ['indexedDbStore', () => indexedDbStore({ indexedDB: new IDBFactory() })],
  [
    'fileStore',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'socketchart-outbox-'));
      dirs.push(dir);
      return fileStore({ path: join(dir, 'outbox.jsonl') });
    },
  ],
];

describe('a message sent before the store has loaded is this run\'s, not restored as a previous run\'s', () => {
  for (const [name, open] of stores) {
    it(`${name}: an empty store, one send before connect: written once, nothing restored`, async () => {
      const h = harness({ heartbeat: false, persistence: { store: open() } });
      const restored: unknown[] = [];
      h.connection.on('restored', (event) => restored.push(event));
      // The app sends at start-up, before it connects (the message is queued and kept in the store).
      void h.connection.send('hello', { channel: 'c' }).catch(() => {});
      for (let i = 0; i < 50 && restored.length === 0; i++) await h.settle(); // the store has loaded
      await h.connect();
      await h.settle();
      const written = (h.server.last?.sentOfType('publish') ?? []).map((frame) => frame.data);
      expect({ written, restored }).toEqual({ written: ['hello'], restored: [{ messages: 0, expired: 0 }] });
      h.connection.dispose();
    });
  }
});

it('a restored acknowledged message stopped while queued, then requested again at once under its id after start(): the new request is not failed by the old one, and resolves on its ack', async () => {
  const store = memoryStore();
  store.put({ key: 'order-42', frame: '{"type":"publish","ch":"c","id":"order-42","data":"order"}', channel: 'c', priority: 'normal', ack: true, sentAt: 1 });
  const h = harness({ heartbeat: false, persistence: { store } });
  acking(h);
  await h.settle();
  expect(h.connection.queued).toBe(1);
  h.connection.start();
  h.connection.stop();
  h.connection.start();
  const again = h.connection.request('order', { channel: 'c', id: 'order-42' }).then(
    (ack) => ack.id,
    (error: { code: string }) => error.code,
  );
  await h.settle();
  await h.settle();
  expect(h.server.last!.sentOfType('publish').map((frame) => [frame.id, frame.data])).toEqual([['order-42', 'order']]);
  expect(await again).toBe('order-42');
  expect(store.size).toBe(0);
});

it('disposed by an error listener while restoring (a stored message over maxMessageBytes): nothing is queued after the dispose, no timer is left, and no event follows disposed', async () => {
  const store = memoryStore();
  store.put({ key: 'big', frame: `{"type":"publish","ch":"c","data":"${'x'.repeat(2_000)}"}`, channel: 'c', priority: 'normal', ack: false, sentAt: 1 });
  store.put({ key: 'k2', frame: '{"type":"publish","ch":"c","id":"k2","data":1}', channel: 'c', priority: 'normal', ack: true, sentAt: 2, expiresAt: 1_700_000_060_000 });
  const h = harness({ heartbeat: false, persistence: { store }, maxMessageBytes: 1_000 });
  const after: string[] = [];
  let disposed = false;
  h.connection.on('disposed', () => (disposed = true));
  for (const event of ['error', 'restored', 'state'] as const) h.connection.on(event, () => disposed && after.push(event));
  h.connection.on('error', () => h.connection.dispose());
  await h.settle();
  await h.settle();
  expect(h.errors.map((error) => error.code)).toEqual([ErrorCode.MESSAGE_TOO_LARGE]);
  expect(h.connection.isDisposed).toBe(true);
  expect(h.connection.queued).toBe(0);
  expect(h.clock.pending).toBe(0);
  await h.advance(60_000);
  expect(after).toEqual([]);
});

it('stopped by an error listener while restoring (a stored message over maxMessageBytes): nothing stays queued or timed while closed, and the rest goes at the next start()', async () => {
  const store = memoryStore();
  store.put({ key: 'big', frame: `{"type":"publish","ch":"c","data":"${'x'.repeat(2_000)}"}`, channel: 'c', priority: 'normal', ack: false, sentAt: 1 });
  store.put({ key: 'k2', frame: '{"type":"publish","ch":"c","id":"k2","data":1}', channel: 'c', priority: 'normal', ack: true, sentAt: 2, expiresAt: 1_700_000_600_000 });
  store.put({ key: 'k3', frame: '{"type":"publish","ch":"c","data":2}', channel: 'c', priority: 'normal', ack: false, sentAt: 3 });
  const h = harness({ heartbeat: false, persistence: { store }, maxMessageBytes: 1_000 });
  const stopOnce = h.connection.on('error', () => {
    stopOnce();
    h.connection.stop();
  });
  await h.settle();
  await h.settle();
  expect(h.connection.status).toBe('closed');
  expect(h.connection.queued).toBe(0);
  expect(h.clock.pending).toBe(0);
  await h.advance(60_000);
  expect(h.errors.map((error) => error.code)).toEqual([ErrorCode.MESSAGE_TOO_LARGE]);
  expect(store.load().map((message) => message.key)).toEqual(['k2', 'k3']);
  await h.connect();
  expect(h.server.last!.sentOfType('publish').map((frame) => (frame as { data: unknown }).data)).toEqual([1, 2]);
  h.connection.dispose();
});

it('disposed by an error listener while restoring, after a stored message was queued: no error follows disposed', async () => {
  const store = memoryStore();
  store.put({ key: 'k1', frame: '{"type":"publish","ch":"c","data":1}', channel: 'c', priority: 'normal', ack: false, sentAt: 1 });
  store.put({ key: 'k2', frame: '{"type":"publish","ch":"c","id":"k2","data":2}', channel: 'c', priority: 'normal', ack: true, sentAt: 2 });
  store.put({ key: 'big', frame: `{"type":"publish","ch":"c","data":"${'x'.repeat(2_000)}"}`, channel: 'c', priority: 'normal', ack: false, sentAt: 3 });
  const h = harness({ heartbeat: false, persistence: { store }, maxMessageBytes: 1_000 });
  const events: string[] = [];
  h.connection.on('error', (error) => events.push(error.code));
  h.connection.on('disposed', () => events.push('disposed'));
  h.connection.on('error', () => h.connection.dispose());
  await h.settle();
  await h.settle();
  expect(events).toEqual([ErrorCode.MESSAGE_TOO_LARGE, 'disposed']);
});
