/**
 * The inspector page under a storm: the demo's pool of 1,000 connections through its injected server
 * restart, watched by the offline inspector in Debian's Chromium. Prints how long each animation frame that
 * ingested events took (the page's own perf badge: ingest and render), and how many frames the browser
 * counted over 50 ms (script, style, layout and paint). Target: p95 of a frame's batch under 50 ms, the
 * time that reads as a stall. Needs `chromium`; without it, says so and reports nothing.
 * Run alone: `node --import tsx test/bench/inspector-page.ts [--quick]`.
 */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { buildPage, frameFigures, startDemo, watchRestartStorm, type FrameFigures, type RunningDemo } from '../browser/inspector-harness.js';
import { CHROMIUM_PATH, launchChromium } from '../support/browser.js';
import { runBenchMain } from './lib/proc.js';
import { fixed, heading, int, table, verdict } from './lib/stats.js';

const quick = process.argv.includes('--quick');
const CONNECTIONS = quick ? 200 : 1_000;
const TARGET_P95_MS = 50;

export interface InspectorPageResult {
  connections: number;
  /** `null` when Chromium is missing. */
  figures: FrameFigures | null;
  targetP95Ms: number;
}

let demo: RunningDemo | undefined;
let browser: Browser | undefined;

async function main(): Promise<InspectorPageResult> {
  console.log(heading(`Inspector page — ${int(CONNECTIONS)} connections through a server restart, in Chromium`));
  if (!existsSync(CHROMIUM_PATH)) {
    console.log(`  skipped: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`);
    return { connections: CONNECTIONS, figures: null, targetP95Ms: TARGET_P95_MS };
  }
  await buildPage();
  demo = await startDemo(['--duration', '25', '--connections', String(CONNECTIONS)]);
  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  await page.goto(demo.url);
  await watchRestartStorm(page, demo);
  const figures = await frameFigures(page);
  await cleanup();
  console.log(
    table(
      ['figure', 'value', 'target', ''],
      [
        ['events recorded', int(figures.events), '', ''],
        ['frames that ingested events', int(figures.framesWithEvents), '', ''],
        ['  mean events per such frame', fixed(figures.meanBatch, 0), '', ''],
        ['frame batch, ingest and render: p50 / p95 (last 300 such frames)', `${fixed(figures.batchMsP50, 1)} / ${fixed(figures.batchMsP95, 1)} ms`, `p95 < ${TARGET_P95_MS} ms`, verdict(figures.batchMsP95 < TARGET_P95_MS)],
        ['  slowest batch', `${fixed(figures.batchMsMax, 1)} ms`, '', ''],
        ['frames over 50 ms, as the browser counts them (script, style, layout, paint)', `${int(figures.longFramesOver50ms)}, longest ${fixed(figures.longestFrameMs, 0)} ms`, '', ''],
      ],
    ),
  );
  console.log('  Chromium headless without a GPU paints in software: the browser’s own frame times run higher than on a desktop.');
  return { connections: CONNECTIONS, figures, targetP95Ms: TARGET_P95_MS };
}

async function cleanup(): Promise<void> {
  await browser?.close();
  browser = undefined;
  await demo?.stop();
  demo = undefined;
}

await runBenchMain('inspector-page', main, cleanup);
