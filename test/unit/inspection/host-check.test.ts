import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestInspector } from './support.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const status = (url: string, host: string) =>
  new Promise<number>((resolve, reject) => request(url, { headers: { host } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject).end());

describe('inspector server bound to another loopback address (127.0.0.2)', () => {
  it('refuses a request for another Host (DNS rebinding)', async () => {
    const server = await startTestInspector({ host: '127.0.0.2' });
    cleanups.push(() => server.close());
    expect(await status(server.url, `evil.test:${server.port}`)).toBe(403);
  });
});
