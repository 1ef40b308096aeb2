import { createServer as createHttpServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { pino } from 'pino';
import { afterEach, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { AuthenticationError } from '../../../src/server/auth.js';
import type { HandshakeAuth } from '../../../src/server/connection.js';
import { resolveOptions, type ServerOptions } from '../../../src/server/options.js';
import { createUpgradeHandler, rejectHttp, type HandshakeMeta, type UpgradeContext } from '../../../src/server/upgrade.js';
import { cleanupsAfterEach } from '../../support/reference-server.js';

/** A socket that keeps what is written to it. */
function socket() {
  const written: string[] = [];
  const duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      written.push(chunk.toString());
      callback();
    },
  });
  return { duplex, written };
}

const closed = (duplex: Duplex) => new Promise<void>((resolve) => duplex.once('close', () => resolve()));

it('answers a refused upgrade with a plain HTTP status, then closes the socket', async () => {
  const { duplex, written } = socket();
  const done = closed(duplex);
  rejectHttp(duplex, 403);
  await done;
  expect(written.join('')).toBe('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nForbidden');
  expect(duplex.destroyed).toBe(true);
});

it('names a status without a reason phrase Error', async () => {
  const { duplex, written } = socket();
  const done = closed(duplex);
  rejectHttp(duplex, 599);
  await done;
  expect(written.join('')).toMatch(/^HTTP\/1\.1 599 Error\r\n[\s\S]*Content-Length: 5\r\n\r\nError$/);
});

it('destroys a socket that can no longer be written, writing nothing', () => {
  const { duplex, written } = socket();
  duplex.end();
  rejectHttp(duplex, 503);
  expect(duplex.destroyed).toBe(true);
  expect(written).toEqual([]);
});

const cleanups = cleanupsAfterEach();
afterEach(() => {
  vi.useRealTimers();
});

/** The upgrade listener on a plain HTTP server of its own on 127.0.0.1, over a context the spec sets; the handshakes it accepted, the tokens it verified and the addresses it checked and charged are recorded. */
async function upgrades(overrides: Partial<ServerOptions> = {}, context: Partial<UpgradeContext> = {}) {
  const accepted: Array<{ ws: WebSocket; handshake: HandshakeAuth; meta: HandshakeMeta }> = [];
  const verified: string[] = [];
  const checked: string[] = [];
  const charged: string[] = [];
  const state = { closing: false, wait: 0 };
  const options = resolveOptions({ port: 0, auth: { verify: (token: string) => ({ userId: token }) }, logger: pino({ level: 'silent' }), ...overrides } as ServerOptions);
  const handler = createUpgradeHandler({
    options,
    logger: options.logger,
    authenticate: async (token) => {
      verified.push(token);
      if (token === 'refused') throw new AuthenticationError('token refused');
      return { userId: token, roles: [], permissions: [], claims: {} };
    },
    sharesUpgrades: () => false,
    isClosing: () => state.closing,
    openConnections: () => 0,
    addressWait: (address) => {
      checked.push(address);
      return state.wait;
    },
    chargeAddress: (address) => charged.push(address),
    accept: (ws, handshake, meta) => {
      ws.on('error', () => undefined);
      accepted.push({ ws, handshake, meta });
    },
    ...context,
  });
  const server = createHttpServer();
  server.on('upgrade', handler.onUpgrade);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const { ws } of accepted) ws.terminate();
    handler.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, state, accepted, verified, checked, charged, handler };
}

/** A raw TCP client that sends an upgrade request for `path`, a valid version-13 handshake unless `headers` say otherwise (a header of several values on as many lines), and keeps every byte it is answered. */
function handshake(port: number, path = '/', headers: Record<string, string | string[]> = {}) {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  let received = Buffer.alloc(0);
  const waiters: Array<() => void> = [];
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    waiters.splice(0).forEach((wake) => wake());
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const all = { Host: '127.0.0.1', Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13', ...headers };
  const lines = Object.entries(all).flatMap(([name, values]) => [values].flat().map((value) => `${name}: ${value}\r\n`));
  socket.write(`GET ${path} HTTP/1.1\r\n${lines.join('')}\r\n`);
  const more = () => new Promise<void>((wake) => waiters.push(wake));
  return {
    socket,
    closed,
    bytes: () => received,
    /** The status line of the answer, once its head has arrived. */
    status: async () => {
      while (!received.includes('\r\n\r\n')) await more();
      return received.toString('latin1').split('\r\n')[0];
    },
    /** The close frame sent after a 101 answer, once whole. */
    closeFrame: async () => {
      while (!received.includes('\r\n\r\n')) await more();
      const start = received.indexOf('\r\n\r\n') + 4;
      while (received.length < start + 2 || received.length < start + 2 + (received[start + 1]! & 0x7f)) await more();
      const frame = received.subarray(start);
      return { code: frame.readUInt16BE(2), reason: frame.subarray(4, 2 + (frame[1]! & 0x7f)).toString() };
    },
  };
}

/** Waits, turn by turn of the event loop (no timer, so fake ones too), until `condition` holds. */
async function turns(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

it('accepts a handshake of protocol version 8 as ws does, verifying the token it carries', async () => {
  const { port, accepted, verified } = await upgrades();
  const client = handshake(port, '/', { 'Sec-WebSocket-Version': '8', 'Sec-WebSocket-Protocol': 'socketchart.v1, socketchart.token.alice' });
  expect(await client.status()).toBe('HTTP/1.1 101 Switching Protocols');
  await turns(() => accepted.length === 1);
  expect(verified).toEqual(['alice']);
  expect(accepted[0]!.handshake).toMatchObject({ kind: 'ok', mode: 'subprotocol', identity: { userId: 'alice' } });
});

it('refuses with 400, as ws does, a handshake whose Sec-WebSocket-Protocol cannot be parsed, before verifying the token it carries or charging its address', async () => {
  const { port, accepted, verified, charged } = await upgrades();
  for (const protocols of ['socketchart.v1,, socketchart.token.refused', 'socketchart.token.refused, socketchart.token.refused', 'socketchart.v1, socketchart.token.refused=']) {
    expect(await handshake(port, '/', { 'Sec-WebSocket-Protocol': protocols }).status()).toBe('HTTP/1.1 400 Bad Request');
  }
  expect(verified).toEqual([]);
  expect(charged).toEqual([]);
  expect(await handshake(port, '/', { 'Sec-WebSocket-Protocol': 'socketchart.v1 ,\tsocketchart.token.alice' }).status()).toBe('HTTP/1.1 101 Switching Protocols');
  await turns(() => accepted.length === 1);
  expect(verified).toEqual(['alice']);
});

it('compares the path of an upgrade without its query string, so a query token reaches the configured path', async () => {
  const { port, accepted } = await upgrades({ path: '/ws', auth: { modes: ['query'], verify: (token: string) => ({ userId: token }) } });
  expect(await handshake(port, '/ws?token=alice').status()).toBe('HTTP/1.1 101 Switching Protocols');
  await turns(() => accepted.length === 1);
  expect(accepted[0]!.handshake).toMatchObject({ kind: 'ok', mode: 'query' });
  expect(await handshake(port, '/other?token=alice').status()).toBe('HTTP/1.1 404 Not Found');
});

it('closes a socket from a rate-limited address with 4029 and the seconds it must wait, rounded up and at least 1', async () => {
  const { port, state, accepted } = await upgrades();
  const frames = [];
  for (const wait of [1_200, 10]) {
    state.wait = wait;
    const client = handshake(port);
    expect(await client.status()).toBe('HTTP/1.1 101 Switching Protocols');
    frames.push(await client.closeFrame());
    client.socket.destroy();
  }
  expect(frames).toEqual([
    { code: 4029, reason: 'rate limited; retry_after=2' },
    { code: 4029, reason: 'rate limited; retry_after=1' },
  ]);
  expect(accepted).toEqual([]);
});

it('charges the remote address for a handshake token that is refused or not verified within auth.timeoutMs, and not for one accepted', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  const { port, accepted, charged, handler } = await upgrades(
    { auth: { modes: ['query'], timeoutMs: 1_000, verify: (token: string) => ({ userId: token }) } },
    {
      authenticate: (token) =>
        token === 'slow' ? new Promise(() => undefined) : token === 'refused' ? Promise.reject(new AuthenticationError('token refused')) : Promise.resolve({ userId: token, roles: [], permissions: [], claims: {} }),
    },
  );
  for (const token of ['alice', 'refused']) await handshake(port, `/?token=${token}`).status();
  await turns(() => accepted.length === 2);
  expect(charged).toEqual(['127.0.0.1']);
  const slow = handshake(port, '/?token=slow');
  await turns(() => handler.pending() === 1);
  vi.advanceTimersByTime(1_000);
  expect(await slow.status()).toBe('HTTP/1.1 101 Switching Protocols');
  await turns(() => accepted.length === 3);
  expect(accepted.map(({ handshake }) => handshake.kind)).toEqual(['ok', 'failed', 'timeout']);
  expect(charged).toEqual(['127.0.0.1', '127.0.0.1']);
});

it('checks, charges and names by its address the client a trusted proxy forwards (X-Forwarded-For, every header line), and not one named by an untrusted socket', async () => {
  const verify = (token: string) => ({ userId: token });
  const behindProxy = await upgrades({ trustedProxies: ['127.0.0.1'], auth: { modes: ['query'], verify } }, { authenticate: () => Promise.reject(new AuthenticationError('token refused')) });
  await handshake(behindProxy.port, '/?token=refused', { 'X-Forwarded-For': ['198.51.100.1, 203.0.113.7', '127.0.0.1'] }).status();
  await turns(() => behindProxy.accepted.length === 1);
  expect([behindProxy.checked, behindProxy.charged, behindProxy.accepted[0]!.meta.ip]).toEqual([['203.0.113.7'], ['203.0.113.7'], '203.0.113.7']);

  const direct = await upgrades({ auth: { modes: ['query'], verify } }, { authenticate: () => Promise.reject(new AuthenticationError('token refused')) });
  await handshake(direct.port, '/?token=refused', { 'X-Forwarded-For': '203.0.113.7' }).status();
  await turns(() => direct.accepted.length === 1);
  expect([direct.checked, direct.charged, direct.accepted[0]!.meta.ip]).toEqual([['127.0.0.1'], ['127.0.0.1'], '127.0.0.1']);
});

it('leaves no timer behind once a handshake token is verified', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  const { port, accepted } = await upgrades({ auth: { modes: ['query'], verify: (token: string) => ({ userId: token }) } });
  expect(await handshake(port, '/?token=alice').status()).toBe('HTTP/1.1 101 Switching Protocols');
  await turns(() => accepted.length === 1);
  expect(vi.getTimerCount()).toBe(0);
});

it('ends a refused socket whose client never answers the close frame 2 s after sending it', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  const { port } = await upgrades({ allowedOrigins: ['https://app.example.com'] });
  const client = handshake(port, '/', { Origin: 'https://evil.example.com' });
  expect(await client.closeFrame()).toEqual({ code: 1008, reason: 'Origin not allowed' });
  let ended = false;
  void client.closed.then(() => (ended = true));
  vi.advanceTimersByTime(1_999);
  await new Promise((resolve) => setImmediate(resolve));
  expect(ended).toBe(false);
  vi.advanceTimersByTime(1);
  await client.closed;
});

it('keeps at most a tenth of maxConnections refused sockets waiting for their close handshake, ending the oldest at once for a newer one', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  const { port } = await upgrades({ maxConnections: 20 }, { openConnections: () => 20 });
  const clients = [];
  for (let i = 0; i < 5; i++) {
    const client = handshake(port);
    cleanups.push(() => void client.socket.destroy());
    expect(await client.closeFrame()).toEqual({ code: 1013, reason: 'server is at its connection limit' });
    clients.push(client);
  }
  const ended = clients.map(() => false);
  clients.forEach((client, i) => void client.closed.then(() => (ended[i] = true)));
  for (let turn = 0; turn < 1000 && ended.filter(Boolean).length < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
  for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
  expect(ended, 'only the two newest refused sockets are still open').toEqual([true, true, true, false, false]);
  vi.advanceTimersByTime(2_000);
  await Promise.all(clients.map((client) => client.closed));
  expect(vi.getTimerCount()).toBe(0);
});

it('on close, ends a refused socket whose client never answers the close frame within shutdownTimeoutMs, and settles once it is gone', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  const { port, handler } = await upgrades({ allowedOrigins: ['https://app.example.com'], shutdownTimeoutMs: 100 });
  const client = handshake(port, '/', { Origin: 'https://evil.example.com' });
  cleanups.push(() => void client.socket.destroy());
  expect(await client.closeFrame()).toEqual({ code: 1008, reason: 'Origin not allowed' });
  let settled = false;
  void Promise.resolve(handler.close()).then(() => (settled = true));
  let ended = false;
  void client.closed.then(() => (ended = true));
  await new Promise((resolve) => setImmediate(resolve));
  expect(settled, 'close() waits for the refused socket').toBe(false);
  vi.advanceTimersByTime(100);
  for (let turn = 0; turn < 1000 && !(ended && settled); turn++) await new Promise((resolve) => setImmediate(resolve));
  expect({ ended, settled }).toEqual({ ended: true, settled: true });
  expect(vi.getTimerCount()).toBe(0);
});

it('refuses with 503 a handshake arriving once the server is closing, without verifying its token', async () => {
  const { port, state, verified, accepted } = await upgrades();
  state.closing = true;
  const client = handshake(port, '/', { 'Sec-WebSocket-Protocol': 'socketchart.v1, socketchart.token.alice' });
  expect(await client.status()).toBe('HTTP/1.1 503 Service Unavailable');
  await client.closed;
  expect(verified).toEqual([]);
  expect(accepted).toEqual([]);
});

it('destroys the socket of a handshake whose checks fail unexpectedly, answering nothing', async () => {
  const { port, accepted } = await upgrades(
    {},
    {
      addressWait: () => {
        throw new Error('limits unavailable');
      },
    },
  );
  const client = handshake(port);
  await client.closed;
  expect(client.bytes().length).toBe(0);
  expect(accepted).toEqual([]);
});

it('refuses with 503 a handshake whose token was verified after the server began to close', async () => {
  let answer: (() => void) | undefined;
  const { port, state, accepted } = await upgrades({}, { authenticate: (token) => new Promise((resolve) => (answer = () => resolve({ userId: token, roles: [], permissions: [], claims: {} }))) });
  const client = handshake(port, '/', { 'Sec-WebSocket-Protocol': 'socketchart.v1, socketchart.token.alice' });
  await turns(() => answer !== undefined);
  state.closing = true;
  answer!();
  expect(await client.status()).toBe('HTTP/1.1 503 Service Unavailable');
  expect(accepted).toEqual([]);
});

it('on close, refuses with 503 a handshake whose token is still being verified, and leaves no timer behind', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  const { port, handler, state, charged, accepted } = await upgrades({}, { authenticate: () => new Promise(() => undefined) });
  const client = handshake(port, '/', { 'Sec-WebSocket-Protocol': 'socketchart.v1, socketchart.token.alice' });
  await turns(() => handler.pending() === 1);
  state.closing = true;
  void handler.close();
  expect(await client.status()).toBe('HTTP/1.1 503 Service Unavailable');
  await client.closed;
  for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
  expect(vi.getTimerCount(), 'the auth.timeoutMs timer of the verification').toBe(0);
  expect({ charged, accepted }).toEqual({ charged: [], accepted: [] });
});

it('hands on why a handshake token was refused, and no more than "token rejected" when the check itself broke', async () => {
  const { port, accepted } = await upgrades({}, { authenticate: (token) => Promise.reject(token === 'expired' ? new AuthenticationError('token expired') : new Error('verify hook crashed: db at 10.0.0.5')) });
  for (const token of ['expired', 'broken']) await handshake(port, '/', { 'Sec-WebSocket-Protocol': `socketchart.v1, socketchart.token.${token}` }).status();
  await turns(() => accepted.length === 2);
  expect(accepted.map(({ handshake }) => handshake)).toEqual([
    { kind: 'failed', reason: 'token expired', mode: 'subprotocol' },
    { kind: 'failed', reason: 'token rejected', mode: 'subprotocol' },
  ]);
});

it('survives a client that resets its connection while its handshake token is being verified', async () => {
  let answer: (() => void) | undefined;
  const { port, state, handler } = await upgrades({}, { authenticate: (token) => new Promise((resolve) => (answer = () => resolve({ userId: token, roles: [], permissions: [], claims: {} }))) });
  const client = handshake(port, '/', { 'Sec-WebSocket-Protocol': 'socketchart.v1, socketchart.token.alice' });
  await turns(() => answer !== undefined);
  client.socket.resetAndDestroy();
  await client.closed;
  await new Promise((resolve) => setTimeout(resolve, 20));
  state.closing = true;
  answer!();
  await turns(() => handler.pending() === 0);
  await new Promise((resolve) => setTimeout(resolve, 20));
});
