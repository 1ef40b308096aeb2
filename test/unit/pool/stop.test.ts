import { describe, expect, it } from 'vitest';
import { ErrorCode, SocketchartError } from '../../../src/index.js';
import { createMockServer, liveSocketCount, type MockSocket } from '../../../src/testing/index.js';
import { poolHarness, type PoolHarness } from '../../support/pool-harness.js';
import { consoleWarnings } from '../../support/warnings.js';

/**
 * stop() and dispose(): nothing outlives them — no socket, no timer, no environment listener, no
 * waiting dial request, and after dispose() no running actor.
 */

/** Checks that the stopped pool left nothing behind. */
function expectNothingLeft(h: PoolHarness, socketsBefore: number): void {
  expect(h.pool.status().state).toBe('stopped');
  expect(Object.values(h.pool.status().connections)).toEqual(Array(h.pool.connections.length).fill('closed'));
  expect(h.server.live, 'sockets the server sees').toHaveLength(0);
  expect(liveSocketCount() - socketsBefore, 'sockets not yet closed').toBe(0);
  expect(h.clock.pending, 'timers').toBe(0);
  expect(h.env.listenerCount, 'environment listeners').toBe(0);
  expect(h.rt.fanout.size, 'connections listening through the pool').toBe(0);
  expect(h.pool.metrics().dials.waiting, 'dial requests').toBe(0);
  for (const connection of h.pool.connections) expect(Object.keys(connection.snapshot.children), `${connection.name}'s child actors`).toEqual([]);
}

/** After dispose(): every actor stopped, nothing left. */
function expectDisposed(h: PoolHarness, socketsBefore: number): void {
  expect(h.pool.actor.getSnapshot().status).toBe('stopped');
  for (const connection of h.pool.connections) expect(connection.actor.getSnapshot().status, `${connection.name}'s actor`).toBe('stopped');
  expect(h.server.live).toHaveLength(0);
  expect(liveSocketCount() - socketsBefore).toBe(0);
  expect(h.clock.pending).toBe(0);
  expect(h.env.listenerCount).toBe(0);
  expect(h.pool.metrics().dials.waiting).toBe(0);
}

describe('pool.stop()', () => {
  it('closes every connection (1000) and leaves zero sockets, timers and listeners', async () => {
    const before = liveSocketCount();
    const h = poolHarness({ staggerMs: 0, defaults: { heartbeat: { intervalMs: 1_000, timeoutMs: 500 } } });
    h.pool.start();
    await h.advance(1_200);
    const sockets = h.server.live;
    h.pool.stop();
    expect(h.pool.status().state).toBe('stopping');
    await h.settle();
    expect(sockets.map((socket) => socket.closedByClient?.code)).toEqual(Array(8).fill(1000));
    expectNothingLeft(h, before);
    await h.advance(600_000);
    expect(h.dials, 'nothing dials afterwards').toHaveLength(8);
  });

  it('waits in stopping for the close handshakes, then is stopped', async () => {
    const before = liveSocketCount();
    const h = poolHarness({ staggerMs: 0 });
    const held: MockSocket[] = [];
    h.server.onClientClose = (socket: MockSocket) => {
      held.push(socket);
    };
    h.pool.start();
    await h.settle();
    h.pool.stop();
    await h.advance(100);
    expect(h.pool.status().state).toBe('stopping');
    expect(Object.values(h.pool.status().connections)).toEqual(Array(8).fill('closing'));
    for (const socket of held.slice(0, 7)) socket.finish(1000, '', true);
    await h.settle();
    expect(h.pool.status().state, 'one still closing').toBe('stopping');
    held[7]!.finish(1000, '', true);
    await h.settle();
    expectNothingLeft(h, before);
  });

  it('during the staggered start: the connections not started yet never dial', async () => {
    const before = liveSocketCount();
    const h = poolHarness({ staggerMs: 100 });
    h.pool.start();
    await h.advance(100);
    h.pool.stop();
    await h.settle();
    await h.advance(10_000);
    expect(h.dialOrder()).toEqual(['queue', 'adw-monitor']);
    expectNothingLeft(h, before);
  });

  it('from every waiting state — backoff, open circuit, offline, queued for a permit, failed — stops at once', async () => {
    const before = liveSocketCount();
    const refusing = createMockServer();
    refusing.refusing = true;
    const h = poolHarness(
      { staggerMs: 0, dialBudget: { ratePerSec: 1, burst: 6 }, defaults: { circuit: { failureThreshold: 1, recoveryMs: 60_000 }, reconnect: { baseMs: 60_000, capMs: 60_000, jitter: 0 } } },
      { route: (url, server) => (url.endsWith('/routes') ? refusing : server) },
    );
    h.pool.start();
    await h.settle();
    h.socketOf('queue').drop();
    h.socketOf('workflows').closeFromServer(4003);
    await h.settle();
    expect(h.pool.status().connections).toMatchObject({
      queue: 'circuitOpen',
      workflows: 'failed',
      routes: 'circuitOpen',
      'system-status': 'queued',
      'webhook-status': 'queued',
    });
    h.pool.stop();
    await h.settle();
    expectNothingLeft(h, before);
  });

  it('rejects the sends still queued with CLOSED', async () => {
    const h = poolHarness({ staggerMs: 0, dialBudget: { ratePerSec: 1, burst: 1 } });
    h.pool.start();
    await h.settle();
    expect(h.connection('routes').status).toBe('queued');
    const pending = h.pool.send('routes', { n: 1 }, { channel: 'routes:1' });
    h.pool.stop();
    await expect(pending).rejects.toBeInstanceOf(SocketchartError);
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.CLOSED });
  });

  it('bounds the close handshakes by stopTimeoutMs: then the pool is stopped with no socket open and no timer left', async () => {
    const before = liveSocketCount();
    const h = poolHarness({ staggerMs: 0, stopTimeoutMs: 1_000, defaults: { closeTimeoutMs: 10_000, heartbeat: false } });
    h.server.onClientClose = () => {}; // the server never answers the close handshake
    h.pool.start();
    await h.settle();
    h.pool.stop();
    await h.advance(1_000);
    expect(h.pool.status().state).toBe('stopped');
    // stopTimeoutMs is the longest stop() takes, whatever the connections' own closeTimeoutMs (10 s).
    expect(Object.values(h.pool.status().connections), 'connections once the pool is stopped').toEqual(Array(8).fill('closed'));
    expect(liveSocketCount() - before, 'sockets once the pool is stopped').toBe(0);
    expect(h.clock.pending, 'timers once the pool is stopped').toBe(0);
  });
});

describe('pool.start() while stopping, pool.stop() while idle or stopped', () => {
  it('start() while the close handshakes are still out runs the pool again: every connection back on a new socket', async () => {
    const h = poolHarness({ staggerMs: 0 });
    h.pool.start();
    await h.settle();
    const first = h.server.live;
    h.server.onClientClose = () => {};
    h.pool.stop();
    await h.settle();
    expect(h.pool.status().state).toBe('stopping');
    h.pool.start();
    await h.settle();
    expect(h.pool.status().state).toBe('running');
    expect(Object.values(h.pool.status().connections)).toEqual(Array(8).fill('connected'));
    expect(h.dials).toHaveLength(16);
    expect(h.server.live.filter((socket) => first.includes(socket))).toEqual([]);
  });

  it('stop() then start() in one tick: the pool runs again', async () => {
    const h = poolHarness({ staggerMs: 0 });
    h.pool.start();
    await h.settle();
    h.pool.stop();
    h.pool.start();
    await h.settle();
    expect(h.pool.status().state).toBe('running');
    expect(Object.values(h.pool.status().connections)).toEqual(Array(8).fill('connected'));
  });

  it('stop() on an idle pool closes a connection the app started itself, and the pool is stopped', async () => {
    const before = liveSocketCount();
    const h = poolHarness({ staggerMs: 0 });
    h.connection('routes').start();
    await h.settle();
    expect(h.connection('routes').status).toBe('connected');
    h.pool.stop();
    await h.settle();
    expect(h.connection('routes').status).toBe('closed');
    expectNothingLeft(h, before);
    expect(h.dials).toHaveLength(1);
  });

  it('stop() on a stopped pool closes a connection the app started since', async () => {
    const before = liveSocketCount();
    const h = poolHarness({ staggerMs: 0 });
    h.pool.start();
    await h.settle();
    h.pool.stop();
    await h.settle();
    h.connection('routes').start();
    await h.settle();
    expect(h.connection('routes').status).toBe('connected');
    h.pool.stop();
    await h.settle();
    expectNothingLeft(h, before);
  });
});

describe('pool.dispose()', () => {
  it('a pool disposed while running reports stopped, with every connection closed', async () => {
    const h = poolHarness({ staggerMs: 0 });
    h.pool.start();
    await h.settle();
    h.pool.dispose();
    await h.settle();
    expect(h.pool.status().state).toBe('stopped');
    expect(Object.values(h.pool.status().connections)).toEqual(Array(8).fill('closed'));
    expect(h.pool.isDisposed).toBe(true);
  });

  it.each<[string, (h: PoolHarness) => void]>([
    ['a health listener, as the pool turns degraded', (h) => h.pool.on('health', ({ health }) => health === 'degraded' && h.pool.dispose())],
    ['a state listener, as stop() closes the first connection', (h) => h.pool.on('state', ({ status }) => status === 'closing' && h.pool.dispose())],
    ['a state listener, as start() starts the first connection', (h) => h.pool.on('state', () => h.pool.dispose())],
  ])('disposed from %s: every connection closed, its actor stopped, and the pool down, as it says', async (_when, listen) => {
    const h = poolHarness({ staggerMs: 0 });
    listen(h);
    h.pool.start();
    await h.settle();
    if (!h.pool.isDisposed) h.pool.stop();
    await h.settle();
    expect(h.pool.isDisposed).toBe(true);
    expect(Object.values(h.pool.status().connections)).toEqual(Array(8).fill('closed'));
    expect(h.pool.connections.map((connection) => connection.actor.getSnapshot().status), 'connection actors').toEqual(Array(8).fill('stopped'));
    expect([h.pool.status().health, h.pool.metrics().health, h.healths.at(-1)?.health ?? 'down']).toEqual(['down', 'down', 'down']);
  });

  it('disposed from a health listener: `state` listeners hear each connection\'s changes in order (never `connected` after `closed`), all before `disposed`', async () => {
    const h = poolHarness({ staggerMs: 0 });
    const told: string[] = [];
    h.pool.on('state', ({ name, status }) => told.push(`${name} ${status}`));
    h.pool.on('disposed', () => told.push('disposed'));
    h.pool.on('health', ({ health }) => health === 'degraded' && h.pool.dispose());
    h.pool.start();
    await h.settle();
    expect(h.statesOf('queue').slice(-2)).toEqual(['connected', 'closed']);
    expect(told.at(-1), 'the last thing told').toBe('disposed');
    for (const { name } of h.pool.connections) {
      const changes = h.states.filter((change) => change.name === name);
      expect(changes.slice(1).map((change) => change.previous), name).toEqual(changes.slice(0, -1).map((change) => change.status));
    }
  });

  it('disposed from a `state` listener as stop() closes the first connection: tells `health` down before `disposed`, and nothing after', async () => {
    const h = poolHarness({ staggerMs: 0 });
    const told: string[] = [];
    h.pool.on('health', ({ health }) => told.push(`health ${health}`));
    h.pool.on('disposed', () => told.push('disposed'));
    h.pool.on('state', ({ status }) => status === 'closing' && h.pool.dispose());
    h.pool.start();
    await h.settle();
    h.pool.stop();
    await h.settle();
    expect(told.slice(-2)).toEqual(['health down', 'disposed']);
    expect(h.pool.status().health).toBe('down');
  });

  it('tells `disposed` once, last, when the app disposed some of its connections before, or disposes them from a listener', async () => {
    const h = poolHarness({ staggerMs: 0 });
    const told: string[] = [];
    h.pool.on('disposed', () => told.push('disposed'));
    h.pool.start();
    await h.settle();
    const [first, second] = h.pool.connections;
    first!.dispose();
    second!.on('state', ({ status }) => status === 'closed' && h.pool.connections[2]!.dispose());
    h.pool.on('state', ({ name, status }) => told.push(`${name} ${status}`));
    h.pool.dispose();
    await h.settle();
    expect(told.filter((entry) => entry === 'disposed')).toHaveLength(1);
    expect(told.at(-1)).toBe('disposed');
    expect(told.filter((entry) => entry.endsWith(' closed'))).toHaveLength(7);
  });

  it('from running: every connection actor and the pool actor stopped, nothing left', async () => {
    const before = liveSocketCount();
    const h = poolHarness({ staggerMs: 0 });
    h.pool.start();
    await h.settle();
    h.pool.dispose();
    await h.settle();
    expectDisposed(h, before);
  });

  it('in the middle of the staggered start, with dials waiting for permits', async () => {
    const before = liveSocketCount();
    const h = poolHarness({ staggerMs: 100, dialBudget: { ratePerSec: 5, burst: 1 } });
    h.pool.start();
    await h.advance(250);
    expect(h.pool.metrics().dials.waiting).toBeGreaterThan(0);
    const dials = h.dials.length;
    h.pool.dispose();
    await h.settle();
    expectDisposed(h, before);
    await h.advance(60_000);
    expect(h.dials, 'no dial after dispose()').toHaveLength(dials);
  });

  it('while stopping, with close handshakes unanswered', async () => {
    const before = liveSocketCount();
    const h = poolHarness({ staggerMs: 0 });
    h.server.onClientClose = () => {};
    h.pool.start();
    await h.settle();
    h.pool.stop();
    await h.settle();
    expect(h.pool.status().state).toBe('stopping');
    h.pool.dispose();
    await h.settle();
    expectDisposed(h, before);
  });

  it('after stop()', async () => {
    const before = liveSocketCount();
    const h = poolHarness({ staggerMs: 0 });
    h.pool.start();
    await h.settle();
    h.pool.stop();
    await h.settle();
    h.pool.dispose();
    await h.settle();
    expectDisposed(h, before);
  });

  it('a second dispose() — React StrictMode runs cleanups twice — is silent', async () => {
    const before = liveSocketCount();
    const h = poolHarness({ staggerMs: 0 });
    h.pool.start();
    await h.settle();
    h.pool.dispose();
    const warnings = consoleWarnings();
    try {
      expect(() => h.pool.dispose()).not.toThrow();
      // Not once per connection: "Event "connection.release" was sent to stopped actor".
      expect(warnings.texts()).toEqual([]);
    } finally {
      warnings.restore();
    }
    await h.settle();
    expectDisposed(h, before);
  });

  it('start() afterwards throws CLOSED at once, as connection.start() does; stop() afterwards does nothing', async () => {
    const h = poolHarness({ staggerMs: 0 });
    h.pool.start();
    await h.settle();
    h.pool.dispose();
    const warnings = consoleWarnings();
    try {
      expect(() => h.pool.start()).toThrow(expect.objectContaining({ code: ErrorCode.CLOSED }));
      expect(() => h.pool.start()).toThrow(/disposed/);
      expect(h.pool.stop()).toBe(h.pool);
      expect(warnings.texts(), 'events sent to the stopped pool actor').toEqual([]);
    } finally {
      warnings.restore();
    }
    await h.settle();
    expect(h.dials).toHaveLength(8);
  });
});

describe('a pool member disposed by the app', () => {
  it('pool.stop() still stops every other member and the pool, and dispose() leaves no socket', async () => {
    const errors: unknown[] = [];
    const onError = (error: unknown) => errors.push(error);
    process.on('uncaughtException', onError);
    try {
      const h = poolHarness({ staggerMs: 0 });
      h.pool.start();
      await h.settle();
      h.connection('routes').dispose();
      await h.settle();

      h.pool.stop();
      await h.advance(10_000);
      expect.soft(h.pool.actor.getSnapshot().status, 'pool actor').toBe('active');
      expect.soft(h.pool.status().state).toBe('stopped');
      expect.soft(h.connection('system-status').status).toBe('closed');

      h.pool.dispose();
      await h.advance(10_000);
      expect.soft(h.server.live, 'sockets left open after dispose()').toHaveLength(0);
    } finally {
      await new Promise((resolve) => setTimeout(resolve, 10));
      process.off('uncaughtException', onError);
    }
    expect.soft(errors.map(String)).toEqual([]);
  });

  it('a member the app disposes while the pool hears `online` (from the `state` listener of a member that heard it first) hears no more of it', async () => {
    const events: Array<{ actor: string; type: string }> = [];
    const endpoints = [
      { name: 'first', priority: 1, url: 'ws://mock.test/ws/first' },
      { name: 'second', priority: 2, url: 'ws://mock.test/ws/second' },
    ];
    const h = poolHarness(
      { staggerMs: 0, inspect: (event) => event.type === '@xstate.event' && events.push({ actor: event.actorRef.sessionId, type: event.event.type }) },
      { endpoints },
    );
    h.pool.start();
    await h.advance(1_000);
    h.env.emit('offline');
    await h.settle();
    expect(h.pool.status().connections).toEqual({ first: 'offline', second: 'offline' });
    let disposedAt: number | undefined;
    h.pool.on('state', (change) => {
      if (change.name !== 'first' || disposedAt !== undefined) return;
      h.connection('second').dispose();
      disposedAt = events.length;
    });
    const warnings = consoleWarnings();
    try {
      h.env.emit('online');
      await h.advance(1_000);
      expect(disposedAt, 'the first member reacted to `online`').toBeDefined();
      const second = h.connection('second').actor.sessionId;
      expect(events.slice(disposedAt).filter((event) => event.actor === second), 'events delivered to the disposed member').toEqual([]);
      expect(warnings.texts(), 'events sent to a stopped actor').toEqual([]);
    } finally {
      warnings.restore();
    }
    expect(h.connection('second').status).toBe('closed');
    expect(h.dialsOf('second')).toHaveLength(1);
  });
});
