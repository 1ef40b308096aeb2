/**
 * `npm run bench`: runs every socketchart benchmark in sequence, each in its own Node process (started with
 * --expose-gc through tsx), prints their tables as they finish, then a summary against the targets.
 * These are figures, not timed tests: the exit code is 0 whatever the figures, non-zero only if a bench
 * crashed or did not finish within its cap (10 min; peers.ts 30 min), when it is stopped. `npm run bench --
 * --quick` runs a short smoke version.
 *
 *   micro.ts       data-plane CPU and allocation per message, in process (in-memory socket)
 *   throughput.ts  receive/send msgs/s vs raw ws over loopback (server: servers/throughput-server.ts)
 *   inspection.ts  receive msgs/s of a connection with inspection on (connectInspector() to the offline
 *                  inspector in its own process) vs off (server: servers/throughput-server.ts)
 *   inspector-page.ts  the inspector page in Chromium through the demo's 1,000-connection restart storm:
 *                  time per animation frame that ingested events, every such frame from the restart to the
 *                  next fault (timed in the page by the bench), and frames the browser counts over 50 ms
 *   memory.ts      heap per connection for 1,000 connections (3 rounds, order rotated: median and range),
 *                  and where socketchart's bytes go (server: servers/plain-server.ts)
 *   acks.ts        acknowledged publishes per second over one connection vs raw ws speaking the same frames
 *                  (server: servers/ack-server.ts, the reference server)
 *   pool.ts        pool start time for 1,000 and 10,000 connections (in-memory socket, each run in a fresh
 *                  process: pool-start-worker.ts), heap per pooled connection, the per-actor-stop cost that
 *                  grows with the pool, and the reconnect spread of 1,000 pooled connections after a real
 *                  server restart (server: servers/plain-server.ts, restarted on the same port)
 *   server.ts      the reference server: fan-out, delivery latency, heap per connection
 *   peers.ts       socketchart next to raw ws, partysocket, reconnecting-websocket and socket.io (client throughput,
 *                  heap per connection, restart storm, server fan-out and latency, browser bundle), one table
 */
import os from 'node:os';
import type { MicroResult } from './micro.js';
import type { ThroughputResult } from './throughput.js';
import type { InspectionResult } from './inspection.js';
import type { InspectorPageResult } from './inspector-page.js';
import type { MemoryResult } from './memory.js';
import type { ServerResult } from './server.js';
import type { AcksResult } from './acks.js';
import { serverSummaryRows } from './lib/server-summary.js';
import type { PoolResult } from './pool.js';
import type { PeersResult } from './peers.js';
import { forkTs, here, isType } from './lib/proc.js';
import { fixed, heading, int, kb, rate, table, verdict } from './lib/stats.js';

const quick = process.argv.includes('--quick');
const args = quick ? ['--quick'] : [];

/** "+12", "-3", "+0": a signed, rounded figure. */
const signed = (v: number, digits = 0) => `${Math.round(v * 10 ** digits) >= 0 ? '+' : '-'}${fixed(Math.abs(v), digits)}`;
const load = () => os.loadavg().map((v) => v.toFixed(2)).join(' / ');
const startedAt = performance.now();
console.log(`socketchart benchmarks${quick ? ' (--quick: smoke sizes, figures not meaningful)' : ''}`);
console.log(
  `node ${process.version}, ${os.cpus().length} CPU(s) (${os.cpus()[0]?.model.trim() ?? '?'}), load average 1/5/15 min at start: ${load()}`,
);
console.log('each bench runs in a fresh process: node --expose-gc --import tsx <bench>.ts');

interface ResultMessage<T> {
  type: 'result';
  bench: string;
  result: T;
}

/** How long a bench may run before it is stopped (its figures then count as missing): 10 min, the peers bench longer. */
const CAP_MS: Record<string, number> = { './peers.ts': 30 * 60_000 };
const DEFAULT_CAP_MS = 10 * 60_000;

async function runBench<T>(file: string): Promise<T | undefined> {
  const capMs = CAP_MS[file] ?? DEFAULT_CAP_MS;
  const child = forkTs(here(import.meta.url, file), { args, flags: ['--expose-gc'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let result: T | undefined;
  const onMessage = (m: unknown) => {
    if (isType<ResultMessage<T>>('result')(m)) result = m.result;
  };
  child.on('message', onMessage);
  let capped = false;
  const cap = setTimeout(() => {
    capped = true;
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
  }, capMs);
  const { code, signal } = await exited;
  clearTimeout(cap);
  child.off('message', onMessage);
  if (result !== undefined) {
    if (code !== 0) console.error(`\n${file} sent its result, then exited with ${signal ?? `code ${code}`}`);
    return result;
  }
  if (capped) console.error(`\n${file} did not finish within ${capMs / 60_000} min: stopped, no result`);
  else if (code === 0) console.error(`\n${file} exited (code 0) without sending its result`);
  else console.error(`\n${file} failed (${signal ?? `exit code ${code}`})`);
  return undefined;
}

const micro = await runBench<MicroResult>('./micro.ts');
const throughput = await runBench<ThroughputResult>('./throughput.ts');
const inspection = await runBench<InspectionResult>('./inspection.ts');
const inspectorPage = await runBench<InspectorPageResult>('./inspector-page.ts');
const acks = await runBench<AcksResult>('./acks.ts');
const memory = await runBench<MemoryResult>('./memory.ts');
const pool = await runBench<PoolResult>('./pool.ts');
const server = await runBench<ServerResult>('./server.ts');
const peers = await runBench<PeersResult>('./peers.ts');

console.log(heading('Summary'));
const rows: (string | number)[][] = [];
if (throughput) {
  rows.push([
    'receive msgs/s, socketchart / raw ws (median of paired rounds)',
    `${fixed(throughput.receive.ratio)}×  (${rate(throughput.receive.socketchart)} vs ${rate(throughput.receive.raw)})`,
    '≥ 0.95×',
    verdict(throughput.receive.ratio >= 0.95),
  ]);
  rows.push([
    'send msgs/s, socketchart / raw ws (median of paired rounds)',
    `${fixed(throughput.send.ratio)}×  (${rate(throughput.send.socketchart)} vs ${rate(throughput.send.raw)})`,
    '≥ 0.95×',
    verdict(throughput.send.ratio >= 0.95),
  ]);
  rows.push(['  client CPU per message, socketchart / raw (receive, send)', `${fixed(throughput.receive.cpuRatio)}×, ${fixed(throughput.send.cpuRatio)}×`, '', '']);
  rows.push(['reference: raw ws + 1 XState event per message / raw ws', `${fixed(throughput.receive.xstateRatio)}×  (${rate(throughput.receive.xstate)})`, '', '']);
}
if (inspection) {
  rows.push([
    'receive msgs/s, inspection on / off (connectInspector(), median of paired rounds)',
    `${fixed(inspection.ratio)}×  (${rate(inspection.on)} vs ${rate(inspection.off)})`,
    '≥ 0.95×',
    verdict(inspection.ratio >= 0.95),
  ]);
  rows.push(['  reference: inspection on with messages: true / off', `${fixed(inspection.messagesRatio)}×  (${rate(inspection.messages)})`, '', '']);
}
if (inspectorPage?.storm) {
  const w = inspectorPage.storm;
  rows.push([
    `inspector page, ${int(inspectorPage.connections)} connections' restart storm: frame batch p95, every frame with events in the storm (Chromium)`,
    `${fixed(w.batchMsP95, 1)} ms  (p50 ${fixed(w.batchMsP50, 1)}, slowest ${fixed(w.batchMsMax, 0)}; ${int(w.frames)} frames over ${fixed(w.ms / 1000, 1)} s)`,
    `< ${inspectorPage.targetP95Ms} ms`,
    verdict(w.batchMsP95 < inspectorPage.targetP95Ms),
  ]);
  if (inspectorPage.faults) {
    const f = inspectorPage.faults;
    rows.push(['  same, restart to 3 s after the blackhole healed', `p95 ${fixed(f.batchMsP95, 1)} ms (p50 ${fixed(f.batchMsP50, 1)}, slowest ${fixed(f.batchMsMax, 0)}; ${int(f.frames)} frames)`, '', '']);
  }
  if (inspectorPage.figures) rows.push(["  frames over 50 ms by the browser's count (whole page lifetime)", int(inspectorPage.figures.longFramesOver50ms), '', '']);
}
if (acks) {
  rows.push([
    `acked publishes/s over one connection (reference server, ≤ ${acks.window} in flight)`,
    `${rate(acks.socketchart)}  (${fixed(acks.ratio)}× raw ws with the same frames, median of paired rounds; raw ${rate(acks.raw)})`,
    '',
    '',
  ]);
}
if (micro) {
  rows.push([
    'data plane, in process: receive CPU/msg over raw',
    `${signed(micro.receive.socketchart - micro.receive.raw)} ns (${fixed(micro.receive.raw, 0)} → ${fixed(micro.receive.socketchart, 0)} ns), ${signed(micro.receive.scAlloc - micro.receive.rawAlloc)} B alloc/msg`,
    '',
    '',
  ]);
  rows.push([
    'data plane, in process: send CPU/msg over raw',
    `${signed(micro.send.socketchart - micro.send.raw)} ns, ${signed(micro.send.scAlloc - micro.send.rawAlloc)} B alloc/msg`,
    '',
    '',
  ]);
  rows.push(['data plane, in process: 1 XState event per message', `+${int(micro.receive.xstate - micro.receive.raw)} ns, +${int(micro.receive.xsAlloc - micro.receive.rawAlloc)} B alloc/msg`, '', '']);
}
if (memory) {
  /** "7.43 KB (7.41–7.47 KB over 3 rounds)". */
  const heap = (median: number, range: [number, number] | null) =>
    range === null || memory.rounds < 2 ? kb(median) : `${kb(median)} (${fixed(range[0] / 1024)}–${fixed(range[1] / 1024)} KB over ${memory.rounds} rounds)`;
  if (memory.scSteady !== null) {
    rows.push([
      'heap per connection held open, socketchart default (socket included; median of rounds)',
      heap(memory.scSteady, memory.ranges.scSteady),
      '≤ 7.9 KB',
      verdict(memory.scSteady <= 7.9 * 1024),
    ]);
  }
  rows.push(['  same, in its first minUptimeMs (stability timer pending)', heap(memory.scDefault, memory.ranges.scDefault), '', '']);
  rows.push(['  socketchart heartbeat off', heap(memory.scNoHeartbeat, memory.ranges.scNoHeartbeat), '', '']);
  rows.push(['  raw ws / raw ws + bare XState actor', `${kb(memory.raw)} / ${kb(memory.rawActor)}`, '', '']);
}
if (pool) {
  const ms = (v: number) => `${int(v)} ms`;
  const { budget, free, ratioTarget } = pool.start;
  const startRow = (label: string, f: typeof budget) => [
    label,
    `${fixed(f.ratio, 1)}×  (${ms(f.smallTotal)} → ${ms(f.largeTotal)}; create ${ms(f.smallCreate)} → ${ms(f.largeCreate)}, start ${ms(f.smallStart)} → ${ms(f.largeStart)})`,
    `≤ ${fixed(ratioTarget, 0)}×`,
    verdict(f.ratio <= ratioTarget),
  ];
  rows.push(startRow(`pool start ${int(budget.large)} / ${int(budget.small)}, dial budget 1e6/s burst 1e6 (in-memory socket)`, budget));
  rows.push(startRow(`pool start ${int(free.large)} / ${int(free.small)}, dialBudget false (in-memory socket)`, free));
  rows.push([`  heap per pooled connection at ${int(pool.heap.n)} (in-memory socket included)`, `${kb(pool.heap.budget)} / ${kb(pool.heap.free)} (budget / none); standalone ${kb(pool.heap.standalone)}`, '', '']);
  rows.push([
    `  one actor stop in a ${int(pool.heap.n)}-connection pool's XState system`,
    `${fixed(pool.stopCost.large / 1000, 2)} ms (${int(pool.stopCost.scheduledLarge)} delayed events scanned; ${fixed(pool.stopCost.alone, 1)} µs in an empty system)`,
    '',
    '',
  ]);
  rows.push([
    `  pool.dispose(): ${int(pool.start.free.small)} / ${int(pool.dispose.probeN)} connections`,
    `${ms(pool.dispose.small)} / ${ms(pool.dispose.probe)} (${fixed(pool.dispose.probeN / pool.start.free.small, 0)}× the connections, ${fixed(pool.dispose.probe / pool.dispose.small, 1)}× the time)`,
    '',
    '',
  ]);
  rows.push([
    `  heartbeat CPU per probe at ${int(pool.start.free.small)} / ${int(pool.start.free.large)} connections`,
    `${fixed(pool.heartbeat.smallMs, 2)} / ${fixed(pool.heartbeat.largeMs, 2)} ms; ${fixed(pool.heartbeat.largeShare * 100, 0)} % of a core at ${int(pool.start.free.large)} × 1 probe / 30 s`,
    '',
    '',
  ]);
  const r = pool.restart;
  const counted = r.runs.filter((x) => x.counted);
  const peak = Math.max(...counted.map((x) => Math.max(x.peakDials, x.peakGrants)));
  const bound = counted[0]?.bound ?? Number.NaN;
  rows.push([
    `restart, ${int(r.n)} pooled conns: peak dials / 100 ms (budget ${r.budget.ratePerSec}/s, burst ${r.budget.burst})`,
    `${counted.map((x) => x.peakDials).join(', ')} (runs)`,
    `≤ ${bound}`,
    verdict(peak <= bound),
  ]);
  const times = counted.map((x) => x.allConnectedMs);
  rows.push([
    `restart: all ${int(r.n)} connected again, from server listening (restartWindowMs ${r.reconnect.restartWindowMs}, baseMs ${r.reconnect.baseMs})`,
    times.map((t) => (t === null ? '> 20 s' : ms(t))).join(', '),
    `≤ ${ms(r.targetMs)}`,
    verdict(times.every((t) => t !== null && t <= r.targetMs)),
  ]);
  for (const x of r.runs.filter((y) => !y.counted)) {
    rows.push([`  reference: ${x.label}`, x.allConnectedMs === null ? '> 20 s' : ms(x.allConnectedMs), '', '']);
  }
}
if (server) rows.push(...serverSummaryRows(server));
console.log(table(['figure', 'value', 'target', ''], rows));
if (peers) {
  console.log(heading('Side by side with the field (peers.ts)'));
  console.log(peers.table);
}
console.log(`\nload average at end: ${load()}; total ${fixed((performance.now() - startedAt) / 1000, 1)} s`);
const failed = [micro, throughput, inspection, inspectorPage, acks, memory, pool, server, peers].some((r) => r === undefined);
process.exit(failed ? 1 : 0);
