import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocketchartServer } from '../../../src/server/index.js';
import { delay, open, startServer, wsUrl, type TestClient } from './helpers.js';

/** A text frame of exactly `bytes` bytes: `fields`, padded with an extra key the schema leaves out. */
const padded = (fields: Record<string, unknown>, bytes: number): string => {
  const base = JSON.stringify({ ...fields, pad: '' }).length;
  return JSON.stringify({ ...fields, pad: 'x'.repeat(bytes - base) });
};

const AUTHENTICATE_FIRST = 'authenticate first: the first frame must be auth {token}';
const pongTimes = (client: TestClient) => client.ofType('pong').map((frame) => frame.ts);

describe('a socket before its token is verified', () => {
  let server: SocketchartServer;
  const verified: string[] = [];
  /** Each verification waits for this; a spec holds it to keep its token in verification. */
  let gate: Promise<void> = Promise.resolve();
  let release = () => {};
  const holdVerification = () => {
    gate = new Promise((resolve) => (release = resolve));
  };

  beforeAll(async () => {
    server = await startServer({
      maxPayload: 1024 * 1024,
      auth: {
        jwtSecret: undefined,
        verify: async (token) => {
          verified.push(token);
          await gate;
          return { userId: token.slice(0, 20) };
        },
      },
    });
  });

  afterAll(async () => {
    release();
    await server.close();
  });

  it('answers a ping with a pong carrying its ts, and still takes the auth frame', async () => {
    const client = await open(wsUrl(server));
    client.send({ type: 'ping', ts: 42 });
    expect(await client.nextOfType('pong')).toEqual({ type: 'pong', ts: 42 });
    client.send({ type: 'auth', token: 'pinger' });
    expect(await client.nextOfType('auth_ok')).toMatchObject({ userId: 'pinger' });
    await client.close();
  });

  it('answers a ping without ts with a bare pong', async () => {
    const client = await open(wsUrl(server));
    client.send({ type: 'ping' });
    expect(await client.nextOfType('pong')).toEqual({ type: 'pong' });
    await client.close();
  });

  it('answers an auth frame without a token with INVALID_MESSAGE_FORMAT naming the issue, then closes with 4001', async () => {
    const client = await open(wsUrl(server));
    client.send({ type: 'auth' });
    const invalid = await client.nextOfType('error');
    expect(invalid).toMatchObject({ code: 'INVALID_MESSAGE_FORMAT', message: 'invalid "auth" frame' });
    expect(invalid.details).toMatchObject({ issues: [{ path: 'token' }] });
    expect(await client.nextOfType('error')).toMatchObject({ code: 'AUTHENTICATION_FAILED', message: AUTHENTICATE_FIRST });
    expect((await client.closed).code).toBe(4001);
  });

  it('answers a well-formed frame that must wait for authentication with AUTHENTICATION_FAILED alone, then closes with 4001', async () => {
    const client = await open(wsUrl(server));
    client.send({ type: 'subscribe', ch: 'chat:early' });
    expect((await client.closed).code).toBe(4001);
    expect(client.ofType('error')).toEqual([{ type: 'error', code: 'AUTHENTICATION_FAILED', message: AUTHENTICATE_FIRST }]);
  });

  it('charges pings to the address: past its budget they are answered with RATE_LIMIT_EXCEEDED', async () => {
    const strict = await startServer({ unauthenticatedRateLimit: { perMinute: 1, burst: 2 } });
    try {
      const client = await open(wsUrl(strict));
      for (let ts = 1; ts <= 3; ts++) client.send({ type: 'ping', ts });
      expect(await client.nextOfType('error')).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED' });
      expect(pongTimes(client)).toEqual([1, 2]);
      await client.close();
    } finally {
      await strict.close();
    }
  });

  it('tells the unauthenticated limit of the address, not the control limit, when it refuses a ping before login', async () => {
    const strict = await startServer({ unauthenticatedRateLimit: { perMinute: 6, burst: 2 } });
    try {
      const client = await open(wsUrl(strict));
      for (let ts = 1; ts <= 3; ts++) client.send({ type: 'ping', ts });
      const refused = await client.nextOfType('error');
      expect(refused).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', details: { scope: 'control', limit: 6, burst: 2, remaining: 0 } });
      expect(client.ofType('rate_limit_status')).toMatchObject([{ scope: 'control', limit: 6, burst: 2, remaining: 1 }]);
      await client.close();
    } finally {
      await strict.close();
    }
  });

  it('holds 64 frames sent while the token is verified and answers them in order once it is', async () => {
    holdVerification();
    const client = await open(wsUrl(server));
    client.send({ type: 'auth', token: 'patient' });
    for (let ts = 1; ts <= 64; ts++) client.send({ type: 'ping', ts });
    await delay(100);
    expect(client.frames).toEqual([]);
    release();
    await client.nextOfType('auth_ok');
    await client.next((frame) => frame.type === 'pong' && frame.ts === 64);
    expect(client.frames[0]?.type).toBe('auth_ok');
    expect(pongTimes(client)).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    await client.close();
  });

  it('closes with 4001 a socket that sends a 65th frame while its token is verified, and never authenticates it', async () => {
    holdVerification();
    const client = await open(wsUrl(server));
    client.send({ type: 'auth', token: 'hasty' });
    for (let ts = 1; ts <= 65; ts++) client.send({ type: 'ping', ts });
    expect(await client.nextOfType('error')).toMatchObject({ code: 'AUTHENTICATION_FAILED', message: 'too many frames before authentication' });
    expect((await client.closed).code).toBe(4001);
    release();
    await delay(50);
    expect(client.ofType('auth_ok')).toEqual([]);
    expect(client.ofType('pong')).toEqual([]);
  });

  it('holds frames of 1 MB in all while the token is verified', async () => {
    holdVerification();
    const client = await open(wsUrl(server));
    client.send({ type: 'auth', token: 'heavy' });
    client.sendRaw(padded({ type: 'ping', ts: 1 }, 512 * 1024));
    client.sendRaw(padded({ type: 'ping', ts: 2 }, 512 * 1024));
    await delay(100);
    release();
    await client.next((frame) => frame.type === 'pong' && frame.ts === 2);
    expect(pongTimes(client)).toEqual([1, 2]);
    expect(client.closeCode).toBeUndefined();
    await client.close();
  });

  it('closes with 4001 a socket whose frames held while its token is verified pass 1 MB', async () => {
    holdVerification();
    const client = await open(wsUrl(server));
    client.send({ type: 'auth', token: 'heavier' });
    client.sendRaw(padded({ type: 'ping', ts: 1 }, 512 * 1024));
    client.sendRaw(padded({ type: 'ping', ts: 2 }, 512 * 1024 + 1));
    expect(await client.nextOfType('error')).toMatchObject({ code: 'AUTHENTICATION_FAILED', message: 'too many frames before authentication' });
    expect((await client.closed).code).toBe(4001);
    release();
  });

  it('verifies an auth frame of 20 KB', async () => {
    const client = await open(wsUrl(server));
    client.sendRaw(padded({ type: 'auth', token: 'long-frame' }, 20 * 1024));
    expect(await client.nextOfType('auth_ok')).toMatchObject({ userId: 'long-frame' });
    await client.close();
  });

  it('closes with 4001 a frame over 20 KB without reading it: its token is never verified', async () => {
    const client = await open(wsUrl(server));
    client.sendRaw(padded({ type: 'auth', token: 'too-long-frame' }, 20 * 1024 + 1));
    expect(await client.nextOfType('error')).toMatchObject({ code: 'AUTHENTICATION_FAILED', message: AUTHENTICATE_FIRST });
    expect((await client.closed).code).toBe(4001);
    expect(verified).not.toContain('too-long-frame');
  });

  it('closes with 4001 a binary frame, after INVALID_MESSAGE_FORMAT', async () => {
    const client = await open(wsUrl(server));
    client.sendRaw(Buffer.from(JSON.stringify({ type: 'auth', token: 'binary' })), true);
    expect(await client.nextOfType('error')).toMatchObject({ code: 'INVALID_MESSAGE_FORMAT', message: 'binary frames are not supported; send JSON text frames' });
    expect(await client.nextOfType('error')).toMatchObject({ code: 'AUTHENTICATION_FAILED', message: AUTHENTICATE_FIRST });
    expect((await client.closed).code).toBe(4001);
    expect(verified).not.toContain('binary');
  });

  it('holds a binary frame sent while its token is verified like any other, and once it is answers it with INVALID_MESSAGE_FORMAT alone, keeping the socket', async () => {
    holdVerification();
    const client = await open(wsUrl(server));
    client.send({ type: 'auth', token: 'binary-early' });
    client.sendRaw(Buffer.from('{"type":"ping","ts":1}'), true);
    client.send({ type: 'ping', ts: 2 });
    await delay(100);
    expect(client.frames).toEqual([]);
    release();
    await client.next((frame) => frame.type === 'pong' && frame.ts === 2);
    expect(client.frames.filter((frame) => frame.type !== 'rate_limit_status').map((frame) => [frame.type, frame.code])).toEqual([
      ['auth_ok', undefined],
      ['error', 'INVALID_MESSAGE_FORMAT'],
      ['pong', undefined],
    ]);
    expect(client.closeCode).toBeUndefined();
    await client.close();
  });

  it('once authenticated, answers a binary frame with INVALID_MESSAGE_FORMAT and keeps the socket', async () => {
    const client = await open(wsUrl(server));
    client.send({ type: 'auth', token: 'binary-later' });
    await client.nextOfType('auth_ok');
    client.sendRaw(Buffer.from('{"type":"ping"}'), true);
    expect(await client.nextOfType('error')).toMatchObject({ code: 'INVALID_MESSAGE_FORMAT' });
    client.send({ type: 'ping', ts: 7 });
    expect(await client.nextOfType('pong')).toEqual({ type: 'pong', ts: 7 });
    expect(client.closeCode).toBeUndefined();
    await client.close();
  });
});
