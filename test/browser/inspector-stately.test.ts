import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startInspectorServer, type InspectorServer } from '../../src/inspection/server.js';
import type { SocketchartServer } from '../../src/server/index.js';
import { launchChromium } from '../support/browser.js';
import { startReferenceServer } from '../support/reference-server.js';
import { buildPage, screenshot, treeRow } from './inspector-harness.js';

/**
 * A browser app keeps @statelyai/inspect's `createBrowserInspector({ url })` and only points it at
 * socketchart's inspector: the page opens (as a window, or in the app's iframe), tells the app it is
 * ready (`@statelyai.connected`) and draws what the app posts.
 */

let inspector: InspectorServer;
let backend: SocketchartServer;
let app: Server;
let appUrl: string;
let browser: Browser;

beforeAll(async () => {
  await buildPage();
  inspector = await startInspectorServer({ port: 0 });
  backend = await startReferenceServer();
  const bundle = await build({
    entryPoints: [join(import.meta.dirname, 'fixtures', 'stately-app.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  });
  const script = bundle.outputFiles[0]!.text;
  app = createServer((req, res) => {
    if (req.url?.startsWith('/app.js')) res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title><iframe id="inspector" style="width:1400px;height:860px;border:0"></iframe><script src="/app.js"></script>');
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const ws = `ws://127.0.0.1:${backend.address()!.port}`;
  appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}/?inspector=${encodeURIComponent(inspector.url)}&ws=${encodeURIComponent(ws)}`;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => app?.close(resolve));
  await backend?.close();
  await inspector?.close();
});

describe('@statelyai/inspect’s createBrowserInspector({ url }) → the socketchart inspector page', () => {
  it('opens the page in a window, which draws the app’s connection and its state', async () => {
    const page = await browser.newPage();
    try {
      const [popup] = await Promise.all([page.waitForEvent('popup'), page.goto(appUrl)]);
      await popup.setViewportSize({ width: 1400, height: 860 });
      const row = treeRow(popup, 'browser-feed');
      await row.waitFor({ timeout: 15_000 });
      await popup.waitForFunction(() => document.querySelector('.tree-row[data-key="browser-feed"] .state')?.textContent === 'connected', undefined, { timeout: 15_000 });
      await expect.poll(() => popup.textContent('#source'), { timeout: 5_000 }).toContain('window');
      await row.locator('.name').click();
      await popup.waitForSelector('#chart .st.active[data-key="connected"]', { timeout: 15_000 });
      await screenshot(popup, 'browser-inspector-window');
      await popup.close();
    } finally {
      await page.close();
    }
  }, 45_000);

  it('or in the app’s iframe', async () => {
    const page = await browser.newPage({ viewport: { width: 1420, height: 880 } });
    try {
      await page.goto(`${appUrl}&iframe=1`);
      const frame = page.frameLocator('#inspector');
      await frame.locator('.tree-row[data-key="browser-feed"]').waitFor({ timeout: 15_000 });
      await expect.poll(() => frame.locator('.tree-row[data-key="browser-feed"] .state').textContent(), { timeout: 15_000 }).toBe('connected');
    } finally {
      await page.close();
    }
  }, 45_000);
});
