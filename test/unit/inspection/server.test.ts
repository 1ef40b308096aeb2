import { request } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { connectInspector, createPool } from '../../../src/index.node.js';
import { INSPECTION_FORMAT_VERSION } from '../../../src/inspection/protocol.js';
import { createMockServer } from '../../../src/testing/index.js';
import { until } from '../../support/until.js';
import { openPage, startTestInspector, stillAnswers } from './support.js';

/** The inspector server: what it keeps for pages opened late, whom it serves, and what it never passes on. */

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  while (cleanups.length) await cleanups.pop()!();
});

const actorRecord = (sessionId: string, name: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ type: '@xstate.actor', name, sessionId, createdAt: String(Date.now()), _version: INSPECTION_FORMAT_VERSION, id: null, definition: JSON.stringify({ id: name }), snapshot: { status: 'active' }, ...extra });

async function source(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  cleanups.push(() => ws.close());
  return ws;
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: string; csp: string }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body, csp: String(res.headers['content-security-policy']) }));
    })
      .on('error', reject)
      .end();
  });
}

describe('the inspector server', () => {
  it('gives a page opened late every live actor, with its latest snapshot, even when its creation is no longer kept', async () => {
    const server = await startTestInspector({ history: { maxEvents: 10 } });
    cleanups.push(() => server.close());
    const inspector = connectInspector({ url: server.wsUrl, metricsIntervalMs: false });
    cleanups.push(() => inspector.close());
    const mock = createMockServer();
    const pool = createPool({
      endpoints: [
        { name: 'east', url: 'ws://mock.test/e' },
        { name: 'west', url: 'ws://mock.test/w' },
      ],
      defaults: { WebSocket: mock.WebSocket },
      staggerMs: 0,
      environment: false,
      inspect: inspector,
    });
    cleanups.push(() => pool.dispose());
    pool.start();
    await until(() => pool.status().health === 'up', 5_000, 'both connected');
    await until(() => server.stats().received > 30, 5_000, 'more events than are kept');
    expect(server.stats().stored).toBe(10);
    const page = await openPage(server);
    cleanups.push(() => page.close());
    await page.find((r) => r.type === '@socketchart.replayed', 'the end of the replay');
    const actors = page.records.filter((r) => r.type === '@xstate.actor');
    expect(actors.map((r) => r.name)).toEqual(expect.arrayContaining(['pool', 'east', 'west']));
    const east = actors.find((r) => r.name === 'east')!;
    expect(JSON.stringify((east.snapshot as { value: unknown }).value)).toContain('connected');
    const definition = page.records.find((r) => r.type === '@socketchart.definition' && r.id === east.def);
    expect(JSON.parse(String(definition?.definition)).id).toBe('connection');
  });

  it('keeps two apps apart: every app’s session ids are namespaced', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const first = await source(server.wsUrl);
    const second = await source(server.wsUrl);
    first.send(actorRecord('x:0', 'first-app'));
    second.send(actorRecord('x:0', 'second-app', { parentId: 'x:9' }));
    const page = await openPage(server);
    cleanups.push(() => page.close());
    const a = await page.find((r) => r.name === 'first-app', 'the first app');
    const b = await page.find((r) => r.name === 'second-app', 'the second app');
    expect(a.sessionId).toBe('a1:x:0');
    expect(b.sessionId).toBe('a2:x:0');
    expect(b.parentId).toBe('a2:x:9');
  });

  it('lets no app take over another’s actors with the other’s namespaced ids: the second app’s actor ends when it leaves', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const first = await source(server.wsUrl);
    const second = await source(server.wsUrl);
    second.send(actorRecord('x:0', 'second-app'));
    await until(() => server.stats().received === 1, 5_000, 'the second app’s actor');
    first.send(actorRecord('a2:x:0', 'first-app'));
    await until(() => server.stats().received === 2, 5_000, 'the first app’s actor');
    second.close();
    await until(() => server.stats().sources === 1, 5_000, 'the second app gone');
    const page = await openPage(server);
    cleanups.push(() => page.close());
    await page.find((r) => r.type === '@socketchart.replayed', 'the replay');
    const named = (name: string) => page.records.find((r) => r.type === '@xstate.actor' && r.name === name)!;
    const ended = (sessionId?: string) => page.records.some((r) => r.type === '@xstate.snapshot' && r.sessionId === sessionId && (r.snapshot as { status?: string }).status === 'stopped');
    expect([ended(named('second-app').sessionId), ended(named('first-app').sessionId)]).toEqual([true, false]);
    expect(named('first-app').sessionId).not.toBe(named('second-app').sessionId);
  });

  it('takes one event per frame or an array of them, and refuses and counts anything else', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const ws = await source(server.wsUrl);
    ws.send('not json');
    ws.send(JSON.stringify({ type: 'hello' }));
    ws.send(actorRecord('x:1', 'one'));
    ws.send(JSON.stringify([JSON.parse(actorRecord('x:2', 'two')), JSON.parse(actorRecord('x:3', 'three'))]));
    await until(() => server.stats().received === 3 && server.stats().rejected === 2, 5_000, 'three taken, two refused');
  });

  it('gives a page opened late each machine definition once, however many of its actors it replays', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const ws = await source(server.wsUrl);
    for (let i = 0; i < 3; i++) ws.send(actorRecord(`x:${i}`, 'feed'));
    await until(() => server.stats().received === 3, 5_000, 'three actors of one machine');
    const page = await openPage(server);
    cleanups.push(() => page.close());
    await page.find((r) => r.type === '@socketchart.replayed', 'the end of the replay');
    const actors = page.records.filter((r) => r.type === '@xstate.actor');
    expect(actors).toHaveLength(3);
    expect(page.records.filter((r) => r.type === '@socketchart.definition').map((r) => r.id)).toEqual([actors[0]!.def]);
  });

  it('no longer counts a page once it has closed', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const page = await openPage(server);
    await until(() => server.stats().pages === 1, 5_000, 'the page counted');
    page.close();
    await until(() => server.stats().pages === 0, 5_000, 'the page no longer counted');
  });

  it('greets every app, so that socketchart’s helper sends arrays', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const ws = new WebSocket(server.wsUrl);
    cleanups.push(() => ws.close());
    const hello = await new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
    expect(JSON.parse(hello)).toEqual({ type: '@socketchart.hello', batches: true });
  });

  it('removes secrets an app sends (named members, JWTs, bearer tokens, URL credentials) before any page or replay sees them', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const secrets = ['hunter2-SECRET', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl', 'abcdefghijklmnop-BEARER', 'q-TOKEN-9d8e', 'pw-URL-77ab'];
    const ws = await source(server.wsUrl);
    ws.send(
      actorRecord('x:1', 'app', {
        definition: JSON.stringify({ id: 'app', context: { password: secrets[0] } }),
        snapshot: {
          status: 'active',
          context: { jwt: secrets[1], note: `Authorization: Bearer ${secrets[2]}`, url: `wss://api.test/ws?token=${secrets[3]}`, proxy: `https://user:${secrets[4]}@proxy.test/`, tokenRequest: { reason: 'connect' } },
        },
      }),
    );
    ws.send(JSON.stringify({ type: '@xstate.event', sessionId: 'x:1', createdAt: '1', _version: '0.7.2', id: null, event: { type: 'login', password: secrets[0] } }));
    const live = await openPage(server);
    cleanups.push(() => live.close());
    await live.find((r) => r.type === '@xstate.event', 'the event');
    const seen = JSON.stringify(live.records);
    for (const secret of secrets) expect(seen, secret).not.toContain(secret);
    expect(seen).toContain('"reason":"connect"');
    expect(seen).toContain('[redacted]');
  });

  it('serves the page files and nothing else, to loopback hosts only; the page socket only to the page’s own origin', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const index = await get(server.url);
    expect(index.status).toBe(200);
    expect(index.type).toContain('text/html');
    expect(index.csp).toContain("default-src 'self'");
    expect((await get(`${server.url}app.js`)).status).toBe(200);
    expect((await get(`${server.url}..%2Fpackage.json`)).status).toBe(404);
    expect((await get(`${server.url}nothing.js`)).status).toBe(404);
    expect((await get(server.url, { host: 'evil.test' })).status, 'DNS rebinding: another Host is refused').toBe(403);
    const foreign = await openPage(server, 'http://evil.test');
    expect((await foreign.closed).code).toBe(1008);
    const own = await openPage(server, server.url.replace(/\/$/, ''));
    cleanups.push(() => own.close());
    await own.find((r) => r.type === '@socketchart.replayed', 'the replay');
  });

  it('sends a slow page again the definitions of a batch it left out for it', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const page = await openPage(server);
    cleanups.push(() => page.close());
    const app = await source(server.wsUrl);
    page.socket.pause();
    const big = 'x'.repeat(1024 * 1024);
    for (let i = 0; i < 48; i++) {
      app.send(JSON.stringify({ type: '@xstate.event', sessionId: 'x:0', event: { type: 'bulk', big }, createdAt: String(i), id: null, _version: INSPECTION_FORMAT_VERSION }));
      await new Promise((r) => setTimeout(r, 15));
    }
    await until(() => server.stats().received === 48, 10_000, 'bulk received');
    await new Promise((r) => setTimeout(r, 100));
    const droppedBefore = server.stats().droppedForPages;
    app.send(actorRecord('x:1', 'door'));
    await until(() => server.stats().droppedForPages > droppedBefore, 5_000, 'the batch with the first door left out for the slow page');
    page.socket.resume();
    // Until the page has read its backlog, each new door is left out again (its definition with it): the first to arrive counts.
    const laterDoor = (r: { type: string; sessionId?: string }) => r.type === '@xstate.actor' && r.sessionId !== 'x:1';
    for (let n = 2; !page.records.some(laterDoor); n++) {
      expect(n, 'doors sent before the page caught up').toBeLessThan(30);
      app.send(actorRecord(`x:${n}`, 'door'));
      await until(() => page.records.some(laterDoor), 1_000).catch(() => undefined);
    }
    const door = page.records.find(laterDoor)!;
    expect(door.def).toBeDefined();
    expect(page.records.some((r) => r.type === '@socketchart.definition' && r.id === door.def)).toBe(true);
  });

  it('sends an open page a definition once, however often it is let go and taken again', async () => {
    const server = await startTestInspector({ history: { maxEvents: 2 } });
    cleanups.push(() => server.close());
    const page = await openPage(server);
    cleanups.push(() => page.close());
    const app = await source(server.wsUrl);
    const stopped = (sessionId: string) =>
      JSON.stringify({ type: '@xstate.snapshot', sessionId, rootId: sessionId, snapshot: { status: 'stopped' }, event: { type: 'done' }, _version: INSPECTION_FORMAT_VERSION });
    const filler = (n: number) => JSON.stringify({ type: '@xstate.event', sessionId: 'other', event: { type: 'tick' }, createdAt: String(n), id: null, _version: INSPECTION_FORMAT_VERSION });
    for (let n = 1; n <= 5; n++) {
      app.send(actorRecord(`job:${n}`, 'job'));
      app.send(stopped(`job:${n}`));
      app.send(filler(2 * n));
      app.send(filler(2 * n + 1));
    }
    await until(() => server.stats().received === 20, 5_000, 'every record received');
    await until(() => page.records.filter((r) => r.type === '@xstate.actor').length === 5, 5_000, 'every job shown');
    const jobs = page.records.filter((r) => r.type === '@xstate.actor');
    expect(new Set(jobs.map((r) => r.def)).size, 'one id for one definition').toBe(1);
    expect(page.records.filter((r) => r.type === '@socketchart.definition')).toHaveLength(1);
  });

  it('on a port already taken, rejects with EADDRINUSE instead of crashing the process', async () => {
    const first = await startTestInspector();
    cleanups.push(() => first.close());
    await expect(startTestInspector({ port: first.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(await stillAnswers(first.wsUrl)).toBe(true);
  });

  it('close() leaves no socket, server or timer behind', async () => {
    const handles = () => {
      const counts: Record<string, number> = {};
      for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
      return counts;
    };
    const before = handles();
    const server = await startTestInspector();
    const ws = await source(server.wsUrl);
    const page = await openPage(server);
    ws.send(actorRecord('x:1', 'one'));
    await page.find((r) => r.name === 'one', 'a record on the page');
    await server.close();
    await page.closed;
    await until(() => ws.readyState === WebSocket.CLOSED, 2_000, 'the app socket closed');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const after = handles();
    for (const [kind, n] of Object.entries(after)) expect(n, `${kind} left open`).toBeLessThanOrEqual(before[kind] ?? 0);
  });

  it('schedules no batch for the pages while it closes, though closing ends the actors of an app still sending', async () => {
    const server = await startTestInspector({ batchMs: 60_000 });
    const page = await openPage(server);
    cleanups.push(() => page.close());
    const app = await source(server.wsUrl);
    app.send(actorRecord('x:1', 'app'));
    await until(() => server.stats().received === 1);
    const timeouts = vi.spyOn(globalThis, 'setTimeout');
    await server.close();
    expect(timeouts.mock.calls.filter(([, ms]) => ms === 60_000)).toEqual([]);
  });
});
