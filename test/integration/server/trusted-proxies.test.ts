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

  it('charges an IPv6 client’s whole /64 one budget: new addresses of its network are no new budget, another network is', async () => {
    const log = captureLogger();
    const server = await start({ ...smallBudget, trustedProxies: ['127.0.0.1'], logger: log.logger });
    const codes: number[] = [];
    for (const address of ['2001:db8:1:2::a1', '2001:db8:1:2::a2', '2001:DB8:1:2:b3::a3', '2001:db8:1:2:ffff:ffff:ffff:ffff']) codes.push(...(await failLogins(server, [address], 1)));
    expect(codes).toEqual([4001, 4001, 4001, 4029]);
    expect(log.lines().filter((line) => line.msg === 'address over its unauthenticated rate limit').map((line) => line.ip), 'logged by its own address').toEqual(['2001:db8:1:2:ffff:ffff:ffff:ffff']);
    const neighbour = await connectAs(server, 'bob', {}, forwarded('2001:db8:1:3::a1'));
    await neighbour.close();
  });

  it('charges each IPv6 address its own budget with ipv6ClientPrefix 128', async () => {
    const server = await start({ ...smallBudget, trustedProxies: ['127.0.0.1'], ipv6ClientPrefix: 128 });
    const codes: number[] = [];
    for (const host of ['a1', 'a2', 'a3', 'a4']) codes.push(...(await failLogins(server, [`2001:db8:1:2::${host}`], 1)));
    expect(codes).toEqual([4001, 4001, 4001, 4001]);
  });

  it('reads the client from RFC 7239 Forwarded when told to, and then ignores X-Forwarded-For', async () => {
    const server = await start({ ...smallBudget, trustedProxies: ['loopback'], forwardedHeader: 'forwarded' });
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const client = await open(wsUrl(server), undefined, { headers: { Forwarded: 'for="[2001:db8:9::1]:443";proto=https', 'X-Forwarded-For': `198.51.100.${i}` } });
      client.send({ type: 'auth', token: await mintToken({ sub: 'x', secret: 'another-secret-that-is-32-bytes-long!!' }) });
      codes.push((await client.closed).code);
    }
    expect(codes).toEqual([4001, 4001, 4001, 4029]);
    const neighbour = await connectAs(server, 'bob', {}, { headers: { Forwarded: 'for=203.0.113.7' } });
    await neighbour.close();
  });

  it('ignores X-Forwarded-For from a socket that is no trusted proxy: forged addresses share the socket address’s budget', async () => {
    const server = await start(smallBudget);
    expect(await failLogins(server, ['203.0.113.7'], 3)).toEqual([4001, 4001, 4001]);
    const other = await open(wsUrl(server), undefined, forwarded('198.51.100.9'));
    expect((await other.closed).code).toBe(4029);
  });
});
