import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { createConnection } from '../../src/index.node.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { launchChromium } from '../support/browser.js';
import { bundlePage, emulateVisibility, hostPage, waitFor, type PageHost } from '../support/browser-page.js';

/**
 * The browser environment in a real Chromium against the reference server: page lifecycle, network faults
 * from the DevTools protocol, the back/forward cache and persistence across a reload. Socket counts are
 * taken on the server (upgrades per endpoint).
 */

interface PageState {
  status: string;
  states: Array<{ status: string; previous: string; reason?: string; at: number }>;
  pageshows: boolean[];
  settled: string[];
  restored: Array<{ messages: number }>;
}

const figures = { heartbeatFalsePositives: 0, dialsWhileOffline: 0, reopenedAfterUserClose: 0, lost: 0, duplicated: 0 };

describe('page lifecycle in Chromium', () => {
  let browser: Browser;
  let script: string;
  let host: PageHost;
  beforeAll(async () => {
    [browser, script] = await Promise.all([launchChromium({ backForwardCache: true }), bundlePage('lifecycle.ts')]);
    host = await hostPage(script, { rateLimits: { default: { perMinute: 60_000, burst: 1_000 } } });
  });
  afterAll(async () => {
    await browser?.close();
    await host?.close();
    console.log(`browser suite figures: ${JSON.stringify(figures)}`);
  });

  async function open(config: Record<string, unknown>, context?: BrowserContext): Promise<{ page: Page; cdp: CDPSession; read(): Promise<PageState> }> {
    const ctx = context ?? (await browser.newContext());
    const page = await ctx.newPage();
    const cdp = await ctx.newCDPSession(page);
    await page.goto(host.pageUrl(config));
    const read = () =>
      page.evaluate(() => {
        const sc = (window as unknown as { sc: PageState & { connection: { status: string } } }).sc;
        return { status: sc.connection.status, states: sc.states, pageshows: sc.pageshows, settled: sc.settled, restored: sc.restored };
      });
    await waitFor(read, (s) => s.status === 'connected', 10_000, 'connected');
    return { page, cdp, read };
  }

  /** Stops the page's JavaScript (timers included) for `ms`, as a frozen or throttled tab does, through the debugger. */
  async function stall(cdp: CDPSession, ms: number) {
    await cdp.send('Debugger.enable');
    await cdp.send('Debugger.pause');
    await new Promise((resolve) => setTimeout(resolve, ms));
    await cdp.send('Debugger.resume');
    await cdp.send('Debugger.disable');
  }

  const reconnects = (s: PageState) => s.states.filter((change) => change.status === 'reconnecting').length;

  it('no heartbeat false positive while hidden and frozen (timers stalled 5 s against a 1 s heartbeat)', async () => {
    const e = 'frozen';
    const { page, cdp, read } = await open({ url: `${host.wsUrl}?e=${e}`, heartbeat: { intervalMs: 1_000, timeoutMs: 1_000 } });
    await emulateVisibility(page, true);
    await page.evaluate(() => document.dispatchEvent(new Event('freeze')));
    await stall(cdp, 5_000);
    await page.evaluate(() => document.dispatchEvent(new Event('resume')));
    await emulateVisibility(page, false);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const state = await read();
    figures.heartbeatFalsePositives += reconnects(state);
    expect(reconnects(state)).toBe(0);
    expect(state.status).toBe('connected');
    expect(host.opened.get(e)).toBe(1);
    await page.close();
  });

  it('no heartbeat false positive when a visible page stalls (a deadline that fires late is not trusted)', async () => {
    const e = 'stalled';
    const { page, cdp, read } = await open({ url: `${host.wsUrl}?e=${e}`, heartbeat: { intervalMs: 500, timeoutMs: 500 } });
    await stall(cdp, 4_000);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const state = await read();
    figures.heartbeatFalsePositives += reconnects(state);
    expect(reconnects(state)).toBe(0);
    expect(host.opened.get(e)).toBe(1);
    await page.close();
  });

  it('a zombie socket is found on wake: no pong within timeoutMs of becoming visible, then a reconnect', async () => {
    const proxy = new FaultProxy({ host: '127.0.0.1', port: host.port });
    await proxy.listen();
    try {
      const e = 'zombie';
      const { page, read } = await open({ url: `ws://127.0.0.1:${proxy.port}/ws?e=${e}`, heartbeat: { intervalMs: 10_000, timeoutMs: 1_000 } });
      await emulateVisibility(page, true);
      proxy.mode = 'blackhole'; // packets stall: the socket still reads as open
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect((await read()).status).toBe('connected'); // nothing times out while hidden
      const woke = Date.now();
      await emulateVisibility(page, false);
      await waitFor(read, (s) => s.status === 'reconnecting', 12_000, 'the zombie found');
      const foundAfter = Date.now() - woke;
      console.log(`zombie found ${foundAfter} ms after the page was shown again (timeoutMs 1,000; next ping due in ~7 s)`);
      expect(foundAfter, 'found by a ping sent on wake, not by the next ping due').toBeLessThan(5_000);
      proxy.mode = 'pass';
      await waitFor(read, (s) => s.status === 'connected', 5_000, 'connected again');
      expect(host.opened.get(e)).toBe(2);
      await page.close();
    } finally {
      await proxy.close();
    }
  });

  it('no dial while offline (DevTools network emulation); connected again on online', async () => {
    const e = 'offline';
    const { page, cdp, read } = await open({ url: `${host.wsUrl}?e=${e}` });
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await waitFor(read, (s) => s.status === 'offline', 3_000, 'offline');
    await waitFor(() => host.live.get(e), (n) => n === 0, 3_000, 'the socket closed');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    figures.dialsWhileOffline += host.opened.get(e)! - 1;
    expect(host.opened.get(e)).toBe(1);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await waitFor(read, (s) => s.status === 'connected', 5_000, 'connected on online');
    expect(host.opened.get(e)).toBe(2);
    await page.close();
  });

  it('a connection the user closed is reopened by nothing: visibility, freeze/resume, offline/online, pageshow', async () => {
    const e = 'closed';
    const { page, cdp, read } = await open({ url: `${host.wsUrl}?e=${e}`, closeWhenHidden: true });
    await page.evaluate(() => (window as unknown as { sc: { connection: { stop(): void } } }).sc.connection.stop());
    await waitFor(read, (s) => s.status === 'closed', 3_000, 'closed');
    await emulateVisibility(page, true);
    await emulateVisibility(page, false);
    await page.evaluate(() => {
      document.dispatchEvent(new Event('freeze'));
      document.dispatchEvent(new Event('resume'));
      dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }));
    });
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const state = await read();
    figures.reopenedAfterUserClose += host.opened.get(e)! - 1;
    expect(state.status).toBe('closed');
    expect(host.opened.get(e)).toBe(1);
    expect(host.live.get(e)).toBe(0);
    await page.close();
  });

  it('closeWhenHidden closes the socket while hidden and opens one when visible', async () => {
    const e = 'hidden';
    const { page, read } = await open({ url: `${host.wsUrl}?e=${e}`, closeWhenHidden: true });
    await emulateVisibility(page, true);
    await waitFor(() => host.live.get(e), (n) => n === 0, 3_000, 'closed while hidden');
    expect((await read()).status).toBe('suspended');
    await emulateVisibility(page, false);
    await waitFor(read, (s) => s.status === 'connected', 5_000, 'connected when visible');
    expect(host.opened.get(e)).toBe(2);
    expect(host.live.get(e)).toBe(1);
    await page.close();
  });

  for (const closeWhenHidden of [true, false]) {
    it(`back/forward cache${closeWhenHidden ? ' (closeWhenHidden)' : ''}: a page restored with pageshow(persisted) is connected again, with one new socket`, async () => {
      const e = `bfcache-${closeWhenHidden}`;
      const context = await browser.newContext();
      const { page, read } = await open({ url: `${host.wsUrl}?e=${e}`, closeWhenHidden }, context);
      await page.goto(`http://127.0.0.1:${host.port}/other`);
      // closeWhenHidden closes it on leaving; otherwise Chromium closes it when the page enters the cache
      if (closeWhenHidden) await waitFor(() => host.live.get(e), (n) => n === 0, 3_000, 'closed on leaving');
      await page.goBack({ waitUntil: 'commit' }); // from the cache: no load event
      const state = await waitFor(read, (s) => s.pageshows.length === 2 && s.status === 'connected' && host.live.get(e) === 1, 8_000, 'connected after back');
      expect(state.pageshows).toEqual([false, true]); // the same document, restored from the cache
      expect(host.opened.get(e)).toBe(2);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(host.live.get(e)).toBe(1);
      await context.close();
    });
  }

  for (const store of ['local', 'indexeddb'] as const) {
    it(`persistence (${store === 'local' ? 'localStorage' : 'IndexedDB'}): messages left by a page are sent by the reloaded page, each once at the server`, async () => {
      const proxy = new FaultProxy({ host: '127.0.0.1', port: host.port });
      await proxy.listen();
      const ch = `ledger:${store}`;
      const received: number[] = [];
      const watcher = createConnection({ url: `${host.wsUrl}?e=watcher`, auth: { token: 'auditor' }, environment: false });
      watcher.subscribe<{ n: number }>(ch, ({ n }) => received.push(n));
      watcher.start();
      await watcher.ready({ signal: AbortSignal.timeout(5_000) });
      try {
        const e = `persist-${store}`;
        const context = await browser.newContext();
        const { page, read } = await open({ url: `ws://127.0.0.1:${proxy.port}/ws?e=${e}`, store, heartbeat: false, user: `writer-${store}` }, context);
        proxy.mode = 'stall-downstream'; // 1..10 reach the server, their acks do not come back
        await page.evaluate((channel) => (window as unknown as { sc: { sendRange(ch: string, a: number, b: number): void } }).sc.sendRange(channel, 1, 10), ch);
        await waitFor(() => received.length, (n) => n === 10, 5_000, 'the server stored 1..10');
        proxy.mode = 'blackhole'; // 11..20 stay queued
        await page.evaluate((channel) => (window as unknown as { sc: { sendRange(ch: string, a: number, b: number): void } }).sc.sendRange(channel, 11, 20), ch);
        await new Promise((resolve) => setTimeout(resolve, 500)); // one burst written to the store
        expect((await read()).settled).toEqual([]);
        proxy.reset();
        proxy.mode = 'pass';
        await page.reload();
        const state = await waitFor(read, (s) => s.restored.length > 0 && s.status === 'connected', 10_000, 'restored');
        expect(state.restored[0]!.messages).toBe(20);
        await waitFor(() => received.length, (n) => n >= 20, 10_000, 'every message at the server');
        await new Promise((resolve) => setTimeout(resolve, 500));
        const counts = new Map<number, number>();
        for (const n of received) counts.set(n, (counts.get(n) ?? 0) + 1);
        const lost = Array.from({ length: 20 }, (_, i) => i + 1).filter((n) => !counts.has(n));
        const duplicated = [...counts.values()].filter((c) => c > 1).length;
        figures.lost += lost.length;
        figures.duplicated += duplicated;
        expect(lost).toEqual([]);
        expect(duplicated).toBe(0);
        expect(received).toHaveLength(20);
        await context.close();
      } finally {
        watcher.dispose();
        await proxy.close();
      }
    });
  }
});
