import { describe, expect, expectTypeOf, it } from 'vitest';
import { createConnection, InvalidOptionError, type Connection } from '../../../src/index.js';
import {
  createOptimisticStore,
  type OptimisticConnection,
  type OptimisticStore,
  type OptimisticStoreOptions,
} from '../../../src/optimistic/index.js';
import { SimulatedClock, createMockServer } from '../../../src/testing/index.js';

const server = createMockServer();

function connection(): Connection {
  return createConnection({ url: 'ws://mock.test/socket', WebSocket: server.WebSocket, clock: new SimulatedClock(0), environment: false });
}

interface Item {
  id: string;
  n: number;
}

/** Creates a store from valid options with `overrides` on top, returning what it threw (or undefined). */
function creationError(overrides: Record<string, unknown>): unknown {
  const conn = connection();
  try {
    const store = createOptimisticStore({ connection: conn, channel: 'items:1', key: (item: Item) => item.id, ...overrides } as OptimisticStoreOptions<Item>);
    store.dispose();
    return undefined;
  } catch (error) {
    return error;
  } finally {
    conn.dispose();
  }
}

const badOptions: ReadonlyArray<[description: string, overrides: Record<string, unknown>, option: string]> = [
  ['connection missing', { connection: undefined }, 'connection'],
  ['connection without send/subscribe/on', { connection: { send: () => undefined } }, 'connection'],
  ['channel missing', { channel: undefined }, 'channel'],
  ['channel empty', { channel: '' }, 'channel'],
  ['channel a number', { channel: 7 }, 'channel'],
  ['key missing', { key: undefined }, 'key'],
  ['key a property name', { key: 'id' }, 'key'],
  ['initial a number', { initial: 5 }, 'initial'],
  ['initial pairs of the wrong length', { initial: [['a']] }, 'initial'],
  ['initial pairs with non-string keys', { initial: [[1, { id: '1', n: 1 }]] }, 'initial'],
  ['merge not a function', { merge: 'replace' }, 'merge'],
  ['fromValue not a function', { fromValue: {} }, 'fromValue'],
  ['conflict an unknown policy', { conflict: 'last-write-wins' }, 'conflict'],
  ['conflict a number', { conflict: 1 }, 'conflict'],
  ['event empty', { event: '' }, 'event'],
  ['event a number', { event: 3 }, 'event'],
  ['createId not a function', { createId: 'id-1' }, 'createId'],
];

describe('optimistic store options', () => {
  it.each(badOptions)('%s: throws InvalidOptionError naming `%s`', (_description, overrides, option) => {
    const error = creationError(overrides);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe(option);
    expect((error as InvalidOptionError).message).toContain(`\`${option}\``);
  });

  it('throws InvalidOptionError naming `options` when given no object', () => {
    expect(() => createOptimisticStore(null as unknown as OptimisticStoreOptions<Item>)).toThrow(expect.objectContaining({ option: 'options' }));
  });

  it('accepts every documented form of initial values and conflict policy', () => {
    const pairs: Array<[string, Item]> = [['a', { id: 'a', n: 1 }]];
    for (const initial of [new Map(pairs), pairs, { a: { id: 'a', n: 1 } }]) {
      for (const conflict of ['server-wins', 'client-wins', () => 'mine' as const]) {
        expect(creationError({ initial, conflict })).toBeUndefined();
      }
    }
  });

  it('starts from the initial values as confirmed', () => {
    const conn = connection();
    const store = createOptimisticStore({ connection: conn, channel: 'items:1', key: (item: Item) => item.id, initial: new Map([['a', { id: 'a', n: 1 }]]) });
    expect(store.get('a')).toEqual({ id: 'a', n: 1 });
    expect(store.confirmed('a')).toEqual({ id: 'a', n: 1 });
    expect(store.pending()).toBe(0);
    store.dispose();
    conn.dispose();
  });

  it('infers value and change types, and requires merge when a change is not a value', () => {
    interface Patch {
      id: string;
      n?: number;
    }
    const conn: OptimisticConnection = connection();
    const same = () => createOptimisticStore({ connection: conn, channel: 'items:1', key: (item: Item) => item.id });
    expectTypeOf(same).returns.toEqualTypeOf<OptimisticStore<Item, Item>>();
    const patched = () =>
      createOptimisticStore<Item, Patch>({ connection: conn, channel: 'items:1', key: (patch) => patch.id, merge: (current, patch) => ({ id: patch.id, n: patch.n ?? current?.n ?? 0 }) });
    expectTypeOf(patched).returns.toEqualTypeOf<OptimisticStore<Item, Patch>>();
    // @ts-expect-error merge is required when a change is not a value
    const withoutMerge = () => createOptimisticStore<Item, Patch>({ connection: conn, channel: 'items:1', key: (patch) => patch.id });
    void withoutMerge;
    (conn as Connection).dispose();
  });
});
