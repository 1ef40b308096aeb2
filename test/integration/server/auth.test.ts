import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { SocketchartServer } from '../../../src/server/index.js';
import { captureLogger, connectAs, eventually, mintToken, open, startServer, wsUrl, type TestClient } from './helpers.js';

describe('authentication: token modes, expiry, refresh, logout, and no token in any log', () => {
  const logs = captureLogger();
  const tokens: string[] = [];
  let server: SocketchartServer;
  let queryServer: SocketchartServer;
  let hookServer: SocketchartServer;

  const token = async (sub: string, expiresInSec?: number | null, secret?: string) => {
    const minted = await mintToken({ sub, ...(expiresInSec === undefined ? {} : { expiresInSec }), ...(secret ? { secret } : {}) });
    tokens.push(minted);
    return minted;
  };

  const authenticate = async (client: TestClient, sub: string, expiresInSec?: number) => {
    client.send({ type: 'auth', token: await token(sub, expiresInSec) });
    return client.nextOfType('auth_ok');
  };

  beforeAll(async () => {
    server = await startServer({ logger: logs.logger, maxConnectionsPerUser: 2, auth: { timeoutMs: 300 } });
    queryServer = await startServer({ logger: logs.logger, auth: { modes: ['query'], queryParam: 'access_token' } });
    hookServer = await startServer({
      logger: logs.logger,
      auth: {
        jwtSecret: undefined,
        verify: (presented) => {
          if (presented.startsWith('good-')) return { userId: presented.slice(5, 10), roles: ['agent'] };
          if (presented.startsWith('expired-')) return { userId: presented.slice(8, 13), expiresAt: Date.now() - 60_000 };
          throw new Error(`unknown token ${presented}`);
        },
      },
    });
  });

  afterAll(async () => {
    await Promise.all([server.close(), queryServer.close(), hookServer.close()]);
  });

  it('accepts a first-message token: auth_ok carries userId, a sessionId and expiresAt (epoch ms)', async () => {
    const client = await open(wsUrl(server));
    const presented = await token('alice', 600);
    client.send({ type: 'auth', token: presented });
    const ok = await client.nextOfType('auth_ok');
    expect(ok.userId).toBe('alice');
    expect(ok.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Math.abs((ok.expiresAt as number) - (Date.now() + 600_000))).toBeLessThan(2000);
    await client.close();
  });

  it('closes with 4001 after AUTHENTICATION_FAILED for a token signed with another secret', async () => {
    const client = await open(wsUrl(server));
    client.send({ type: 'auth', token: await token('mallory', 600, 'another-secret-that-is-32-bytes-long!!') });
    expect(await client.nextOfType('error')).toMatchObject({ code: 'AUTHENTICATION_FAILED', message: 'invalid signature' });
    expect((await client.closed).code).toBe(4001);
  });

  it('closes with 4001 for an expired token', async () => {
    const client = await open(wsUrl(server));
    client.send({ type: 'auth', token: await token('alice', -60) });
    expect(await client.nextOfType('error')).toMatchObject({ code: 'AUTHENTICATION_FAILED', message: 'token expired' });
    expect((await client.closed).code).toBe(4001);
  });

  it('with auth.requireExp, closes with 4001 for a token without exp, and accepts one with it', async () => {
    const strict = await startServer({ logger: logs.logger, auth: { requireExp: true } });
    try {
      const lasting = await open(wsUrl(strict));
      lasting.send({ type: 'auth', token: await token('alice', null) });
      expect(await lasting.nextOfType('error')).toMatchObject({ code: 'AUTHENTICATION_FAILED', message: 'token has no expiry' });
      expect((await lasting.closed).code).toBe(4001);
      const expiring = await open(wsUrl(strict));
      expect(await authenticate(expiring, 'alice', 600)).toMatchObject({ userId: 'alice' });
      await expiring.close();
    } finally {
      await strict.close();
    }
  });

  it('closes with 4001 for a malformed token', async () => {
    const client = await open(wsUrl(server));
    client.send({ type: 'auth', token: 'not.a.jwt' });
    expect(await client.nextOfType('error')).toMatchObject({ code: 'AUTHENTICATION_FAILED' });
    expect((await client.closed).code).toBe(4001);
  });

  it('closes an unauthenticated socket with 4001 when the auth timeout passes', async () => {
    const client = await open(wsUrl(server));
    const started = Date.now();
    expect(await client.nextOfType('error', {}, 2000)).toMatchObject({ code: 'TIMEOUT', message: 'authentication timeout' });
    const closed = await client.closed;
    expect(closed).toEqual({ code: 4001, reason: 'authentication timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('closes with 4001 when the first frame is not auth', async () => {
    const client = await open(wsUrl(server));
    client.send({ type: 'subscribe', ch: 'chat:lobby' });
    expect(await client.nextOfType('error')).toMatchObject({ code: 'AUTHENTICATION_FAILED' });
    expect((await client.closed).code).toBe(4001);
    expect(client.ofType('subscribed')).toEqual([]);
  });

  it('processes frames pipelined right after the auth frame once the token is verified', async () => {
    const client = await open(wsUrl(server));
    client.send({ type: 'auth', token: await token('alice') });
    client.send({ type: 'subscribe', ch: 'chat:pipelined' });
    await client.nextOfType('subscribed', { ch: 'chat:pipelined' });
    expect(client.frames[0]?.type).toBe('auth_ok');
    await client.close();
  });

  it('accepts a subprotocol token and echoes only socketchart.v1', async () => {
    const presented = await token('bob');
    const client = await open(wsUrl(server), ['socketchart.v1', `socketchart.token.${presented}`]);
    expect(client.ws.protocol).toBe('socketchart.v1');
    expect(await client.nextOfType('auth_ok')).toMatchObject({ userId: 'bob' });
    await client.close();
  });

  it('closes with 4001 for an invalid subprotocol token', async () => {
    const presented = await token('bob', 600, 'another-secret-that-is-32-bytes-long!!');
    const client = await open(wsUrl(server), ['socketchart.v1', `socketchart.token.${presented}`]);
    expect(await client.nextOfType('error')).toMatchObject({ code: 'AUTHENTICATION_FAILED' });
    expect((await client.closed).code).toBe(4001);
  });

  it('accepts a query token only where the legacy query mode is enabled', async () => {
    const presented = await token('carol');
    const viaQuery = await open(wsUrl(queryServer, `/?access_token=${presented}`));
    expect(await viaQuery.nextOfType('auth_ok')).toMatchObject({ userId: 'carol' });
    await viaQuery.close();
    const ignored = await open(wsUrl(server, `/?token=${presented}`));
    expect(await ignored.nextOfType('error', {}, 2000)).toMatchObject({ code: 'TIMEOUT' });
    expect((await ignored.closed).code).toBe(4001);
  });

  it('closes a query-mode-only socket without a token with 4001', async () => {
    const client = await open(wsUrl(queryServer));
    expect(await client.nextOfType('error')).toMatchObject({ code: 'AUTHENTICATION_FAILED' });
    expect((await client.closed).code).toBe(4001);
  });

  it('closes the socket with 4001 when the session expires (exp)', async () => {
    const client = await open(wsUrl(server));
    const ok = await authenticate(client, 'dave', 2);
    const expiresAt = ok.expiresAt as number;
    const closed = await Promise.race([client.closed, new Promise((resolve) => setTimeout(() => resolve('still open'), 3500))]);
    expect(closed).toEqual({ code: 4001, reason: 'session expired' });
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    expect(client.ofType('error')).toMatchObject([{ code: 'AUTHENTICATION_FAILED', message: 'session expired' }]);
  });

  it('refreshes the token in-band without dropping the socket', async () => {
    const client = await open(wsUrl(server));
    const first = await authenticate(client, 'erin', 2);
    client.send({ type: 'auth', token: await token('erin', 600) });
    const refreshed = await client.nextOfType('auth_ok');
    expect(refreshed.expiresAt as number).toBeGreaterThan(Date.now() + 500_000);
    await new Promise((resolve) => setTimeout(resolve, (first.expiresAt as number) - Date.now() + 200));
    client.send({ type: 'ping', ts: 1 });
    await client.nextOfType('pong');
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    await client.close();
  });

  it('keeps the session when a refresh token is refused, and closes with 4003 when it names another user', async () => {
    const client = await open(wsUrl(server));
    await authenticate(client, 'frank');
    client.send({ type: 'auth', token: 'garbage' });
    expect(await client.nextOfType('error')).toMatchObject({ code: 'AUTHENTICATION_FAILED' });
    client.send({ type: 'ping', ts: 2 });
    await client.nextOfType('pong');
    client.send({ type: 'auth', token: await token('mallory') });
    expect((await client.closed).code).toBe(4003);
  });

  it('logout(userId) closes every socket of that user with 4001 and leaves other users alone', async () => {
    const first = await connectAs(server, 'gina');
    const second = await connectAs(server, 'gina');
    const other = await connectAs(server, 'hank');
    await server.logout('gina');
    expect((await first.closed).code).toBe(4001);
    expect((await second.closed).code).toBe(4001);
    other.send({ type: 'ping', ts: 3 });
    await other.nextOfType('pong');
    await other.close();
  });

  it('closes a connection beyond maxConnectionsPerUser with 1013', async () => {
    const a = await connectAs(server, 'ivan');
    const b = await connectAs(server, 'ivan');
    const c = await open(wsUrl(server));
    c.send({ type: 'auth', token: await token('ivan') });
    expect(await c.nextOfType('error')).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED' });
    expect((await c.closed).code).toBe(1013);
    await Promise.all([a.close(), b.close()]);
  });

  it('uses a custom verify(token) hook instead of JWT verification', async () => {
    const good = await open(wsUrl(hookServer));
    tokens.push('good-julia-secret-part');
    good.send({ type: 'auth', token: 'good-julia-secret-part' });
    expect(await good.nextOfType('auth_ok')).toMatchObject({ userId: 'julia' });
    await good.close();
    const bad = await open(wsUrl(hookServer));
    tokens.push('bad-token-value-1234567890');
    bad.send({ type: 'auth', token: 'bad-token-value-1234567890' });
    const error = await bad.nextOfType('error');
    expect(error.code).toBe('AUTHENTICATION_FAILED');
    expect(String(error.message)).not.toContain('bad-token-value');
    expect((await bad.closed).code).toBe(4001);
  });

  it("refuses a token whose sub is not a single channel segment ('alice:inbox' would receive user:alice:inbox) with AUTHENTICATION_FAILED and 4001", async () => {
    const client = await open(wsUrl(server));
    client.send({ type: 'auth', token: await token('alice:inbox') });
    expect(await client.nextOfType('error')).toMatchObject({ code: 'AUTHENTICATION_FAILED', message: expect.stringContaining('not a valid user id') });
    expect((await client.closed).code).toBe(4001);
  });

  it('refuses a user id from verify() that is not a single channel segment', async () => {
    const client = await open(wsUrl(hookServer));
    tokens.push('good-bob:x-secret-part');
    client.send({ type: 'auth', token: 'good-bob:x-secret-part' });
    expect(await client.nextOfType('error')).toMatchObject({ code: 'AUTHENTICATION_FAILED', message: expect.stringContaining('invalid user id') });
    expect((await client.closed).code).toBe(4001);
  });

  it('refuses a verify() session whose expiresAt has passed as an expired token, and stores nothing it sent', async () => {
    const client = await open(wsUrl(hookServer));
    tokens.push('expired-kevin-secret-part');
    client.send({ type: 'auth', token: 'expired-kevin-secret-part' });
    client.send({ type: 'publish', ch: 'chat:expired-session', id: 'p1', data: { text: 'sent with an expired session' } });
    expect((await client.closed).code).toBe(4001);
    expect(client.frames).toMatchObject([{ type: 'error', code: 'AUTHENTICATION_FAILED', message: 'token expired' }]);
    const { seq } = await hookServer.broadcast('chat:expired-session', { probe: true });
    expect(seq % 1000).toBe(1); // the channel's first number (base + 1): nothing was stored before it
  });

  it('refuses a refresh with a verify() session that has already expired, and keeps the session', async () => {
    const client = await open(wsUrl(hookServer));
    tokens.push('good-laura-secret-part', 'expired-laura-secret-part');
    client.send({ type: 'auth', token: 'good-laura-secret-part' });
    await client.nextOfType('auth_ok');
    client.send({ type: 'auth', token: 'expired-laura-secret-part' });
    expect(await client.nextOfType('error')).toMatchObject({ code: 'AUTHENTICATION_FAILED', message: 'token refresh refused: token expired' });
    client.send({ type: 'ping', ts: 4 });
    await client.nextOfType('pong');
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    await client.close();
  });

  it('never logs a token: no token (nor its signature) appears in anything logged during these tests', () => {
    const text = logs.text();
    expect(logs.lines().length).toBeGreaterThan(20);
    expect(tokens.length).toBeGreaterThan(10);
    for (const presented of tokens) {
      expect(text).not.toContain(presented);
      const signature = presented.split('.')[2];
      if (signature) expect(text).not.toContain(signature);
    }
    expect(text).not.toMatch(/socketchart\.token\.[^[]/);
    expect(text).not.toMatch(/access_token=[^[]/);
  });
});

it('refuses a login whose token was being checked when logout() ended its user\'s sessions, in the first frame or in the handshake', async () => {
  const checks: (() => void)[] = [];
  const server = await startServer({
    auth: {
      jwtSecret: undefined,
      verify: async () => {
        await new Promise<void>((resolve) => checks.push(resolve));
        return { userId: 'olga' };
      },
    },
  });
  try {
    const first = await open(wsUrl(server));
    first.send({ type: 'auth', token: 'olga-session-token' });
    const handshake = open(wsUrl(server), ['socketchart.v1', 'socketchart.token.olga-session-token']);
    await eventually(() => checks.length === 2, 3000, 'both tokens being checked');
    await server.logout('olga');
    checks.forEach((release) => release());
    const second = await handshake;
    for (const client of [first, second]) {
      expect(await client.next((frame) => frame.type === 'auth_ok' || frame.type === 'error')).toMatchObject({ type: 'error', code: 'AUTHENTICATION_FAILED' });
      expect(await client.closed).toMatchObject({ code: 4001 });
    }
  } finally {
    await server.close();
  }
});
