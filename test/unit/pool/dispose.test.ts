import { createActor, createMachine } from 'xstate';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { poolLogic, poolOf, type Pool } from '../../../src/index.js';
import { feedEndpoints, poolHarness } from '../../support/pool-harness.js';
import { consoleWarnings } from '../../support/warnings.js';

/** `await using`, and the handle of a pool an app runs as an actor of `poolLogic()`. */

/** An `await using` scope of `pool`, left as soon as its disposal ends: `left()` tells whether it has. */
function usingScope(pool: Pool): { done: Promise<void>; left: () => boolean } {
  let left = false;
  const done = (async () => {
    await using scoped = pool;
    void scoped;
  })().then(() => {
    left = true;
  });
  return { done, left: () => left };
}

describe('`await using` a pool', () => {
  const start = async (h: ReturnType<typeof poolHarness>, ms: number) => {
    h.pool.start();
    await h.advance(ms);
    h.server.onClientClose = () => {}; // close handshakes go unanswered: only stopTimeoutMs ends them
  };
  for (const [when, state, reach] of [
    ['running', 'running', (h: ReturnType<typeof poolHarness>) => start(h, 1_000)],
    ['in the middle of its staggered start', 'starting', (h: ReturnType<typeof poolHarness>) => start(h, 0)],
    ['stopping', 'stopping', async (h: ReturnType<typeof poolHarness>) => (await start(h, 1_000), h.pool.stop(), await h.settle())],
  ] as const) {
    it(`${when}: stops the pool, waiting for the close handshakes (at most stopTimeoutMs), then disposes`, async () => {
      const h = poolHarness({ staggerMs: 100, stopTimeoutMs: 2_000 });
      await reach(h);
      expect(h.pool.status().state).toBe(state);
      const scope = usingScope(h.pool);
      await h.advance(1_999);
      expect(scope.left(), 'left before the close handshakes ended').toBe(false);
      expect(h.pool.isDisposed).toBe(false);
      await h.advance(1);
      await scope.done;
      expect(h.pool.status().state).toBe('stopped');
      expect(h.pool.isDisposed).toBe(true);
      expect(h.server.live).toHaveLength(0);
      expect(h.server.sockets.map((socket) => socket.closedByClient?.code)).toEqual(h.server.sockets.map(() => 1000));
    });
  }

  it('stopped, with a connection the app started since: waits for its close handshake (at most stopTimeoutMs), then disposes', async () => {
    const h = poolHarness({ staggerMs: 0, stopTimeoutMs: 2_000 });
    h.pool.start();
    await h.advance(1_000);
    h.pool.stop();
    await h.settle();
    h.pool.connections[0]!.start();
    await h.advance(1_000);
    expect(h.pool.status().state).toBe('stopped');
    h.server.onClientClose = () => {};
    const scope = usingScope(h.pool);
    await h.advance(1_999);
    expect(scope.left(), 'left before the close handshake ended').toBe(false);
    await h.advance(1);
    await scope.done;
    expect(h.pool.isDisposed).toBe(true);
    expect(h.server.live).toHaveLength(0);
  });

  it('never started: disposes at once', async () => {
    const h = poolHarness();
    {
      await using scoped = h.pool;
      void scoped;
    }
    expect(h.pool.isDisposed).toBe(true);
    expect(h.server.sockets).toHaveLength(0);
  });

  it('disposed before any use: makes neither the pool actor nor its connections, not even for an inspector, and reads as stopped', async () => {
    const inspected: string[] = [];
    const h = poolHarness({ inspect: (event) => inspected.push(event.type) });
    h.pool.dispose();
    expect(inspected).toEqual([]);
    expect([h.pool.isDisposed, h.pool.connections, h.pool.connection(feedEndpoints()[0]!.name)]).toEqual([true, [], undefined]);
    expect(h.pool.status()).toEqual({ state: 'stopped', health: 'down', connections: {} });
    expect(h.pool.actor.getSnapshot().status).toBe('stopped');
    expect(() => h.pool.start()).toThrow(expect.objectContaining({ code: 'CLOSED' }));
    expect(h.server.sockets).toHaveLength(0);
  });

  it('`await using` a pool never used: makes neither the pool actor nor its connections', async () => {
    const inspected: string[] = [];
    const h = poolHarness({ inspect: (event) => inspected.push(event.type) });
    {
      await using scoped = h.pool;
      void scoped;
    }
    expect([inspected, h.pool.isDisposed]).toEqual([[], true]);
  });

  it('already disposed: does nothing more', async () => {
    const h = poolHarness();
    h.pool.dispose();
    {
      await using scoped = h.pool;
      void scoped;
    }
    expect(h.pool.actor.getSnapshot().status).toBe('stopped');
  });
});

describe('poolOf(actor)', () => {
  const logicOf = (h: ReturnType<typeof poolHarness>, ...names: string[]) =>
    poolLogic({
      endpoints: (names.length > 0 ? names : ['a']).map((name) => ({ name, url: `ws://mock.test/${name}` })),
      defaults: { WebSocket: h.server.WebSocket },
      staggerMs: 0,
      clock: h.clock,
      environment: h.env,
    });
  /** XState's "Event … was sent to stopped actor" warnings, from now on. */
  const stoppedActorWarnings = () => {
    const warnings = consoleWarnings();
    return () => warnings.texts().filter((text) => text.includes('was sent to stopped actor'));
  };
  afterEach(() => vi.restoreAllMocks());

  it('gives one handle per actor', () => {
    const h = poolHarness();
    const actor = createActor(logicOf(h), { clock: h.clock }).start();
    expect(poolOf(actor)).toBe(poolOf(actor));
    actor.stop();
  });

  it('refuses an actor that runs no pool', () => {
    const other = createActor(createMachine({ id: 'app' })).start();
    expect(() => poolOf(other)).toThrow(new TypeError('poolOf() needs an actor of poolLogic()'));
    other.stop();
  });

  it('dispose() on the handle lets go of the connections but leaves the actor to the app that runs it', async () => {
    const h = poolHarness();
    const actor = createActor(logicOf(h), { clock: h.clock }).start();
    const pool = poolOf(actor);
    pool.start();
    await h.settle();
    expect(pool.connection('a')!.status).toBe('connected');
    pool.dispose();
    await h.settle();
    expect(h.server.live).toHaveLength(0);
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getSnapshot().context.health, 'the actor still counts the closes').toBe('down');
    actor.stop();
  });

  it('`await using` the handle after dispose() on it, its actor still running, is over at once', async () => {
    const h = poolHarness();
    const actor = createActor(logicOf(h), { clock: h.clock }).start();
    const pool = poolOf(actor);
    pool.start();
    await h.settle();
    pool.dispose();
    {
      await using scoped = pool;
      void scoped;
    }
    expect(actor.getSnapshot().status).toBe('active');
    actor.stop();
  });

  it('stopping the actor (the app that runs it stops) closes every connection and sends nothing to the stopped pool actor', async () => {
    const h = poolHarness();
    const actor = createActor(logicOf(h, 'a', 'b'), { clock: h.clock }).start();
    const pool = poolOf(actor);
    const closed: string[] = [];
    pool.on('state', ({ name, status }) => status === 'closed' && closed.push(name));
    pool.start();
    await h.settle();
    expect(pool.status().connections).toEqual({ a: 'connected', b: 'connected' });
    const warnings = stoppedActorWarnings();
    actor.stop();
    await h.settle();
    expect(warnings()).toEqual([]);
    expect(h.server.live).toHaveLength(0);
    expect(closed.sort(), 'the pool still tells its own listeners').toEqual(['a', 'b']);
  });

  it('an app machine that invokes the pool and stops sends nothing to the stopped pool actor', async () => {
    const h = poolHarness();
    const app = createActor(createMachine({ id: 'app', invoke: { id: 'pool', src: logicOf(h) } }), { clock: h.clock }).start();
    const ref = app.getSnapshot().children.pool!;
    ref.send({ type: 'pool.start' });
    await h.settle();
    expect(poolOf(ref).status().connections).toEqual({ a: 'connected' });
    const warnings = stoppedActorWarnings();
    app.stop();
    await h.settle();
    expect(warnings()).toEqual([]);
    expect(h.server.live).toHaveLength(0);
  });

  it('the handle of an actor the app stopped before the pool was ever used is disposed: no connection of it can open a socket', async () => {
    const h = poolHarness();
    const actor = createActor(logicOf(h), { clock: h.clock }).start();
    actor.stop();
    const pool = poolOf(actor);
    expect(pool.isDisposed).toBe(true);
    expect(() => pool.start()).toThrow(expect.objectContaining({ code: 'CLOSED' }));
    pool.connection('a')?.start();
    await h.settle();
    expect(h.server.sockets).toHaveLength(0);
  });

  it('after dispose() on the handle, a pool.start from the app that runs the actor listens to no environment', async () => {
    const h = poolHarness();
    const actor = createActor(logicOf(h), { clock: h.clock }).start();
    poolOf(actor).dispose();
    actor.send({ type: 'pool.start' });
    await h.settle();
    expect(h.env.listenerCount).toBe(0);
    actor.stop();
    await h.settle();
    expect(h.env.listenerCount).toBe(0);
  });
});

it('the handle of a pool whose actor the app stopped reads down, as its closed connections are, and tells `health` listeners so', async () => {
  const h = poolHarness();
  const logic = poolLogic({
    endpoints: [{ name: 'a', url: 'ws://mock.test/a' }, { name: 'b', url: 'ws://mock.test/b' }],
    defaults: { WebSocket: h.server.WebSocket },
    staggerMs: 0,
    clock: h.clock,
    environment: h.env,
  });
  const actor = createActor(logic, { clock: h.clock }).start();
  const pool = poolOf(actor);
  const healths: string[] = [];
  pool.on('health', ({ health }) => healths.push(health));
  pool.start();
  await h.settle();
  expect(pool.status().health).toBe('up');
  actor.stop();
  await h.settle();
  expect(pool.status()).toEqual({ state: 'stopped', health: 'down', connections: { a: 'closed', b: 'closed' } });
  expect(pool.metrics().health).toBe('down');
  expect(healths).toEqual(['degraded', 'up', 'down']);
});

it('an app machine that runs a pool and stops leaves none of its own timers, those it set before the pool was first used included', async () => {
  const h = poolHarness();
  const logic = poolLogic({ endpoints: [{ name: 'a', url: 'ws://mock.test/a' }], defaults: { WebSocket: h.server.WebSocket }, staggerMs: 0, clock: h.clock, environment: h.env });
  const app = createActor(createMachine({ id: 'app', invoke: { id: 'pool', src: logic }, after: { 60_000: { actions: () => {} } } }), { clock: h.clock }).start();
  expect(h.clock.pending, "the app's own timer").toBe(1);
  const pool = poolOf(app.getSnapshot().children.pool!);
  pool.start();
  await h.settle();
  expect(pool.status().connections).toEqual({ a: 'connected' });
  app.stop();
  await h.settle();
  expect(h.server.live).toHaveLength(0);
  expect(h.clock.pending, 'timers left after the app stopped').toBe(0);
});
