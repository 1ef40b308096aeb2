/**
 * Pool benchmarks. Needs --expose-gc (run.ts forks it with the flag).
 *
 * 1. Start time, in process: createPool() with N endpoints (staggerMs 0) on an in-memory WebSocket
 *    (lib/fake-socket.ts: opens on the next microtask, default protocol, no auth, so a connection is
 *    `connected` as soon as its socket opens), until every connection is `connected` (the pool's `health`
 *    event turning `up`). Creation (createPool()) and start (start() → all connected) are timed separately.
 *    N = 1,000 and 10,000; the 10k/1k ratio is the figure (linear: 10×; target ≤ 12×). Two dial-budget
 *    settings: a budget too large to throttle ({ ratePerSec: 1e6, burst: 1e6 }: every dial still goes
 *    through the gate, the `queued` state and a permit actor) and `dialBudget: false` (no gate).
 *    Then the JS heap per pooled connection at 10k (in-memory socket included).
 *
 * 2. Reconnect spread after a real server restart: 1,000 connections in one pool against a `ws` server in
 *    another process (servers/plain-server.ts), all connected; the server stops listening, closes every
 *    socket with 1012 (service restart), waits DOWN_MS and listens again on the same port. Every dial
 *    (a connection entering `connecting` or `halfOpen`) is timed against the moment the server listens
 *    again (wall clock, Date.now() in both processes): peak dials in any 100 ms window (bound: burst +
 *    rate × 0.1 s), time until all 1,000 are connected again, and dials per 100 ms.
 *
 * Run alone: `node --expose-gc --import tsx test/bench/pool.ts [--quick]`.
 */
import { createConnection, createPool, type Connection, type ConnectionStatus, type DialBudgetOptions, type Pool, type ReconnectOptions, type WebSocketConstructor } from '../../src/index.node.js';
import { FakeSocket } from './lib/fake-socket.js';
import { whenConnected } from './lib/clients.js';
import { forkTs, here, isType, nextMessage, stopChild, toParent } from './lib/proc.js';
import { fixed, heading, int, kb, median, sleep, table, verdict } from './lib/stats.js';

const quick = process.argv.includes('--quick');

const gcFn = (globalThis as { gc?: () => void }).gc;
if (!gcFn) {
  console.error('pool.ts needs --expose-gc');
  process.exit(2);
}
const gc = gcFn;

async function settleHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await sleep(10);
  }
  return process.memoryUsage().heapUsed;
}

/** Resolves with performance.now() at the pool's `health` → `up` (every connection connected). */
function whenUp(pool: Pool, timeoutMs: number, clock: () => number = () => performance.now()): Promise<number> {
  if (pool.status().health === 'up') return Promise.resolve(clock());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      const counts: Record<string, number> = {};
      for (const c of pool.connections) counts[c.status] = (counts[c.status] ?? 0) + 1;
      reject(new Error(`pool not up within ${timeoutMs} ms: ${JSON.stringify(counts)}`));
    }, timeoutMs);
    const off = pool.on('health', ({ health }) => {
      if (health !== 'up') return;
      const at = clock();
      clearTimeout(timer);
      off();
      resolve(at);
    });
  });
}

// ─── 1. start time, in process ──────────────────────────────────────────────────────────────────────

const START_SIZES = quick ? [200, 2_000] : [1_000, 10_000];
const SMALL = START_SIZES[0]!;
const LARGE = START_SIZES[1]!;
const LINEAR = LARGE / SMALL;
const RATIO_TARGET = LINEAR * 1.2;
const BIG_BUDGET: DialBudgetOptions = { ratePerSec: 1e6, burst: 1e6 };
const FAKE_URL = 'ws://fake.invalid/pool';

interface BudgetVariant {
  key: 'budget' | 'free';
  label: string;
  dialBudget: DialBudgetOptions | false;
}
const budgetVariants: BudgetVariant[] = [
  { key: 'budget', label: 'dialBudget { ratePerSec: 1e6, burst: 1e6 }', dialBudget: BIG_BUDGET },
  { key: 'free', label: 'dialBudget: false', dialBudget: false },
];

const fakeEndpoints = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `c${i}`, url: FAKE_URL }));

interface StartRun {
  createMs: number;
  startMs: number;
  totalMs: number;
  disposeMs: number;
  heapPerConn?: number;
}

async function startRun(n: number, dialBudget: DialBudgetOptions | false, measureHeap = false): Promise<StartRun> {
  const endpoints = fakeEndpoints(n);
  const before = measureHeap ? await settleHeap() : 0;
  if (!measureHeap) {
    gc();
    await sleep(5);
  }
  const t0 = performance.now();
  const pool = createPool({ endpoints, staggerMs: 0, dialBudget, defaults: { WebSocket: FakeSocket as unknown as WebSocketConstructor } });
  const t1 = performance.now();
  const up = whenUp(pool, 120_000);
  pool.start();
  const t2 = await up;
  let heapPerConn: number | undefined;
  if (measureHeap) heapPerConn = ((await settleHeap()) - before) / n;
  const d0 = performance.now();
  pool.dispose();
  const disposeMs = performance.now() - d0;
  await sleep(10);
  return { createMs: t1 - t0, startMs: t2 - t1, totalMs: t2 - t0, disposeMs, ...(heapPerConn === undefined ? {} : { heapPerConn }) };
}

/** Reference: N standalone connections (createConnection, in-memory socket), heap per connection. */
async function standaloneHeap(n: number): Promise<number> {
  const before = await settleHeap();
  const connections: Connection[] = [];
  for (let i = 0; i < n; i++) connections.push(createConnection({ url: FAKE_URL, name: `s${i}`, WebSocket: FakeSocket as unknown as WebSocketConstructor }).start());
  await Promise.all(connections.map((c) => whenConnected(c, 60_000)));
  const perConn = ((await settleHeap()) - before) / n;
  for (const c of connections) c.dispose();
  connections.length = 0;
  await settleHeap();
  return perConn;
}

export interface PoolStartFigures {
  small: number;
  large: number;
  /** Medians, ms. */
  smallTotal: number;
  largeTotal: number;
  smallCreate: number;
  largeCreate: number;
  smallStart: number;
  largeStart: number;
  ratio: number;
}

async function startBench() {
  console.log(heading(`Pool start — createPool() → every connection connected, ${int(SMALL)} and ${int(LARGE)} connections, in-memory socket`));
  console.log(
    'in process, lib/fake-socket.ts as WebSocket (opens on the next microtask; default protocol, no auth, default heartbeat 30 s);\n' +
      'staggerMs 0; creation = createPool() (validation, N Connection actors created, idle); start = start() until health `up`;\n' +
      'a full GC before each run; medians of the rounds\n',
  );
  const roundsSmall = quick ? 2 : 5;
  const roundsLarge = quick ? 1 : 3;
  // warm-up: every path once (JIT), not counted
  for (const v of budgetVariants) for (let i = 0; i < 3; i++) await startRun(SMALL, v.dialBudget);

  const results = new Map<string, { small: StartRun[]; large: StartRun[] }>();
  for (const v of budgetVariants) results.set(v.key, { small: [], large: [] });
  // interleaved: variant A, B, A, B … so drift in load hits both
  for (let round = 0; round < Math.max(roundsSmall, roundsLarge); round++) {
    for (const v of budgetVariants) {
      const r = results.get(v.key)!;
      if (round < roundsSmall) r.small.push(await startRun(SMALL, v.dialBudget));
      if (round < roundsLarge) r.large.push(await startRun(LARGE, v.dialBudget));
    }
  }
  const rows: (string | number)[][] = [];
  const figures = new Map<string, PoolStartFigures>();
  const ms = (v: number) => `${fixed(v, 0)} ms`;
  for (const v of budgetVariants) {
    const r = results.get(v.key)!;
    const med = (runs: StartRun[], key: keyof StartRun) => median(runs.map((x) => x[key] as number));
    const f: PoolStartFigures = {
      small: SMALL,
      large: LARGE,
      smallTotal: med(r.small, 'totalMs'),
      largeTotal: med(r.large, 'totalMs'),
      smallCreate: med(r.small, 'createMs'),
      largeCreate: med(r.large, 'createMs'),
      smallStart: med(r.small, 'startMs'),
      largeStart: med(r.large, 'startMs'),
      ratio: 0,
    };
    f.ratio = f.largeTotal / f.smallTotal;
    figures.set(v.key, f);
    const runs = (list: StartRun[]) => list.map((x) => fixed(x.totalMs, 0)).join(' / ');
    rows.push([v.label, `${int(SMALL)}`, runs(r.small), ms(f.smallCreate), ms(f.smallStart), ms(f.smallTotal), '', '', ms(med(r.small, 'disposeMs'))]);
    rows.push([
      '',
      `${int(LARGE)}`,
      runs(r.large),
      ms(f.largeCreate),
      ms(f.largeStart),
      ms(f.largeTotal),
      `${fixed(f.ratio, 1)}×`,
      `≤ ${fixed(RATIO_TARGET, 0)}× ${verdict(f.ratio <= RATIO_TARGET)}`,
      ms(med(r.large, 'disposeMs')),
    ]);
    rows.push([
      '',
      'per conn',
      '',
      `${fixed((f.smallCreate / SMALL) * 1000, 1)} → ${fixed((f.largeCreate / LARGE) * 1000, 1)} µs`,
      `${fixed((f.smallStart / SMALL) * 1000, 1)} → ${fixed((f.largeStart / LARGE) * 1000, 1)} µs`,
      `${fixed((f.smallTotal / SMALL) * 1000, 1)} → ${fixed((f.largeTotal / LARGE) * 1000, 1)} µs`,
      '',
      '',
      '',
    ]);
  }
  console.log(table(['dial budget', 'N', 'runs total (ms)', 'create', 'start', 'total', `${int(LARGE)}/${int(SMALL)}`, 'target', 'dispose'], rows));
  console.log(`  ratio target: ≤ ${fixed(RATIO_TARGET, 0)}× (linear would be ${fixed(LINEAR, 0)}×); dispose() shown for reference, not in any total`);

  console.log(`\nHeap per pooled connection at ${int(LARGE)} (connected, after full GCs; in-memory socket included; endpoint option objects, built before the baseline, excluded)`);
  const heapRows: (string | number)[][] = [];
  const heap = new Map<string, number>();
  for (const v of budgetVariants) {
    const run = await startRun(LARGE, v.dialBudget, true);
    heap.set(v.key, run.heapPerConn!);
    heapRows.push([`pool, ${v.label}`, kb(run.heapPerConn!)]);
  }
  const standalone = await standaloneHeap(LARGE);
  heapRows.push([`reference: ${int(LARGE)} standalone createConnection() (shared hub parent), same socket`, kb(standalone)]);
  console.log(table(['variant', 'heap/conn'], heapRows));
  console.log(`  the in-memory socket is a small plain object (a real ws client socket adds ≈ 3 KB, see the memory bench)`);
  return { figures, heap, standalone };
}

// ─── 2. reconnect spread after a real server restart ────────────────────────────────────────────────

const RESTART_N = quick ? 200 : 1_000;
const DOWN_MS = 200;
const WINDOW_MS = 100;
const CONNECTED_TARGET_MS = 1_500;

interface RestartVariant {
  label: string;
  dialBudget: DialBudgetOptions | undefined;
  reconnect: ReconnectOptions | undefined;
  /** Counted toward the target (the others are shown for reference). */
  counted: boolean;
}

const FAST_BUDGET: DialBudgetOptions = { ratePerSec: 2_000, burst: 100 };
const FAST_RECONNECT: ReconnectOptions = { baseMs: 100, capMs: 2_000, multiplier: 2, jitter: 0.5, minUptimeMs: 1_000, restartWindowMs: 1_000 };

const restartVariants: RestartVariant[] = [
  { label: 'fast-comeback options, run 1', dialBudget: FAST_BUDGET, reconnect: FAST_RECONNECT, counted: true },
  { label: 'fast-comeback options, run 2', dialBudget: FAST_BUDGET, reconnect: FAST_RECONNECT, counted: true },
  ...(quick
    ? []
    : [
        { label: 'same budget, default reconnect options', dialBudget: FAST_BUDGET, reconnect: undefined, counted: false },
        { label: 'library defaults (budget 200/s burst 20, default reconnect)', dialBudget: undefined, reconnect: undefined, counted: false },
      ]),
];

interface RestartResult {
  label: string;
  counted: boolean;
  budget: Required<DialBudgetOptions>;
  /** Bound on dials in any 100 ms window: burst + rate × 0.1 s. */
  bound: number;
  closed: number;
  dials: number;
  /** Dials made before the server listened again (they are refused). */
  refused: number;
  maxDialsPerConn: number;
  /** Peak dials in any 100 ms window (sliding), from the dials; and from the budget's own grant log. */
  peakDials: number;
  peakGrants: number;
  /** ms from the server listening again until every connection is connected (null: not within the timeout). */
  allConnectedMs: number | null;
  /** ms from the server listening again to the first dial that connected. */
  firstConnectedMs: number | null;
  connectedAfterTimeout: number;
  histogram: { from: number; dials: number }[];
  downToUpMs: number;
  ipcLagMs: number;
}

const DEFAULT_BUDGET: Required<DialBudgetOptions> = { ratePerSec: 200, burst: 20 };

/** Most values of sorted `times` within any half-open window [t, t + width). */
function peakInWindow(times: readonly number[], width: number): number {
  let peak = 0;
  let j = 0;
  for (let i = 0; i < times.length; i++) {
    if (j < i) j = i;
    while (j < times.length && times[j]! < times[i]! + width) j++;
    peak = Math.max(peak, j - i);
  }
  return peak;
}

async function restartRun(url: string, server: ReturnType<typeof forkTs>, variant: RestartVariant): Promise<RestartResult> {
  const budget = { ...DEFAULT_BUDGET, ...(variant.dialBudget ?? {}) };
  const endpoints = Array.from({ length: RESTART_N }, (_, i) => ({ name: `r${i}`, url }));
  const pool = createPool({
    endpoints,
    staggerMs: 0,
    ...(variant.dialBudget ? { dialBudget: variant.dialBudget } : {}),
    ...(variant.reconnect ? { defaults: { reconnect: variant.reconnect } } : {}),
  });
  try {
    const firstUp = whenUp(pool, 60_000);
    pool.start();
    await firstUp;
    // let every connection pass minUptime (stable, attempts reset), as a long-running pool would be
    await sleep((variant.reconnect?.minUptimeMs ?? 5_000) + 200);

    const dialAt: number[] = [];
    const connectedAt: number[] = [];
    const perConn = new Map<string, number>();
    let recording = false;
    const off = pool.on('state', ({ name, status }: { name: string; status: ConnectionStatus }) => {
      if (!recording) return;
      const now = Date.now();
      if (status === 'connecting' || status === 'halfOpen') {
        dialAt.push(now);
        perConn.set(name, (perConn.get(name) ?? 0) + 1);
      } else if (status === 'connected') connectedAt.push(now);
    });
    const grantLog = (pool as unknown as { rt: { budget?: { grants: number[] } } }).rt.budget?.grants;
    const grantsBefore = grantLog?.length ?? 0;
    const commandAt = Date.now();
    recording = true;
    const restarted = nextMessage(server, isType<{ type: 'restarted'; port: number; downAt: number; upAt: number; closed: number }>('restarted'), 30_000);
    // health goes down as the closes arrive, then up once all are back
    let wentDown = false;
    const down = new Promise<void>((resolve) => {
      const offHealth = pool.on('health', ({ health }) => {
        if (health === 'up') return;
        wentDown = true;
        offHealth();
        resolve();
      });
    });
    server.send({ type: 'restart', mode: 'close1012', downMs: DOWN_MS });
    const info = await restarted;
    const ipcLagMs = Date.now() - info.upAt;
    await Promise.race([down, sleep(5_000)]);
    if (!wentDown) throw new Error('no connection noticed the restart');
    const timeoutMs = 20_000;
    let allUpAt: number | null = null;
    try {
      allUpAt = await whenUp(pool, timeoutMs, () => Date.now());
    } catch {
      allUpAt = null;
    }
    off();
    recording = false;
    const connectedNow = pool.connections.filter((c) => c.isConnected).length;
    dialAt.sort((a, b) => a - b);
    const rel = dialAt.map((t) => t - info.upAt);
    const firstBin = Math.floor(Math.min(0, ...rel) / WINDOW_MS) * WINDOW_MS;
    const lastBin = Math.floor(Math.max(0, ...rel) / WINDOW_MS) * WINDOW_MS;
    const histogram: { from: number; dials: number }[] = [];
    for (let from = firstBin; from <= lastBin; from += WINDOW_MS) histogram.push({ from, dials: rel.filter((t) => t >= from && t < from + WINDOW_MS).length });
    const grants = grantLog ? grantLog.slice(grantsBefore).filter((t) => t >= commandAt) : [];
    const firstConnect = connectedAt.filter((t) => t >= info.upAt);
    return {
      label: variant.label,
      counted: variant.counted,
      budget,
      bound: budget.burst + budget.ratePerSec * (WINDOW_MS / 1000),
      closed: info.closed,
      dials: dialAt.length,
      refused: rel.filter((t) => t < 0).length,
      maxDialsPerConn: Math.max(0, ...perConn.values()),
      peakDials: peakInWindow(dialAt, WINDOW_MS),
      peakGrants: peakInWindow(grants, WINDOW_MS),
      allConnectedMs: allUpAt === null ? null : allUpAt - info.upAt,
      firstConnectedMs: firstConnect.length > 0 ? Math.min(...firstConnect) - info.upAt : null,
      connectedAfterTimeout: connectedNow,
      histogram,
      downToUpMs: info.upAt - info.downAt,
      ipcLagMs,
    };
  } finally {
    pool.dispose();
    await sleep(300);
  }
}

async function serverOpen(server: ReturnType<typeof forkTs>): Promise<number> {
  server.send({ type: 'count' });
  return (await nextMessage(server, isType<{ type: 'count'; open: number }>('count'), 10_000)).open;
}

async function restartBench(): Promise<RestartResult[]> {
  console.log(heading(`Pool reconnect spread — ${int(RESTART_N)} connections, real ws server restart (1012, ${DOWN_MS} ms down, same port)`));
  const server = forkTs(here(import.meta.url, './servers/plain-server.ts'));
  try {
    const listening = await nextMessage(server, isType<{ type: 'listening'; port: number }>('listening'), 30_000);
    const url = `ws://127.0.0.1:${listening.port}`;
    console.log(
      `server: servers/plain-server.ts in its own process on ${url}; on "restart" it closes its listener, sends close 1012 to every socket,\n` +
        `waits ${DOWN_MS} ms and listens again on the same port. Times below are relative to the new listener's 'listening' event (t = 0).\n` +
        `pool: staggerMs 0, default heartbeat; a dial = a connection entering 'connecting' (or 'halfOpen'); budget bound = burst + rate × 0.1 s\n`,
    );
    console.log(`fast-comeback options: dialBudget ${JSON.stringify(FAST_BUDGET)}, defaults.reconnect ${JSON.stringify(FAST_RECONNECT)}`);
    console.log(
      'library defaults for reference: dialBudget { ratePerSec: 200, burst: 20 }, reconnect { baseMs: 1000, capMs: 30000, multiplier: 2, jitter: 0.5, minUptimeMs: 5000, restartWindowMs: 2000 }\n',
    );
    const results: RestartResult[] = [];
    for (const variant of restartVariants) {
      const r = await restartRun(url, server, variant);
      results.push(r);
      const left = await serverOpen(server);
      console.log(
        `  ${r.label}: ${r.closed} closed with 1012; ${r.dials} dials (${r.refused} before the server was back, refused; at most ${r.maxDialsPerConn} by one connection);` +
          ` all connected ${r.allConnectedMs === null ? `NOT within 20 s (${r.connectedAfterTimeout}/${RESTART_N})` : `at +${r.allConnectedMs} ms`};` +
          ` peak ${r.peakDials} dials / 100 ms (bound ${r.bound}); server down ${r.downToUpMs} ms${left !== 0 ? `; ${left} sockets still open after dispose` : ''}`,
      );
    }

    console.log('\nDials per 100 ms window, t = 0 when the server listens again');
    const bins = new Set<number>();
    for (const r of results) for (const h of r.histogram) bins.add(h.from);
    const ordered = [...bins].sort((a, b) => a - b);
    const short = (r: RestartResult, i: number) => (r.counted ? `run ${i + 1}` : r.label.startsWith('same') ? 'default reconnect' : 'all defaults');
    const header = ['window (ms)', ...results.map(short)];
    const hist = ordered.map((from) => [
      `[${from >= 0 ? '+' : ''}${from}, ${from + WINDOW_MS >= 0 ? '+' : ''}${from + WINDOW_MS})`,
      ...results.map((r) => {
        const n = r.histogram.find((h) => h.from === from)?.dials ?? 0;
        return n === 0 ? '.' : String(n);
      }),
    ]);
    // fold long runs of empty windows so the table stays short
    const folded: (string | number)[][] = [];
    for (const row of hist) {
      const empty = row.slice(1).every((c) => c === '.');
      const prev = folded[folded.length - 1];
      if (empty && prev && String(prev[0]).startsWith('…')) continue;
      if (empty && prev && prev.slice(1).every((c) => c === '.')) {
        folded.push([`… (no dials)`, ...results.map(() => '')]);
        continue;
      }
      folded.push(row);
    }
    console.log(table(header, folded));

    console.log('\nReconnect spread');
    console.log(
      table(
        ['variant', 'dials', 'refused', 'peak/100 ms', 'grants peak', 'bound', '', 'first conn.', 'all connected', 'target', ''],
        results.map((r) => [
          r.label,
          r.dials,
          r.refused,
          r.peakDials,
          r.peakGrants,
          r.bound,
          verdict(r.peakDials <= r.bound && r.peakGrants <= r.bound),
          r.firstConnectedMs === null ? '—' : `+${r.firstConnectedMs} ms`,
          r.allConnectedMs === null ? `> 20 s (${r.connectedAfterTimeout})` : `+${int(r.allConnectedMs)} ms`,
          r.counted ? `≤ ${int(CONNECTED_TARGET_MS)} ms` : 'reference',
          r.counted ? verdict(r.allConnectedMs !== null && r.allConnectedMs <= CONNECTED_TARGET_MS) : '',
        ]),
      ),
    );
    console.log(
      '  peak/100 ms: most dials in any 100 ms window (sliding, from the first dial after the restart command); grants peak: same from the\n' +
        "  dial budget's own grant log; refused: dials made while the server was not listening (ECONNREFUSED → backoff)",
    );
    const ipc = Math.max(...results.map((r) => r.ipcLagMs));
    console.log(`  (server → bench IPC lag of the "restarted" message: ≤ ${ipc} ms; the timeline uses the server's own timestamp)`);
    return results;
  } finally {
    server.send({ type: 'exit' });
    await stopChild(server, 1_000);
  }
}

// ─── main ───────────────────────────────────────────────────────────────────────────────────────────

export interface PoolResult {
  start: { budget: PoolStartFigures; free: PoolStartFigures; ratioTarget: number };
  heap: { budget: number; free: number; standalone: number; n: number };
  restart: {
    n: number;
    budget: Required<DialBudgetOptions>;
    reconnect: ReconnectOptions;
    runs: { label: string; counted: boolean; peakDials: number; peakGrants: number; bound: number; allConnectedMs: number | null; dials: number; refused: number }[];
    targetMs: number;
  };
}

async function main(): Promise<PoolResult> {
  const s = await startBench();
  const restart = await restartBench();
  return {
    start: { budget: s.figures.get('budget')!, free: s.figures.get('free')!, ratioTarget: RATIO_TARGET },
    heap: { budget: s.heap.get('budget')!, free: s.heap.get('free')!, standalone: s.standalone, n: LARGE },
    restart: {
      n: RESTART_N,
      budget: { ...DEFAULT_BUDGET, ...FAST_BUDGET },
      reconnect: FAST_RECONNECT,
      runs: restart.map((r) => ({
        label: r.label,
        counted: r.counted,
        peakDials: r.peakDials,
        peakGrants: r.peakGrants,
        bound: r.bound,
        allConnectedMs: r.allConnectedMs,
        dials: r.dials,
        refused: r.refused,
      })),
      targetMs: CONNECTED_TARGET_MS,
    },
  };
}

try {
  const result = await main();
  toParent({ type: 'result', bench: 'pool', result });
  process.exit(0);
} catch (error) {
  console.error('pool bench failed:', error);
  process.exit(1);
}
