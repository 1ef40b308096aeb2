import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocketchartServer } from '../../../src/server/index.js';
import { connectAs, mintToken, startServer } from './helpers.js';

/** Writes raw bytes to the server and returns what it answered before closing (or after `timeoutMs`). */
function raw(server: SocketchartServer, payload: string | Buffer, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port: server.address()!.port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (Buffer.concat(chunks).includes('\r\n\r\n')) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => socket.write(payload));
  });
}

const statusOf = (response: string) => response.split('\r\n')[0] ?? '';

const upgrade = (headers: Record<string, string>, extra = '') =>
  `GET / HTTP/1.1\r\n${Object.entries({
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...headers,
  })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}${extra}\r\n`;

describe('handshake hardening: hostile upgrades never crash the server', () => {
  let server: SocketchartServer;

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    await server.close();
  });

  const stillServes = async () => {
    const client = await connectAs(server, 'after-attack');
    client.send({ type: 'ping', ts: 1 });
    await client.nextOfType('pong');
    await client.close();
  };

  it('answers a valid raw upgrade with 101 Switching Protocols (the baseline for the cases below)', async () => {
    expect(statusOf(await raw(server, upgrade({})))).toBe('HTTP/1.1 101 Switching Protocols');
  });

  it('refuses thousands of headers (431 or 400) and keeps serving', async () => {
    const filler = Array.from({ length: 5000 }, (_, i) => `X-Filler-${i}: ${'v'.repeat(8)}\r\n`).join('');
    expect(statusOf(await raw(server, upgrade({}, filler)))).toMatch(/^HTTP\/1\.1 (431|400)/);
    await stillServes();
  });

  it('refuses an oversized Sec-WebSocket-Protocol header and keeps serving', async () => {
    const token = await mintToken({ sub: 'x' });
    const huge = ['socketchart.v1', `socketchart.token.${token}${'A'.repeat(64 * 1024)}`].join(', ');
    expect(statusOf(await raw(server, upgrade({ 'Sec-WebSocket-Protocol': huge })))).toMatch(/^HTTP\/1\.1 (431|400)/);
    await stillServes();
  });

  it('handles a long list of subprotocols without echoing anything but socketchart.v1', async () => {
    const many = [...Array.from({ length: 300 }, (_, i) => `proto${i}`), 'socketchart.v1'].join(', ');
    const response = await raw(server, upgrade({ 'Sec-WebSocket-Protocol': many }));
    expect(statusOf(response)).toBe('HTTP/1.1 101 Switching Protocols');
    expect(response).toMatch(/Sec-WebSocket-Protocol: socketchart\.v1\r\n/i);
    await stillServes();
  });

  it('refuses invalid subprotocol syntax with 400', async () => {
    expect(statusOf(await raw(server, upgrade({ 'Sec-WebSocket-Protocol': 'socketchart.v1, bad protocol{}' })))).toMatch(/^HTTP\/1\.1 400/);
    await stillServes();
  });

  it('refuses a bad Sec-WebSocket-Key with 400', async () => {
    expect(statusOf(await raw(server, upgrade({ 'Sec-WebSocket-Key': 'short' })))).toMatch(/^HTTP\/1\.1 400/);
    expect(statusOf(await raw(server, upgrade({ 'Sec-WebSocket-Key': '' })))).toMatch(/^HTTP\/1\.1 400/);
    await stillServes();
  });

  it('refuses an unsupported Sec-WebSocket-Version with 400', async () => {
    expect(statusOf(await raw(server, upgrade({ 'Sec-WebSocket-Version': '99' })))).toMatch(/^HTTP\/1\.1 400/);
    expect(statusOf(await raw(server, upgrade({ 'Sec-WebSocket-Version': 'thirteen' })))).toMatch(/^HTTP\/1\.1 400/);
    await stillServes();
  });

  it('refuses a broken upgrade carrying a handshake token as ws does, before the token is verified', async () => {
    let verifications = 0;
    const verifying = await startServer({
      auth: {
        modes: ['subprotocol', 'query'],
        verify: (token) => {
          verifications += 1;
          return { userId: token };
        },
      },
    });
    try {
      const token = { 'Sec-WebSocket-Protocol': 'socketchart.v1, socketchart.token.guess' };
      expect(statusOf(await raw(verifying, upgrade({ ...token, 'Sec-WebSocket-Key': 'not-a-key' })))).toBe('HTTP/1.1 400 Bad Request');
      const badVersion = await raw(verifying, upgrade({ ...token, 'Sec-WebSocket-Version': '99' }));
      expect(statusOf(badVersion)).toBe('HTTP/1.1 400 Bad Request');
      expect(badVersion).toContain('Sec-WebSocket-Version: 13, 8');
      expect(statusOf(await raw(verifying, upgrade({ ...token, Upgrade: 'h2c' })))).toBe('HTTP/1.1 400 Bad Request');
      expect(statusOf(await raw(verifying, upgrade({ ...token }).replace(/^GET/, 'POST')))).toBe('HTTP/1.1 405 Method Not Allowed');
      expect(statusOf(await raw(verifying, upgrade({ 'Sec-WebSocket-Key': 'not-a-key' }).replace('GET / ', 'GET /?token=guess ')))).toBe('HTTP/1.1 400 Bad Request');
      expect(verifications).toBe(0);
      expect(statusOf(await raw(verifying, upgrade({ ...token })))).toBe('HTTP/1.1 101 Switching Protocols');
      expect(verifications).toBe(1);
    } finally {
      await verifying.close();
    }
  });

  it('refuses an upgrade with a POST method or a wrong Upgrade header', async () => {
    expect(statusOf(await raw(server, upgrade({ Upgrade: 'h2c' })))).toMatch(/^HTTP\/1\.1 (400|404)/);
    expect(statusOf(await raw(server, upgrade({}).replace(/^GET/, 'POST')))).toMatch(/^HTTP\/1\.1 (400|404|405)/);
    await stillServes();
  });

  it('survives garbage bytes, truncated handshakes and abrupt disconnects', async () => {
    await raw(server, Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a, 0x0d, 0x0a]), 300);
    await raw(server, upgrade({}).slice(0, 40), 200);
    await Promise.all(Array.from({ length: 50 }, () => raw(server, upgrade({}).slice(0, 90), 100)));
    await stillServes();
  });

  it('survives a burst of 200 concurrent handshakes that vanish right after the upgrade', async () => {
    await Promise.all(Array.from({ length: 200 }, () => raw(server, upgrade({}), 500)));
    await stillServes();
  });

  it('refuses a non-upgrade request to an unknown path with 404', async () => {
    expect(statusOf(await raw(server, 'GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n'))).toBe('HTTP/1.1 404 Not Found');
  });
});
