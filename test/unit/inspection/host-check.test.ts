import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { INSPECTION_FORMAT_VERSION } from '../../../src/inspection/protocol.js';
import { openPage, relay, startTestInspector, stillAnswers } from './support.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const status = (url: string, host: string) =>
  new Promise<number>((resolve, reject) => request(url, { headers: { host } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject).end());

describe('inspector server and the Host header (DNS rebinding)', () => {
  it('bound to another loopback address (127.0.0.2), refuses a request for another Host', async () => {
    const server = await startTestInspector({ host: '127.0.0.2' });
    cleanups.push(() => server.close());
    expect(await status(server.url, `evil.test:${server.port}`)).toBe(403);
  });

  it('serves the page opened as http://localhost', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    expect(await status(server.url, `localhost:${server.port}`)).toBe(200);
  });

  it('bound to another loopback address (127.0.0.2), serves a request that names that address', async () => {
    const server = await startTestInspector({ host: '127.0.0.2' });
    cleanups.push(() => server.close());
    expect(await status(server.url, `127.0.0.2:${server.port}`)).toBe(200);
  });

  it('refuses an app socket opened for another Host: nothing it sends reaches the page', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const page = await openPage(server);
    cleanups.push(() => page.close());
    const rebound = new WebSocket(server.wsUrl, { headers: { host: `attacker.test:${server.port}` }, origin: `http://attacker.test:${server.port}` });
    cleanups.push(() => rebound.terminate());
    const opened = await new Promise<boolean>((resolve) => {
      rebound.once('open', () => resolve(true));
      rebound.once('error', () => resolve(false));
      rebound.once('close', () => resolve(false));
    });
    if (opened) {
      rebound.send(JSON.stringify({ type: '@xstate.actor', sessionId: 'x:0', name: 'fake', definition: '{"id":"fake"}', snapshot: { status: 'active' }, createdAt: '1', id: null, _version: INSPECTION_FORMAT_VERSION }));
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(opened).toBe(false);
    expect(page.records.some((r) => r.name === 'fake')).toBe(false);
    expect(server.stats().received).toBe(0);
  });

  it('takes an app socket through a port forward on loopback (its Host names loopback, on another port)', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const forward = await relay(server.port);
    cleanups.push(() => forward.close());
    expect(await stillAnswers(`ws://127.0.0.1:${forward.port}`)).toBe(true);
  });
});
