import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { seedFeeds } from '../../src/cli/seed-feeds.js';
import { connectInspector } from '../../src/inspection/client.js';
import { createPool } from '../../src/index.node.js';
import { launchChromium } from '../support/browser.js';
import { waitFor } from '../support/browser-page.js';
import { startReferenceServer } from '../support/reference-server.js';
import { until } from '../support/until.js';
import { buildPage, inOrder, logView, recordRowStates, rowStates, screenshot, startDemo, treeRow, type RunningDemo } from './inspector-harness.js';

/**
 * The demo (`npm start -- --inspect`) with its offline inspector, in Debian's Chromium: what a person sees
 * on the page while the eight feeds go through the injected server restart.
 */

const feeds = seedFeeds.map(([name]) => name);
let demo: RunningDemo;
let browser: Browser;
let page: Page;

describe('the offline inspector, on the demo', () => {
  beforeAll(async () => {
    await buildPage();
    demo = await startDemo(['--duration', '40']);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1600, height: 960 } });
    await page.goto(demo.url);
    await recordRowStates(page);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  }, 40_000);

  it('shows the pool and its eight feeds in the actor tree, each with its state', async () => {
    for (const feed of feeds) await treeRow(page, `pool/${feed}`).waitFor({ timeout: 20_000 });
    expect(await treeRow(page, 'pool').locator('.kind').textContent()).toBe('pool');
    for (const feed of feeds) {
      const row = treeRow(page, `pool/${feed}`);
      expect(await row.locator('.name').textContent()).toBe(feed);
      expect(await row.locator('.kind').textContent()).toBe('conn');
    }
    await page.waitForFunction((names) => names.every((n) => document.querySelector(`.tree-row[data-key="pool/${n}"] .state`)?.textContent === 'connected'), feeds, { timeout: 20_000 });
    await screenshot(page, 'tree');
  }, 45_000);

  it('keeps the newest events of the live log in view while dozens arrive per frame', async () => {
    // The demo's pool sends several rows' worth of events per animation frame from its first second.
    const before = (await logView(page)).rows;
    const view = await waitFor(() => logView(page), ({ rows }) => rows > before + 200, 10_000, 'more events in the log');
    expect({ atEnd: view.atEnd, newestInView: view.lastInView === view.rows - 1 }).toEqual({ atEnd: true, newestInView: true });
    await screenshot(page, 'log-following');
  });

  it("shows a connection's state going connected → reconnecting → connected through the injected restart", async () => {
    await demo.printed(/server node 1 listening again/, 30_000);
    let states: Record<string, string[]> = {};
    const deadline = Date.now() + 20_000;
    let through: string | undefined;
    while (Date.now() < deadline && !through) {
      states = await rowStates(page);
      through = feeds.find((feed) => inOrder(states[`pool/${feed}`] ?? [], ['connected', 'reconnecting', 'connected']));
      if (!through) await page.waitForTimeout(200);
    }
    expect(through, `tree rows showed: ${JSON.stringify(states)}`).toBeDefined();
    // The chart of that connection shows it back in `connected`.
    await treeRow(page, `pool/${through!}`).locator('.name').click();
    await page.waitForFunction(() => document.querySelector('#chart-state')?.textContent === 'connected', undefined, { timeout: 10_000 });
    await page.waitForSelector('.st.active[data-key="connected"]', { timeout: 15_000 });
  }, 60_000);

  it('filters the event log by actor and event type, and searches payloads', async () => {
    await treeRow(page, 'pool/queue').locator('.name').click();
    await page.selectOption('#log-actor', 'node');
    await page.fill('#log-type', 'socket.close');
    // The list shows the filter's result once the page has redrawn it.
    await page.waitForFunction(
      () => {
        const rows = Array.from(document.querySelectorAll<HTMLElement>('.log-row')).filter((row) => row.style.display !== 'none');
        return rows.length > 0 && rows.every((row) => row.dataset.type === 'socket.close');
      },
      undefined,
      { timeout: 10_000 },
    );
    const rows = await page.$$eval('.log-row:not([style*="display: none"])', (els) => els.map((el) => ({ actor: (el as HTMLElement).dataset.actor, type: (el as HTMLElement).dataset.type, text: el.textContent })));
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.actor).toBe('queue');
      expect(row.type).toBe('socket.close');
    }
    await page.fill('#log-search', 'nothing carries this');
    await page.waitForFunction(() => document.querySelector('#log-count')?.textContent?.startsWith('0 shown'), undefined, { timeout: 10_000 });
    await page.fill('#log-search', '1012');
    await page.waitForFunction(() => !document.querySelector('#log-count')?.textContent?.startsWith('0 shown'), undefined, { timeout: 10_000 });
    const restarts = await page.$$eval('.log-row:not([style*="display: none"])', (els) => els.map((el) => el.textContent ?? ''));
    expect(restarts.length, 'the restart close (1012) is found by its payload').toBeGreaterThan(0);
    expect(restarts.some((text) => text.includes('code: 1012')), restarts.join('\n')).toBe(true);
    await page.locator('.log-row:not([style*="display: none"])').first().click();
    await page.waitForFunction(() => document.querySelector('#payload')?.textContent?.includes('1012') ?? false, undefined, { timeout: 5_000 });
    await screenshot(page, 'filtered-log');
    await page.fill('#log-search', '');
    await page.fill('#log-type', '');
    await page.selectOption('#log-actor', 'all');
  }, 30_000);

  it('travels back in time: stepping back shows an earlier state of the chart, the tree and the snapshot', async () => {
    await treeRow(page, 'pool/queue').locator('.name').click();
    await page.waitForFunction(() => document.querySelector('#chart-state')?.textContent === 'connected', undefined, { timeout: 15_000 });
    let shown = 'connected';
    // Live, the slider sits on the newest event, which may be the step's own target; travelling, it sits on the moment shown.
    let moment = '';
    for (let steps = 0; steps < 400 && shown !== 'reconnecting'; steps++) {
      await page.click('#step-back');
      // A step is done when the page has drawn the new moment.
      await page.waitForFunction(
        (was) => document.body.classList.contains('travelling') && (document.querySelector('#scrub') as HTMLInputElement).value !== was,
        moment,
        { timeout: 10_000 },
      );
      moment = await page.inputValue('#scrub');
      shown = (await page.textContent('#chart-state')) ?? '';
    }
    expect(shown).toBe('reconnecting');
    expect(await page.evaluate(() => document.body.classList.contains('travelling'))).toBe(true);
    await page.waitForSelector('.st.active[data-key="reconnecting"]', { timeout: 10_000 });
    expect(await treeRow(page, 'pool/queue').locator('.state').textContent(), 'the tree as it was').toBe('reconnecting');
    expect(await page.textContent('#context')).toContain('"reconnecting"');
    expect(await page.textContent('#cursor-info')).toMatch(/event [\d,]+ of [\d,]+/);
    // The metrics header shows the sample taken by then, marked with its time: the moment is a state change after it.
    const note = (await page.textContent('#metrics-note')) ?? '';
    const sampled = /^last sample (\d\d:\d\d:\d\d): /.exec(note)?.[1];
    expect(sampled, note).toBeDefined();
    expect(sampled! <= (await page.textContent('#cursor-info'))!.slice(0, 8), 'a sample from before the moment').toBe(true);
    await screenshot(page, 'time-travel');
    await page.click('#live');
    await page.waitForFunction(() => document.querySelector('#chart-state')?.textContent === 'connected', undefined, { timeout: 10_000 });
    expect(await page.evaluate(() => document.body.classList.contains('travelling'))).toBe(false);
  }, 60_000);

  it("plots a connection's RTT, messages per second and states, and the pool's health and dials against the budget", async () => {
    await treeRow(page, 'pool/queue').locator('.name').click();
    const points = (plot: string) => page.locator(`.plot[data-plot="${plot}"]`).getAttribute('data-points').then(Number);
    await page.waitForFunction(() => Number(document.querySelector('.plot[data-plot="rtt"]')?.getAttribute('data-points')) >= 3, undefined, { timeout: 15_000 });
    expect(await points('rate')).toBeGreaterThanOrEqual(3);
    expect(await points('states'), 'state changes on the timeline').toBeGreaterThanOrEqual(3);
    expect(await page.textContent('.plot[data-plot="states"] .timeline-legend')).toContain('reconnecting');
    await screenshot(page, 'connection-metrics');
    await treeRow(page, 'pool').locator('.name').click();
    await page.waitForFunction(() => Number(document.querySelector('.plot[data-plot="dials"]')?.getAttribute('data-points')) > 0, undefined, { timeout: 10_000 });
    expect(await points('health')).toBeGreaterThan(0);
    expect(await page.textContent('#metrics-note')).toContain('budget 10 + 100/s');
    await screenshot(page, 'pool-metrics');
  }, 40_000);

  it('exports the recording as JSON lines in the @statelyai/inspect format, with no token in it, and imports it again', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    const path = await download.path();
    const text = readFileSync(path!, 'utf8');
    const lines = text.trim().split('\n').map((line) => JSON.parse(line) as { type: string; _version?: string; name?: string; definition?: string });
    expect(lines.length).toBeGreaterThan(100);
    expect(lines.every((line) => typeof line.type === 'string' && typeof line._version === 'string')).toBe(true);
    const queue = lines.find((line) => line.type === '@xstate.actor' && line.name === 'queue');
    expect(JSON.parse(queue!.definition!)).toMatchObject({ id: 'connection' });
    expect(text, 'the demo signs JWTs (eyJ…) for every dial: none is recorded').not.toMatch(/eyJ[\w-]{8,}\./);
    expect(await page.evaluate(() => document.body.innerText)).not.toMatch(/eyJ[\w-]{8,}\./);

    const other = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    try {
      await other.goto(demo.url);
      await other.setInputFiles('#import', { name: 'incident.jsonl', mimeType: 'application/x-ndjson', buffer: Buffer.from(text) });
      await other.waitForFunction(() => document.querySelector('#source')?.textContent?.includes('recording: incident.jsonl'), undefined, { timeout: 10_000 });
      for (const feed of feeds) await treeRow(other, `pool/${feed}`).waitFor({ timeout: 15_000 });
      const array = `[\n${text.trim().split('\n').join(',\n')}\n]`;
      const cut = array.slice(0, array.lastIndexOf('\n') - 20);
      await other.evaluate(() => {
        const counts = document.querySelector('#counts')!;
        const seen: string[] = ((window as unknown as { countsSeen: string[] }).countsSeen = []);
        new MutationObserver(() => seen.push(counts.textContent ?? '')).observe(counts, { childList: true, characterData: true, subtree: true });
      });
      await other.setInputFiles('#import', { name: 'cut.json', mimeType: 'application/json', buffer: Buffer.from(cut) });
      await other.waitForFunction(() => document.querySelector('#source')?.textContent?.includes('recording: cut.json'), undefined, { timeout: 10_000 });
      for (const feed of feeds) await treeRow(other, `pool/${feed}`).waitFor({ timeout: 15_000 });
      await other.waitForTimeout(1_500); // the header's rate is taken once a second
      const seen = await other.evaluate(() => (window as unknown as { countsSeen: string[] }).countsSeen);
      expect(seen.filter((text) => /-\d[\d,]*\/s/.test(text)), 'events per second after an import').toEqual([]);
      await screenshot(other, 'imported-cut-array');
    } finally {
      await other.close();
    }
  }, 45_000);

  // As an app ends (the demo does so too): its pool stopped, disposed, and its inspector client closed; samples once a second.
  it("once an app has stopped its pool and gone, a connection's metrics header shows its last sample as a past one", async () => {
    const reference = await startReferenceServer();
    const app = connectInspector({ url: demo.wsUrl, WebSocket: WebSocket as never, metricsIntervalMs: 1_000 });
    const pool = createPool({ endpoints: [{ name: 'late-feed', url: `ws://127.0.0.1:${reference.address()!.port}` }], defaults: { auth: { token: 'u2' } }, inspect: app });
    try {
      await page.click('#live');
      pool.start();
      await pool.connection('late-feed')!.ready();
      await page.locator('.tree-row[data-key$="/late-feed"] .name').click({ timeout: 10_000 });
      await waitFor(() => page.textContent('#metrics-note'), (note) => (note ?? '').startsWith('connected'), 10_000, 'a sample shown');
      pool.stop();
      await new Promise((resolve) => setTimeout(resolve, 300));
      pool.dispose();
      app.close();
      await waitFor(() => page.textContent('#chart-state'), (state) => state === 'closed', 10_000, 'the chart to show it closed');
      await expect.poll(() => page.textContent('#metrics-note'), { timeout: 5_000 }).toMatch(/^last sample \d\d:\d\d:\d\d: /);
    } finally {
      pool.dispose();
      app.close();
      await reference.close();
    }
  }, 30_000);
});
