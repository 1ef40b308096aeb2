import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { serveExample, type RunningExample } from '../../examples/serve.js';
import { launchChromium } from '../support/browser.js';
import { waitFor } from '../support/browser-page.js';

/** The example apps, built with vite and run against the reference server, used in Chromium as a person would. Screenshots go to test/artifacts/. */

const artifacts = join(import.meta.dirname, '..', 'artifacts');
const feeds = ['queue', 'adw-monitor', 'workflows', 'routes', 'workflow-history', 'planned-features', 'system-status', 'webhook-status'];

describe('example apps in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('react-dashboard: eight feeds connect, one socket each; a server restart brings them all back', async () => {
    const app: RunningExample = await serveExample('react-dashboard', { port: 0 });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
      await page.goto(app.url);
      const statuses = () => page.$$eval('[data-feed]', (cards) => cards.map((card) => card.getAttribute('data-status')));
      await waitFor(statuses, (s) => s.length === 8 && s.every((status) => status === 'connected'), 15_000, 'eight feeds connected');
      await waitFor(() => page.$$eval('[data-feed] li', (items) => items.length), (n) => n >= 8, 5_000, 'messages on the feeds');
      expect(feeds.map((feed) => app.opened.get(feed))).toEqual(feeds.map(() => 1));
      await page.screenshot({ path: join(artifacts, 'react-dashboard.png') });
      await page.click('#restart');
      await waitFor(statuses, (s) => s.some((status) => status !== 'connected'), 5_000, 'the restart seen');
      await waitFor(statuses, (s) => s.every((status) => status === 'connected'), 20_000, 'all back');
      expect(await page.textContent('#health')).toBe('pool up');
      expect(feeds.map((feed) => app.opened.get(feed)).every((n) => n !== undefined && n >= 2)).toBe(true);
      await page.screenshot({ path: join(artifacts, 'react-dashboard-after-restart.png') });
      await page.close();
    } finally {
      await app.close();
    }
  });

  it('vue-chat: presence, typing and messages seen by a second page', async () => {
    const app = await serveExample('vue-chat', { port: 0 });
    try {
      const alice = await browser.newPage({ viewport: { width: 1000, height: 640 } });
      const bob = await browser.newPage({ viewport: { width: 1000, height: 640 } });
      await alice.goto(`${app.url}?user=alice`);
      await bob.goto(`${app.url}?user=bob`);
      const members = (page: typeof alice) => page.$$eval('[data-testid=members] li', (items) => items.map((item) => item.getAttribute('data-user')).sort());
      await waitFor(() => members(bob), (m) => m.join() === 'alice,bob', 10_000, 'bob sees alice present');
      await waitFor(() => members(alice), (m) => m.join() === 'alice,bob', 10_000, 'alice sees bob present');

      await alice.type('[data-testid=draft]', 'hello bob', { delay: 20 });
      await waitFor(() => bob.textContent('[data-testid=typing]'), (text) => text === 'alice is typing…', 5_000, 'bob sees alice typing');
      await bob.screenshot({ path: join(artifacts, 'vue-chat-typing.png') });
      await alice.press('[data-testid=draft]', 'Enter');
      await waitFor(() => bob.textContent('[data-testid=messages]'), (text) => (text ?? '').includes('hello bob'), 5_000, 'bob gets the message');
      await waitFor(() => bob.textContent('[data-testid=typing]'), (text) => text === '', 5_000, 'typing ends with the message');
      await waitFor(() => alice.$$eval('[data-testid=messages] li.pending', (items) => items.length), (n) => n === 0, 5_000, "alice's message confirmed");
      await alice.screenshot({ path: join(artifacts, 'vue-chat.png') });

      await bob.close();
      await waitFor(() => members(alice), (m) => m.join() === 'alice', 10_000, 'bob left');
      await alice.close();
    } finally {
      await app.close();
    }
  });
});
