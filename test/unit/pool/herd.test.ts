import { describe, expect, it } from 'vitest';
import type { EndpointOptions } from '../../../src/index.js';
import { createMockServer } from '../../../src/testing/index.js';
import { T0, expectEveryDialQueued, maxInWindow, poolHarness, type PoolHarness } from '../../support/pool-harness.js';

/**
 * Herd control: every dial of every connection — the first and every re-dial, whatever caused it —
 * waits in `queued` for a permit of the pool's dial budget; permits go by priority; after a mass drop
 * the connections come back spread within the budget.
 */

const pair: EndpointOptions[] = [
  { name: 'b', priority: 2, url: 'ws://mock.test/b' },
  { name: 'a', priority: 1, url: 'ws://mock.test/a' },
];

/**
 * Runs `act` and checks that it made `a` dial exactly `dials` more times, each after `queued`, and that
 * every dial of the pool (b's too) had a permit of its own.
 */
async function dialsThroughPermits(h: PoolHarness, dials: number, act: () => Promise<void>) {
  const grantedBefore = h.granted();
  const allBefore = h.dials.length;
  const dialsBefore = h.dialsOf('a').length;
  const statesBefore = h.states.length;
  await act();
  const states = h.states.slice(statesBefore);
  expect(h.dialsOf('a').length - dialsBefore, 'dials of a').toBe(dials);
  expect(h.granted() - grantedBefore, 'permits granted: one per dial').toBe(h.dials.length - allBefore);
  expect(states.filter((change) => change.name === 'a' && change.previous === 'queued').length, 'visits of queued that ended in a dial').toBe(dials);
  expectEveryDialQueued(h.states);
  return states.filter((change) => change.name === 'a').map((change) => change.status);
}

describe('every dial asks the pool for a permit', () => {
  it('the first dial', async () => {
    const h = poolHarness({ staggerMs: 0 }, { endpoints: pair });
    const states = await dialsThroughPermits(h, 1, async () => {
      h.pool.start();
      await h.settle();
    });
    expect(states).toEqual(['queued', 'connecting', 'connected']);
    expect(h.granted()).toBe(2);
  });

  it('the reconnect after a drop', async () => {
    const h = poolHarness({ staggerMs: 0 }, { endpoints: pair });
    h.pool.start();
    await h.settle();
    const states = await dialsThroughPermits(h, 1, async () => {
      h.socketOf('a').drop();
      await h.settle();
      expect(h.connection('a').status).toBe('reconnecting');
      await h.advance(100);
    });
    expect(states).toEqual(['reconnecting', 'queued', 'connecting', 'connected']);
  });

  it('the half-open probe after the circuit opened', async () => {
    const refusing = createMockServer();
    refusing.refusing = true;
    const h = poolHarness(
      { staggerMs: 0, defaults: { circuit: { failureThreshold: 2, recoveryMs: 1_000 } } },
      { endpoints: pair, route: (url, server) => (url.endsWith('/a') ? refusing : server) },
    );
    const states = await dialsThroughPermits(h, 3, async () => {
      h.pool.start();
      await h.settle();
      await h.advance(100);
      expect(h.connection('a').status).toBe('circuitOpen');
      await h.advance(1_000);
    });
    expect(states).toEqual(['queued', 'connecting', 'reconnecting', 'queued', 'connecting', 'circuitOpen', 'queued', 'halfOpen', 'circuitOpen']);
  });

  it('the dial when the network is back after offline', async () => {
    const h = poolHarness({ staggerMs: 0 }, { endpoints: pair });
    h.pool.start();
    await h.settle();
    const states = await dialsThroughPermits(h, 1, async () => {
      h.env.emit('offline');
      await h.advance(60_000);
      h.env.emit('online');
      await h.settle();
    });
    expect(states).toEqual(['offline', 'queued', 'connecting', 'connected']);
  });

  it('the dial of retry(), from a backoff and from failed', async () => {
    const h = poolHarness({ staggerMs: 0, defaults: { reconnect: { baseMs: 60_000, capMs: 60_000, jitter: 0 } } }, { endpoints: pair });
    h.pool.start();
    await h.settle();
    let states = await dialsThroughPermits(h, 1, async () => {
      h.socketOf('a').drop();
      await h.settle();
      h.connection('a').retry();
      await h.settle();
    });
    expect(states).toEqual(['reconnecting', 'queued', 'connecting', 'connected']);
    states = await dialsThroughPermits(h, 1, async () => {
      h.socketOf('a').closeFromServer(4003, 'forbidden');
      await h.advance(120_000);
      expect(h.connection('a').status).toBe('failed');
      h.connection('a').retry();
      await h.settle();
    });
    expect(states).toEqual(['failed', 'queued', 'connecting', 'connected']);
  });

  it('the dial with a fresh token after the server refused the old one (4001)', async () => {
    let issued = 0;
    const h = poolHarness({ staggerMs: 0, defaults: { auth: { token: () => `token-${++issued}` } } }, { endpoints: pair });
    h.pool.start();
    await h.settle();
    const states = await dialsThroughPermits(h, 1, async () => {
      h.socketOf('a').closeFromServer(4001, 'unauthorized');
      await h.settle();
      await h.settle();
    });
    expect(states).toEqual(['queued', 'connecting', 'authenticating', 'connected']);
    expect(h.socketOf('a').sentOfType('auth').at(-1)?.token).toBe('token-3');
  });

  it('the dial when a page hidden with closeWhenHidden becomes visible', async () => {
    const h = poolHarness({ staggerMs: 0, defaults: { closeWhenHidden: true } }, { endpoints: pair });
    h.pool.start();
    await h.settle();
    const states = await dialsThroughPermits(h, 1, async () => {
      h.env.emit('hidden');
      await h.settle();
      expect(h.server.live).toHaveLength(0);
      h.env.emit('visible');
      await h.settle();
    });
    expect(states).toEqual(['suspended', 'queued', 'connecting', 'connected']);
  });

  it('with dialBudget: false the connections dial freely: no queued, no permits', async () => {
    const h = poolHarness({ staggerMs: 0, dialBudget: false });
    h.pool.start();
    await h.settle();
    h.server.dropAll();
    await h.advance(100);
    expect(h.pool.status().health).toBe('up');
    expect(h.states.some((change) => change.status === 'queued')).toBe(false);
    expect(h.pool.metrics().dials).toEqual({ granted: 0, waiting: 0 });
    expect(h.rt.budget).toBeUndefined();
  });
});

describe('the pool-wide dial budget', () => {
  it('brings 100 connections back after a mass drop spread within the budget, never more than it allows per 100 ms', async () => {
    const endpoints = Array.from({ length: 100 }, (_, i) => ({ name: `c${i}`, priority: (i % 3) + 1, url: `ws://mock.test/c${i}` }));
    const budget = { ratePerSec: 100, burst: 10 };
    const h = poolHarness({ staggerMs: 0, dialBudget: budget, defaults: { heartbeat: false } }, { endpoints });
    h.pool.start();
    await h.settle();
    await h.advanceBy(2_000, 10);
    expect(h.pool.status().health).toBe('up');
    expect(h.dials).toHaveLength(100);

    const dropAt = h.clock.now();
    h.server.dropAll();
    await h.settle();
    expect(h.pool.status().health).toBe('down');
    let mostWaiting = 0;
    for (let elapsed = 0; elapsed < 2_000 && h.pool.status().health !== 'up'; elapsed += 10) {
      await h.advance(10);
      mostWaiting = Math.max(mostWaiting, h.pool.metrics().dials.waiting);
    }
    expect(h.pool.status().health, 'every connection is back').toBe('up');
    const redials = h.dials.slice(100).map((dial) => dial.at);
    expect(redials).toHaveLength(100);
    expect(h.granted(), 'one permit per dial').toBe(200);
    expect(mostWaiting, 'the rest wait in queued for their permit').toBe(90);
    expectEveryDialQueued(h.states);

    // Never more than burst + rate × W in any window W, over the whole run: the first start and the comeback.
    const all = h.dials.map((dial) => dial.at);
    expect(maxInWindow(all, 1), 'dials at one instant').toBeLessThanOrEqual(budget.burst);
    expect(maxInWindow(all, 100), 'dials per 100 ms').toBeLessThanOrEqual(budget.burst + budget.ratePerSec * 0.1);
    expect(maxInWindow(all, 1_000), 'dials per second').toBeLessThanOrEqual(budget.burst + budget.ratePerSec);
    expect(h.rt.budget!.grants, 'the budget saw the same dials').toEqual(all);
    // Spread, not one burst: the first burst right after the backoff, then one every 10 ms.
    expect(redials[0]! - dropAt).toBe(100);
    expect(redials.at(-1)! - redials[0]!).toBeGreaterThanOrEqual(890);
  });

  it('gives a waiting priority 1 connection its permit before a priority 3 one that waited longer', async () => {
    const endpoints = [
      ...['p3a', 'p3b', 'p3c'].map((name) => ({ name, priority: 3, url: `ws://mock.test/${name}` })),
      ...['p1a', 'p1b', 'p1c'].map((name) => ({ name, priority: 1, url: `ws://mock.test/${name}` })),
    ];
    const h = poolHarness({ staggerMs: 0, dialBudget: { ratePerSec: 10, burst: 1 }, defaults: { heartbeat: false } }, { endpoints });
    h.pool.start();
    await h.settle();
    await h.advanceBy(2_000, 50);
    expect(h.dialOrder(), 'the first start goes by priority too').toEqual(['p1a', 'p1b', 'p1c', 'p3a', 'p3b', 'p3c']);
    expect(h.pool.status().health).toBe('up');

    const t = h.clock.now();
    for (const name of ['p3a', 'p3b', 'p3c']) h.socketOf(name).drop();
    await h.advance(150);
    // p3a took the one token at t + 100; p3b and p3c wait.
    expect(h.pool.metrics().dials.waiting).toBe(2);
    for (const name of ['p1a', 'p1b', 'p1c']) h.socketOf(name).drop();
    await h.advanceBy(1_000, 50);
    const comeback = h.dials.slice(6);
    expect(comeback.map((dial) => [h.nameOf(dial), dial.at - t])).toEqual([
      ['p3a', 100],
      ['p3b', 200],
      ['p1a', 300],
      ['p1b', 400],
      ['p1c', 500],
      ['p3c', 600],
    ]);
    expect(h.pool.status().health).toBe('up');
  });

  it('when the network is back, the burst of permits goes by priority, though a priority 1 connection the user stopped and started again was the last to listen', async () => {
    const h = poolHarness({ staggerMs: 0, dialBudget: { ratePerSec: 10, burst: 2 }, defaults: { heartbeat: false } });
    h.pool.start();
    await h.advanceBy(1_000, 100);
    h.connection('queue').stop();
    await h.settle();
    h.connection('queue').start();
    await h.advanceBy(1_000, 100);
    expect(h.pool.status().health).toBe('up');
    h.env.emit('offline');
    await h.advance(10_000);
    const t = h.clock.now();
    const before = h.dials.length;
    h.env.emit('online');
    await h.advanceBy(1_000, 100);
    expect(h.dials.slice(before).map((dial) => [h.nameOf(dial), dial.at - t])).toEqual([
      ['queue', 0],
      ['adw-monitor', 0],
      ['workflows', 100],
      ['routes', 200],
      ['workflow-history', 300],
      ['planned-features', 400],
      ['system-status', 500],
      ['webhook-status', 600],
    ]);
    expectEveryDialQueued(h.states);
  });

  it('withdraws the requests of connections that go offline while queued, grants them nothing, and queues them again online', async () => {
    const h = poolHarness({ staggerMs: 0, dialBudget: { ratePerSec: 10, burst: 2 }, defaults: { heartbeat: false } });
    h.pool.start();
    await h.settle();
    expect(h.granted()).toBe(2);
    expect(h.pool.metrics().dials.waiting).toBe(6);
    expect(Object.values(h.pool.status().connections).filter((status) => status === 'queued')).toHaveLength(6);

    h.env.emit('offline');
    await h.settle();
    expect(Object.values(h.pool.status().connections)).toEqual(Array(8).fill('offline'));
    expect(h.pool.metrics().dials.waiting, 'offline connections withdrew their requests').toBe(0);
    expect(h.clock.pending, 'and the budget holds no timer').toBe(0);
    await h.advance(10_000);
    expect(h.granted(), 'no permit goes to an offline connection').toBe(2);
    expect(h.dials).toHaveLength(2);

    h.env.emit('online');
    await h.settle();
    expect(h.granted()).toBe(4);
    expect(h.pool.metrics().dials.waiting).toBe(6);
    await h.advanceBy(600, 100);
    expect(h.pool.status().health).toBe('up');
    expect(h.granted()).toBe(10);
    expect(h.dials.slice(2).map((dial) => dial.at - T0 - 10_000)).toEqual([0, 0, 100, 200, 300, 400, 500, 600]);
    expectEveryDialQueued(h.states);
  });

  it('stop() withdraws every waiting request: no permit, no timer, no dial afterwards', async () => {
    const h = poolHarness({ staggerMs: 0, dialBudget: { ratePerSec: 10, burst: 2 }, defaults: { heartbeat: false } });
    h.pool.start();
    await h.settle();
    h.pool.stop();
    await h.settle();
    expect(h.pool.status().state).toBe('stopped');
    expect(h.pool.metrics().dials).toEqual({ granted: 2, waiting: 0 });
    expect(h.clock.pending).toBe(0);
    await h.advance(10_000);
    expect(h.dials).toHaveLength(2);
  });
});
