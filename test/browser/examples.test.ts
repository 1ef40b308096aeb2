import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page, Route } from 'playwright-core';
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

  describe('react-dashboard', () => {
    let app: RunningExample;
    let page: Page;
    const errors: string[] = [];
    beforeAll(async () => {
      app = await serveExample('react-dashboard', { port: 0 });
      page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
      page.on('pageerror', (error) => errors.push(error.message));
    }, 60_000);
    afterAll(async () => {
      await page?.close();
      await app?.close();
    });

    it('react-dashboard: eight feeds connect, one socket each; a server restart brings them all back', async () => {
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
    });

    it('react-dashboard: a restart request that fails is reported, and the button can be used again', async () => {
      const restart = async (answer: (route: Route) => Promise<void>) => {
        await page.unroute('**/api/restart');
        await page.route('**/api/restart', answer);
        await page.click('#restart');
      };
      const shown = () => page.evaluate(() => ({ alert: document.querySelector('[role=alert]')?.textContent ?? '', enabled: !(document.querySelector('#restart') as HTMLButtonElement).disabled }));
      // As when the page is offline or the dev server is gone: the request itself fails.
      await restart((route) => route.abort('internetdisconnected'));
      await waitFor(shown, (s) => s.enabled && s.alert.startsWith('Restart failed: '), 5_000, 'the failure reported, the button enabled');
      await restart((route) => route.fulfill({ status: 500, body: 'no' }));
      await waitFor(shown, (s) => s.enabled && s.alert === 'Restart failed: HTTP 500', 5_000, 'an error status reported');
      await restart((route) => route.fulfill({ status: 200, body: '{"restarted":true}' }));
      await waitFor(shown, (s) => s.enabled && s.alert === '', 5_000, 'the report cleared by a restart that works');
      await page.unroute('**/api/restart');
      expect(errors).toEqual([]);
    });

    it("react-dashboard: the timeline shows a restart's drops as well as the recovery that follows", async () => {
      const statuses = () => page.$$eval('[data-feed]', (cards) => cards.map((card) => card.getAttribute('data-status')));
      await page.click('#restart');
      await waitFor(statuses, (s) => s.some((status) => status !== 'connected'), 5_000, 'the restart seen');
      await waitFor(statuses, (s) => s.every((status) => status === 'connected'), 20_000, 'all back');
      const timeline = (await page.textContent('.timeline')) ?? '';
      await page.screenshot({ path: join(artifacts, 'react-dashboard-timeline.png'), fullPage: true });
      expect(feeds.filter((feed) => !timeline.includes(`${feed} → reconnecting`))).toEqual([]);
      expect(feeds.filter((feed) => !timeline.includes(`${feed} → connected`))).toEqual([]);
    });

    it('react-dashboard: at 320 px wide the page fits the screen after a restart, its timeline included', async () => {
      const statuses = () => page.$$eval('[data-feed]', (cards) => cards.map((card) => card.getAttribute('data-status')));
      await page.setViewportSize({ width: 320, height: 800 });
      await page.click('#restart');
      await waitFor(statuses, (s) => s.some((status) => status !== 'connected'), 5_000, 'the restart seen');
      await waitFor(statuses, (s) => s.every((status) => status === 'connected'), 20_000, 'all back');
      await page.screenshot({ path: join(artifacts, 'react-dashboard-320.png'), fullPage: true });
      const fit = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        timelineInView: document.querySelector('.timeline')!.getBoundingClientRect().right <= 320,
        recoveryShown: (document.querySelector('.timeline')!.textContent ?? '').includes('→ reconnecting'),
      }));
      expect(fit).toEqual({ scrollWidth: 320, timelineInView: true, recoveryShown: true });
      await page.setViewportSize({ width: 1200, height: 800 });
    });
  });

  describe('vue-chat', () => {
    let app: RunningExample;
    let alice: Page;
    let bob: Page;
    const members = (page: Page) => page.$$eval('[data-testid=members] li', (items) => items.map((item) => item.getAttribute('data-user')).sort());
    const texts = (page: Page) => page.$$eval('[data-testid=messages] li', (items) => items.map((item) => item.textContent ?? ''));
    const unconfirmed = (page: Page) => page.$$eval('[data-testid=messages] li.pending', (items) => items.length);
    async function send(page: Page, text: string): Promise<void> {
      await page.fill('[data-testid=draft]', text);
      await page.press('[data-testid=draft]', 'Enter');
    }
    /** The last message is within the list's visible box. */
    const newestInView = (page: Page) =>
      page.$eval('[data-testid=messages]', (list) => {
        const last = list.lastElementChild?.getBoundingClientRect();
        const box = list.getBoundingClientRect();
        return last !== undefined && last.bottom <= box.bottom + 1 && last.top >= box.top - 1;
      });

    beforeAll(async () => {
      app = await serveExample('vue-chat', { port: 0 });
      alice = await browser.newPage({ viewport: { width: 1000, height: 640 } });
      bob = await browser.newPage({ viewport: { width: 1000, height: 640 } });
      await alice.goto(`${app.url}?user=alice`);
      await bob.goto(`${app.url}?user=bob`);
    }, 60_000);
    afterAll(async () => {
      await alice?.close();
      await bob?.close();
      await app?.close();
    });

    it('vue-chat: presence, typing and messages seen by a second page', async () => {
      await waitFor(() => members(bob), (m) => m.join() === 'alice,bob', 10_000, 'bob sees alice present');
      await waitFor(() => members(alice), (m) => m.join() === 'alice,bob', 10_000, 'alice sees bob present');

      await alice.type('[data-testid=draft]', 'hello bob', { delay: 20 });
      await waitFor(() => bob.textContent('[data-testid=typing]'), (text) => text === 'alice is typing…', 5_000, 'bob sees alice typing');
      await bob.screenshot({ path: join(artifacts, 'vue-chat-typing.png') });
      await alice.press('[data-testid=draft]', 'Enter');
      await waitFor(() => bob.textContent('[data-testid=messages]'), (text) => (text ?? '').includes('hello bob'), 5_000, 'bob gets the message');
      await waitFor(() => bob.textContent('[data-testid=typing]'), (text) => text === '', 5_000, 'typing ends with the message');
      await waitFor(() => unconfirmed(alice), (n) => n === 0, 5_000, "alice's message confirmed");
      await alice.screenshot({ path: join(artifacts, 'vue-chat.png') });
    });

    it('vue-chat: typing ends for the others when the draft is emptied without sending', async () => {
      await alice.type('[data-testid=draft]', 'abc', { delay: 20 });
      await waitFor(() => bob.textContent('[data-testid=typing]'), (text) => text === 'alice is typing…', 5_000, 'bob sees alice typing');
      await alice.fill('[data-testid=draft]', '');
      // Well before the server (4 s, typingTimeoutMs in examples/serve.ts) or the client (5 s) would forget it.
      await waitFor(() => bob.textContent('[data-testid=typing]'), (text) => text === '', 2_000, 'typing over');
    });

    it('vue-chat: a refused message is reported, its text given back to the input, and the report cleared by the next send', async () => {
      const tooLarge = 'x'.repeat(70_000); // over maxMessageBytes (65536)
      await send(bob, tooLarge);
      await waitFor(() => bob.$$eval('[role=alert]', (els) => els.map((el) => el.textContent ?? '')), (shown) => shown.length === 1 && shown[0] !== '', 5_000, 'the refusal shown');
      expect((await bob.inputValue('[data-testid=draft]')).length).toBe(tooLarge.length);
      await send(bob, 'a short one');
      await waitFor(() => texts(alice), (t) => t.some((text) => text.includes('a short one')), 5_000, 'alice gets it');
      await waitFor(() => unconfirmed(bob), (n) => n === 0, 5_000, 'confirmed');
      expect(await bob.$$eval('[role=alert]', (els) => els.length)).toBe(0);
    });

    it('vue-chat: new messages scroll into view, for the one who writes them and for a reader at the bottom', async () => {
      for (let i = 0; i < 20; i++) await send(alice, `line ${i}`);
      for (const page of [alice, bob]) {
        await waitFor(() => texts(page), (t) => t.some((text) => text.includes('line 19')), 5_000, 'the last line shown');
        await waitFor(() => newestInView(page), (inView) => inView, 2_000, 'the newest message in view');
      }
    });

    it("vue-chat: a channel's messages are still there after switching away and back; presence follows the room shown", async () => {
      await alice.click('nav button:has-text("random")');
      await waitFor(() => alice.textContent('h2'), (t) => t === 'chat:random', 5_000, 'on random');
      await waitFor(() => members(bob), (m) => m.join() === 'bob', 10_000, 'alice gone from general');
      await alice.click('nav button:has-text("general")');
      await waitFor(() => members(bob), (m) => m.join() === 'alice,bob', 10_000, 'alice back on general');
      const shown = await texts(alice);
      expect(['hello bob', 'a short one', 'line 19'].filter((text) => !shown.some((line) => line.includes(text)))).toEqual([]);
      expect(await newestInView(alice)).toBe(true);
    });

    it("vue-chat: a message half written is still in the input after switching away and back, and only in its channel's", async () => {
      await alice.fill('[data-testid=draft]', 'half written');
      await alice.click('nav button:has-text("random")');
      await waitFor(() => alice.textContent('h2'), (t) => t === 'chat:random', 5_000, 'on random');
      expect(await alice.inputValue('[data-testid=draft]')).toBe('');
      await alice.click('nav button:has-text("general")');
      await waitFor(() => alice.textContent('h2'), (t) => t === 'chat:general', 5_000, 'back on general');
      expect(await alice.inputValue('[data-testid=draft]')).toBe('half written');
      await alice.fill('[data-testid=draft]', '');
    });

    it('vue-chat: at 375 px wide the chat fits the screen, and its input is named', async () => {
      await alice.setViewportSize({ width: 375, height: 700 });
      const fit = await alice.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        sendInView: document.querySelector('form button')!.getBoundingClientRect().right <= 375,
      }));
      expect(fit).toEqual({ scrollWidth: 375, sendInView: true });
      await expect.poll(() => alice.getByRole('textbox', { name: 'Message' }).count()).toBe(1);
      await alice.screenshot({ path: join(artifacts, 'vue-chat-375.png') });
    });

    it('vue-chat: at 320 px wide the room fits the screen, its members and send button in view', async () => {
      await alice.setViewportSize({ width: 320, height: 640 });
      try {
        await alice.screenshot({ path: join(artifacts, 'vue-chat-320.png') });
        const fit = await alice.evaluate(() => ({
          scrollWidth: document.documentElement.scrollWidth,
          sendInView: document.querySelector('form button')!.getBoundingClientRect().right <= 320,
          membersInView: document.querySelector('[data-testid=members]')!.getBoundingClientRect().right <= 320,
        }));
        expect(fit).toEqual({ scrollWidth: 320, sendInView: true, membersInView: true });
      } finally {
        await alice.setViewportSize({ width: 375, height: 700 });
      }
    });

    it('vue-chat: while the browser is offline the status badge shows the connection down, not merely waiting', async () => {
      const badge = () => alice.$eval('[data-testid=status]', (el) => ({ text: el.textContent, background: getComputedStyle(el).backgroundColor }));
      await waitFor(badge, (b) => b.text === 'connected', 10_000, 'connected');
      const ok = (await badge()).background;
      await alice.context().setOffline(true);
      try {
        await waitFor(badge, (b) => b.text === 'offline', 5_000, 'offline shown');
        await alice.screenshot({ path: join(artifacts, 'vue-chat-offline.png') });
        // The dashboard's red for a connection that is down, not the amber of one on its way.
        expect((await badge()).background).toBe('rgb(254, 226, 226)');
      } finally {
        await alice.context().setOffline(false);
      }
      await waitFor(badge, (b) => b.text === 'connected' && b.background === ok, 10_000, 'connected again, shown ok');
      await waitFor(() => members(alice), (m) => m.join() === 'alice,bob', 10_000, 'presence back');
    });

    it('vue-chat: a page that is closed leaves the presence of the others', async () => {
      await bob.close();
      await waitFor(() => members(alice), (m) => m.join() === 'alice', 10_000, 'bob left');
    });
  });
});
