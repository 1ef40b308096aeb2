import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { buildInspectorPage } from '../../inspector/build.mjs';
import { startInspectorServer, type InspectorServer, type InspectorServerOptions } from '../../src/inspection/server.js';
import { launchChromium } from '../support/browser.js';
import { until } from '../support/until.js';

/** Where the browser specs leave their screenshots (git-ignored). */
export const ARTIFACTS = join(process.cwd(), 'test', 'artifacts', 'inspector');

/** The page as `npm run build` makes it, rebuilt when a source is newer (the demo's inspector serves `dist/inspector/`). */
export async function buildPage(): Promise<void> {
  await buildInspectorPage({ ifStale: true });
}

/** For a file's specs: an inspector server (on a free port) and a 1400×800 page in Chromium, handed to `opened` before them and closed after. */
export function onInspectorPage(options: InspectorServerOptions, opened: (started: { inspector: InspectorServer; page: Page }) => void): void {
  let inspector: InspectorServer | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    await buildPage();
    inspector = await startInspectorServer({ port: 0, ...options });
    browser = await launchChromium();
    opened({ inspector, page: await browser.newPage({ viewport: { width: 1400, height: 800 } }) });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await inspector?.close();
  });
}

export interface RunningDemo {
  /** The inspector page. */
  url: string;
  /** Where other apps can send their inspection records (`connectInspector({ url })`). */
  wsUrl: string;
  stdout(): string;
  /** Waits until the demo has printed something matching `pattern`. */
  printed(pattern: RegExp, ms: number): Promise<void>;
  /** Ctrl-C twice (end the run, then close the inspector it kept open); killed if it lingers. */
  stop(): Promise<void>;
}

/** `npm start -- --inspect=0 …`: the demo with its inspector on a free loopback port. */
export async function startDemo(args: string[]): Promise<RunningDemo> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', 'src/cli/demo.ts', '--inspect=0', ...args], {
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
  child.stderr.on('data', (chunk: Buffer) => (out += String(chunk)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await until(() => /inspector: http:\S+/.test(out) || child.exitCode !== null, 30_000, 'the demo to print its inspector URL');
  const url = /inspector: (http:\S+)/.exec(out)?.[1];
  const wsUrl = /apps can send to (ws:\S+)\)/.exec(out)?.[1];
  if (!url || !wsUrl) throw new Error(`the demo did not start its inspector:\n${out}`);
  return {
    url,
    wsUrl,
    stdout: () => out,
    printed: (pattern, ms) => until(() => pattern.test(out), ms, `the demo to print ${pattern}`),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGINT');
      const first = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 15_000))]);
      if (first) return;
      child.kill('SIGINT');
      const second = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5_000))]);
      if (!second) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Saves a screenshot of the page under test/artifacts/inspector/. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** The tree row of a node (`pool/queue`), as the page shows it. */
export const treeRow = (page: Page, key: string) => page.locator(`.tree-row[data-key="${key}"]`);

/** The event log as drawn: its rows, the index of the last row in view, and whether it is scrolled to its end. */
export function logView(page: Page): Promise<{ rows: number; lastInView: number; atEnd: boolean }> {
  return page.$eval('#log', (log) => {
    const rows = Number((log as HTMLElement).dataset.rows ?? 0);
    const bottom = log.scrollTop + log.clientHeight;
    const drawn = Array.from(log.querySelectorAll<HTMLElement>('.vrow')).filter((row) => row.style.display !== 'none');
    const rowHeight = drawn[0]?.offsetHeight ?? 22;
    const inView = drawn.map((row) => Number(row.dataset.index)).filter((index) => index * rowHeight < bottom);
    return { rows, lastInView: Math.max(-1, ...inView), atEnd: bottom >= log.scrollHeight - 1.5 * rowHeight };
  });
}

/** Starts recording, every animation frame, the state each tree row shows (`window.__rowStates[key]`, changes only). */
export async function recordRowStates(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: Record<string, string[]> = {};
    (window as unknown as { __rowStates: Record<string, string[]> }).__rowStates = seen;
    const sample = () => {
      for (const row of Array.from(document.querySelectorAll<HTMLElement>('.tree-row'))) {
        const key = row.dataset.key;
        const state = row.querySelector('.state')?.textContent ?? '';
        if (!key || !state) continue;
        const list = (seen[key] ??= []);
        if (list[list.length - 1] !== state) list.push(state);
      }
      requestAnimationFrame(sample);
    };
    requestAnimationFrame(sample);
  });
}

export async function rowStates(page: Page): Promise<Record<string, string[]>> {
  return page.evaluate(() => (window as unknown as { __rowStates: Record<string, string[]> }).__rowStates);
}

/** `sequence` appears in `list` in order (not necessarily adjacent). */
export function inOrder(list: readonly string[], sequence: readonly string[]): boolean {
  let at = 0;
  for (const item of list) if (item === sequence[at]) at++;
  return at === sequence.length;
}

/** What the page's perf badge says about the animation frames that ingested events (the last 300 of them). */
export interface FrameFigures {
  events: number;
  framesWithEvents: number;
  meanBatch: number;
  batchMsP50: number;
  batchMsP95: number;
  batchMsMax: number;
  /** Frames over 50 ms as the browser counts them (script, style, layout and paint). */
  longFramesOver50ms: number;
  longestFrameMs: number;
}

export async function frameFigures(page: Page): Promise<FrameFigures> {
  const perf = await page.locator('#perf').evaluate((el) => ({ ...(el as HTMLElement).dataset }));
  return {
    events: Number(perf.events),
    framesWithEvents: Number(perf.frames),
    meanBatch: Number(perf.batch),
    batchMsP50: Number(perf.p50),
    batchMsP95: Number(perf.p95),
    batchMsMax: Number(perf.max),
    longFramesOver50ms: Number(perf.longFrames),
    longestFrameMs: Number(perf.longestFrame),
  };
}

/** Waits while the demo's pool goes through its injected server restart and blackhole, and 3 s after the fault heals, with `page` watching. */
export async function watchRestartStorm(page: Page, demo: RunningDemo): Promise<void> {
  await demo.printed(/server node 1 listening again/, 40_000);
  await demo.printed(/fault healed: blackhole removed/, 40_000);
  await page.waitForTimeout(3_000);
}
