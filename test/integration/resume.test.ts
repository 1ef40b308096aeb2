import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createConnection } from '../../src/index.node.js';
import { createServer, type ServerOptions, type SocketchartServer } from '../../src/server/index.js';
import { until } from '../support/until.js';


const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const options = (port: number): ServerOptions => ({
  port,
  host: '127.0.0.1',
  auth: { verify: async (token) => ({ userId: token }) },
  channels: [{ pattern: 'feed:*', subscribe: true, publish: true }],
  logger: pino({ level: 'silent' }),
  shutdownTimeoutMs: 200,
});

describe('resume against the reference server', () => {
  it('replays what a reconnecting subscriber missed, once and in order', async () => {
    const server: SocketchartServer = await createServer(options(0));
    const port = server.address()!.port;
    const connection = createConnection({ url: `ws://127.0.0.1:${port}`, auth: { token: 'reader' }, reconnect: { baseMs: 50, capMs: 100 } });
    cleanups.push(async () => {
      connection.dispose();
      await server.close();
    });
    const got: number[] = [];
    connection.subscribe<{ n: number }>('feed:a', (data) => got.push(data.n));
    connection.start();
    await until(() => connection.isConnected);
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (let n = 1; n <= 3; n++) await server.broadcast('feed:a', { n });
    await until(() => got.length === 3);
    connection.stop();
    await until(() => connection.status === 'closed');
    for (let n = 4; n <= 6; n++) await server.broadcast('feed:a', { n });
    connection.start();
    await until(() => got.length === 6);
    expect(got).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('after a restart that lost the history, a resuming subscriber is told of the gap with a typed event', async () => {
    let server: SocketchartServer = await createServer(options(0));
    const port = server.address()!.port;
    const connection = createConnection({ url: `ws://127.0.0.1:${port}`, auth: { token: 'reader' }, reconnect: { baseMs: 50, capMs: 100, restartWindowMs: 100 } });
    cleanups.push(async () => {
      connection.dispose();
      await server.close();
    });
    const gaps: Array<{ ch: string; from: number; to: number }> = [];
    const got: number[] = [];
    connection.on('gap', (gap) => gaps.push(gap));
    connection.subscribe<{ n: number }>('feed:b', (data) => got.push(data.n));
    connection.start();
    await until(() => connection.isConnected);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await server.broadcast('feed:b', { n: 1 });
    await until(() => got.length === 1);
    await server.close();
    server = await createServer(options(port));
    await server.broadcast('feed:b', { n: 2 });
    await until(() => gaps.length === 1, 10_000);
    expect(gaps[0]!.ch).toBe('feed:b');
    expect(gaps[0]!.to).toBeGreaterThanOrEqual(gaps[0]!.from);
    await server.broadcast('feed:b', { n: 3 });
    await until(() => got.includes(3));
    expect(got[0]).toBe(1);
  });
});
