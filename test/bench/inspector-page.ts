/**
 * The inspector page under a storm: the demo's pool of 1,000 connections through its injected server
 * restart, watched by the offline inspector in Debian's Chromium. Target: p95 of a frame's batch (ingest and
 * render of the events one animation frame took in) under 50 ms, the time that reads as a stall.
 *
 * The figure is computed here, over the storm, from every animation frame that ingested events: before the
 * page loads, the bench wraps `requestAnimationFrame` so that each callback is timed (performance.now()
 * around it) and stamped (Date.now(), the host's wall clock, as the demo's), and a frame counts as one that
 * ingested events when the page's event count (the time-travel slider's max, which the page raises to its
 * newest event after ingesting) grew during it. Windows, from the demo's own announcements:
 *   restart storm: "fault: server restart" → "fault: blackhole" (the restart, the 1,000 reconnects, and the
 *                  traffic until the next fault);
 *   all faults:    "fault: server restart" → 3 s after "fault healed: blackhole removed".
 * For reference, the page's own badge (its last 300 such frames, whenever they were) and the frames the
 * browser counted over 50 ms (script, style, layout and paint; the whole page lifetime). Needs `chromium`;
 * without it, says so and reports nothing.
 * Run alone: `node --import tsx test/bench/inspector-page.ts [--quick]`.
 */
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { buildPage, frameFigures, startDemo, type FrameFigures, type RunningDemo } from '../browser/inspector-harness.js';
import { CHROMIUM_PATH, launchChromium } from '../support/browser.js';
import { runBenchMain } from './lib/proc.js';
import { fixed, heading, int, max, table, verdict } from './lib/stats.js';

const quick = process.argv.includes('--quick');
const CONNECTIONS = quick ? 200 : 1_000;
const TARGET_P95_MS = 50;

/** Frames that ingested events within one window of the run. */
export interface WindowFrames {
  label: string;
  /** Window length, ms. */
  ms: number;
  frames: number;
  /** Events ingested in the window (growth of the page's event count). */
  events: number;
  batchMsP50: number;
  batchMsP95: number;
  batchMsMax: number;
}

export interface InspectorPageResult {
  connections: number;
  /** The restart storm (headline, with the target) and all the faults; `null` when Chromium is missing. */
  storm: WindowFrames | null;
  faults: WindowFrames | null;
  /** The page's own badge at the end: its last 300 frames with events, and the browser's long-frame count. */
  figures: FrameFigures | null;
  targetP95Ms: number;
}

let demo: RunningDemo | undefined;
let browser: Browser | undefined;

/**
 * Installed before the page's own scripts: times and stamps every animation frame callback, as
 * [wall-clock end, ms taken, events ingested] in window.__frames. (A string, not a function: what the
 * TypeScript loader adds to a function's source would not exist in the page.)
 */
const RECORD_FRAMES = `(() => {
  const raf = window.requestAnimationFrame.bind(window);
  window.__frames = [];
  window.requestAnimationFrame = (callback) => raf((ts) => {
    const scrub = document.getElementById('scrub');
    const before = scrub ? Number(scrub.max) : 0;
    const started = performance.now();
    try {
      callback(ts);
    } finally {
      const took = performance.now() - started;
      const after = scrub ? Number(scrub.max) : 0;
      window.__frames.push(Date.now(), took, after - before);
    }
  });
})();`;

/** The recorded frames that ingested events, as [at, ms, events]. */
async function framesWithEvents(page: Page): Promise<[number, number, number][]> {
  const flat = await page.evaluate(() => (window as unknown as { __frames: number[] }).__frames);
  const out: [number, number, number][] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) if (flat[i + 2]! > 0) out.push([flat[i]!, flat[i + 1]!, flat[i + 2]!]);
  return out;
}

/** Same percentile as the page's badge (inspector/src/perf.ts): the ceil(p × n)-th smallest. */
const percentile = (sorted: readonly number[], p: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!);

function inWindow(label: string, frames: [number, number, number][], from: number, to: number): WindowFrames {
  const mine = frames.filter(([at]) => at >= from && at <= to);
  const ms = mine.map(([, took]) => took).sort((a, b) => a - b);
  return {
    label,
    ms: to - from,
    frames: mine.length,
    events: mine.reduce((n, [, , events]) => n + events, 0),
    batchMsP50: percentile(ms, 0.5),
    batchMsP95: percentile(ms, 0.95),
    batchMsMax: max(ms),
  };
}

async function main(): Promise<InspectorPageResult> {
  console.log(heading(`Inspector page — ${int(CONNECTIONS)} connections through a server restart, in Chromium`));
  if (!existsSync(CHROMIUM_PATH)) {
    console.log(`  skipped: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`);
    return { connections: CONNECTIONS, storm: null, faults: null, figures: null, targetP95Ms: TARGET_P95_MS };
  }
  await buildPage();
  demo = await startDemo(['--duration', '25', '--connections', String(CONNECTIONS)]);
  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  await page.addInitScript({ content: RECORD_FRAMES });
  await page.goto(demo.url);
  await demo.printed(/fault: server restart/, 40_000);
  const restartAt = Date.now();
  await demo.printed(/server node 1 listening again/, 40_000);
  await demo.printed(/fault: blackhole/, 40_000);
  const blackholeAt = Date.now();
  await demo.printed(/fault healed: blackhole removed/, 40_000);
  await page.waitForTimeout(3_000);
  const endAt = Date.now();
  const frames = await framesWithEvents(page);
  const figures = await frameFigures(page);
  await cleanup();
  const storm = inWindow('restart storm: restart announced → next fault', frames, restartAt, blackholeAt);
  const faults = inWindow('all faults: restart announced → 3 s after the blackhole healed', frames, restartAt, endAt);
  const windowRow = (w: WindowFrames, target: boolean) => [
    `${w.label} (${fixed(w.ms / 1000, 1)} s): p50 / p95, slowest`,
    `${fixed(w.batchMsP50, 1)} / ${fixed(w.batchMsP95, 1)} ms, ${fixed(w.batchMsMax, 1)} ms (${int(w.frames)} frames, ${int(w.events)} events)`,
    target ? `p95 < ${TARGET_P95_MS} ms` : '',
    target ? verdict(w.batchMsP95 < TARGET_P95_MS) : '',
  ];
  console.log(
    table(
      ['figure', 'value', 'target', ''],
      [
        ['events recorded', int(figures.events), '', ''],
        ['frames that ingested events, whole run (page count)', int(figures.framesWithEvents), '', ''],
        ['frame batch, ingest and render, every such frame in the window:', '', '', ''],
        windowRow(storm, true),
        windowRow(faults, false),
        ['  reference: the page badge, its last 300 such frames (p50 / p95, slowest)', `${fixed(figures.batchMsP50, 1)} / ${fixed(figures.batchMsP95, 1)} ms, ${fixed(figures.batchMsMax, 1)} ms`, '', ''],
        ['frames over 50 ms, as the browser counts them (script, style, layout, paint; whole page lifetime)', `${int(figures.longFramesOver50ms)}, longest ${fixed(figures.longestFrameMs, 0)} ms`, '', ''],
      ],
    ),
  );
  console.log(
    '  a frame: one requestAnimationFrame callback in which the page ingested events (its event count grew), timed around the callback;' +
      '\n  the windows run from the demo\'s announcements (wall clock). Chromium headless without a GPU paints in software: the browser’s own' +
      '\n  frame times run higher than on a desktop.',
  );
  return { connections: CONNECTIONS, storm, faults, figures, targetP95Ms: TARGET_P95_MS };
}

async function cleanup(): Promise<void> {
  await browser?.close();
  browser = undefined;
  await demo?.stop();
  demo = undefined;
}

await runBenchMain('inspector-page', main, cleanup);
