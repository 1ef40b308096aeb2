import { expect, it } from 'vitest';
import { createActor, sendTo, setup } from 'xstate';
import { poolLogic, poolOf } from '../../../src/index.js';
import { poolHarness } from '../../support/pool-harness.js';

/** A pool actor restored from a persisted snapshot: its connections were not saved with it, so it starts afresh. */

const names = ['a', 'b', 'c'];
const logicOf = (h: ReturnType<typeof poolHarness>) =>
  poolLogic({
    endpoints: names.map((name) => ({ name, url: `ws://mock.test/${name}` })),
    defaults: { WebSocket: h.server.WebSocket, heartbeat: false },
    staggerMs: 0,
    stopTimeoutMs: 5_000,
    clock: h.clock,
    environment: h.env,
  });
const idle = Object.fromEntries(names.map((name) => [name, 'idle']));
const connected = Object.fromEntries(names.map((name) => [name, 'connected']));

it('a pool actor restored from the persisted snapshot of a running pool starts afresh: idle and down, stops at once, and runs again once started', async () => {
  const h = poolHarness();
  const logic = logicOf(h);
  const first = createActor(logic, { clock: h.clock }).start();
  poolOf(first).start();
  await h.settle();
  expect(poolOf(first).status()).toEqual({ state: 'running', health: 'up', connections: connected });
  const saved = first.getPersistedSnapshot();
  first.stop();
  await h.settle();

  const restored = createActor(logic, { clock: h.clock, snapshot: saved }).start();
  const pool = poolOf(restored);
  expect(pool.status(), 'not the saved running, up').toEqual({ state: 'idle', health: 'down', connections: idle });
  pool.stop();
  expect(pool.status().state, 'nothing to drain: no wait for stopTimeoutMs').toBe('stopped');
  pool.start();
  await h.settle();
  expect(pool.status()).toEqual({ state: 'running', health: 'up', connections: connected });
  restored.stop();
  await h.settle();
  expect(h.server.live).toHaveLength(0);
});

it('a pool embedded in an app machine whose persisted snapshot is restored starts afresh, and the app starts it again', async () => {
  const h = poolHarness();
  const app = setup({ actors: { pool: logicOf(h) } }).createMachine({
    id: 'app',
    invoke: { id: 'pool', src: 'pool' },
    entry: sendTo('pool', { type: 'pool.start' }),
    on: { 'app.resume': { actions: sendTo('pool', { type: 'pool.start' }) } },
  });
  const first = createActor(app, { clock: h.clock }).start();
  await h.settle();
  expect(poolOf(first.getSnapshot().children.pool!).status().health).toBe('up');
  const saved = first.getPersistedSnapshot();
  first.stop();
  await h.settle();

  const restored = createActor(app, { clock: h.clock, snapshot: saved }).start();
  const pool = poolOf(restored.getSnapshot().children.pool!);
  expect(pool.status()).toEqual({ state: 'idle', health: 'down', connections: idle });
  restored.send({ type: 'app.resume' });
  await h.settle();
  expect(pool.status()).toEqual({ state: 'running', health: 'up', connections: connected });
  restored.stop();
  await h.settle();
  expect(h.server.live).toHaveLength(0);
});
