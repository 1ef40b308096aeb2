import { describe, expect, it } from 'vitest';
import { createPool, type EndpointOptions, type PoolOptions } from '../../../src/index.js';
import { SimulatedClock, createManualEnvironment, createMockServer, type MockServer } from '../../../src/testing/index.js';
import { settle } from '../../support/harness.js';
import { seedFeeds } from '../../../src/cli/seed-feeds.js';

const feeds = seedFeeds;

function setup(overrides: Partial<PoolOptions> = {}, endpoints?: EndpointOptions[]) {
  const clock = new SimulatedClock(1_700_000_000_000);
  const server: MockServer = createMockServer({ now: () => clock.now() });
  const env = createManualEnvironment();
  const listedLowestFirst = [...feeds].sort((a, b) => b[1] - a[1]);
  const list = endpoints ?? listedLowestFirst.map(([name, priority]) => ({ name, priority, url: `ws://mock.test/ws/${name}` }));
  const pool = createPool({
    endpoints: list,
    defaults: { WebSocket: server.WebSocket, reconnect: { baseMs: 100, capMs: 1_000, jitter: 0 } },
    clock,
    environment: env,
    random: () => 0.5,
    ...overrides,
  });
  const advance = async (ms: number) => {
    clock.advance(ms);
    await settle();
  };
  return { clock, server, env, pool, advance };
}

describe('pool', () => {
  it('starts the connections in priority order, staggerMs apart', async () => {
    const { pool, server, advance } = setup({ staggerMs: 100 });
    pool.start();
    await settle();
    expect(server.sockets.map((s) => s.url.split('/').pop())).toEqual(['queue']);
    for (let i = 0; i < 7; i++) await advance(100);
    expect(server.sockets.map((s) => s.url.split('/').pop())).toEqual(feeds.map(([name]) => name));
    expect(pool.status().state).toBe('running');
    expect(pool.status().health).toBe('up');
  });

  it('reports degraded and down as connections drop, and up again when they are back', async () => {
    const { pool, server, advance } = setup({ staggerMs: 0 });
    const healths: string[] = [];
    pool.on('health', ({ health }) => healths.push(health));
    pool.start();
    await settle();
    server.sockets[0]!.drop();
    await settle();
    expect(pool.status().health).toBe('degraded');
    server.dropAll();
    await settle();
    expect(pool.status().health).toBe('down');
    await advance(100);
    expect(pool.status().health).toBe('up');
    expect(healths).toEqual(['degraded', 'up', 'degraded', 'down', 'degraded', 'up']);
    expect(pool.snapshot.context.health).toBe('up');
  });

  it('never grants more dials than the budget allows, by priority, after a mass drop', async () => {
    const endpoints = Array.from({ length: 60 }, (_, i) => ({ name: `c${i}`, priority: (i % 3) + 1, url: 'ws://mock.test/ws' }));
    const { pool, server, clock, advance } = setup({ staggerMs: 0, dialBudget: { ratePerSec: 100, burst: 10 } }, endpoints);
    pool.start();
    for (let i = 0; i < 20; i++) await advance(50);
    expect(pool.status().health).toBe('up');
    const dialTimes: number[] = [];
    const before = server.sockets.length;
    server.dropAll();
    await settle();
    for (let i = 0; i < 40; i++) {
      await advance(25);
      for (let k = dialTimes.length; k < server.sockets.length - before; k++) dialTimes.push(clock.now());
    }
    expect(pool.status().health).toBe('up');
    const windowMs = 100;
    for (const t of dialTimes) {
      const inWindow = dialTimes.filter((u) => u >= t && u < t + windowMs).length;
      expect(inWindow).toBeLessThanOrEqual(10 + 100 * (windowMs / 1000) + 1);
    }
  });

  it('load-balances a group round-robin over healthy members', async () => {
    const endpoints = ['a', 'b', 'c'].map((name) => ({ name, group: 'workers', url: `ws://mock.test/${name}` }));
    const { pool, server } = setup({ staggerMs: 0 }, endpoints);
    pool.start();
    await settle();
    for (let i = 0; i < 6; i++) await pool.send('workers', { i }, { channel: 'jobs:all' });
    const counts = server.sockets.map((s) => s.sent.filter((f) => f.json?.type === 'publish').length);
    expect(counts).toEqual([2, 2, 2]);
  });

  it('one environment listener serves the whole pool', async () => {
    const { pool, env } = setup({ staggerMs: 0 });
    pool.start();
    await settle();
    expect(env.listenerCount).toBe(1);
    env.emit('offline');
    await settle();
    expect(Object.values(pool.status().connections)).toEqual(Array(8).fill('offline'));
  });

  it('stop() closes every connection and leaves no socket, timer or listener', async () => {
    const { pool, server, clock, env } = setup({ staggerMs: 0 });
    pool.start();
    await settle();
    pool.stop();
    await settle();
    expect(pool.status().state).toBe('stopped');
    expect(server.live).toHaveLength(0);
    expect(clock.pending).toBe(0);
    expect(env.listenerCount).toBe(0);
  });

  it('names a bad endpoint option with its index', () => {
    const { WebSocket } = createMockServer();
    const defaults = { WebSocket };
    expect(() => createPool({ defaults, endpoints: [{ name: 'a', url: 'ws://ok' }, { name: 'b', url: 'http://bad' }] })).toThrow(/`endpoints\[1\]\.url`/);
    expect(() => createPool({ defaults, endpoints: [{ name: 'a', url: 'ws://ok' }, { name: 'a', url: 'ws://ok' }] })).toThrow(/`endpoints\[1\]\.name`/);
    expect(() => createPool({ defaults, endpoints: [{ name: 'a', url: 'ws://ok', heartbeat: { intervalMs: -1 } }] })).toThrow(/`endpoints\[0\]\.heartbeat\.intervalMs`/);
  });
});
