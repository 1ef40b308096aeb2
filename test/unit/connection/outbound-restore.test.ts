import { expect, it } from 'vitest';
import { ErrorCode, isSocketchartError, memoryStore, type MessageStore, type StoredMessage } from '../../../src/index.js';
import { harness } from '../../support/harness.js';
import { expectNothingLeft } from '../../support/invariants.js';

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

it('a restore larger than the queue keeps the oldest stored messages (those in flight first) and refuses the newest, as the queue does for sends', async () => {
  const store = memoryStore();
  store.put(stored({ key: 'acked-1', ack: true, frame: '{"type":"publish","ch":"c","id":"acked-1","data":"acked-1"}', sentAt: START - 5_000 }));
  store.put(stored({ key: 'acked-2', ack: true, frame: '{"type":"publish","ch":"c","id":"acked-2","data":"acked-2"}', sentAt: START - 4_000 }));
  for (const [i, key] of ['queued-1', 'queued-2', 'queued-3'].entries()) store.put(stored({ key, sentAt: START - 3_000 + i }));
  const h = harness({ heartbeat: false, persistence: { store }, queue: { maxMessages: 3 } });
  await h.settle();
  expect(h.connection.queued).toBe(3);
  expect(h.errors.map((error) => error.code)).toEqual([ErrorCode.QUEUE_OVERFLOW, ErrorCode.QUEUE_OVERFLOW]);
  expect(store.load().map((message) => message.key)).toEqual(['acked-1', 'acked-2', 'queued-1']);
  await h.connect();
  await h.advance(100);
  expect(h.server.last!.sentOfType('publish').map((frame) => frame.data)).toEqual(['acked-1', 'acked-2', 'queued-1']);
});

it('the restored count leaves out the stored messages the queue refused for room, and those a later restored message pushed out', async () => {
  const refused = memoryStore();
  for (const key of ['left-1', 'left-2', 'left-3', 'left-4']) refused.put(stored({ key }));
  const full = harness({ heartbeat: false, persistence: { store: refused }, queue: { maxMessages: 3 } });
  const told: unknown[] = [];
  full.connection.on('restored', (event) => told.push(event));
  await full.settle();
  expect(full.connection.queued).toBe(3);
  expect(told).toEqual([{ messages: 3, expired: 0 }]);

  const evicted = memoryStore();
  evicted.put(stored({ key: 'low', priority: 'low' }));
  evicted.put(stored({ key: 'high', priority: 'high' }));
  const one = harness({ heartbeat: false, persistence: { store: evicted }, queue: { maxMessages: 1 } });
  const toldOne: unknown[] = [];
  one.connection.on('restored', (event) => toldOne.push(event));
  await one.settle();
  expect(one.connection.queued).toBe(1);
  expect(one.errors.map((error) => error.code)).toEqual([ErrorCode.QUEUE_OVERFLOW]);
  expect(toldOne).toEqual([{ messages: 1, expired: 0 }]);
});

it('a restore larger than a queue that rejects when full refuses the newest stored messages too, and goes ahead of what this run queued', async () => {
  const store = memoryStore();
  for (const key of ['left-1', 'left-2', 'left-3']) store.put(stored({ key }));
  const h = harness({ heartbeat: false, persistence: { store }, queue: { maxMessages: 3, overflow: 'reject' } });
  const mine = h.connection.send('mine', { channel: 'c' });
  await h.settle();
  expect(h.errors.map((error) => error.code)).toEqual([ErrorCode.QUEUE_OVERFLOW]);
  expect(store.load().map((message) => message.key)).toEqual(['left-1', 'left-2', expect.any(String)]);
  await h.connect();
  await h.advance(100);
  await mine;
  expect(h.server.last!.sentOfType('publish').map((frame) => frame.data)).toEqual(['left-1', 'left-2', 'mine']);
});

it('a restored message waits no longer than the TTL it was sent with, even when the wall clock stepped back between runs', async () => {
  const store = memoryStore();
  // the previous run's clock was an hour ahead (corrected since): sent with a 10 s TTL
  const sentAt = START + 3_600_000;
  store.put(stored({ key: 'short-lived', sentAt, expiresAt: sentAt + 10_000 }));
  const h = harness({ heartbeat: false, persistence: { store } });
  await h.settle();
  expect(h.connection.queued).toBe(1);
  await h.advance(9_999);
  expect(h.connection.queued).toBe(1);
  await h.advance(1);
  expect(h.connection.queued).toBe(0);
  expect(h.errors.map((error) => error.code)).toEqual([ErrorCode.MESSAGE_EXPIRED]);
});

it('a stored message whose expiry is not after the time it was sent is dropped as expired, not restored for ever', async () => {
  const store = memoryStore();
  store.put(stored({ key: 'odd', sentAt: START + 5_000, expiresAt: START + 5_000 }));
  const h = harness({ heartbeat: false, persistence: { store } });
  const restored: unknown[] = [];
  h.connection.on('restored', (event) => restored.push(event));
  await h.settle();
  expect(restored).toEqual([{ messages: 0, expired: 1 }]);
  expect(store.size).toBe(0);
});

it('a store whose load() never answers holds messages back for connectTimeoutMs at most: then the connection sends and reports the store', async () => {
  let answer: (messages: StoredMessage[]) => void = () => undefined;
  const store: MessageStore = { load: () => new Promise((resolve) => (answer = resolve)), put: () => undefined, delete: () => undefined };
  const h = harness({ heartbeat: false, persistence: { store }, connectTimeoutMs: 5_000 });
  await h.connect();
  expect(h.connection.status).toBe('connected');
  let sent = false;
  void h.connection.send('hello', { channel: 'c' }).then(() => (sent = true));
  await h.advance(4_000);
  expect(h.server.last!.sentOfType('publish')).toEqual([]);
  await h.advance(1_000);
  expect(sent).toBe(true);
  expect(h.server.last!.sentOfType('publish').map((frame) => frame.data)).toEqual(['hello']);
  expect(h.errors.map((error) => [error.code, error.message])).toEqual([[ErrorCode.SERVER_ERROR, 'The persistence store did not answer its load']]);
  await h.connection.send('direct', { channel: 'c' });
  // a late answer is still restored, behind what this run sent meanwhile
  answer([stored({ key: 'late' })]);
  await h.settle();
  await h.settle();
  expect(h.server.last!.sentOfType('publish').map((frame) => frame.data)).toEqual(['hello', 'direct', 'late']);
});

it('a store that answers its load only after this run kept more than 10,000 messages restores nothing in this run: what it holds stays stored for the next, and the store is reported', async () => {
  let answer: (messages: StoredMessage[]) => void = () => undefined;
  const deleted: string[] = [];
  const store: MessageStore = { load: () => new Promise((resolve) => (answer = resolve)), put: () => undefined, delete: (key) => void deleted.push(key) };
  const h = harness({ heartbeat: false, persistence: { store }, connectTimeoutMs: 5_000 });
  await h.connect();
  await h.advance(5_000);
  for (let i = 0; i < 10_000; i++) void h.connection.send(i, { channel: 'c', ack: true }).catch(() => undefined);
  void h.connection.send('the 10,001st', { channel: 'c', ack: true }).catch(() => undefined);
  await h.settle();
  answer([stored({ key: 'late' })]);
  await h.settle();
  await h.settle();
  const published = h.server.last!.sentOfType('publish').map((frame) => frame.data);
  expect([published.length, published.at(-1)]).toEqual([10_001, 'the 10,001st']);
  expect(deleted).not.toContain('late');
  expect(h.errors.map((error) => [error.message, (error.cause as Error | undefined)?.message])).toEqual([
    ['The persistence store did not answer its load', undefined],
    ['The persistence store could not be loaded', 'answered too late'],
  ]);
});

it('a store that answers its load late, after this run kept 10,000 messages, is still restored', async () => {
  let answer: (messages: StoredMessage[]) => void = () => undefined;
  const store: MessageStore = { load: () => new Promise((resolve) => (answer = resolve)), put: () => undefined, delete: () => undefined };
  const h = harness({ heartbeat: false, persistence: { store }, connectTimeoutMs: 5_000 });
  await h.connect();
  await h.advance(5_000);
  for (let i = 0; i < 10_000; i++) void h.connection.send(i, { channel: 'c', ack: true }).catch(() => undefined);
  await h.settle();
  answer([stored({ key: 'late' })]);
  await h.settle();
  await h.settle();
  expect(h.server.last!.sentOfType('publish').map((frame) => frame.data).at(-1)).toBe('late');
});

it('a late store answer queues what it held behind what this run still has queued', async () => {
  let answer: (messages: StoredMessage[]) => void = () => undefined;
  const store: MessageStore = { load: () => new Promise((resolve) => (answer = resolve)), put: () => undefined, delete: () => undefined };
  const h = harness({ heartbeat: false, persistence: { store }, connectTimeoutMs: 5_000 });
  void h.connection.send('mine', { channel: 'c' });
  await h.advance(5_000);
  answer([stored({ key: 'late' })]);
  await h.settle();
  await h.settle();
  expect(h.connection.queued).toBe(2);
  await h.connect();
  await h.advance(100);
  expect(h.server.last!.sentOfType('publish').map((frame) => frame.data)).toEqual(['mine', 'late']);
});

it('a connection disposed while its store loads leaves no load timer behind', async () => {
  const store: MessageStore = { load: () => new Promise(() => {}), put: () => undefined, delete: () => undefined };
  const h = harness({ heartbeat: false, persistence: { store } });
  const before = h.clock.pending;
  h.connection.dispose();
  expect(h.clock.pending).toBeLessThan(before);
  await h.advance(60_000);
  expect(h.errors).toEqual([]);
});

it('a connection stopped while its store loads leaves no load timer behind, and reports nothing once closed', async () => {
  const store: MessageStore = { load: () => new Promise(() => {}), put: () => undefined, delete: () => undefined };
  const h = harness({ heartbeat: false, persistence: { store } });
  h.connection.start();
  await h.settle();
  h.connection.stop();
  await h.settle();
  expectNothingLeft(h);
  await h.advance(60_000);
  expect(h.errors).toEqual([]);
});

it('a connection stopped while its store loads, then started again, waits connectTimeoutMs again for the load: then it sends and reports the store', async () => {
  const store: MessageStore = { load: () => new Promise(() => {}), put: () => undefined, delete: () => undefined };
  const h = harness({ heartbeat: false, persistence: { store }, connectTimeoutMs: 5_000 });
  h.connection.start();
  await h.settle();
  h.connection.stop();
  await h.advance(60_000);
  await h.connect();
  void h.connection.send('hello', { channel: 'c' });
  await h.advance(4_999);
  expect(h.server.last!.sentOfType('publish')).toEqual([]);
  await h.advance(1);
  expect(h.server.last!.sentOfType('publish').map((frame) => frame.data)).toEqual(['hello']);
  expect(h.errors.map((error) => error.message)).toEqual(['The persistence store did not answer its load']);
});
