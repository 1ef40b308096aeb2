import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.js';
import { ARTIFACTS, buildPage, screenshot, startDemo, treeRow, type RunningDemo } from './inspector-harness.js';

/**
 * The inspector under a storm: the demo's pool raised to 1,000 connections through the injected server
 * restart. Events are batched per animation frame, the tree and the log are virtualized, plots redraw at a
 * bounded rate; the page says how long each frame's batch took (its perf badge), and stays usable.
 */

let demo: RunningDemo;
let browser: Browser;
let page: Page;

describe('the offline inspector with 1,000 connections through a restart storm', () => {
  beforeAll(async () => {
    await buildPage();
    demo = await startDemo(['--duration', '25', '--connections', '1000']);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    await page.goto(demo.url);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  }, 60_000);

  it('keeps each frame’s batch well under the 50 ms that reads as a stall, with the tree and log virtualized and plots redrawn at most twice a second', async () => {
    const started = Date.now();
    await demo.printed(/server node 1 listening again/, 40_000);
    // Through the storm: every connection dropped and dialing back under the pool's budget.
    await demo.printed(/fault healed: blackhole removed/, 40_000);
    await page.waitForTimeout(3_000);
    const perf = await page.locator('#perf').evaluate((el) => ({ ...(el as HTMLElement).dataset }));
    const events = Number(perf.events);
    const figures = {
      events,
      framesWithEvents: Number(perf.frames),
      meanBatch: Number(perf.batch),
      batchMsP50: Number(perf.p50),
      batchMsP95: Number(perf.p95),
      batchMsMax: Number(perf.max),
      longFramesOver50ms: Number(perf.longFrames),
      longestFrameMs: Number(perf.longestFrame),
      seconds: (Date.now() - started) / 1000,
    };
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'scale.json'), `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`inspector at 1,000 connections: ${JSON.stringify(figures)}`);
    expect(events, 'the storm was recorded').toBeGreaterThan(20_000);
    expect(figures.batchMsP95).toBeLessThan(50);

    await treeRow(page, 'pool').waitFor();
    const treeRows = Number(await page.locator('#tree').getAttribute('data-rows'));
    expect(treeRows, 'the pool and its 1,000 connections').toBeGreaterThanOrEqual(1_001);
    expect(await page.locator('#tree .tree-row:visible').count()).toBeLessThan(80);
    expect(Number(await page.locator('#log').getAttribute('data-rows'))).toBeGreaterThan(10_000);
    expect(await page.locator('#log .log-row:visible').count()).toBeLessThan(80);

    const before = Number(await page.locator('#metrics').getAttribute('data-updates'));
    await page.waitForTimeout(4_000);
    const redraws = Number(await page.locator('#metrics').getAttribute('data-updates')) - before;
    expect(redraws, 'plot redraws in 4 s').toBeLessThanOrEqual(9);
    expect(redraws).toBeGreaterThan(0);
    await screenshot(page, 'scale-pool');
  }, 120_000);

  it('answers a click at once while the events keep coming: a connection found by name shows its chart', async () => {
    await page.fill('#tree-filter', 'feed-500');
    const row = treeRow(page, 'pool/feed-500');
    await row.waitFor({ timeout: 5_000 });
    const clicked = Date.now();
    await row.locator('.name').click();
    await page.waitForFunction(() => document.querySelector('#chart-title')?.textContent === 'feed-500', undefined, { timeout: 5_000 });
    await page.waitForSelector('#chart .st.active', { timeout: 10_000 });
    const ms = Date.now() - clicked;
    console.log(`click to chart at 1,000 connections: ${ms} ms`);
    expect(ms).toBeLessThan(3_000);
    await screenshot(page, 'scale-connection');
  }, 30_000);
});
