/**
 * Server: the reference server (socketchart/server, createServer with the in-memory backend, no Redis) in
 * its own process (servers/socketchart-server.ts), raw `ws` clients in two client processes
 * (servers/server-clients.ts), all on 127.0.0.1. Auth: a `verify` hook that accepts any token as its user
 * id (no JWT cost); every client has its own user id. Needs --expose-gc only in the server process (forked
 * with it here).
 *
 * 1. Fan-out deliveries/s: FANOUT_SUBS subscribers of one channel (half in each client process); the
 *    server process calls server.broadcast(ch, data) in bursts of BURST per event-loop turn and, after each
 *    burst, waits for every TCP socket holding more than HIGH_WATER unsent bytes to drain (so no subscriber
 *    nears `maxBufferedBytes`, 1 MiB, and none is cut off as a slow consumer). The clients count text frames
 *    from the frame headers only (ws's Receiver detached: the server is what gets measured). Figure:
 *    messages × subscribers / (last frame counted at any client − first broadcast), hr-epoch clocks
 *    (performance.timeOrigin + now) of the two processes. One warm-up run, then ROUNDS runs; median.
 * 2. Delivery latency at 10,000 deliveries/s, two shapes, each from ONE client process that holds the
 *    publisher and the subscribers (one monotonic clock, no cross-process clock):
 *      fan-out: 1 publisher × 100 publishes/s → 100 subscribers (10,000 deliveries/s);
 *      publish: 1 publisher × 10,000 publishes/s → 1 subscriber (10,000 publishes and deliveries/s).
 *    Client `publish` frames (fire and forget, no id) through the whole server path (zod, authorization,
 *    rate limit, numbering, history, fan-out); `rateLimits.bench` is raised on the server for this. The
 *    latency is performance.now() at the subscriber's `message` event − performance.now() just before the
 *    publisher's ws.send: one way, nothing halved, client-side parse included. 1 s warm-up, then LAT_MS;
 *    LAT_ROUNDS rounds, the shapes alternating; medians over rounds, p99 with its range. Every expected
 *    delivery is ranked, a missing one (not arrived 3 s after the last publish) as +∞.
 * 3. Heap per server connection: a fresh server process; warm-up (200 clients open and close); full GCs;
 *    heapUsed; MEM_CONNS clients (half in each client process) authenticate and subscribe to one channel;
 *    full GCs; (after − before) / MEM_CONNS. Then where the bytes go (two heap snapshots in the server,
 *    servers/snapshot-split.ts), and the heap after one sendToUser() to every connected user.
 *
 * Run alone: `node --expose-gc --import tsx test/bench/server.ts [--quick] [--memory | --fanout]`.
 */
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { Split } from './servers/snapshot-split.js';
import { here, stopChild, toParent } from './lib/proc.js';
import {
  arrivedOf,
  ask,
  children,
  expect,
  fanoutRun,
  forkChild,
  latencyCase,
  latencyMs,
  latencySummary,
  tell,
  waitOpen,
  type FanoutRun,
  type LatencyFigures,
  type LatencySummary,
} from './lib/server-runs.js';

export type { LatencyFigures, LatencySummary } from './lib/server-runs.js';
import { fixed, heading, int, kb, median, rate, sleep, table, verdict } from './lib/stats.js';

const quick = process.argv.includes('--quick');
const FANOUT_SUBS = quick ? 200 : 1_000;
const ROUNDS = quick ? 1 : 3;
const RUN_SECONDS = quick ? 0.5 : 2;
const BURST = 16;
const HIGH_WATER = 256 * 1024;
const LAT_MS = quick ? 1_000 : 5_000;
const LAT_WARMUP_MS = quick ? 300 : 1_000;
/** Latency rounds, the two shapes alternating; the figures are medians over rounds, p99 with its range. */
const LAT_ROUNDS = 3;
const MEM_CONNS = quick ? 1_000 : 10_000;
const SPLIT = !process.argv.includes('--no-split');
/** `--memory`: only the heap per connection (3.). */
const MEMORY_ONLY = process.argv.includes('--memory');
/** `--fanout`: only the fan-out (1.). */
const FANOUT_ONLY = process.argv.includes('--fanout');

const TARGET_DELIVERIES = 200_000;
const TARGET_P99_MS = 10;
const TARGET_KB = 8;

export interface ServerResult {
  fanout: {
    subscribers: number;
    /** Median deliveries/s over the runs (messages × subscribers / time). */
    deliveriesPerSec: number;
    runs: number[];
    /** Server process CPU per delivery (µs), median: 1e6 / this = what one fully busy core could deliver. */
    serverCpuUsPerDelivery: number;
    /** Reference on the same sockets: the same frame, encoded once per message, written with ws.send() per socket, each socket corked around the burst (as socketchart/server), no socketchart. */
    rawDeliveriesPerSec: number;
    rawServerCpuUsPerDelivery: number;
    /** Experiment: server.broadcast() with the TCP sockets corked around each burst. */
    corkedDeliveriesPerSec: number;
    corkedServerCpuUsPerDelivery: number;
  };
  latency: { fanout: LatencySummary; publish: LatencySummary };
  memory: {
    connections: number;
    /** JS heap per connection (bytes), socket included. */
    heapPerConn: number;
    externalPerConn: number;
    /** Of which the ws WebSocket + net.Socket objects (heap snapshot), bytes; null without the split. */
    wsPerConn: number | null;
    /** Heap per connection after one sendToUser() to every user (bytes). */
    afterSendToUserPerConn: number;
    /** Heap still held over the baseline once every client has disconnected again (bytes, all users). */
    retainedAfterCloseBytes: number;
  };
}

interface Heap {
  type: 'heap';
  heapUsed: number;
  external: number;
  rss: number;
  open: number;
}

const fork = (file: string, flags: string[] = []) => forkChild(here(import.meta.url, file), flags);

async function startServer(): Promise<{ server: ChildProcess; url: string }> {
  const server = fork('./servers/socketchart-server.ts', ['--expose-gc']);
  const { port } = await expect<{ type: 'listening'; port: number }>(server, 'listening', 30_000);
  return { server, url: `ws://127.0.0.1:${port}/` };
}

const load = () => os.loadavg().map((v) => v.toFixed(2)).join(' / ');
const ms = (v: number) => `${fixed(v, 2)} ms`;

// ─── 1. fan-out ─────────────────────────────────────────────────────────────────────────────────────

type FanoutMode = 'socketchart' | 'corked' | 'raw';
const MODES: { mode: FanoutMode; label: string }[] = [
  { mode: 'socketchart', label: 'socketchart: server.broadcast()' },
  { mode: 'raw', label: 'reference: plain ws.send(frame) loop, corked alike' },
  { mode: 'corked', label: 'experiment: server.broadcast(), sockets corked per burst' },
];

/** The `message` frame the server sends for the fan-out payload (same shape as src/server/subscription.ts encodeMessage). */
const fanoutFrameBytes = (ch: string) =>
  Buffer.byteLength(JSON.stringify({ type: 'message', ch, seq: Date.now() * 1000, data: { v: 'x'.repeat(24) }, ts: Date.now() }));

async function fanout(server: ChildProcess, url: string, clients: ChildProcess[]): Promise<ServerResult['fanout']> {
  const ch = 'bench:fanout';
  console.log(heading(`1. Fan-out — server.broadcast() to ${int(FANOUT_SUBS)} subscribers of one channel`));
  console.log(
    `server.broadcast(ch, {v: 24 chars}) in the server process, ${BURST} calls per event-loop turn, then waiting for any socket over ${HIGH_WATER / 1024} KB unsent to drain;` +
      `\n${int(FANOUT_SUBS)} raw ws subscribers in ${clients.length} client processes, counting frames from their headers; message frame ${fanoutFrameBytes(ch)} bytes of JSON.` +
      '\ndeliveries/s = messages × subscribers / (last frame counted at any client − first broadcast). Variants interleaved per round, on the same sockets:' +
      '\n  plain ws loop = the same frame text, built and encoded to bytes once per message as socketchart/server does, written with ws.send() to every' +
      '\n    server-side socket (no socketchart: the ws + kernel floor),' +
      '\n    each TCP socket corked around the burst as socketchart/server holds a socket\'s writes for the event-loop turn: one write per socket per burst in both;' +
      '\n  corked = server.broadcast() with every TCP socket corked around each burst (what coalescing a tick\'s writes per socket would give).\n',
  );
  const per = FANOUT_SUBS / clients.length;
  const t0 = performance.now();
  await Promise.all(clients.map((c, i) => ask(c, { type: 'open', url, count: per, userPrefix: `f${i}-`, ch, concurrency: 100 }, 'opened', 60_000)));
  await waitOpen(server, FANOUT_SUBS);
  console.log(`  ${int(FANOUT_SUBS)} subscribers ready in ${fixed((performance.now() - t0) / 1000, 1)} s`);

  const run = (messages: number, mode: FanoutMode) =>
    fanoutRun(server, clients, { ch, messages, subscribers: FANOUT_SUBS, burst: BURST, highWater: HIGH_WATER, mode }).then((r) => ({ ...r, mode }));
  const warm: (FanoutRun & { mode: FanoutMode })[] = [];
  for (const { mode } of MODES) warm.push(await run(quick ? 100 : 150, mode));
  const messages = Math.max(100, Math.min(5_000, Math.round((warm[0]!.rate * RUN_SECONDS) / FANOUT_SUBS / 50) * 50));
  const runs: (FanoutRun & { mode: FanoutMode })[] = [];
  for (let i = 0; i < ROUNDS; i++) for (const { mode } of MODES) runs.push(await run(messages, mode));
  const ns = (us: number, deliveries: number) => `${fixed((us * 1000) / deliveries, 0)} ns`;
  const summary = MODES.map(({ mode, label }) => {
    const mine = runs.filter((r) => r.mode === mode);
    const med = (f: (r: FanoutRun) => number) => median(mine.map(f));
    return {
      mode,
      label,
      runs: mine,
      rate: med((r) => r.rate),
      cpu: med((r) => r.serverCpuUs / r.deliveries),
      sys: med((r) => r.serverSysUs / r.deliveries),
      client: med((r) => r.clientCpuUs / r.deliveries),
      drainWaits: Math.max(...mine.map((r) => r.drainWaits)),
      maxBuffered: Math.max(...mine.map((r) => r.maxBuffered)),
    };
  });
  console.log(`  ${int(messages)} messages × ${int(FANOUT_SUBS)} subscribers = ${int(messages * FANOUT_SUBS)} deliveries per run; warm-up ${warm.map((w) => rate(w.rate)).join(' / ')}\n`);
  const sc = summary[0]!;
  console.log(
    table(
      ['variant', 'runs (k/s)', 'median deliveries/s', 'target', '', 'server CPU/delivery', '  of which kernel', 'clients CPU/delivery', 'drain waits', 'max unsent'],
      summary.map((v) => [
        v.label,
        v.runs.map((r) => fixed(r.rate / 1000, 0)).join(', '),
        rate(v.rate),
        v.mode === 'socketchart' ? `≥ ${rate(TARGET_DELIVERIES)}` : '',
        v.mode === 'socketchart' ? verdict(v.rate >= TARGET_DELIVERIES) : '',
        ns(v.cpu, 1),
        ns(v.sys, 1),
        ns(v.client, 1),
        int(v.drainWaits),
        kb(v.maxBuffered, 0),
      ]),
    ),
  );
  const raw = summary[1]!;
  const corked = summary[2]!;
  console.log(
    `\n  socketchart: ${fixed(sc.rate / raw.rate)}× the plain ws loop's deliveries/s; server CPU ${ns(sc.cpu, 1)} vs ${ns(raw.cpu, 1)} per delivery (${sc.cpu >= raw.cpu ? '+' : '-'}${ns(Math.abs(sc.cpu - raw.cpu), 1)} over ws.send);` +
      ` one fully busy server core ≈ ${rate(1e6 / sc.cpu)} (socketchart), ${rate(1e6 / corked.cpu)} (corked).` +
      '\n  server CPU/delivery: the server process\'s CPU time (user + kernel) from the first broadcast until every socket drained, ÷ deliveries; kernel time' +
      '\n  includes the loopback TCP path. On a 2-core box the server shares the CPUs with both client processes.',
  );
  await Promise.all(clients.map((c) => ask(c, { type: 'closeAll' }, 'closed')));
  await waitOpen(server, 0);
  return {
    subscribers: FANOUT_SUBS,
    deliveriesPerSec: sc.rate,
    runs: sc.runs.map((r) => r.rate),
    serverCpuUsPerDelivery: sc.cpu,
    rawDeliveriesPerSec: raw.rate,
    rawServerCpuUsPerDelivery: raw.cpu,
    corkedDeliveriesPerSec: corked.rate,
    corkedServerCpuUsPerDelivery: corked.cpu,
  };
}

// ─── 2. latency ─────────────────────────────────────────────────────────────────────────────────────

async function latency(url: string, client: ChildProcess): Promise<ServerResult['latency']> {
  console.log(heading('2. Delivery latency at 10,000 deliveries/s'));
  console.log(
    'client publish frames {type:publish, ch, data:{t}} (no id: fire and forget) through the full server path; publisher and subscribers in ONE' +
      '\nclient process: latency = performance.now() at the subscriber\'s message event − performance.now() before ws.send (one way, not halved,' +
      `\nclient-side parse included). ${fixed(LAT_WARMUP_MS / 1000, 1)} s warm-up, then ${fixed(LAT_MS / 1000, 1)} s measured; ${LAT_ROUNDS} rounds, the two shapes alternating.` +
      '\nEvery expected delivery is ranked: one not arrived 3 s after the last publish counts as +∞ (with over 1 % missing, p99 is ∞).\n',
  );
  const shapes = [
    { label: 'fan-out: 100 publishes/s → 100 subscribers', subscribers: 100, publishRate: 100, tag: 'a' },
    { label: 'publish: 10,000 publishes/s → 1 subscriber', subscribers: 1, publishRate: 10_000, tag: 'b' },
  ];
  const rounds: LatencyFigures[][] = shapes.map(() => []);
  for (let round = 0; round < LAT_ROUNDS; round++) {
    for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
      const f = await latencyCase(client, url, { ...shapes[i]!, tag: `${shapes[i]!.tag}${round}`, warmupMs: LAT_WARMUP_MS, measureMs: LAT_MS });
      rounds[i]!.push(f);
      console.log(`  round ${round + 1}: ${f.label.padEnd(44)} p50 ${latencyMs(f.p50)}, p99 ${latencyMs(f.p99)}, max ${latencyMs(f.max)} (${arrivedOf(f)})`);
    }
  }
  const [fan, pub] = rounds.map(latencySummary) as [LatencySummary, LatencySummary];
  const range = (f: LatencySummary) => `${latencyMs(f.p99Min)} – ${latencyMs(f.p99Max)}`;
  console.log(
    table(
      ['shape', 'deliveries/s', 'arrived', 'p50', 'p95', 'p99 (median)', 'p99 range', 'max', 'target p99', '', 'publisher lag p99'],
      [fan, pub].map((f) => [
        f.label,
        int(f.deliveriesPerSec),
        `${int(f.arrived)}/${int(f.expected)}`,
        latencyMs(f.p50),
        latencyMs(f.p95),
        latencyMs(f.p99),
        range(f),
        latencyMs(f.max),
        `< ${TARGET_P99_MS} ms`,
        verdict(f.p99 < TARGET_P99_MS && f.arrived === f.expected),
        ms(f.publisherLagP99),
      ]),
    ),
  );
  console.log(`  medians over ${LAT_ROUNDS} rounds; arrived: deliveries of all rounds; the verdict asks the median p99 under the target and nothing missing in any round.`);
  console.log('  publisher lag: how late each publish left against its steady schedule (timer granularity ~1 ms); it is not in the latency.');
  return { fanout: fan, publish: pub };
}

// ─── 3. memory ──────────────────────────────────────────────────────────────────────────────────────

async function memory(clients: ChildProcess[]): Promise<ServerResult['memory']> {
  console.log(heading(`3. Heap per server connection at ${int(MEM_CONNS)} connections`));
  console.log(
    `a fresh server process; warm-up (200 clients open and close); full GCs; heapUsed; ${int(MEM_CONNS)} clients (${clients.length} processes × ${int(MEM_CONNS / clients.length)})` +
      '\nauthenticate (auth frame, verify hook) and subscribe to one channel; full GCs; (after − before) / connections. Server defaults otherwise' +
      '\n(heartbeat 30 s, implicit user:<id> and broadcast:all subscriptions, metrics, a silent pino logger).\n',
  );
  const { server, url } = await startServer();
  const ch = 'bench:mem';
  await ask(clients[0]!, { type: 'open', url, count: 200, userPrefix: 'w-', ch, concurrency: 50 }, 'opened', 60_000);
  await ask(clients[0]!, { type: 'closeAll' }, 'closed');
  await waitOpen(server, 0);
  await sleep(200);
  if (SPLIT) await ask(server, { type: 'baseline' }, 'baseline', 60_000);
  const before = await ask<Heap>(server, { type: 'heap' }, 'heap');
  const t0 = performance.now();
  const per = MEM_CONNS / clients.length;
  const opened = await Promise.all(clients.map((c, i) => ask<{ type: 'opened'; ms: number }>(c, { type: 'open', url, count: per, userPrefix: `m${i}-`, ch, concurrency: 100 }, 'opened', 120_000)));
  await waitOpen(server, MEM_CONNS);
  const openMs = performance.now() - t0;
  const after = await ask<Heap>(server, { type: 'heap' }, 'heap');
  const heapPerConn = (after.heapUsed - before.heapUsed) / MEM_CONNS;
  const externalPerConn = (after.external - before.external) / MEM_CONNS;
  const rssPerConn = (after.rss - before.rss) / MEM_CONNS;
  console.log(`  ${int(MEM_CONNS)} connections authenticated and subscribed in ${fixed(openMs / 1000, 1)} s (${opened.map((o) => `${fixed(o.ms / 1000, 1)} s`).join(', ')} per client process)`);
  console.log(
    table(
      ['figure', 'before', 'after', 'per connection', 'target', ''],
      [
        ['JS heap (heapUsed)', `${fixed(before.heapUsed / 2 ** 20, 1)} MB`, `${fixed(after.heapUsed / 2 ** 20, 1)} MB`, kb(heapPerConn), `≤ ${TARGET_KB} KB`, verdict(heapPerConn <= TARGET_KB * 1024)],
        ['external (Buffers, ArrayBuffers)', `${fixed(before.external / 2 ** 20, 1)} MB`, `${fixed(after.external / 2 ** 20, 1)} MB`, kb(externalPerConn), '', ''],
        ['RSS (reference: includes kernel-side and allocator slack)', `${fixed(before.rss / 2 ** 20, 1)} MB`, `${fixed(after.rss / 2 ** 20, 1)} MB`, kb(rssPerConn), '', ''],
      ],
    ),
  );

  let wsPerConn: number | null = null;
  if (SPLIT) {
    const t1 = performance.now();
    const { split } = await ask<{ type: 'snapshot'; split: Split }>(server, { type: 'snapshot' }, 'snapshot', 120_000);
    const n = Math.max(1, split.connections);
    console.log(
      `\n  Where the bytes go — heap snapshot in the server (${fixed((performance.now() - t1) / 1000, 1)} s): ${int(split.connections)} ServerConnection objects; new JS-heap objects` +
        ` ${kb(split.newBytes / n)}/conn (V8 shallow sizes; heapUsed above also counts allocator slack), plus ${kb(split.offHeapBytes / n)}/conn off-heap.` +
        '\n  Each component is walked from its root without crossing another root, in this order; an object two share goes to the first.\n',
    );
    console.log(
      table(
        ['component', 'heap/conn', 'objects/conn', 'largest kinds (bytes × count, per conn)'],
        split.rows.map((r) => [r.label, kb(r.bytes / n), fixed(r.objects / n, 1), r.kinds]),
      ),
    );
    wsPerConn = split.rows[0]!.bytes / n;
    const own = split.rows.slice(1).reduce((s, r) => s + r.bytes, 0) / n;
    console.log(`  ⇒ ws socket ${kb(wsPerConn)}; socketchart's own per-connection state ${kb(own)} (everything else above)`);
  }

  const t2 = performance.now();
  for (let i = 0; i < clients.length; i++) await ask(server, { type: 'sendToUsers', prefix: `m${i}-`, count: per }, 'sent', 60_000);
  const sendMs = performance.now() - t2;
  const afterSend = await ask<Heap>(server, { type: 'heap' }, 'heap');
  const afterSendToUserPerConn = (afterSend.heapUsed - before.heapUsed) / MEM_CONNS;
  await Promise.all(clients.map((c) => ask(c, { type: 'closeAll' }, 'closed')));
  await waitOpen(server, 0);
  const afterClose = await ask<Heap>(server, { type: 'heap' }, 'heap');
  const leftAfterClose = afterClose.heapUsed - before.heapUsed;
  console.log(
    `\n  after one sendToUser() to each of the ${int(MEM_CONNS)} users (${fixed(sendMs, 0)} ms): heap ${kb(afterSendToUserPerConn)}/conn ` +
      `(+${kb(afterSendToUserPerConn - heapPerConn)}); after all ${int(MEM_CONNS)} disconnect: still +${fixed(leftAfterClose / 2 ** 20, 1)} MB over the baseline` +
      ` (${kb(leftAfterClose / MEM_CONNS)} per departed user).` +
      '\n  Every channel that carries a message keeps its own history (a MessageRing that grows with use up to historySize) for' +
      '\n  historyTtlMs (24 h) after its last use: what stays after the users left is their channels\' entries and one message each.',
  );
  tell(server, { type: 'exit' });
  await stopChild(server);
  return { connections: MEM_CONNS, heapPerConn, externalPerConn, wsPerConn, afterSendToUserPerConn, retainedAfterCloseBytes: leftAfterClose };
}

// ─── main ───────────────────────────────────────────────────────────────────────────────────────────

async function metricsCost(server: ChildProcess): Promise<void> {
  const m = await ask<{ type: 'metricsCost'; countOutNs: number; byteLengthNs: number; sendTextBaseNs: number }>(server, { type: 'metricsCost', n: 2_000_000 }, 'metricsCost');
  console.log(
    `\n  per-frame bookkeeping in Connection.sendText, measured alone in the server process: metrics.countOut() ${fixed(m.countOutNs, 0)} ns` +
      ` (prom-client labels().inc re-hashes the label object on every call) + Buffer.byteLength(text) ${fixed(m.byteLengthNs, 0)} ns per delivery.`,
  );
}

async function main(): Promise<ServerResult | undefined> {
  const startedAt = performance.now();
  console.log(heading('Server — socketchart/server on loopback: fan-out, delivery latency, heap per connection'));
  console.log(
    'createServer() (in-memory backend, no Redis) in its own process; auth: verify hook accepting any token as the user id (no JWT);' +
      '\nraw ws clients (message-mode auth, then subscribe) in 2 client processes; 127.0.0.1, OS ports.' +
      `\n${os.cpus().length} CPU(s); load average 1/5/15 min at start: ${load()}`,
  );
  const clients = [fork('./servers/server-clients.ts'), fork('./servers/server-clients.ts')];
  const ready = Promise.all(clients.map((c) => expect(c, 'ready', 30_000)));
  let fan: ServerResult['fanout'] | undefined;
  let lat: ServerResult['latency'] | undefined;
  if (!MEMORY_ONLY) {
    const { server, url } = await startServer();
    await ready;
    fan = await fanout(server, url, clients);
    if (!FANOUT_ONLY) {
      await metricsCost(server);
      lat = await latency(url, clients[0]!);
    }
    tell(server, { type: 'exit' });
    await stopChild(server);
  }
  await ready;
  const mem = FANOUT_ONLY ? undefined : await memory(clients);
  for (const c of clients) tell(c, { type: 'exit' });
  await Promise.all(clients.map((c) => stopChild(c)));
  console.log(`\nserver bench: ${fixed((performance.now() - startedAt) / 1000, 1)} s; load average at end: ${load()}`);
  return fan && lat && mem ? { fanout: fan, latency: lat, memory: mem } : undefined;
}

try {
  const result = await main();
  if (result) toParent({ type: 'result', bench: 'server', result });
  process.exit(0);
} catch (error) {
  console.error('server bench failed:', error);
  await Promise.all(children.map((c) => stopChild(c, 500)));
  process.exit(1);
}
