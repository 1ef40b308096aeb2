import { afterEach, beforeEach, expect, it } from 'vitest';
import { ErrorCode, memoryStore, type MessageStore } from '../../../src/index.js';
import type { MockSocket } from '../../../src/testing/index.js';
import { harness } from '../../support/harness.js';

const publishes = (socket: MockSocket | undefined) => (socket?.sentOfType('publish') ?? []).map((frame) => frame.data);

/** What a run left in its store as the app died: a copy taken before `dispose()` clears the store. */
function leftBy(h: ReturnType<typeof harness>, store: ReturnType<typeof memoryStore>): ReturnType<typeof memoryStore> {
  const left = memoryStore();
  for (const message of store.load()) left.put(message);
  h.connection.dispose();
  return left;
}

/** Sets the run's wall clock back by `ms` (as NTP may), from now on. */
function setBack(h: ReturnType<typeof harness>, ms: number): void {
  const wall = h.clock.now.bind(h.clock);
  h.clock.now = () => wall() - ms;
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => void process.off('unhandledRejection', onUnhandled));

it('a store whose async put / delete rejects is reported on on(\'error\') like one that throws, with no unhandled rejection', async () => {
  // a store over an async-only API (React Native's AsyncStorage, a database client)
  const store: MessageStore = {
    load: async () => [],
    put: async () => {
      throw new Error('disk full');
    },
    delete: async () => {
      throw new Error('store gone');
    },
  };
  const h = harness({ heartbeat: false, persistence: { store } });
  const sent = h.connection.send('queued', { channel: 'c' });
  await h.settle();
  await h.connect();
  await h.advance(100);
  await sent;
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(publishes(h.server.last)).toEqual(['queued']);
  expect(unhandled.map((reason) => (reason as Error).message)).toEqual([]);
  expect(h.errors.map((error) => [error.code, error.message, (error.cause as Error).message])).toEqual([
    [ErrorCode.SERVER_ERROR, 'The persistence store could not keep a message', 'disk full'],
    [ErrorCode.SERVER_ERROR, 'The persistence store could not forget a message', 'store gone'],
  ]);
});

it('messages restored after a restart keep the order they were sent in, though the wall clock stepped back between them', async () => {
  const store = memoryStore();
  const first = harness({ heartbeat: false, persistence: { store } });
  void first.connection.send('one', { channel: 'c', ttl: 60_000 }).catch(() => {});
  setBack(first, 5_000);
  void first.connection.send('two', { channel: 'c', ttl: 60_000 }).catch(() => {});
  await first.settle();
  // its time to live counts from its send time, which the step back did not move back
  const [one, two] = store.load();
  expect(two?.sentAt).toBe(one?.sentAt);
  expect(two?.expiresAt).toBe(two!.sentAt + 60_000);
  const left = leftBy(first, store);

  const second = harness({ heartbeat: false, persistence: { store: left } });
  await second.connect();
  await second.settle();
  await second.advance(100);
  expect(publishes(second.server.last)).toEqual(['one', 'two']);
});

it('a message sent after the wall clock stepped back is restored while its time to live lasts, not dropped as expired', async () => {
  const store = memoryStore();
  const first = harness({ heartbeat: false, persistence: { store } });
  void first.connection.send('one', { channel: 'c' }).catch(() => {});
  setBack(first, 5_000);
  void first.connection.send('two', { channel: 'c', ttl: 3_000 }).catch(() => {});
  await first.settle();
  const left = leftBy(first, store);

  // the app starts again 1 s after 'two' was sent, on the stepped-back clock
  const second = harness({ heartbeat: false, persistence: { store: left } });
  setBack(second, 4_000);
  const restored: unknown[] = [];
  second.connection.on('restored', (info) => restored.push(info));
  await second.connect();
  await second.settle();
  await second.advance(100);
  expect(restored).toEqual([{ messages: 2, expired: 0 }]);
  expect(publishes(second.server.last)).toEqual(['one', 'two']);
});

it('a message sent after a restart on a wall clock stepped back behind the previous run is restored after what that run left, not before it', async () => {
  const store = memoryStore();
  const first = harness({ heartbeat: false, persistence: { store } });
  void first.connection.send('one', { channel: 'c' }).catch(() => {});
  await first.settle();
  const left = leftBy(first, store);

  // the app starts again, offline, on a wall clock stepped back 5 s behind the first run's
  const second = harness({ heartbeat: false, persistence: { store: left } });
  setBack(second, 5_000);
  await second.settle();
  void second.connection.send('two', { channel: 'c' }).catch(() => {});
  await second.settle();
  const leftAgain = leftBy(second, left);

  const third = harness({ heartbeat: false, persistence: { store: leftAgain } });
  await third.connect();
  await third.settle();
  await third.advance(100);
  expect(publishes(third.server.last)).toEqual(['one', 'two']);
});
