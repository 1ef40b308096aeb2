import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { SocketchartServer } from '../../../src/server/index.js';
import { eventually, mintToken, startServer, wsUrl } from './helpers.js';

type Verdict = 'allowed' | 'closed 1008' | 'HTTP 403';

/** Opens a socket with the given Origin header (undefined: none) and reports how the server answered. */
async function attempt(server: SocketchartServer, origin: string | undefined): Promise<Verdict | string> {
  const token = await mintToken({ sub: 'origin-tester' });
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl(server), origin === undefined ? {} : { origin });
    const timer = setTimeout(() => {
      ws.terminate();
      resolve('no answer');
    }, 3000);
    const done = (verdict: Verdict | string) => {
      clearTimeout(timer);
      resolve(verdict);
    };
    ws.on('error', () => undefined);
    ws.on('unexpected-response', (_request, response) => {
      done(`HTTP ${response.statusCode}`);
      ws.terminate();
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token })));
    ws.on('message', (data) => {
      if ((JSON.parse(data.toString()) as { type: string }).type === 'auth_ok') {
        ws.close();
        done('allowed');
      }
    });
    ws.on('close', (code) => done(`closed ${code}`));
  });
}

const allowlist = ['https://app.example.com', 'http://localhost:3000'];

const table: [origin: string | undefined, listed: 'allowed' | 'refused'][] = [
  ['https://app.example.com', 'allowed'],
  ['http://localhost:3000', 'allowed'],
  ['HTTPS://APP.EXAMPLE.COM', 'allowed'],
  ['https://app.example.com:443', 'refused'],
  ['https://app.example.com/', 'refused'],
  ['http://app.example.com', 'refused'],
  ['https://app.example.com.evil.com', 'refused'],
  ['https://evil.com', 'refused'],
  ['https://sub.app.example.com', 'refused'],
  ['https://evil.com/https://app.example.com', 'refused'],
  ['http://localhost:3001', 'refused'],
  ['https://app.example.com, https://evil.com', 'refused'],
  ['null', 'refused'],
  [undefined, 'allowed'], // a client that sends no Origin is not a browser: nothing to protect it from
];

describe('Origin allowlist', () => {
  let closing: SocketchartServer;
  let http: SocketchartServer;
  let lenient: SocketchartServer;
  let open: SocketchartServer;
  let strict: SocketchartServer;

  beforeAll(async () => {
    [closing, http, lenient, open, strict] = await Promise.all([
      startServer({ allowedOrigins: allowlist }),
      startServer({ allowedOrigins: allowlist, originRejection: 'http' }),
      startServer({ allowedOrigins: allowlist, allowNullOrigin: true, allowMissingOrigin: true }),
      startServer({}),
      startServer({ allowedOrigins: allowlist, allowMissingOrigin: false }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([closing, http, lenient, open, strict].map((server) => server.close()));
  });

  for (const [origin, listed] of table) {
    const label = origin === undefined ? 'no Origin header' : `Origin ${JSON.stringify(origin)}`;
    it(`${label}: ${listed === 'allowed' ? 'connects' : 'is closed with 1008, or refused with 403 at the upgrade'}`, async () => {
      expect(await attempt(closing, origin)).toBe(listed === 'allowed' ? 'allowed' : 'closed 1008');
      expect(await attempt(http, origin)).toBe(listed === 'allowed' ? 'allowed' : 'HTTP 403');
    });
  }

  it('refuses a handshake without Origin when allowMissingOrigin is false', async () => {
    expect(await attempt(strict, undefined)).toBe('closed 1008');
    expect(await attempt(strict, allowlist[0])).toBe('allowed');
  });

  it('accepts a null Origin only when explicitly allowed', async () => {
    expect(await attempt(lenient, 'null')).toBe('allowed');
    expect(await attempt(lenient, undefined)).toBe('allowed');
    expect(await attempt(lenient, 'https://evil.com')).toBe('closed 1008');
  });

  it('with the default allowedOrigins "*" accepts any Origin and none, but still refuses "null"', async () => {
    expect(await attempt(open, 'https://anything.example')).toBe('allowed');
    expect(await attempt(open, undefined)).toBe('allowed');
    expect(await attempt(open, 'null')).toBe('closed 1008');
  });

  it('keeps serving allowed clients after refusing others', async () => {
    for (let i = 0; i < 20; i++) await attempt(closing, 'https://evil.com');
    expect(await attempt(closing, 'https://app.example.com')).toBe('allowed');
    await eventually(() => closing.connections === 0, 2000, 'every socket closed');
  });
});
