import { expect, it } from 'vitest';
import { ErrorCode, isSocketchartError, memoryStore, type MessageStore, type StoredMessage } from '../../../src/index.js';
import { harness } from '../../support/harness.js';

/**
 * Messages a previous run left in the persistence store are queued again when the store has loaded: a
 * message is dropped once its `expiresAt` (wall-clock time after which it is dropped) is reached, before
 * or after it is restored; the outcome of restored messages is reported by `restored` and `error` events.
 */

const START = 1_700_000_000_000; // the harness clock's time

function stored(overrides: Partial<StoredMessage> & Pick<StoredMessage, 'key'>): StoredMessage {
  return { frame: `{"type":"publish","ch":"c","data":"${overrides.key}"}`, channel: 'c', priority: 'normal', ack: false, sentAt: START - 10_000, ...overrides };
}

it('a restored message keeps the rest of its time to live: still queued when it runs out, it is dropped and reported', async () => {
  const store = memoryStore();
  store.put(stored({ key: 'short', expiresAt: START + 1_000 }));
  const h = harness({ heartbeat: false, persistence: { store } });
  const restored: unknown[] = [];
  h.connection.on('restored', (event) => restored.push(event));
  await h.settle();
  expect(restored).toEqual([{ messages: 1, expired: 0 }]);
  expect(h.connection.queued).toBe(1);
  await h.advance(999);
  expect(h.errors).toEqual([]);
  await h.advance(1);
  expect(h.errors.map((error) => error.code)).toEqual([ErrorCode.MESSAGE_EXPIRED]);
  expect(h.connection.queued).toBe(0);
  expect(store.size).toBe(0);
  await h.connect();
  expect(h.server.last!.sentOfType('publish')).toEqual([]);
});

it('a restored acknowledged message keeps the rest of its time to live too, and its expiry is reported with its id', async () => {
  const store = memoryStore();
  store.put(stored({ key: 'k1', ack: true, frame: '{"type":"publish","ch":"c","id":"k1","data":1}', expiresAt: START + 1_000 }));
  const h = harness({ heartbeat: false, persistence: { store } });
  await h.settle();
  await h.advance(1_000);
  expect(h.errors.map((error) => [error.code, error.messageId])).toEqual([[ErrorCode.MESSAGE_EXPIRED, 'k1']]);
  expect(store.size).toBe(0);
  await h.connect();
  expect(h.server.last!.sentOfType('publish')).toEqual([]);
});

it('a stored message whose expiry is exactly now is dropped as expired, not restored', async () => {
  const store = memoryStore();
  store.put(stored({ key: 'now', expiresAt: START }));
  store.put(stored({ key: 'later', expiresAt: START + 1 }));
  const h = harness({ heartbeat: false, persistence: { store } });
  const restored: unknown[] = [];
  h.connection.on('restored', (event) => restored.push(event));
  await h.settle();
  expect(restored).toEqual([{ messages: 1, expired: 1 }]);
  await h.connect();
  expect(h.server.last!.sentOfType('publish').map((frame) => frame.data)).toEqual(['later']);
});

it('a stored frame over maxMessageBytes is not written: it leaves the store and fails with MESSAGE_TOO_LARGE, naming its key', async () => {
  const store = memoryStore();
  const frame = JSON.stringify({ type: 'publish', ch: 'c', data: 'x'.repeat(2_000) });
  store.put(stored({ key: 'big', frame }));
  store.put(stored({ key: 'small' }));
  const h = harness({ heartbeat: false, persistence: { store }, maxMessageBytes: 1_024 });
  const restored: unknown[] = [];
  h.connection.on('restored', (event) => restored.push(event));
  await h.connect();
  await h.settle();
  expect(h.server.last!.sentOfType('publish').map((frame) => frame.data)).toEqual(['small']);
  expect(h.errors.map((error) => [error.code, error.details])).toEqual([[ErrorCode.MESSAGE_TOO_LARGE, { bytes: Buffer.byteLength(frame), limit: 1_024, key: 'big' }]]);
  expect(restored).toEqual([{ messages: 1, expired: 0 }]);
  expect(h.connection.metrics().drops).toBe(1);
  expect(store.size).toBe(0);
});

it('a stored frame of exactly maxMessageBytes is restored and written', async () => {
  const store = memoryStore();
  const frame = JSON.stringify({ type: 'publish', ch: 'c', data: 'x'.repeat(2_000) });
  store.put(stored({ key: 'fits', frame }));
  const h = harness({ heartbeat: false, persistence: { store }, maxMessageBytes: Buffer.byteLength(frame) });
  await h.connect();
  await h.settle();
  expect(h.server.last!.sentOfType('publish')).toHaveLength(1);
  expect(h.errors).toEqual([]);
});

it('a store that cannot load is reported on on(error), and the connection carries on', async () => {
  const failure = new Error('disk on fire');
  const store: MessageStore = {
    load: () => Promise.reject(failure),
    put: () => undefined,
    delete: () => undefined,
  };
  const h = harness({ heartbeat: false, persistence: { store } });
  await h.settle();
  await h.settle();
  expect(h.errors).toHaveLength(1);
  expect(isSocketchartError(h.errors[0])).toBe(true);
  expect(h.errors[0]!.cause).toBe(failure);
  await h.connect();
  await h.connection.send('still works');
  expect(h.server.last!.sent.map((frame) => frame.raw)).toContain('still works');
});

it('a connection stopped before its store has loaded holds no message in its queue once the store loads: closed, it keeps nothing queued', async () => {
  const store = memoryStore();
  store.put(stored({ key: 'left' }));
  const h = harness({ heartbeat: false, persistence: { store } });
  h.connection.start();
  h.connection.stop();
  await h.settle();
  await h.settle();
  expect(h.connection.status).toBe('closed');
  expect(h.connection.queued).toBe(0);
  expect(h.server.sockets.flatMap((socket) => socket.sentOfType('publish'))).toEqual([]);
});

it('a connection stopped before its store has loaded, then started again, sends what a previous run left, once', async () => {
  const store = memoryStore();
  store.put(stored({ key: 'left' }));
  store.put(stored({ key: 'acked', ack: true, frame: '{"type":"publish","ch":"c","id":"acked","data":"acked"}' }));
  const h = harness({ heartbeat: false, persistence: { store } });
  const restored: unknown[] = [];
  h.connection.on('restored', (event) => restored.push(event));
  h.connection.start();
  h.connection.stop();
  await h.settle();
  expect(restored).toEqual([]);
  expect(store.size).toBe(2);
  await h.connect();
  expect(restored).toEqual([{ messages: 2, expired: 0 }]);
  expect(h.server.last!.sentOfType('publish').map((frame) => frame.data)).toEqual(['left', 'acked']);
  expect(store.size).toBe(1);
  h.server.last!.push({ type: 'ack', id: 'acked', seq: 1 });
  await h.settle();
  expect(store.size).toBe(0);
  h.connection.stop();
  await h.connect();
  expect(h.server.last!.sentOfType('publish')).toEqual([]);
});

it('a connection disposed before its store has loaded leaves what a previous run stored for the next run', async () => {
  const store = memoryStore();
  store.put(stored({ key: 'left' }));
  const h = harness({ heartbeat: false, persistence: { store } });
  h.connection.start();
  h.connection.dispose();
  await h.settle();
  await h.settle();
  expect(store.size).toBe(1);
  const next = harness({ heartbeat: false, persistence: { store } });
  await next.connect();
  expect(next.server.last!.sentOfType('publish').map((frame) => frame.data)).toEqual(['left']);
});
