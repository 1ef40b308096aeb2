import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { InspectorServer } from '../../src/inspection/server.js';
import { clock } from '../../inspector/src/dom.js';
import { ARTIFACTS, onInspectorPage, screenshot } from './inspector-harness.js';

/** Two recordings imported one after the other, each with a machine of its own: the chart draws the second one's. */

const door = JSON.stringify({ id: 'door', initial: 'shut', states: { shut: { on: { push: 'open' } }, open: { on: { push: 'shut' } } } });
const light = JSON.stringify({ id: 'light', initial: 'green', states: { green: { on: { next: 'yellow' } }, yellow: { on: { next: 'red' } }, red: { on: { next: 'green' } } } });
const recording = (name: string, definition: string, value: string) =>
  `${JSON.stringify({ type: '@xstate.actor', _version: '0.7.2', sessionId: 'x:0', name, definition, snapshot: { status: 'active', value }, createdAt: '1000' })}\n`;

let inspector: InspectorServer;
let page: Page;
onInspectorPage({}, (opened) => ({ inspector, page } = opened));

it("draws the machine of a recording imported after another one's, not the one drawn before", async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const first = join(ARTIFACTS, 'import-door.jsonl');
  const second = join(ARTIFACTS, 'import-light.jsonl');
  writeFileSync(first, recording('front', door, 'shut'));
  writeFileSync(second, recording('crossing', light, 'yellow'));
  await page.goto(inspector.url);
  await page.setInputFiles('#import', first);
  await page.waitForSelector('#chart .st.active[data-id="door.shut"]', { timeout: 10_000 });
  await page.setInputFiles('#import', second);
  await page.waitForFunction(() => document.querySelector('#chart-title')?.textContent === 'crossing', undefined, { timeout: 10_000 });
  await expect.poll(() => page.$$eval('#chart .st', (states) => states.map((s) => (s as HTMLElement).dataset.id).sort()), { timeout: 10_000 }).toEqual(['light', 'light.green', 'light.red', 'light.yellow']);
  expect(await page.$$eval('#chart .st.active', (states) => states.map((s) => (s as HTMLElement).dataset.id))).toContain('light.yellow');
  await screenshot(page, 'import-again');
}, 30_000);

/** What the page's alerts in view say. */
const alerts = () => page.$$eval('[role="alert"]:not([hidden])', (els) => els.map((el) => el.textContent).join(' '));

it('keeps the recording shown and says why when the file imported next holds no inspection records', async () => {
  const first = join(ARTIFACTS, 'import-door.jsonl');
  writeFileSync(first, recording('front', door, 'shut'));
  await page.goto(inspector.url);
  await page.setInputFiles('#import', first);
  await page.waitForSelector('#chart .st.active[data-id="door.shut"]', { timeout: 10_000 });
  await page.setInputFiles('#import', { name: 'notes.jsonl', mimeType: 'application/x-ndjson', buffer: Buffer.from('hello\n{"type":"note","text":"not a record"}\n') });
  await expect.poll(alerts, { timeout: 5_000 }).toContain('notes.jsonl');
  expect({ source: await page.locator('#source').textContent(), title: await page.locator('#chart-title').textContent(), counts: await page.locator('#counts').textContent() }).toEqual({
    source: 'recording: import-door.jsonl',
    title: 'front',
    counts: expect.stringContaining('1 event') as unknown as string,
  });
  await screenshot(page, 'import-unreadable');
}, 30_000);

it('keeps the recording shown and says why when the file chosen can no longer be read', async () => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const first = join(ARTIFACTS, 'import-door.jsonl');
  writeFileSync(first, recording('front', door, 'shut'));
  await page.goto(inspector.url);
  await page.setInputFiles('#import', first);
  await page.waitForSelector('#chart .st.active[data-id="door.shut"]', { timeout: 10_000 });
  // as when the file was removed after being chosen
  await page.evaluate(() => (Blob.prototype.text = () => Promise.reject(new DOMException('The file could not be read.', 'NotReadableError'))));
  await page.setInputFiles('#import', { name: 'gone.jsonl', mimeType: 'application/x-ndjson', buffer: Buffer.from(recording('crossing', light, 'red')) });
  await expect.poll(alerts, { timeout: 5_000 }).toContain('gone.jsonl');
  expect({ source: await page.locator('#source').textContent(), title: await page.locator('#chart-title').textContent(), errors }).toEqual({ source: 'recording: import-door.jsonl', title: 'front', errors: [] });
  await screenshot(page, 'import-not-readable');
}, 30_000);

it('does not say live at the end of the timeline while an imported recording is shown', async () => {
  const first = join(ARTIFACTS, 'import-door.jsonl');
  writeFileSync(first, recording('front', door, 'shut'));
  await page.goto(inspector.url);
  await page.setInputFiles('#import', first);
  await page.waitForSelector('#chart .st.active[data-id="door.shut"]', { timeout: 10_000 });
  await expect.poll(() => page.locator('#cursor-info').textContent(), { timeout: 5_000 }).toBe(`end of the recording · ${clock(1000)}`);
  await screenshot(page, 'import-footer');
}, 30_000);

it('keeps the recording shown and says why when the file imported next holds machine definitions only', async () => {
  const first = join(ARTIFACTS, 'import-door.jsonl');
  writeFileSync(first, recording('front', door, 'shut'));
  await page.goto(inspector.url);
  await page.setInputFiles('#import', first);
  await page.waitForSelector('#chart .st.active[data-id="door.shut"]', { timeout: 10_000 });
  const definitions = `${JSON.stringify({ type: '@socketchart.definition', id: 'd1', definition: light })}\n`;
  await page.setInputFiles('#import', { name: 'machines.jsonl', mimeType: 'application/x-ndjson', buffer: Buffer.from(definitions) });
  await expect.poll(alerts, { timeout: 5_000 }).toContain('machines.jsonl');
  expect({ source: await page.locator('#source').textContent(), title: await page.locator('#chart-title').textContent(), counts: await page.locator('#counts').textContent() }).toEqual({
    source: 'recording: import-door.jsonl',
    title: 'front',
    counts: expect.stringContaining('1 event') as unknown as string,
  });
}, 30_000);

it('does not say Live on the button that goes to the end, nor give a rate of events, while an imported recording is shown', async () => {
  const first = join(ARTIFACTS, 'import-door.jsonl');
  writeFileSync(first, recording('front', door, 'shut'));
  await page.goto(inspector.url);
  expect(await page.locator('#live').textContent()).toContain('Live');
  await page.setInputFiles('#import', first);
  await page.waitForSelector('#chart .st.active[data-id="door.shut"]', { timeout: 10_000 });
  await expect.poll(() => page.locator('#live').textContent(), { timeout: 5_000 }).not.toContain('Live');
  expect(await page.locator('#counts').textContent(), 'no rate, counted in the singular').toBe('1 actor running at the end · 1 event');
  await screenshot(page, 'import-end-button');
}, 30_000);
