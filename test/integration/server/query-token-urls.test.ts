import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocketchartServer } from '../../../src/server/index.js';
import { captureLogger, connectAs, mintToken, startServer } from './helpers.js';

/** Sends an upgrade to `path` (as written, unnormalised) and returns the status and the text of what the server wrote in its first 300 ms after it. */
function upgradeTo(server: SocketchartServer, path: string): Promise<{ status: number | string; text: string }> {
  return new Promise((resolve) => {
    const req = request({
      host: '127.0.0.1',
      port: server.address()!.port,
      path,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' },
    });
    req.on('upgrade', (response, socket, head) => {
      const chunks: Buffer[] = [head];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', () => undefined);
      setTimeout(() => {
        socket.destroy();
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('latin1') });
      }, 300);
    });
    req.on('response', (response) => resolve({ status: response.statusCode ?? 0, text: '' }));
    req.on('error', (error) => resolve({ status: error.message, text: '' }));
    req.end();
  });
}

describe('query tokens on request targets a URL parser refuses', () => {
  const log = captureLogger();
  let server: SocketchartServer;

  beforeAll(async () => {
    server = await startServer({ auth: { modes: ['message', 'query'] }, logger: log.logger });
  });

  afterAll(async () => {
    await server.close();
  });

  it('reads the token of //[?token=…, accepting a valid one, instead of dropping the connection', async () => {
    const { status, text } = await upgradeTo(server, `//[?token=${await mintToken({ sub: 'odd-path' })}`);
    expect(status).toBe(101);
    expect(text).toContain('"type":"auth_ok"');
  });

  it('answers a refused token on such a target with AUTHENTICATION_FAILED after the upgrade', async () => {
    const { status, text } = await upgradeTo(server, '//x:99999?token=not-a-token');
    expect(status).toBe(101);
    expect(text).toContain('AUTHENTICATION_FAILED');
  });

  it('logged no upgrade failure for them, and keeps serving', async () => {
    expect(log.lines().filter((line) => (line.level as number) >= 50)).toEqual([]);
    const client = await connectAs(server, 'after');
    client.send({ type: 'ping', ts: 1 });
    await client.nextOfType('pong');
    await client.close();
  });
});
