import { afterEach, describe, expect, it } from 'vitest';
import type { SocketchartServer } from '../../../src/server/index.js';
import { captureLogger, connectAs, mintToken, open, startServer, wsUrl, type TestServerOptions } from './helpers.js';

/** Three failed logins, no refill meanwhile. */
const smallBudget = { unauthenticatedRateLimit: { perMinute: 1, burst: 3 } };
const forwarded = (...hops: string[]) => ({ headers: { 'X-Forwarded-For': hops.join(', ') } });

describe('clients behind a trusted proxy (trustedProxies, X-Forwarded-For)', () => {
  const servers: SocketchartServer[] = [];
  const start = async (options: TestServerOptions) => {
    const server = await startServer(options);
    servers.push(server);
    return server;
  };

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  /** Fails a login from behind the proxy, forwarding `hops`, until the server closes the new socket with 4029; returns every close code. */
  async function failLogins(server: SocketchartServer, hops: string[], attempts: number): Promise<number[]> {
    const codes: number[] = [];
    for (let i = 0; i < attempts; i++) {
      const client = await open(wsUrl(server), undefined, forwarded(...hops));
      client.send({ type: 'auth', token: await mintToken({ sub: 'x', secret: 'another-secret-that-is-32-bytes-long!!' }) });
      codes.push((await client.closed).code);
    }
    return codes;
  }

  it('charges each forwarded client its own unauthenticated budget: one spends it and is closed with 4029, another still connects', async () => {
    const log = captureLogger();
    const server = await start({ ...smallBudget, trustedProxies: ['127.0.0.1'], logger: log.logger });
    expect(await failLogins(server, ['203.0.113.7'], 4)).toEqual([4001, 4001, 4001, 4029]);
    const neighbour = await connectAs(server, 'bob', {}, forwarded('198.51.100.9'));
    neighbour.send({ type: 'ping', ts: 1 });
    await neighbour.nextOfType('pong');
    await neighbour.close();
    expect(log.lines().filter((line) => line.msg === 'address over its unauthenticated rate limit').map((line) => line.ip)).toEqual(['203.0.113.7']);
  });

  it('charges the hop its trusted proxy appended, not an address the client wrote to the left of it', async () => {
    const server = await start({ ...smallBudget, trustedProxies: ['127.0.0.1'] });
    expect(await failLogins(server, ['198.51.100.9', '203.0.113.7'], 4)).toEqual([4001, 4001, 4001, 4029]);
    const victim = await connectAs(server, 'bob', {}, forwarded('198.51.100.9'));
    await victim.close();
  });

  it('ignores X-Forwarded-For from a socket that is no trusted proxy: forged addresses share the socket address’s budget', async () => {
    const server = await start(smallBudget);
    expect(await failLogins(server, ['203.0.113.7'], 3)).toEqual([4001, 4001, 4001]);
    const other = await open(wsUrl(server), undefined, forwarded('198.51.100.9'));
    expect((await other.closed).code).toBe(4029);
  });
});
