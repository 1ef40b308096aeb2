import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { MessageStore, StoredMessage } from '../../../src/storage/index.js';
import { backings, keysOf, message, type Backing } from './support.js';

async function using(create: () => Backing, run: (backing: Backing) => Promise<void>): Promise<void> {
  const backing = create();
  try {
    await run(backing);
  } finally {
    backing.dispose();
  }
}

/** Closes `store` and opens a new one over the same backing, as an app does when it starts again. */
async function restart(backing: Backing, store: MessageStore): Promise<MessageStore> {
  await store.close?.();
  return backing.open();
}

for (const { name, create } of backings) {
  it(`${name}: a new store holds nothing`, () =>
    using(create, async (backing) => {
      const store = backing.open();
      expect(await store.load()).toEqual([]);
      await store.close?.();
    }));

  it(`${name}: load() returns messages oldest first: by sentAt, then in put order`, () =>
    using(create, async (backing) => {
      let store = backing.open();
      await store.load();
      store.put(message('late', 3_000));
      store.put(message('b', 1_000));
      store.put(message('early', 500));
      store.put(message('a', 1_000));
      expect(keysOf(await store.load())).toEqual(['early', 'b', 'a', 'late']);
      store = await restart(backing, store);
      expect(keysOf(await store.load())).toEqual(['early', 'b', 'a', 'late']);
      await store.close?.();
    }));

  it(`${name}: put replaces the message with the same key and keeps its place`, () =>
    using(create, async (backing) => {
      let store = backing.open();
      await store.load();
      store.put(message('a'));
      store.put(message('b'));
      store.put(message('a', 1_000, { frame: 'second', priority: 'critical' }));
      store = await restart(backing, store);
      const loaded = await store.load();
      expect(keysOf(loaded)).toEqual(['a', 'b']);
      expect(loaded[0]).toEqual(message('a', 1_000, { frame: 'second', priority: 'critical' }));
      await store.close?.();
    }));

  it(`${name}: delete forgets a message; deleting an unknown key is harmless; a key put again goes last`, () =>
    using(create, async (backing) => {
      let store = backing.open();
      await store.load();
      for (const key of ['a', 'b', 'c']) store.put(message(key));
      store.delete('a');
      store.delete('nobody');
      store.delete('c');
      store.put(message('c'));
      store = await restart(backing, store);
      expect(keysOf(await store.load())).toEqual(['b', 'c']);
      store.delete('b');
      store = await restart(backing, store);
      expect(keysOf(await store.load())).toEqual(['c']);
      await store.close?.();
    }));

  it(`${name}: keeps every field as it was put, optional ones absent when they were`, () =>
    using(create, async (backing) => {
      let store = backing.open();
      await store.load();
      const full: StoredMessage = { key: 'full', frame: '{"x":"é\\n\u2028"}', channel: 'chat:1', priority: 'high', expiresAt: 9_999, ack: false, sentAt: 1 };
      const bare: StoredMessage = { key: 'bare', frame: '', priority: 'low', ack: true, sentAt: 2 };
      store.put(full);
      store.put(bare);
      store = await restart(backing, store);
      expect(await store.load()).toStrictEqual([full, bare]);
      await store.close?.();
    }));

  it(`${name}: close() writes what is batched: a new store sees changes made just before it`, () =>
    using(create, async (backing) => {
      const first = backing.open();
      await first.load();
      first.put(message('a'));
      first.put(message('b'));
      first.delete('a');
      await first.close?.();
      const second = backing.open();
      expect(keysOf(await second.load())).toEqual(['b']);
      await second.close?.();
    }));

  it(`${name}: after a restart a store sees what the last run left, and keeps changes made before its load()`, () =>
    using(create, async (backing) => {
      let store = backing.open();
      await store.load();
      store.put(message('a', 1));
      store.put(message('b', 2));
      store = await restart(backing, store);
      store.put(message('c', 3));
      store.delete('a');
      expect(keysOf(await store.load())).toEqual(['b', 'c']);
      store = await restart(backing, store);
      expect(keysOf(await store.load())).toEqual(['b', 'c']);
      await store.close?.();
    }));

  type Op = { kind: 'put'; key: string; sentAt: number; frame: string } | { kind: 'delete'; key: string } | { kind: 'restart'; load: boolean };
  const key = fc.constantFrom('a', 'b', 'c', 'd', 'e');
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('put' as const), key, sentAt: fc.integer({ min: 0, max: 3 }), frame: fc.string({ maxLength: 8 }) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), load: fc.boolean() }) },
  );

  it(`${name}: any sequence of put / delete (with restarts, loading at once or after more changes), then a reload, equals a model Map in insertion order, stably sorted by sentAt`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) =>
        using(create, async (backing) => {
          const model = new Map<string, StoredMessage>();
          let store = backing.open();
          await store.load();
          for (const step of ops) {
            if (step.kind === 'put') {
              const stored = message(step.key, step.sentAt, { frame: step.frame });
              model.set(step.key, stored);
              store.put(stored);
            } else if (step.kind === 'delete') {
              model.delete(step.key);
              store.delete(step.key);
            } else {
              store = await restart(backing, store);
              if (step.load) await store.load();
            }
          }
          store = await restart(backing, store);
          const expected = [...model.values()].sort((a, b) => a.sentAt - b.sentAt);
          expect(await store.load()).toEqual(expected);
          await store.close?.();
        }),
      ),
      { seed: 20_240_601, numRuns: 100 },
    );
  });
}
