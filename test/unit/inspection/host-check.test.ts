import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { InvalidOptionError } from '../../../src/protocol/errors.js';
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

/** What an app socket opened with `origin` gets: greeted (`'open'`), or closed with a code before anything is read. */
function appSocket(wsUrl: string, origin: string | undefined, host?: string): Promise<string> {
  const socket = new WebSocket(wsUrl, { ...(origin === undefined ? {} : { origin }), ...(host ? { headers: { host } } : {}) });
  return new Promise<string>((resolve) => {
    socket.once('message', () => resolve('open'));
    socket.once('close', (code) => resolve(`close ${code}`));
    socket.once('error', (error) => resolve(`error ${error.message}`));
  }).finally(() => socket.terminate());
}

const fakeActor = JSON.stringify({ type: '@xstate.actor', sessionId: 'x:0', name: 'fake', definition: '{"id":"fake"}', snapshot: { status: 'active' }, createdAt: '1', id: null, _version: INSPECTION_FORMAT_VERSION });

describe('inspector server and the Origin of an app socket', () => {
  it('refuses an app socket from a page of another site: nothing it sends reaches the page', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const page = await openPage(server);
    cleanups.push(() => page.close());
    const foreign = new WebSocket(server.wsUrl, { origin: 'https://attacker.test' });
    cleanups.push(() => foreign.terminate());
    const closed = new Promise<number>((resolve) => foreign.once('close', (code) => resolve(code)));
    foreign.once('open', () => foreign.send(fakeActor));
    expect(await closed).toBe(1008);
    await new Promise((r) => setTimeout(r, 100));
    expect(page.records.some((r) => r.name === 'fake')).toBe(false);
    expect(server.stats().received).toBe(0);
  });

  it('takes app sockets from a Node app (no Origin) and from pages on loopback, on any port', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    expect(await appSocket(server.wsUrl, undefined)).toBe('open');
    expect(await appSocket(server.wsUrl, 'http://localhost:5173')).toBe('open');
    expect(await appSocket(server.wsUrl, 'http://127.0.0.1:3000')).toBe('open');
    expect(await appSocket(server.wsUrl, 'https://[::1]:8443')).toBe('open');
  });

  it('refuses Origin: null (a sandboxed frame) unless appOrigins lists it', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    expect(await appSocket(server.wsUrl, 'null')).toBe('close 1008');
    const listing = await startTestInspector({ appOrigins: ['null'] });
    cleanups.push(() => listing.close());
    expect(await appSocket(listing.wsUrl, 'null')).toBe('open');
  });

  it('takes an app socket from an origin appOrigins lists, written in any case, and no other', async () => {
    const server = await startTestInspector({ appOrigins: ['HTTPS://App.Test:5173'] });
    cleanups.push(() => server.close());
    expect(await appSocket(server.wsUrl, 'https://app.test:5173')).toBe('open');
    expect(await appSocket(server.wsUrl, 'HTTPS://APP.TEST:5173')).toBe('open');
    expect(await appSocket(server.wsUrl, 'https://app.test:5174')).toBe('close 1008');
    expect(await appSocket(server.wsUrl, 'http://app.test:5173')).toBe('close 1008');
  });

  it("appOrigins '*' takes an app socket from any page", async () => {
    const server = await startTestInspector({ appOrigins: '*' });
    cleanups.push(() => server.close());
    expect(await appSocket(server.wsUrl, 'https://attacker.test')).toBe('open');
  });

  it('bound to every interface, takes a page served from the host the app socket names, on another port', async () => {
    const server = await startTestInspector({ host: '0.0.0.0' });
    cleanups.push(() => server.close());
    const wsUrl = `ws://127.0.0.1:${server.port}`;
    expect(await appSocket(wsUrl, 'http://192.168.1.5:5173', `192.168.1.5:${server.port}`)).toBe('open');
    expect(await appSocket(wsUrl, 'http://192.168.1.6:5173', `192.168.1.5:${server.port}`)).toBe('close 1008');
  });

  it('names a bad appOrigins entry in an InvalidOptionError, before it listens', async () => {
    await expect(startTestInspector({ appOrigins: ['app.test:5173'] })).rejects.toThrow(/Invalid option `appOrigins`.*"app\.test:5173"/);
    await expect(startTestInspector({ appOrigins: ['https://app.test/path'] })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(startTestInspector({ appOrigins: 'https://app.test' as never })).rejects.toBeInstanceOf(InvalidOptionError);
  });
});
