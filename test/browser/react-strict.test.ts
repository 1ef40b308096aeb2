import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser.js';
import { bundlePage, hostPage, waitFor, type PageHost } from '../support/browser-page.js';

/**
 * socketchart/react under StrictMode in Chromium, built against React 19 and React 18: sockets counted per
 * endpoint on the reference server across mount, re-renders, unmount and remount.
 */

const feeds = ['queue', 'adw-monitor', 'workflows', 'routes', 'workflow-history', 'planned-features', 'system-status', 'webhook-status'];
const figures: Record<string, unknown> = {};

describe('React StrictMode in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    console.log(`browser suite figures (StrictMode): ${JSON.stringify(figures)}`);
  });

  for (const react of [19, 18] as const) {
    it(`React ${react}: exactly one socket per endpoint across mount, re-renders, unmount and remount; zero after unmount`, async () => {
      const host: PageHost = await hostPage(await bundlePage('strict.ts', { react }));
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on('pageerror', (error) => errors.push(error.message));
        await page.goto(host.pageUrl({ url: host.wsUrl }));
        const statuses = () => page.$$eval('[data-feed]', (items) => items.map((item) => item.getAttribute('data-status')));
        await waitFor(statuses, (s) => s.length === 8 && s.every((status) => status === 'connected'), 10_000, 'eight feeds connected');
        expect(await page.textContent('#health')).toBe('up');
        const perEndpoint = () => feeds.map((feed) => host.opened.get(feed) ?? 0);
        const liveNow = () => feeds.map((feed) => host.live.get(feed) ?? 0);
        expect(perEndpoint()).toEqual(feeds.map(() => 1));
        expect(liveNow()).toEqual(feeds.map(() => 1));

        for (let i = 0; i < 3; i++) {
          await page.click('#bump');
          await page.evaluate(() => (window as unknown as { app: { rerender(): void } }).app.rerender());
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(perEndpoint()).toEqual(feeds.map(() => 1));

        // the server's messages reach each feed once (one subscription each)
        for (const feed of feeds) await host.server.broadcast(`feed:${feed}`, { hello: feed });
        const received = await waitFor(
          () => page.evaluate(() => (window as unknown as { app: { received: Record<string, number> } }).app.received),
          (r) => Object.keys(r).length === 8,
          5_000,
          'a message on each feed',
        );
        expect(Object.values(received)).toEqual(feeds.map(() => 1));

        await page.evaluate(() => (window as unknown as { app: { unmount(): void } }).app.unmount());
        await waitFor(liveNow, (live) => live.every((n) => n === 0), 5_000, 'no socket after unmount');
        figures[`react${react}AfterUnmount`] = liveNow().reduce((a, b) => a + b, 0);

        await page.evaluate(() => (window as unknown as { app: { mount(): void } }).app.mount());
        await waitFor(statuses, (s) => s.length === 8 && s.every((status) => status === 'connected'), 10_000, 'connected again');
        expect(perEndpoint()).toEqual(feeds.map(() => 2));
        expect(liveNow()).toEqual(feeds.map(() => 1));
        figures[`react${react}SocketsPerEndpoint`] = Object.fromEntries(feeds.map((feed) => [feed, host.opened.get(feed)]));
        expect(errors).toEqual([]);
        await page.close();
      } finally {
        await host.close();
      }
    });
  }
});
