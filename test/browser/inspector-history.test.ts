import { expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { clock } from '../../inspector/src/dom.js';
import type { InspectorServer } from '../../src/inspection/server.js';
import { until } from '../support/until.js';
import { onInspectorPage, screenshot, treeRow } from './inspector-harness.js';

/** What the page says of moments whose records were let go, and of records that arrive out of time order. */

const door = JSON.stringify({ id: 'door', initial: 'shut', states: { shut: { on: { push: 'open' } }, open: { on: { push: 'shut' } } } });
const feed = JSON.stringify({ id: 'connection', initial: 'connecting', states: { connecting: {}, connected: {} } });
const record = (r: Record<string, unknown>, t: number) => ({ _version: '0.7.2', id: null, createdAt: String(t), ...r });
const lines = (records: object[]) => Buffer.from(`${records.map((r) => JSON.stringify(r)).join('\n')}\n`);

let inspector: InspectorServer;
let page: Page;
onInspectorPage({ history: { maxEvents: 10 } }, (opened) => ({ inspector, page } = opened));

const contextTitle = () => page.locator('#context .j-title').textContent();

it('does not title as created the state of an actor whose creation the inspector server let go', async () => {
  const app = new WebSocket(inspector.wsUrl);
  await new Promise((resolve) => app.once('open', resolve));
  const base = Date.UTC(2024, 0, 1, 12);
  const sent = [record({ type: '@xstate.actor', sessionId: 'x:0', name: 'front', definition: door, snapshot: { status: 'active', value: 'shut' } }, base)];
  sent.push(record({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'push' }, snapshot: { status: 'active', value: 'open' } }, base + 1));
  sent.push(record({ type: '@xstate.actor', sessionId: 'x:1', name: 'ticker', snapshot: { status: 'active' } }, base + 2));
  for (let i = 0; i < 20; i++) sent.push(record({ type: '@xstate.event', sessionId: 'x:1', event: { type: 'tick' } }, base + 3 + i));
  app.send(JSON.stringify(sent));
  await until(() => inspector.stats().received === sent.length, 5_000, 'the records stored');
  try {
    await page.goto(inspector.url);
    await treeRow(page, 'front').locator('.name').click();
    await page.waitForSelector('#chart .st.active[data-id="door.open"]', { timeout: 10_000 });
    expect(await contextTitle()).toBe('as announced, created earlier');
    await screenshot(page, 'history-announced');
  } finally {
    app.close();
  }
}, 30_000);

it('titles the state of an actor once the page let its older entries go as of the last of them, not as created', async () => {
  const base = Date.UTC(2024, 0, 1, 12);
  const records = [record({ type: '@xstate.actor', sessionId: 'x:0', name: 'front', definition: door, snapshot: { status: 'active', value: 'shut' } }, base)];
  records.push(record({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'push' }, snapshot: { status: 'active', value: 'open' } }, base + 1));
  records.push(record({ type: '@xstate.actor', sessionId: 'x:1', name: 'ticker', snapshot: { status: 'active' } }, base + 2));
  for (let i = 0; i < 12_000; i++) records.push(record({ type: '@xstate.event', sessionId: 'x:1', event: { type: 'tick' } }, base + 3 + i));
  await page.goto(`${inspector.url}?keep=10000`);
  await page.setInputFiles('#import', { name: 'long.jsonl', mimeType: 'application/x-ndjson', buffer: lines(records) });
  await page.waitForFunction(() => /let go/.test(document.querySelector('#counts')?.textContent ?? ''), undefined, { timeout: 15_000 });
  await treeRow(page, 'front').locator('.name').click();
  await page.waitForSelector('#chart .st.active[data-id="door.open"]', { timeout: 10_000 });
  expect(await contextTitle()).toBe(`as of ${clock(base + 1)} — after push`);
}, 30_000);

it('keeps the live clock and the states over time at the newest moment when an older record arrives last', async () => {
  const base = Date.UTC(2024, 0, 1, 12);
  const records = [
    record({ type: '@xstate.actor', sessionId: 'x:0', name: 'feed', definition: feed, snapshot: { status: 'active', value: 'connecting', context: { settings: {} } } }, base),
    record({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'socket.open' }, snapshot: { status: 'active', value: 'connected', context: { settings: {} } } }, base + 5_000),
    record({ type: '@xstate.event', sessionId: 'x:0', event: { type: 'heartbeat.pong' } }, base + 10_000),
    // another app's actor, its clock seconds behind
    record({ type: '@xstate.actor', sessionId: 'x:1', name: 'other', snapshot: { status: 'active' } }, base + 1_000),
  ];
  await page.goto(inspector.url);
  await page.setInputFiles('#import', { name: 'skewed.jsonl', mimeType: 'application/x-ndjson', buffer: lines(records) });
  await treeRow(page, 'feed').locator('.name').click();
  await page.waitForSelector('.plot.timeline[data-points="2"]', { timeout: 10_000 });
  await page.waitForTimeout(600);
  expect(await page.locator('#cursor-info').textContent()).toBe(`end of the recording · ${clock(base + 10_000)}`);
  // The right end of the states over time shows the state the feed is in now.
  const end = await page.$eval('.timeline-canvas', (canvas) => {
    const c = canvas as HTMLCanvasElement;
    return [...c.getContext('2d')!.getImageData(c.width - 3 * devicePixelRatio, c.height / 2, 1, 1).data];
  });
  const start = await page.$eval('.timeline-canvas', (canvas) => {
    const c = canvas as HTMLCanvasElement;
    return [...c.getContext('2d')!.getImageData(2, c.height / 2, 1, 1).data];
  });
  expect({ painted: end[3]! > 0, otherThanConnecting: end.join() !== start.join() }).toEqual({ painted: true, otherThanConnecting: true });
  await screenshot(page, 'history-skewed-clock');
}, 30_000);

it('shows the rest of the page, and a snapshot nested deeper than it draws, from a recording whose context is nested 100,000 deep', async () => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const deep = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
  const records = [
    record({ type: '@xstate.actor', sessionId: 'x:0', name: 'front', definition: door, snapshot: { status: 'active', value: 'shut', context: { deep: 'DEEP' } } }, 1_000),
    record({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'push' }, snapshot: { status: 'active', value: 'open', context: { deep: 'DEEP' } } }, 2_000),
  ];
  await page.goto(inspector.url);
  await page.setInputFiles('#import', { name: 'deep.jsonl', mimeType: 'application/x-ndjson', buffer: Buffer.from(lines(records).toString().replaceAll('"DEEP"', deep)) });
  await page.waitForSelector('#chart .st.active[data-id="door.open"]', { timeout: 10_000 });
  await page.waitForFunction(() => /2 events/.test(document.querySelector('#counts')?.textContent ?? ''), undefined, { timeout: 5_000 });
  const keys = await page.$$eval('#context .j-key', (els) => els.slice(0, 3).map((el) => el.textContent));
  expect({ title: await contextTitle(), keys, errors }).toEqual({ title: `as of ${clock(2_000)} — after push`, keys: ['status', 'value', 'context'], errors: [] });
}, 30_000);

it('draws the tree, the log and a chart cut to a depth from a recording whose machine definition is nested 100,000 deep', async () => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const deep = `{"id":"deep",${'"initial":"a","states":{"a":{'.repeat(100_000)}${'}}'.repeat(100_000)}}`;
  const records = [
    // one known first from its events, one from its creation
    record({ type: '@xstate.event', sessionId: 'x:0', event: { type: 'push' } }, 1_000),
    record({ type: '@xstate.actor', sessionId: 'x:0', name: 'front', definition: deep, snapshot: { status: 'active', value: { a: 'a' } } }, 900),
    record({ type: '@xstate.actor', sessionId: 'x:1', name: 'back', definition: deep, snapshot: { status: 'active', value: { a: 'a' } } }, 1_100),
    record({ type: '@xstate.snapshot', sessionId: 'x:1', event: { type: 'push' }, snapshot: { status: 'active', value: { a: { a: 'a' } } } }, 1_200),
  ];
  await page.goto(inspector.url);
  await page.setInputFiles('#import', { name: 'deep-machine.jsonl', mimeType: 'application/x-ndjson', buffer: lines(records) });
  await page.waitForFunction(() => /5 events/.test(document.querySelector('#counts')?.textContent ?? ''), undefined, { timeout: 10_000 });
  await treeRow(page, 'back').locator('.name').click();
  await page.waitForSelector('#chart .st.active[data-id="deep.a.a.a"]', { timeout: 20_000 });
  const drawn = await page.$$eval('#chart .st', (states) => states.length);
  expect({ rows: await page.locator('.tree-row').count(), log: await page.locator('#log-count').textContent(), title: await page.locator('#chart-title').textContent(), note: await page.locator('#chart-note').textContent(), drawn, errors }).toEqual({
    rows: 2,
    log: '5 shown',
    title: 'back',
    note: 'states nested deeper than 32 left out',
    drawn: 33,
    errors: [],
  });
  await screenshot(page, 'history-deep-machine');
}, 40_000);
