import { afterEach, describe, expect, it } from 'vitest';
import { assign, createActor, createMachine, type AnyActor, type AnyStateMachine } from 'xstate';
import { connectInspector } from '../../../src/index.node.js';
import { toPlain } from '../../../src/inspection/serialize.js';
import { freePort } from '../../support/ports.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

class Lazy {
  toJSON() {
    return new Lazy(); // each call a new object: never '[Circular]', never deeper
  }
}

/** A remote-call client (tRPC, Comlink…): every member is another callable proxy, and calling one makes a call. */
const remote = (calls: string[], path: string[] = []): unknown =>
  new Proxy(() => {}, {
    get: (_, key) => (typeof key === 'string' ? remote(calls, [...path, key]) : undefined),
    apply: () => {
      calls.push(path.join('.'));
      throw new Error(`no procedure ${path.join('.')}`);
    },
  });

const revoked = Proxy.revocable({}, {});
revoked.revoke();
const awkward = {
  getter: Object.defineProperty({}, 'value', { enumerable: true, get: () => { throw new Error('not readable now'); } }),
  revoked: revoked.proxy,
  lazy: new Lazy(),
};

describe('toPlain() on awkward values', () => {
  for (const [name, value] of Object.entries(awkward)) {
    it(`does not throw: ${name}`, () => {
      expect(() => toPlain({ context: { value } })).not.toThrow();
    });
  }
});

describe('toPlain() copies', () => {
  /** `levels` plain objects nested, the innermost holding a leaf. */
  const nested = (levels: number): unknown => {
    let value: unknown = { leaf: 1 };
    for (let i = 1; i < levels; i++) value = { inner: value };
    return value;
  };

  it('what reading throws on as [Unreadable], in place of the value only', () => {
    expect(toPlain({ context: { value: awkward.getter }, other: 1 })).toEqual({ context: { value: { value: '[Unreadable]' } }, other: 1 });
    expect(toPlain({ revoked: awkward.revoked, other: 1 })).toEqual({ revoked: '[Unreadable]', other: 1 });
    expect(toPlain({ broken: { toJSON: () => { throw new Error('no'); } } })).toEqual({ broken: '[Unreadable]' });
  });

  it('numbers JSON cannot hold as null, bigints as text, functions by name; undefined and symbols are left out (null in arrays)', () => {
    function guard() {}
    expect(toPlain({ nan: Number.NaN, inf: -Infinity, big: 12n, fn: guard, anon: [() => {}][0], gone: undefined, sym: Symbol('s'), list: [undefined, 1] })).toStrictEqual({
      nan: null,
      inf: null,
      big: '12',
      fn: { type: 'guard' },
      anon: { type: '' },
      list: [null, 1],
    });
    expect(toPlain(undefined)).toBeNull();
  });

  it('a function whose name is not a text (a remote-call proxy) as { type: \'\' }: plain data, and nothing of it called', () => {
    const calls: string[] = [];
    const named = Object.defineProperty(function f() {}, 'name', { value: 12n });
    const plain = toPlain({ api: remote(calls), named });
    expect(plain).toStrictEqual({ api: { type: '' }, named: { type: '' } });
    expect(() => JSON.stringify(plain)).not.toThrow();
    expect(calls).toEqual([]);
  });

  it('dates as ISO text (an invalid one as null), errors as name and message, maps as objects, sets as arrays, binary as its size', () => {
    expect(
      toPlain({ at: new Date(0), bad: new Date(Number.NaN), error: new RangeError('too far'), map: new Map([['a', 1]]), set: new Set([1, 2]), bytes: new Uint8Array(3), buffer: new ArrayBuffer(5) }),
    ).toEqual({ at: '1970-01-01T00:00:00.000Z', bad: null, error: { name: 'RangeError', message: 'too far' }, map: { a: 1 }, set: [1, 2], bytes: '[3 bytes]', buffer: '[5 bytes]' });
  });

  it("a Node Buffer as its size, as any binary (not its toJSON()'s every byte)", () => {
    expect(toPlain({ frame: Buffer.from('hello') })).toEqual({ frame: '[5 bytes]' });
  });

  it('what toJSON() gives, walked in turn', () => {
    expect(toPlain({ snapshot: { toJSON: () => ({ value: 'on', when: new Date(0) }) } })).toEqual({ snapshot: { value: 'on', when: '1970-01-01T00:00:00.000Z' } });
  });

  it('a cycle as [Circular], and an object met twice without a cycle in full both times', () => {
    const shared = { n: 1 };
    const cyclic: Record<string, unknown> = { name: 'a' };
    cyclic.self = cyclic;
    const viaJson: { toJSON(): unknown } = { toJSON: () => ({ again: viaJson }) };
    expect(toPlain({ first: shared, second: shared, list: [shared, shared] })).toEqual({ first: { n: 1 }, second: { n: 1 }, list: [{ n: 1 }, { n: 1 }] });
    expect(toPlain(cyclic)).toEqual({ name: 'a', self: '[Circular]' });
    expect(toPlain({ viaJson, twice: [viaJson, viaJson] })).toEqual({ viaJson: { again: '[Circular]' }, twice: [{ again: '[Circular]' }, { again: '[Circular]' }] });
  });

  it('10 levels deep by default, depthLimit levels when given; deeper objects and arrays as [Object] and [Array]', () => {
    expect(JSON.stringify(toPlain(nested(10)))).toContain('"leaf":1');
    expect(JSON.stringify(toPlain(nested(11)))).toContain('"inner":"[Object]"');
    expect(JSON.stringify(toPlain(nested(3), { depthLimit: 2 }))).toBe('{"inner":{"inner":"[Object]"}}');
    expect(toPlain({ a: [[1]] }, { depthLimit: 2 })).toEqual({ a: ['[Array]'] });
    expect(toPlain({ a: { toJSON: () => 'text' } }, { depthLimit: 1 })).toEqual({ a: '[Object]' });
  });

  it('an object with toJSON() as a level of its own, above what toJSON() gives: an endless chain of them cut at depthLimit', () => {
    const endless = (): { toJSON(): unknown } => ({ toJSON: () => ({ next: endless() }) });
    expect(toPlain({ root: endless() }, { depthLimit: 5 })).toEqual({ root: { next: { next: '[Object]' } } });
  });

  it('at most maxMembers array items and object members in all, the rest told by how many were left out', () => {
    expect(toPlain({ a: [1, 2, 3, 4], b: 5 }, { maxMembers: 4 })).toEqual({ a: [1, 2, 3, '… (1 more)'], '…': '(1 more)' });
    expect(toPlain(Array.from({ length: 20_000 }, (_, i) => i), { maxMembers: 3 })).toEqual([0, 1, 2, '… (19997 more)']);
    expect(toPlain({ a: 1, b: 2 }, { maxMembers: 2 })).toEqual({ a: 1, b: 2 });
  });

  it('texts longer than maxStringLength cut, with their length', () => {
    expect(toPlain({ text: 'abcdef', short: 'abc' }, { maxStringLength: 3 })).toEqual({ text: 'abc… (6 characters)', short: 'abc' });
    expect(toPlain('x'.repeat(10_000))).toHaveLength(10_000);
  });
});

/** Runs `machine` under an inspector that flushes every 5 ms, `act` on it, for 50 ms: the exceptions that reached the process meanwhile. */
async function uncaughtWhileInspected(machine: AnyStateMachine, act: (actor: AnyActor) => void = () => {}): Promise<{ uncaught: string[]; inspector: ReturnType<typeof connectInspector> }> {
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  process.prependListener('uncaughtException', onUncaught);
  cleanups.push(() => process.off('uncaughtException', onUncaught));
  const inspector = connectInspector({ url: `ws://127.0.0.1:${await freePort()}`, metricsIntervalMs: false, flushMs: 5 });
  cleanups.push(() => inspector.close());
  const actor = createActor(machine, { inspect: inspector }).start();
  cleanups.push(() => actor.stop());
  act(actor);
  await new Promise((resolve) => setTimeout(resolve, 50));
  return { uncaught: uncaught.map(String), inspector };
}

describe('connectInspector() with an actor whose context holds a throwing getter', () => {
  it('does not crash the app from its flush timer', async () => {
    const machine = createMachine({
      id: 'form',
      context: { field: {} as object },
      on: { load: { actions: assign({ field: () => awkward.getter }) } },
    });
    const { uncaught, inspector } = await uncaughtWhileInspected(machine, (actor) => actor.send({ type: 'load' }));
    expect(uncaught).toEqual([]);
    expect(() => inspector.flush()).not.toThrow();
  });

  it('does not crash the app, nor call anything, when a context holds a remote-call client', async () => {
    const calls: string[] = [];
    const { uncaught, inspector } = await uncaughtWhileInspected(createMachine({ id: 'app', context: { api: remote(calls) } }));
    expect(uncaught).toEqual([]);
    expect(() => inspector.flush()).not.toThrow();
    expect(calls).toEqual([]);
  });
});
