import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { WebSocket } from 'ws';
import { connectionMachine } from '../../src/index.js';
import { startInspectorServer, type InspectorServer } from '../../src/inspection/server.js';
import { toJsonText } from '../../src/inspection/serialize.js';
import { launchChromium } from '../support/browser.js';
import { buildPage, screenshot, treeRow } from './inspector-harness.js';

/** The inspector page in narrower windows (a laptop split, a tablet, a phone), with an app's connections. */

let inspector: InspectorServer;
let browser: Browser;
let app: WebSocket;

beforeAll(async () => {
  await buildPage();
  inspector = await startInspectorServer({ port: 0 });
  app = new WebSocket(inspector.wsUrl);
  await new Promise((resolve, reject) => app.once('open', resolve).once('error', reject));
  const definition = toJsonText(connectionMachine.config);
  const t = Date.now();
  const send = (record: Record<string, unknown>) => app.send(JSON.stringify({ _version: '1.0.0', createdAt: String(t), ...record }));
  send({ type: '@xstate.actor', sessionId: 'x:0', name: 'orders', definition, snapshot: { status: 'active', value: { link: 'connecting' }, context: {} } });
  send({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'socket.open' }, snapshot: { status: 'active', value: { link: 'authenticating' }, context: {} } });
  send({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'socket.close', code: 4003 }, snapshot: { status: 'active', value: 'failed', context: {} } });
  send({ type: '@xstate.actor', sessionId: 'x:1', name: 'prices', definition, snapshot: { status: 'active', value: { link: 'connecting' }, context: {} } });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  app?.close();
  await inspector?.close();
});

it('keeps every control within reach at 768 and 375 px wide: nothing cut off at the side, the page scrolls to what is below', async () => {
  for (const [width, height] of [
    [768, 1024],
    [375, 812],
  ] as const) {
    const page = await browser.newPage({ viewport: { width, height } });
    try {
      await page.goto(inspector.url);
      await treeRow(page, 'orders').waitFor({ timeout: 10_000 });
      await screenshot(page, `narrow-${width}`);
      const controls = ['#export', 'label.file', '#tree-filter', '#fit', '#pause', '#log-search', '#log-type', '#kinds', '#live', '#step-back', '#scrub'];
      const out = await page.evaluate((selectors) => {
        const scroller = document.scrollingElement!;
        const scrolls = getComputedStyle(document.body).overflowY !== 'hidden' && getComputedStyle(document.documentElement).overflowY !== 'hidden';
        const pageHeight = scrolls ? scroller.scrollHeight : innerHeight;
        return selectors.flatMap((selector) => {
          const r = document.querySelector(selector)!.getBoundingClientRect();
          const top = r.top + scroller.scrollTop;
          return r.left >= 0 && r.right <= innerWidth && top >= 0 && top + r.height <= pageHeight ? [] : [`${selector}: ${Math.round(r.left)}…${Math.round(r.right)} × ${Math.round(top)}…${Math.round(top + r.height)}`];
        });
      }, controls);
      expect(out, `out of reach at ${width} px`).toEqual([]);
      expect(await page.evaluate(() => document.scrollingElement!.scrollWidth <= innerWidth), `no sideways overflow at ${width} px`).toBe(true);
      await page.locator('#pause').scrollIntoViewIfNeeded();
      await screenshot(page, `narrow-${width}-log`);
    } finally {
      await page.close();
    }
  }
}, 45_000);

it("colours the selected actor's state in the chart's header as its row in the tree: a failed connection is not shown green", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  try {
    await page.goto(inspector.url);
    await treeRow(page, 'orders').locator('.name').click();
    await page.waitForFunction(() => document.querySelector('#chart-state')?.textContent === 'failed', undefined, { timeout: 10_000 });
    const colour = (selector: string) => page.locator(selector).evaluate((el) => getComputedStyle(el).color);
    expect(await colour('#chart-state')).toBe(await colour('.tree-row[data-key="orders"] .state'));
    await treeRow(page, 'prices').locator('.name').click();
    await page.waitForFunction(() => document.querySelector('#chart-state')?.textContent === 'connecting', undefined, { timeout: 10_000 });
    expect(await colour('#chart-state')).toBe(await colour('.tree-row[data-key="prices"] .state'));
    await screenshot(page, 'header-failed');
  } finally {
    await page.close();
  }
}, 30_000);
