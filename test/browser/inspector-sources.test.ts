import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startInspectorServer, type InspectorServer } from '../../src/inspection/server.js';
import type { SocketchartServer } from '../../src/server/index.js';
import { launchChromium } from '../support/browser.js';
import { waitFor } from '../support/browser-page.js';
import { startReferenceServer } from '../support/reference-server.js';
import { buildPage, frameFigures, screenshot, treeRow } from './inspector-harness.js';

/** What the page makes of its sources: a socket it reads while its tab is hidden, and a server that restarts under a window that posts. */

const door = JSON.stringify({ id: 'door', initial: 'shut', states: { shut: { on: { push: 'open' } }, open: { on: { push: 'shut' } } } });
let at = Date.UTC(2024, 0, 1, 12);
const record = (r: Record<string, unknown>) => ({ _version: '0.7.2', id: null, createdAt: String(at++), ...r });
const created = (sessionId: string, name: string) => record({ type: '@xstate.actor', sessionId, name, definition: door, snapshot: { status: 'active', value: 'shut' } });

/** An app sending raw inspection records to the inspector server. */
async function rawApp(wsUrl: string): Promise<WebSocket> {
  const app = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => app.once('open', resolve).once('error', reject));
  return app;
}

/**
 * Closes the app's socket and the inspector server, waits for the page to say the server is away, then starts a
 * new server on the same port and dials it again with a new app socket.
 */
async function restartInspector(inspector: InspectorServer, app: WebSocket, source: Locator): Promise<{ inspector: InspectorServer; app: WebSocket }> {
  const port = inspector.port;
  app.close();
  await inspector.close();
  await expect.poll(() => source.textContent(), { timeout: 10_000 }).toContain('server away');
  const restarted = await startInspectorServer({ port });
  return { inspector: restarted, app: await rawApp(restarted.wsUrl) };
}

let browser: Browser;
beforeAll(async () => {
  await buildPage();
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

/**
 * A tab switched away from, as Chromium runs it: `document.hidden`, and no animation frame until it is shown
 * again (headless Chromium keeps every page visible). Also counts the entry records the page's socket has read
 * (`__read`), and the last event type read.
 */
function emulateTabs(): void {
  let hidden = false;
  const held: FrameRequestCallback[] = [];
  const raf = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (callback) => raf((t) => (hidden ? held.push(callback) : callback(t)));
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
  const w = window as unknown as { __setHidden(h: boolean): void; __read: { entries: number; last: string } };
  w.__setHidden = (h) => {
    hidden = h;
    document.dispatchEvent(new Event('visibilitychange'));
    if (!h) for (const callback of held.splice(0)) raf(callback);
  };
  w.__read = { entries: 0, last: '' };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      this.addEventListener('message', (e: MessageEvent) => {
        const batch = JSON.parse(String(e.data)) as Array<{ type: string; event?: { type: string } }>;
        for (const r of batch) {
          if (r.type.startsWith('@xstate.')) w.__read.entries++;
          if (r.event) w.__read.last = r.event.type;
        }
      });
    }
  };
}

const setHidden = (page: Page, hidden: boolean) => page.evaluate((h) => (window as unknown as { __setHidden(h: boolean): void }).__setHidden(h), hidden);
const read = (page: Page) => page.evaluate(() => (window as unknown as { __read: { entries: number; last: string } }).__read);

describe('a hidden tab', () => {
  let inspector: InspectorServer;
  let page: Page;
  beforeAll(async () => {
    inspector = await startInspectorServer({ port: 0 });
    page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
    await page.addInitScript(emulateTabs);
  }, 30_000);
  afterAll(async () => {
    await page?.close();
    await inspector?.close();
  });

  it('takes in what its socket reads while hidden, and once shown has nothing left to catch up on, each event once', async () => {
    await page.goto(`${inspector.url}?keep=10000`);
    const app = await rawApp(inspector.wsUrl);
    try {
      app.send(JSON.stringify([created('x:0', 'front'), record({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'push' }, snapshot: { status: 'active', value: 'open' } })]));
      await page.waitForFunction(() => /2 events/.test(document.querySelector('#counts')?.textContent ?? ''), undefined, { timeout: 10_000 });
      const before = await waitFor(() => frameFigures(page), (f) => f.events === 2 && f.framesWithEvents > 0, 5_000, 'the header to count the first events and their frame');

      await setHidden(page, true);
      // More than the page keeps (10,000 and a tenth): a queue that is not worked through while hidden holds all of them.
      const sent = 30_000;
      for (let i = 0; i < sent; i += 1_000) {
        const batch = [];
        for (let j = i; j < i + 1_000; j++) batch.push(record({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: j === sent - 1 ? 'last' : 'push' }, snapshot: { status: 'active', value: j % 2 === 0 ? 'shut' : 'open' } }));
        app.send(JSON.stringify(batch));
      }
      await waitFor(() => read(page), (r) => r.last === 'last', 20_000, 'the hidden page’s socket to read the last record');
      expect((await read(page)).entries).toBe(2 + sent);

      await setHidden(page, false);
      const after = await waitFor(() => frameFigures(page), (f) => f.events === 2 + sent, 15_000, 'the header to count every event');
      // What arrived while hidden was taken in then: no animation frame after it was shown had records to ingest.
      expect(after.framesWithEvents, 'frames with events after being shown').toBe(before.framesWithEvents);
      await page.waitForFunction(() => /\b30,002 events\b/.test(document.querySelector('#counts')?.textContent ?? ''), undefined, { timeout: 5_000 });
      expect(await page.locator('#counts').textContent()).toMatch(/^1 live actor · 30,002 events · [\d,]+\/s · oldest [\d,]+ let go$/);
      // The log shows the newest events, each once: as many rows as entries kept.
      const kept = Number(/oldest ([\d,]+) let go/.exec((await page.locator('#counts').textContent())!)![1]!.replaceAll(',', ''));
      await page.waitForFunction((n) => document.querySelector('#log-count')?.textContent === `${n.toLocaleString('en-US')} shown`, 2 + sent - kept, { timeout: 5_000 });
      await treeRow(page, 'front').locator('.name').click();
      await page.waitForSelector('#chart .st.active[data-id="door.open"]', { timeout: 10_000 });
      await screenshot(page, 'sources-hidden-then-shown');
    } finally {
      app.close();
    }
  }, 60_000);
});

describe('a restart of the inspector server under a page the user is looking at', () => {
  let inspector: InspectorServer;
  let page: Page;
  beforeAll(async () => {
    inspector = await startInspectorServer({ port: 0 });
    page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
  }, 30_000);
  afterAll(async () => {
    await page?.close();
    await inspector?.close();
  });
  /** The row the tree shows for an actor (the list keeps rows it no longer shows, hidden). */
  const shownRow = (key: string) => page.locator(`.tree-row[data-key="${key}"]:visible`);

  it('keeps the actor the user selected once the new server sends it again', async () => {
    let app = await rawApp(inspector.wsUrl);
    app.send(JSON.stringify([created('x:0', 'front'), created('x:1', 'back')]));
    await page.goto(inspector.url);
    await shownRow('back').waitFor({ timeout: 10_000 });
    await expect.poll(() => page.locator('#chart-title').textContent(), { timeout: 5_000 }).toBe('front');
    await shownRow('back').locator('.name').click();
    await expect.poll(() => page.locator('#chart-title').textContent(), { timeout: 5_000 }).toBe('back');

    ({ inspector, app } = await restartInspector(inspector, app, page.locator('#source')));
    try {
      app.send(JSON.stringify([{ ...created('x:0', 'front'), announced: true }]));
      // The page has replaced what the old server sent once the actor only the old one had is gone.
      await shownRow('back').waitFor({ state: 'detached', timeout: 15_000 });
      await shownRow('front').waitFor({ timeout: 5_000 });
      // Not there yet: the first actor is shown meanwhile, and the one the user picked as soon as it comes.
      await expect.poll(() => page.locator('#chart-title').textContent(), { timeout: 5_000 }).toBe('front');
      app.send(JSON.stringify([{ ...created('x:1', 'back'), announced: true }]));
      await expect.poll(() => page.locator('#chart-title').textContent(), { timeout: 5_000 }).toBe('back');
      await expect.poll(() => page.locator('.tree-row.selected:visible').getAttribute('data-key'), { timeout: 5_000 }).toBe('back');
      await screenshot(page, 'sources-selection-kept');
    } finally {
      app.close();
    }
  }, 60_000);

  it('after a restart, an actor the user picks is kept: the earlier pick waits no more', async () => {
    let app = await rawApp(inspector.wsUrl);
    app.send(JSON.stringify([created('y:0', 'left'), created('y:1', 'right')]));
    await shownRow('right').waitFor({ timeout: 10_000 });
    await shownRow('right').locator('.name').click();
    ({ inspector, app } = await restartInspector(inspector, app, page.locator('#source')));
    try {
      app.send(JSON.stringify([{ ...created('y:0', 'left'), announced: true }]));
      await shownRow('right').waitFor({ state: 'detached', timeout: 15_000 });
      await shownRow('left').waitFor({ timeout: 5_000 });
      await shownRow('left').locator('.name').click();
      app.send(JSON.stringify([{ ...created('y:1', 'right'), announced: true }]));
      // The row is drawn in the frame that took the actor in: what is selected was decided by then.
      await shownRow('right').waitFor({ timeout: 10_000 });
      expect(await page.locator('#chart-title').textContent()).toBe('left');
    } finally {
      app.close();
    }
  }, 60_000);
});

describe('a restart of the inspector server, under an app that posts to the page', () => {
  let inspector: InspectorServer;
  let backend: SocketchartServer;
  let appServer: Server;
  let page: Page;
  beforeAll(async () => {
    inspector = await startInspectorServer({ port: 0 });
    backend = await startReferenceServer();
    const bundle = await build({ entryPoints: [join(import.meta.dirname, 'fixtures', 'stately-app.ts')], bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'silent' });
    const script = bundle.outputFiles[0]!.text;
    appServer = createServer((req, res) => {
      if (req.url?.startsWith('/app.js')) res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title><iframe id="inspector" style="width:1400px;height:860px;border:0"></iframe><script src="/app.js"></script>');
    });
    await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
    page = await browser.newPage({ viewport: { width: 1420, height: 880 } });
  }, 60_000);
  afterAll(async () => {
    await page?.close();
    await new Promise((resolve) => appServer?.close(resolve));
    await backend?.close();
    await inspector?.close();
  });

  it('keeps what the app posted, and replaces what came from the server with what the new server sends', async () => {
    const ws = `ws://127.0.0.1:${backend.address()!.port}`;
    await page.goto(`http://127.0.0.1:${(appServer.address() as AddressInfo).port}/?inspector=${encodeURIComponent(inspector.url)}&ws=${encodeURIComponent(ws)}&iframe=1`);
    const frame = page.frameLocator('#inspector');
    const row = (key: string) => frame.locator(`.tree-row[data-key="${key}"]`);
    const state = (key: string) => row(key).locator('.state').textContent();
    await expect.poll(() => state('browser-feed').catch(() => ''), { timeout: 15_000 }).toBe('connected');

    // Another app sends to the server: one actor that lives on, one only the old server knew of.
    let app = await rawApp(inspector.wsUrl);
    app.send(JSON.stringify([created('x:0', 'node-feed'), created('x:1', 'old-only')]));
    await row('node-feed').waitFor({ timeout: 10_000 });
    await row('old-only').waitFor({ timeout: 10_000 });

    // The app dials again and announces what still lives.
    ({ inspector, app } = await restartInspector(inspector, app, frame.locator('#source')));
    try {
      app.send(JSON.stringify([{ ...created('x:0', 'node-feed'), announced: true }, created('x:2', 'after-restart')]));
      // Records from the new server arrive once the page has replaced the old server's.
      await row('after-restart').waitFor({ timeout: 15_000 });
      await expect.poll(() => frame.locator('#source').textContent(), { timeout: 5_000 }).toBe('live + window');
      const roots = await frame.locator('.tree-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.key!).filter((key) => !key.includes('/')).sort());
      expect(roots).toEqual(['after-restart', 'browser-feed', 'node-feed']);
      expect(await state('browser-feed')).toBe('connected');
      // The app's connection still draws, its chart and its events.
      await row('browser-feed').locator('.name').click();
      await frame.locator('#chart .st.active[data-key="connected"]').waitFor({ timeout: 15_000 });
      await frame.locator('#log-actor').selectOption('node');
      await expect.poll(() => frame.locator('#log .log-row[data-actor="browser-feed"]').count(), { timeout: 5_000 }).toBeGreaterThan(0);
      await frame.locator('#log-actor').selectOption('all');
      await screenshot(page, 'sources-server-restarted');
    } finally {
      app.close();
    }
  }, 60_000);
});
