import { afterEach, describe, expect, it } from 'vitest';
import { createConnection, ErrorCode, type Connection, type SocketchartError } from '../../src/index.node.js';
import { createManualEnvironment, liveSocketCount } from '../../src/testing/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { ProtocolServer } from '../support/echo-server.js';
import { until } from '../support/until.js';
import { startReferenceServer } from '../support/reference-server.js';
import { collectGarbage, weaklyTrackedSockets } from '../support/collect.js';
import { track } from '../support/settled.js';
import { tokenProvider } from '../support/tokens.js';


const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(options: Partial<Parameters<typeof createConnection>[0]> = {}) {
  const server = new ProtocolServer();
  const port = await server.listen();
  const proxy = new FaultProxy({ host: '127.0.0.1', port });
  const proxyPort = await proxy.listen();
  const connection: Connection = createConnection({
    url: `ws://127.0.0.1:${proxyPort}`,
    auth: { token: 'tkn' },
    reconnect: { baseMs: 50, capMs: 200, minUptimeMs: 60_000 },
    ...options,
  });
  cleanups.push(async () => {
    connection.dispose();
    await proxy.close();
    await server.stop();
  });
  return { server, proxy, connection, port };
}

describe('against a real ws server on loopback', () => {
  it('connects, authenticates, round-trips a message and closes cleanly', async () => {
    const { connection } = await setup();
    const received: unknown[] = [];
    connection.subscribe('room:1', (data) => received.push(data));
    connection.start();
    await until(() => connection.isConnected);
    await connection.send({ hello: 'world' }, { channel: 'room:1' });
    await until(() => received.length === 1);
    expect(received).toEqual([{ hello: 'world' }]);
    const before = liveSocketCount();
    connection.stop();
    await until(() => connection.status === 'closed');
    expect(liveSocketCount()).toBe(before - 1);
  });

  it('text and binary frames both round-trip', async () => {
    const { connection } = await setup();
    const frames: unknown[] = [];
    connection.on('message', (message) => frames.push(message.data));
    connection.start();
    await until(() => connection.isConnected);
    await connection.send(new Uint8Array([1, 2, 3]));
    await until(() => frames.length === 1);
    expect(new Uint8Array(frames[0] as ArrayBufferLike)).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('a binary frame above maxInboundBytes is dropped with MESSAGE_TOO_LARGE and counted in bytes', async () => {
    const { connection } = await setup({ maxInboundBytes: 1_000 });
    const frames: unknown[] = [];
    const errors: string[] = [];
    connection.on('message', (message) => frames.push(message.data));
    connection.on('error', (error) => errors.push(error.code));
    connection.start();
    await until(() => connection.isConnected);
    await connection.send(new Uint8Array(2_000));
    await connection.send(new Uint8Array(10));
    await until(() => frames.length === 1);
    expect(errors).toEqual([ErrorCode.MESSAGE_TOO_LARGE]);
    expect((frames[0] as ArrayBuffer).byteLength).toBe(10);
    expect(connection.metrics().bytesIn).toBeGreaterThanOrEqual(10);
    expect(Number.isFinite(connection.metrics().bytesIn)).toBe(true);
  });

  it('comes back after the server is killed and restarted on the same port', async () => {
    const { connection, server, port } = await setup();
    connection.start();
    await until(() => connection.isConnected);
    await server.stop();
    await until(() => connection.status === 'reconnecting' || connection.status === 'connecting');
    await server.listen(port);
    await until(() => connection.isConnected, 10_000);
    expect(connection.metrics().reconnects).toBe(1);
  });

  it('detects a blackholed (half-open) link by heartbeat and recovers when the path heals', async () => {
    const { connection, proxy } = await setup({ heartbeat: { intervalMs: 100, timeoutMs: 100 } });
    connection.start();
    await until(() => connection.isConnected);
    const errors: string[] = [];
    connection.on('error', (error) => errors.push(error.code));
    proxy.mode = 'blackhole';
    await until(() => connection.status !== 'connected', 3_000);
    expect(errors).toContain(ErrorCode.NETWORK_ERROR);
    proxy.mode = 'pass';
    await until(() => connection.isConnected, 10_000);
  });

  it('a TCP reset is classified as a network error and reconnects', async () => {
    const { connection, proxy } = await setup();
    connection.start();
    await until(() => connection.isConnected);
    proxy.reset();
    await until(() => connection.lastError?.code === ErrorCode.NETWORK_ERROR);
    await until(() => connection.isConnected, 10_000);
    expect(proxy.connections).toBe(2);
  });

  it('a refused token fails without hammering the server', async () => {
    const { connection, server } = await setup({ auth: { token: 'bad' } });
    server.acceptToken = () => false;
    connection.start();
    await until(() => connection.status === 'failed');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.connections).toBe(1);
  });
});

describe('what nobody references can be collected', () => {
  const waitLong = { baseMs: 60_000, capMs: 60_000, jitter: 0 };

  /** Starts a connection that opens its sockets through a class that tracks them weakly. */
  async function trackedSetup(options: Partial<Parameters<typeof createConnection>[0]> = {}) {
    const tracked = weaklyTrackedSockets();
    const context = await setup({ WebSocket: tracked.WebSocket, reconnect: waitLong, ...options });
    return { ...context, expectNoSocketHeld: async () => {
      // the socket's own close may still be settling in the event loop: collect a few times before judging
      for (let attempt = 0; attempt < 20 && tracked.reachable > 0; attempt++) {
        await collectGarbage();
        if (tracked.reachable > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect({ opened: tracked.opened, reachable: tracked.reachable }).toEqual({ opened: 1, reachable: 0 });
    } };
  }

  it('a socket the server closed can be collected while the connection waits to reconnect', async () => {
    const { connection, server, expectNoSocketHeld } = await trackedSetup();
    connection.start();
    await until(() => connection.isConnected);
    for (const client of server.clients) client.close(1011, 'internal error');
    await until(() => connection.status === 'reconnecting');
    expect(connection.lastError?.closeCode).toBe(1011);
    await expectNoSocketHeld();
  });

  it('a socket refused for its token can be collected while the connection stays failed', async () => {
    const { connection, server, expectNoSocketHeld } = await trackedSetup({ auth: { token: 'bad' } });
    server.acceptToken = () => false;
    connection.start();
    await until(() => connection.status === 'failed');
    expect(connection.lastError?.closeCode).toBe(4001);
    await expectNoSocketHeld();
  });

  it('a socket whose auth was answered with an error frame can be collected while the connection waits to retry', async () => {
    const { connection, server, expectNoSocketHeld } = await trackedSetup();
    server.acceptToken = () => false;
    server.refusalFrame = { type: 'error', code: 'SERVER_ERROR', message: 'the session store is unwell' };
    connection.start();
    await until(() => connection.status === 'reconnecting');
    expect(connection.lastError?.code).toBe(ErrorCode.SERVER_ERROR);
    await expectNoSocketHeld();
  });
});

describe('a refusal that says try again later, against the reference server', () => {
  it('a user over maxConnectionsPerUser (an error, then 1013) waits at least reconnect.tryLaterMs before its next dial', async () => {
    const server = await startReferenceServer({ maxConnectionsPerUser: 1 });
    const url = `ws://127.0.0.1:${server.address()!.port}`;
    const make = (): Connection =>
      createConnection({ url, auth: { token: 'alice' }, heartbeat: false, reconnect: { baseMs: 100, capMs: 60_000, jitter: 0, tryLaterMs: 10_000 }, circuit: false });
    const first = make();
    const second = make();
    cleanups.push(async () => {
      first.dispose();
      second.dispose();
      await server.close();
    });
    first.start();
    await until(() => first.isConnected);
    const errors: string[] = [];
    second.on('error', (error) => errors.push(error.code));
    second.start();
    await until(() => second.status === 'reconnecting');
    expect(errors).toEqual([ErrorCode.RATE_LIMIT_EXCEEDED]);
    expect(second.snapshot.context.retryDelayMs).toBeGreaterThanOrEqual(10_000);
  });

  it('a subprotocol-mode client whose valid token the server is merely slow to verify keeps retrying: it does not end in failed as if the token were refused', async () => {
    const slowVerify = (token: string) => new Promise<{ userId: string }>((resolve) => setTimeout(() => resolve({ userId: token }), 1_000));
    const server = await startReferenceServer({ auth: { modes: ['subprotocol', 'message'], timeoutMs: 80, verify: slowVerify } });
    let dials = 0;
    const connection: Connection = createConnection({
      url: `ws://127.0.0.1:${server.address()!.port}`,
      auth: {
        mode: 'subprotocol',
        token: async () => {
          dials += 1;
          return 'alice';
        },
      },
      reconnect: { baseMs: 20, capMs: 40, minUptimeMs: 60_000 },
    });
    cleanups.push(async () => {
      connection.dispose();
      await server.close();
    });
    connection.start();
    await until(() => dials >= 3 || connection.status === 'failed', 8_000, 'a third dial, or failed');
    expect(connection.status).not.toBe('failed');
  });
});

describe('connection.channel(name) on a channel the reference server refuses', () => {
  it('throws AUTHORIZATION_FAILED when the server refuses the subscribe, instead of waiting forever', async () => {
    const server = await startReferenceServer();
    const connection = createConnection({ url: `ws://127.0.0.1:${server.address()!.port}`, auth: { token: 'alice' }, heartbeat: false });
    cleanups.push(async () => {
      connection.dispose();
      await server.close();
    });
    const errors: SocketchartError[] = [];
    connection.on('error', (error) => errors.push(error));
    connection.start();
    await connection.ready();
    const next = track(connection.channel('admin:secrets').next());
    await until(() => next.status !== 'pending', 5_000, 'the refusal');
    expect(next.error).toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED, details: { ch: 'admin:secrets', action: 'subscribe' } });
    expect(errors.map((error) => error.code)).toEqual([ErrorCode.AUTHORIZATION_FAILED]);
    expect(connection.status).toBe('connected');
  });

  it('throws AUTHORIZATION_FAILED for a channel past the server’s maxSubscriptionsPerConnection, and holds back no message for it', async () => {
    const server = await startReferenceServer({ maxSubscriptionsPerConnection: 1, channels: [{ pattern: 'chat:*', subscribe: true, publish: true }] });
    // a refusal taken for a rate limit without retry_after would hold every send for reconnect.baseMs
    const connection = createConnection({ url: `ws://127.0.0.1:${server.address()!.port}`, auth: { token: 'alice' }, heartbeat: false, reconnect: { baseMs: 30_000, capMs: 30_000 } });
    cleanups.push(async () => {
      connection.dispose();
      await server.close();
    });
    connection.start();
    await connection.ready();
    const subscribed = connection.once('control', { filter: ({ type }) => type === 'subscribed' });
    connection.subscribe('chat:one', () => undefined);
    await subscribed;
    const next = track(connection.channel('chat:two').next());
    await until(() => next.status !== 'pending', 5_000, 'the refusal');
    expect(next.error).toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED, details: { ch: 'chat:two', action: 'subscribe', limit: 1 } });
    const sent = track(connection.send({ n: 1 }, { channel: 'chat:one', ack: true }));
    await until(() => sent.status !== 'pending', 5_000, 'the ack');
    expect(sent).toEqual({ status: 'resolved', error: undefined });
    expect(connection.status).toBe('connected');
  });

  it.each([
    ['again', 1],
    ['a third time', 2],
  ])('keeps a channel subscribed %s once a slot was freed, when the refusals of the subscribes withdrawn before (past maxSubscriptionsPerConnection) arrive after', async (_, withdrawn) => {
    const server = await startReferenceServer({ maxSubscriptionsPerConnection: 1, channels: [{ pattern: 'chat:*', subscribe: true, publish: true }] });
    const connection = createConnection({ url: `ws://127.0.0.1:${server.address()!.port}`, auth: { token: 'alice' }, heartbeat: false, reconnect: { baseMs: 30_000, capMs: 30_000 } });
    cleanups.push(async () => {
      connection.dispose();
      await server.close();
    });
    const refused: unknown[] = [];
    const errors: SocketchartError[] = [];
    const got: unknown[] = [];
    connection.on('refused', (event) => refused.push(event));
    connection.on('error', (error) => errors.push(error));
    connection.start();
    await connection.ready();
    const one = connection.once('control', { filter: ({ frame }) => frame.type === 'subscribed' && frame.ch === 'chat:one' });
    const offOne = connection.subscribe('chat:one', () => undefined);
    await one;
    const two = connection.once('control', { filter: ({ frame }) => frame.type === 'subscribed' && frame.ch === 'chat:two' });
    for (let i = 0; i < withdrawn; i++) connection.subscribe('chat:two', () => undefined)();
    offOne();
    connection.subscribe('chat:two', (data) => got.push(data));
    await two;
    await connection.send({ n: 1 }, { channel: 'chat:two', ack: true });
    await until(() => got.length === 1, 5_000, 'the message of chat:two');
    expect(got).toEqual([{ n: 1 }]);
    expect(refused).toEqual([]);
    const refusal = [ErrorCode.AUTHORIZATION_FAILED, { ch: 'chat:two', action: 'subscribe', limit: 1 }];
    expect(errors.map((error) => [error.code, error.details]), 'the refusals of the withdrawn subscribes').toEqual(Array(withdrawn).fill(refusal));
    expect(connection.status).toBe('connected');
  });

  it('throws AUTHORIZATION_FAILED when a token refresh no longer allows the channel', async () => {
    const server = await startReferenceServer({
      auth: { verify: async (token) => ({ userId: 'root', roles: token === 'admin' ? ['admin'] : [], expiresAt: Date.now() + (token === 'admin' ? 1_500 : 60_000) }) },
      channels: [{ pattern: 'admin:*', subscribe: { roles: ['admin'] } }],
    });
    const tokens = tokenProvider(['admin', 'plain']);
    const connection = createConnection({ url: `ws://127.0.0.1:${server.address()!.port}`, auth: { token: tokens.token, refreshLeadMs: 1_000 }, heartbeat: false });
    cleanups.push(async () => {
      connection.dispose();
      await server.close();
    });
    connection.start();
    await connection.ready();
    const subscribed = connection.once('control', { filter: ({ type }) => type === 'subscribed' });
    const next = track(connection.channel('admin:ops').next());
    await subscribed;
    await until(() => next.status !== 'pending', 5_000, 'the end of the subscription');
    expect(tokens.reasons).toEqual(['connect', 'refresh']);
    expect(next.error).toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED, details: { ch: 'admin:ops', action: 'subscribe' } });
    expect(connection.status).toBe('connected');
  });
});

describe('a hidden page against the reference server', () => {
  it('keeps its link through the server\'s idle timeout: its keepalive pings are frames the server hears', async () => {
    const server = await startReferenceServer({ idleTimeoutMs: 400, heartbeatIntervalMs: 0 });
    const environment = createManualEnvironment({ hidden: true });
    const connection = createConnection({
      url: `ws://127.0.0.1:${server.address()!.port}`,
      auth: { token: 'alice' },
      environment,
      heartbeat: { intervalMs: 100, timeoutMs: 1_000 },
      reconnect: { baseMs: 50, capMs: 100 },
    });
    cleanups.push(async () => {
      connection.dispose();
      await server.close();
    });
    const lost: string[] = [];
    connection.on('state', ({ status, previous, reason }) => {
      if (previous === 'connected') lost.push(`${status}: ${reason ?? ''}`);
    });
    connection.start();
    await until(() => connection.isConnected);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(lost, 'links lost while the page was hidden').toEqual([]);
    expect(connection.metrics().connects).toBe(1);
  });
});
