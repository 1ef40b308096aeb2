/**
 * The README's pictures of the inspector (`npm run screenshots`): the demo with its inspector in Chromium,
 * a feed selected after the injected restart, and the same feed travelled back to its reconnecting
 * moment. Writes docs/inspector.png and docs/inspector-time-travel.png.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from '../support/browser.js';
import { buildPage, startDemo, treeRow } from './inspector-harness.js';

const out = join(process.cwd(), 'docs');
mkdirSync(out, { recursive: true });
await buildPage();
const demo = await startDemo(['--duration', '40']);
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 860 } });
  await page.goto(demo.url);
  await demo.printed(/server node 1 listening again/, 60_000);
  await page.waitForTimeout(4_000);
  await treeRow(page, 'pool/workflows').locator('.name').click();
  await page.waitForSelector('#chart .st.active[data-key="connected"]', { timeout: 20_000 });
  await page.waitForTimeout(1_500);
  await page.screenshot({ path: join(out, 'inspector.png') });
  let shown = '';
  for (let steps = 0; steps < 400 && shown !== 'reconnecting'; steps++) {
    const at = await page.inputValue('#scrub');
    await page.click('#step-back');
    await page.waitForFunction((was) => (document.querySelector('#scrub') as HTMLInputElement).value !== was, at);
    shown = (await page.textContent('#chart-state')) ?? '';
  }
  await page.selectOption('#log-actor', 'node');
  await page.waitForTimeout(1_000);
  await page.screenshot({ path: join(out, 'inspector-time-travel.png') });
  console.log(`wrote ${join(out, 'inspector.png')} and ${join(out, 'inspector-time-travel.png')}`);
} finally {
  await browser.close();
  await demo.stop();
}
