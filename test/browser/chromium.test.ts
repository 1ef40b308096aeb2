import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser.js';

/** The browser specs run in Debian's Chromium through playwright-core: a page served on loopback, clicked and read. */

describe('Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('loads a page from loopback and runs it', async () => {
    const server = createServer((_, res) => {
      res.setHeader('content-type', 'text/html');
      res.end('<button id="b" onclick="this.textContent = String(typeof WebSocket)">go</button>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      await page.click('#b');
      expect(await page.textContent('#b')).toBe('function');
      await page.close();
    } finally {
      server.close();
    }
  });
});
