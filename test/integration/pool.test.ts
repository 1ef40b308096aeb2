import { afterEach, describe, expect, it } from 'vitest';
import { poolRuntimeOf } from '../../src/pool/implementations.js';
import type { WebSocket } from 'ws';
import { createPool, type EndpointOptions, type Pool, type PoolOptions } from '../../src/index.node.js';
import { liveSocketCount } from '../../src/testing/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { ProtocolServer } from '../support/echo-server.js';
import { FEEDS, maxInWindow } from '../support/pool-harness.js';
import { until } from '../support/until.js';

/**
 * The pool against a real `ws` server on loopback (the Node entry: the default WebSocket is `ws`), with
 * the server killed and restarted on the same port mid-test, and a TCP fault proxy in front of it.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A protocol server on an OS port that records when it accepted each connection, and its path, listen after listen. */
async function startServer() {
  const server = new ProtocolServer();
  const accepted: number[] = [];
  const paths = new Map<WebSocket, string>();
  const listen = async (port?: number) => {
    const bound = await server.listen(port);
    server.wss!.on('connection', (socket, request) => {
      accepted.push(Date.now());
      paths.set(socket, request.url ?? '');
    });
    return bound;
  };
  const port = await listen();
  cleanups.push(() => server.stop());
  /** Drops (TCP reset) the server's sockets whose request path is `path`. */
  const terminate = (path: string) => {
    for (const client of server.clients) if (paths.get(client) === path) client.terminate();
  };
  return { server, port, accepted, terminate, restart: async () => void (await listen(port)) };
}

function startPool(options: PoolOptions): Pool {
  const pool = createPool(options);
  cleanups.push(() => pool.dispose());
  return pool;
}

/** Clock times at which each connection dialed (entered `connecting`). */
function recordDials(pool: Pool) {
  const dials: Array<{ name: string; at: number }> = [];
  pool.on('state', ({ name, status }) => {
    if (status === 'connecting' || status === 'halfOpen') dials.push({ name, at: Date.now() });
  });
  return dials;
}

const fastReconnect = { baseMs: 50, capMs: 200, jitter: 0, minUptimeMs: 60_000 };

describe('pool against a real ws server on loopback', () => {
  it('starts the eight seed feeds in priority order, staggered; after a server kill and restart every feed is back within the budget; stop() leaves no socket', async () => {
    const socketsBefore = liveSocketCount();
    const { server, port, accepted, restart } = await startServer();
    const budget = { ratePerSec: 20, burst: 3 };
    const endpoints: EndpointOptions[] = [...FEEDS].sort((a, b) => b[1] - a[1]).map(([name, priority]) => ({ name, priority, url: `ws://127.0.0.1:${port}/ws/${name}` }));
    const pool = startPool({
      endpoints,
      staggerMs: 30,
      dialBudget: budget,
      defaults: { auth: { token: 'tkn' }, reconnect: fastReconnect, circuit: false, heartbeat: false },
    });
    const dials = recordDials(pool);
    pool.start();
    await until(() => pool.status().health === 'up', 5_000, 'every feed connected');
    expect(dials.map(({ name }) => name)).toEqual(FEEDS.map(([name]) => name));
    for (let i = 1; i < dials.length; i++) expect(dials[i]!.at - dials[i - 1]!.at, `stagger before ${dials[i]!.name}`).toBeGreaterThanOrEqual(25);
    expect(pool.status().state).toBe('running');
    expect(server.clients.size).toBe(8);

    // The server dies (every socket dropped) and comes back on the same port a moment later.
    await server.stop();
    await until(() => pool.status().health === 'down', 2_000, 'every feed to notice');
    const downAt = Date.now();
    await sleep(300);
    expect(pool.metrics().dials.granted, 'dials while the server is down are budgeted too').toBeGreaterThan(8);
    const acceptedBefore = accepted.length;
    await restart();
    await until(() => pool.status().health === 'up', 6_000, 'every feed back');
    expect(server.clients.size).toBe(8);
    expect(accepted.length - acceptedBefore, 'one connection per feed after the restart').toBe(8);

    // Never more dials than the budget allows, in any window (the budget's own clock times), and every
    // dial of the pool — failed ones while the server was down included — had its permit.
    const grants = poolRuntimeOf(pool.actor)!.budget!.grants;
    expect(grants.length).toBe(pool.metrics().dials.granted);
    expect(grants.length).toBe(dials.length);
    for (const windowMs of [1, 100, 500, 1_000]) {
      expect(maxInWindow(grants, windowMs), `dials within ${windowMs} ms`).toBeLessThanOrEqual(Math.floor(budget.burst + (budget.ratePerSec * windowMs) / 1_000));
    }
    expect(dials.filter(({ at }) => at >= downAt).length).toBeGreaterThanOrEqual(8);

    pool.stop();
    await until(() => pool.status().state === 'stopped', 3_000, 'the pool to stop');
    expect(Object.values(pool.status().connections)).toEqual(Array(8).fill('closed'));
    expect(liveSocketCount() - socketsBefore, 'sockets left open').toBe(0);
    await until(() => server.clients.size === 0, 2_000, 'the server to see every socket closed');
  });

  it('brings 40 connections back after a restart spread within the dial budget, not in one burst', async () => {
    const { server, port, accepted, restart } = await startServer();
    const budget = { ratePerSec: 50, burst: 5 };
    const endpoints = Array.from({ length: 40 }, (_, i) => ({ name: `c${i}`, priority: (i % 3) + 1, url: `ws://127.0.0.1:${port}/c${i}` }));
    const pool = startPool({ endpoints, staggerMs: 0, dialBudget: budget, defaults: { reconnect: fastReconnect, circuit: false, heartbeat: false } });
    pool.start();
    await until(() => pool.status().health === 'up', 5_000, 'the first start');

    await server.stop();
    await until(() => pool.status().health === 'down', 2_000, 'every connection to notice');
    const acceptedBefore = accepted.length;
    await restart();
    await until(() => pool.status().health === 'up', 8_000, 'every connection back');
    const comeback = accepted.slice(acceptedBefore);
    expect(comeback).toHaveLength(40);
    // The dials, on the budget's clock: never more than it allows in any window.
    const grants = poolRuntimeOf(pool.actor)!.budget!.grants;
    for (const windowMs of [1, 100, 1_000]) {
      expect(maxInWindow(grants, windowMs), `dials within ${windowMs} ms`).toBeLessThanOrEqual(Math.floor(budget.burst + (budget.ratePerSec * windowMs) / 1_000));
    }
    // Seen from the server: spread over 700 ms, not one burst of 40 (loose bounds: a busy event loop
    // can land a few handshakes together).
    expect(maxInWindow(comeback, 100), 'connections accepted within 100 ms').toBeLessThanOrEqual(20);
    expect(comeback.at(-1)! - comeback[0]!, 'spread over time').toBeGreaterThanOrEqual(500);
    expect(pool.metrics().totals.reconnects).toBe(40);
  });

  it('fails over to the backup url when the primary refuses (through a fault proxy), and goes back to the primary once it answers', async () => {
    const { port, terminate } = await startServer();
    const proxy = new FaultProxy({ host: '127.0.0.1', port });
    const proxyPort = await proxy.listen();
    cleanups.push(() => proxy.close());
    proxy.mode = 'refuse';
    const primary = `ws://127.0.0.1:${proxyPort}/feed`;
    const backup = `ws://127.0.0.1:${port}/feed`;
    const pool = startPool({
      endpoints: [
        { name: 'feed', priority: 1, url: [primary, backup], failover: { after: 2, primaryRetryMs: 400 } },
        { name: 'other', priority: 2, url: `ws://127.0.0.1:${port}/other` },
      ],
      staggerMs: 0,
      defaults: { reconnect: fastReconnect, circuit: false, heartbeat: false },
    });
    const failovers: Array<{ name: string; from: number; to: number; url: string }> = [];
    pool.on('failover', (event) => failovers.push(event));
    const feed = pool.connection('feed')!;
    pool.start();
    await until(() => pool.status().health === 'up', 5_000, 'the feed on its backup');
    expect(failovers).toEqual([{ name: 'feed', from: 0, to: 1, url: backup }]);
    expect(feed.url).toBe(backup);
    expect(feed.snapshot.context.urlIndex).toBe(1);
    expect(proxy.connections, 'two refused dials to the primary').toBe(2);
    expect(pool.connection('other')!.dials).toBe(1);

    // The primary answers again; after primaryRetryMs the next dial probes it.
    proxy.mode = 'pass';
    await sleep(450);
    terminate('/feed');
    await until(() => failovers.length === 2 && feed.isConnected, 5_000, 'the feed back on its primary');
    expect(failovers[1]).toEqual({ name: 'feed', from: 1, to: 0, url: primary });
    expect(feed.url).toBe(primary);
    expect(feed.snapshot.context.urlIndex).toBe(0);
    expect(proxy.open, 'the feed goes through the proxy again').toBe(1);
  });

  it('load-balances a group over real sockets, and takes a member the proxy slows down out of rotation', async () => {
    const { port } = await startServer();
    const proxy = new FaultProxy({ host: '127.0.0.1', port });
    const proxyPort = await proxy.listen();
    cleanups.push(() => proxy.close());
    const pool = startPool({
      endpoints: [
        { name: 'slow', group: 'workers', url: `ws://127.0.0.1:${proxyPort}/slow` },
        { name: 'fast-1', group: 'workers', url: `ws://127.0.0.1:${port}/fast-1` },
        { name: 'fast-2', group: 'workers', url: `ws://127.0.0.1:${port}/fast-2` },
      ],
      staggerMs: 0,
      health: { maxRttMs: 150 },
      defaults: { reconnect: fastReconnect, heartbeat: { intervalMs: 150, timeoutMs: 2_000 } },
    });
    const heard: Record<string, unknown[]> = { slow: [], 'fast-1': [], 'fast-2': [] };
    for (const name of Object.keys(heard)) pool.subscribe(name, 'jobs', (data) => heard[name]!.push(data));
    const everything: unknown[] = [];
    pool.subscribe('fast-1', (data) => everything.push(data));
    pool.start();
    await until(() => pool.status().health === 'up', 5_000, 'the group connected');

    // Round-robin over the three while all are fast: the server echoes each publish to its sender.
    for (let n = 1; n <= 3; n++) await pool.send('workers', { n }, { channel: 'jobs' });
    await until(() => Object.values(heard).every((list) => list.length === 1), 3_000, 'one message per member');
    expect(everything).toEqual(heard['fast-1']);

    // The proxy delays every chunk: the slow member's next heartbeat round trip exceeds maxRttMs.
    proxy.delayMs = 120;
    const slow = pool.connection('slow')!;
    await until(() => (slow.rttMs ?? 0) > 150, 3_000, 'a slow round trip');
    for (let n = 4; n <= 9; n++) await pool.send('workers', { n }, { channel: 'jobs' });
    await until(() => heard['fast-1']!.length + heard['fast-2']!.length === 8, 3_000, 'the fast members to hear');
    expect(heard.slow, 'the slow member is out of rotation').toHaveLength(1);
    expect(slow.isConnected, 'but stays connected').toBe(true);

    // Fast again: back in rotation after its next round trip.
    proxy.delayMs = 0;
    await until(() => slow.rttMs !== null && slow.rttMs <= 150, 3_000, 'a fast round trip again');
    for (let n = 10; n <= 12; n++) await pool.send('workers', { n }, { channel: 'jobs' });
    await until(() => heard.slow!.length === 2, 3_000, 'the slow member to be picked again');
  });
});
