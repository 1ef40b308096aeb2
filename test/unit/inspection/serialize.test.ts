import { afterEach, describe, expect, it } from 'vitest';
import { assign, createActor, createMachine } from 'xstate';
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

describe('connectInspector() with an actor whose context holds a throwing getter', () => {
  it('does not crash the app from its flush timer', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.prependListener('uncaughtException', onUncaught);
    cleanups.push(() => process.off('uncaughtException', onUncaught));
    const inspector = connectInspector({ url: `ws://127.0.0.1:${await freePort()}`, metricsIntervalMs: false, flushMs: 5 });
    cleanups.push(() => inspector.close());
    const machine = createMachine({
      id: 'form',
      context: { field: {} as object },
      on: { load: { actions: assign({ field: () => awkward.getter }) } },
    });
    const actor = createActor(machine, { inspect: inspector }).start();
    cleanups.push(() => actor.stop());
    actor.send({ type: 'load' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(uncaught.map(String)).toEqual([]);
    expect(() => inspector.flush()).not.toThrow();
  });
});
