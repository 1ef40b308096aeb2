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

  it('answers a click at the next frames while the events keep coming: a connection found by name shows its chart, laid out once for all connections of its machine', async () => {
    await page.fill('#tree-filter', 'feed-50');
    await treeRow(page, 'pool/feed-500').waitFor({ timeout: 10_000 });
    await treeRow(page, 'pool/feed-501').waitFor({ timeout: 10_000 });

    const first = await clickAndCountFrames(page, 'pool/feed-500');
    console.log(`click to title at 1,000 connections: ${first.frames} frames, ${first.ms} ms`);
    expect(first.frames, 'animation frames from the click to the title').toBeLessThanOrEqual(2);
    const clicked = Date.now();
    await page.waitForSelector('#chart .st.active', { timeout: 20_000 });
    console.log(`click to chart (first layout of the connection machine): ${first.ms + Date.now() - clicked} ms`);
    await screenshot(page, 'scale-connection');

    const second = await clickAndCountFrames(page, 'pool/feed-501', true);
    console.log(`click to chart of a second connection of the same machine: ${second.frames} frames, ${second.ms} ms`);
    expect(second.frames, 'animation frames from the click to its chart, no new layout').toBeLessThanOrEqual(2);
  }, 60_000);
});

/**
 * Clicks a tree row inside the page and counts the animation frames until the chart's title names it (and,
 * with `charted`, until its active states are drawn): a count, not a time, so a busy machine does not change it.
 */
async function clickAndCountFrames(page: Page, key: string, charted = false): Promise<{ frames: number; ms: number }> {
  return page.evaluate(
    async ({ key, charted }) => {
      const name = key.slice(key.lastIndexOf('/') + 1);
      const done = () =>
        document.querySelector('#chart-title')?.textContent === name && (!charted || document.querySelector('#chart .st.active') !== null);
      const row = document.querySelector(`.tree-row[data-key="${key}"] .name`) as HTMLElement;
      const started = performance.now();
      row.click();
      let frames = 0;
      while (!done() && frames < 600) {
        await new Promise((resolve) => requestAnimationFrame(resolve));
        frames++;
      }
      return { frames: done() ? frames : Number.POSITIVE_INFINITY, ms: Math.round(performance.now() - started) };
    },
    { key, charted },
  );
}
