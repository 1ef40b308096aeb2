/**
 * Memory: JS heap per connection for 1,000 connections, socket included, against a plain `ws` server in a
 * separate process (servers/plain-server.ts). Needs --expose-gc (run.ts forks it with the flag).
 *
 * For each variant: warm up, GC, read heapUsed; open 1,000 connections (100 at a time) and wait until all
 * are open/connected; GC; read heapUsed; report (after − before) / 1,000. ROUNDS rounds, the variants' order
 * rotated each round; the figures are medians, with the range over rounds. Then a breakdown of socketchart's
 * bytes: (A) a differential with an in-memory socket, building the connection up piece by piece, and
 * (B) a heap-snapshot attribution of the objects 1,000 real socketchart connections add.
 *
 * Run alone: `node --expose-gc --import tsx test/bench/memory.ts [--quick] [--rounds N]`.
 */
import WebSocket from 'ws';
import { createActor, createMachine } from 'xstate';
import { createConnection, heartbeatMachine, type Connection, type ConnectionOptions, type WebSocketConstructor } from '../../src/index.node.js';
import { resolveOptions } from '../../src/connection/options.js';
import { ConnectionRuntime } from '../../src/connection/runtime.js';
import { allFeatures } from '../../src/connection/optional-features.js';
import { FakeSocket } from './lib/fake-socket.js';
import { openRaw, whenConnected } from './lib/clients.js';
import { attribute, child, isNewMask, isOffHeap, nodeIds, nodesNamed, path, takeHeapSnapshot, totalsByKind, type HeapGraph, type KindTotal } from './lib/heap-snapshot.js';
import { forkTs, here, isType, nextMessage, stopChild, toParent } from './lib/proc.js';
import { closeAll as closeAllOn, heapPerConnection, openAll as openAllOn, settleHeap, type Variant } from './lib/held.js';
import { fixed, heading, int, kb, sleep, table, verdict } from './lib/stats.js';

const quick = process.argv.includes('--quick');
const N = 1_000;
const TARGET_KB = 7.9;
/** Rounds of every variant, the order rotated each round (a variant measured after another reads its leftovers differently). */
const ROUNDS = process.argv.includes('--rounds') ? Number(process.argv[process.argv.indexOf('--rounds') + 1]) : quick ? 1 : 3;

const server = forkTs(here(import.meta.url, './servers/plain-server.ts'));
let url = '';

const socketchartOptions = (heartbeat: boolean): ConnectionOptions => ({ url, ...(heartbeat ? {} : { heartbeat: false }) });

const bareMachine = createMachine({ id: 'bare', initial: 'idle', states: { idle: {} } });

const variants = {
  raw: {
    label: 'raw ws client',
    open: () => openRaw(url),
    close: (ws: WebSocket) => ws.terminate(),
    sockets: true,
  } satisfies Variant<WebSocket>,
  rawActor: {
    label: 'raw ws + started bare XState actor',
    open: async () => ({ ws: await openRaw(url), actor: createActor(bareMachine).start() }),
    close: (item: { ws: WebSocket; actor: { stop(): void } }) => {
      item.actor.stop();
      item.ws.terminate();
    },
    sockets: true,
  } satisfies Variant<{ ws: WebSocket; actor: { stop(): void } }>,
  scNoHeartbeat: {
    label: 'socketchart, heartbeat off (queue on)',
    open: async () => {
      const connection = createConnection(socketchartOptions(false)).start();
      await whenConnected(connection);
      return connection;
    },
    close: (connection: Connection) => connection.dispose(),
    sockets: true,
  } satisfies Variant<Connection>,
  scDefault: {
    label: 'socketchart, default (heartbeat on, queue on)',
    open: async () => {
      const connection = createConnection(socketchartOptions(true)).start();
      await whenConnected(connection);
      return connection;
    },
    close: (connection: Connection) => connection.dispose(),
    sockets: true,
  } satisfies Variant<Connection>,
};

const openAll = <T>(variant: Variant<T>, count = N) => openAllOn(server, variant, count);
const closeAll = <T>(variant: Variant<T>, items: T[]) => closeAllOn(server, variant, items);

interface Measured {
  label: string;
  perConn: number;
  externalPerConn: number;
}

/** Opens N, measures, and hands the open items to `whileOpen` before closing them. */
async function measure<T>(variant: Variant<T>, whileOpen?: (items: T[], before: { heap: number }) => Promise<void>): Promise<Measured> {
  return heapPerConnection(server, variant, N, async (items, before, result) => {
    console.log(`  ${variant.label.padEnd(48)} ${kb(result.perConn)}/conn`);
    await whileOpen?.(items, before);
  });
}

// ─── breakdown A: differential with an in-memory socket ─────────────────────────────────────────────

async function heapOf<T>(label: string, build: () => Promise<T> | T, teardown?: (items: T[]) => void): Promise<{ label: string; perConn: number }> {
  const before = await settleHeap();
  const items: T[] = [];
  for (let i = 0; i < N; i++) items.push(await build());
  const after = await settleHeap();
  const perConn = (after.heap - before.heap) / N;
  teardown?.(items);
  items.length = 0;
  await settleHeap();
  return { label, perConn };
}

const fakeOptions = (heartbeat: boolean): ConnectionOptions => ({
  url: 'ws://fake.invalid/bench',
  WebSocket: FakeSocket as unknown as WebSocketConstructor,
  ...(heartbeat ? {} : { heartbeat: false }),
});

async function fakeConnected(heartbeat: boolean): Promise<Connection> {
  const connection = createConnection(fakeOptions(heartbeat)).start();
  await whenConnected(connection);
  return connection;
}

async function differential() {
  // warm every path once
  for (let i = 0; i < 50; i++) {
    (await fakeConnected(true)).dispose();
    (await fakeConnected(false)).dispose();
  }
  const rows = [
    await heapOf('resolveOptions() result', () => resolveOptions(fakeOptions(true))),
    await heapOf('ConnectionRuntime (+ its options, metrics, router)', () => new ConnectionRuntime(resolveOptions(fakeOptions(true)), allFeatures)),
    await heapOf('started bare XState actor (1-state machine; incl. its own system)', () => createActor(bareMachine).start(), (items) => items.forEach((a) => a.stop())),
    await heapOf('started heartbeatMachine actor alone (waiting, 30 s timer; incl. its own system)', () => createActor(heartbeatMachine, { input: { timeoutMs: 5_000 } }).start(), (items) =>
      items.forEach((a) => a.stop()),
    ),
    await heapOf('Connection created, not started (idle)', () => createConnection(fakeOptions(true)), (items) => items.forEach((c) => c.dispose())),
    await heapOf('Connection connected, heartbeat off (in-memory socket)', () => fakeConnected(false), (items) => items.forEach((c) => c.dispose())),
    await heapOf('Connection connected, heartbeat on (in-memory socket)', () => fakeConnected(true), (items) => items.forEach((c) => c.dispose())),
  ];
  return rows;
}

// ─── breakdown B: heap snapshot attribution ─────────────────────────────────────────────────────────

const componentLabels = [
  'heartbeat child actor (Actor, snapshot, context, scope)',
  'socket child actor (Actor, socket link)',
  'flusher child actor',
  'actor system (registry maps, scheduler, timers)',
  'root actor: connection machine Actor, snapshot, context',
  'ws client socket: WebSocket, net.Socket, Receiver, Sender, socket handlers',
  'ConnectionMetrics (incl. latency samples, state history)',
  'Router',
  'resolved options object',
  'ConnectionRuntime (rest)',
  'Connection object (rest)',
];

function rootsOf(g: HeapGraph, conn: number): number[] {
  const actor = child(g, conn, 'current');
  const rt = child(g, conn, 'rt');
  const children = path(g, actor, '_snapshot.children');
  return [
    child(g, children, 'heartbeat'),
    child(g, children, 'socket'),
    child(g, children, 'flusher'),
    child(g, actor, 'system'),
    actor,
    child(g, rt, 'ws'),
    child(g, rt, 'metrics'),
    child(g, rt, 'routes_'),
    child(g, rt, 'options'),
    rt,
    conn,
  ];
}

async function snapshotBreakdown() {
  const baseline = nodeIds(await takeHeapSnapshot());
  const items = await openAll(variants.scDefault);
  const g = await takeHeapSnapshot();
  const isNew = isNewMask(g, baseline);
  const connections = nodesNamed(g, 'object', 'Connection').filter((n) => isNew[n] && child(g, n, 'rt') >= 0);
  const roots = connections.map((c) => rootsOf(g, c));
  const { components, unclaimed } = attribute(g, isNew, componentLabels, roots);
  let newBytes = 0;
  let newOffHeap = 0;
  for (let n = 0; n < g.nodeCount; n++) if (isNew[n]) (isOffHeap(g, n) ? (newOffHeap += g.size[n]!) : (newBytes += g.size[n]!));
  const byKind = totalsByKind(g, (n) => isNew[n] === 1);
  const unclaimedByKind = totalsByKind(g, (n) => unclaimed[n] === 1);
  await closeAll(variants.scDefault, items);
  return { found: connections.length, components, newBytes, newOffHeap, byKind, unclaimedByKind };
}

// ─── main ───────────────────────────────────────────────────────────────────────────────────────────

/** Bytes per connection: medians over ROUNDS rounds; `ranges` gives each figure's lowest and highest round. */
export interface MemoryResult {
  raw: number;
  rawActor: number;
  scNoHeartbeat: number;
  scDefault: number;
  scSteady: number | null;
  rounds: number;
  ranges: Record<'raw' | 'rawActor' | 'scNoHeartbeat' | 'scDefault' | 'scSteady', [number, number] | null>;
}

const rangeOf = (values: number[]): [number, number] | null => (values.length === 0 ? null : [Math.min(...values), Math.max(...values)]);
const medianOf = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
/** "7.43 KB (7.41–7.47)" over several rounds, "7.43 KB" over one. */
const withRange = (median: number, range: [number, number] | null) =>
  range === null || ROUNDS < 2 ? kb(median) : `${kb(median)} (${fixed(range[0] / 1024)}–${fixed(range[1] / 1024)})`;

async function main(): Promise<MemoryResult> {
  const listening = await nextMessage(server, isType<{ type: 'listening'; port: number }>('listening'), 30_000);
  url = `ws://127.0.0.1:${listening.port}`;
  console.log(heading(`Memory — JS heap per connection, ${int(N)} connections held open, socket included`));
  console.log(`heapUsed after full GCs, (after − before) / ${int(N)}; plain ws server in a separate process; socketchart: createConnection(), no auth, default heartbeat (30 s) unless noted\n`);

  // warm-up: every variant once, small
  for (const variant of Object.values(variants) as Variant<unknown>[]) await closeAll(variant, await openAll(variant, 100));

  const order = ['raw', 'rawActor', 'scNoHeartbeat', 'scDefault'] as const;
  type Key = (typeof order)[number];
  const runs: Record<Key | 'scSteady', Measured[]> = { raw: [], rawActor: [], scNoHeartbeat: [], scDefault: [], scSteady: [] };
  for (let round = 0; round < ROUNDS; round++) {
    console.log(`measuring, round ${round + 1}/${ROUNDS}`);
    for (const key of order.map((_, i) => order[(i + round) % order.length]!)) {
      const variant = variants[key] as Variant<unknown>;
      runs[key].push(
        await measure(variant, async (_items, before) => {
          if (key !== 'scDefault' || quick) return;
          // `connected` holds a minUptime timer (5 s) until the connection counts as stable; measure after it too.
          await sleep(5_500);
          const steady = ((await settleHeap()).heap - before.heap) / N;
          runs.scSteady.push({ label: 'steady', perConn: steady, externalPerConn: Number.NaN });
          console.log(`  ${'  same, 5.5 s later (minUptime fired)'.padEnd(48)} ${kb(steady)}/conn`);
        }),
      );
    }
  }
  const figure = (key: Key | 'scSteady') => {
    const values = runs[key].map((r) => r.perConn);
    return { median: values.length === 0 ? Number.NaN : medianOf(values), range: rangeOf(values), external: medianOf(runs[key].map((r) => r.externalPerConn)) };
  };
  const raw = figure('raw');
  const rawActor = figure('rawActor');
  const scNoHeartbeat = figure('scNoHeartbeat');
  const scDefault = figure('scDefault');
  const steady = runs.scSteady.length > 0 ? figure('scSteady') : null;

  const rows = [
    [variants.raw.label, withRange(raw.median, raw.range), kb(raw.external), '', '', ''],
    [variants.rawActor.label, withRange(rawActor.median, rawActor.range), kb(rawActor.external), `+${kb(rawActor.median - raw.median)}`, '', ''],
    [variants.scNoHeartbeat.label, withRange(scNoHeartbeat.median, scNoHeartbeat.range), kb(scNoHeartbeat.external), `+${kb(scNoHeartbeat.median - raw.median)}`, '', ''],
    [`${variants.scDefault.label}, first minUptimeMs (stability timer pending)`, withRange(scDefault.median, scDefault.range), kb(scDefault.external), `+${kb(scDefault.median - raw.median)}`, '', ''],
  ];
  if (steady !== null) {
    rows.push([
      '  same, held open (minUptime timer fired: steady state)',
      withRange(steady.median, steady.range),
      '',
      `+${kb(steady.median - raw.median)}`,
      `≤ ${TARGET_KB} KB`,
      verdict(steady.median <= TARGET_KB * 1024),
    ]);
  }
  console.log(`\nHeap per connection (socket included): median of ${ROUNDS} round(s), the variants' order rotated each round${ROUNDS > 1 ? '; (lowest–highest round) in KB' : ''}`);
  console.log(table(['variant', 'heap/conn', 'external/conn', 'vs raw ws', 'target', ''], rows));
  console.log('  external = ArrayBuffers/Buffers outside the JS heap (socket read buffers etc.), shown for reference, not in the target');

  console.log('\nBreakdown A — differential, in-memory socket (no TCP): what each piece adds per connection');
  const diff = await differential();
  console.log(table(['piece (1,000 held, heap/each)', 'heap/each'], diff.map((r) => [r.label, kb(r.perConn)])));
  const get = (prefix: string) => diff.find((r) => r.label.startsWith(prefix))!.perConn;
  const idle = get('Connection created');
  const hbOff = get('Connection connected, heartbeat off');
  const hbOn = get('Connection connected, heartbeat on');
  const runtime = get('ConnectionRuntime');
  console.log(
    `  ⇒ root actor + system (idle) ≈ ${kb(idle - runtime)}; connected adds ${kb(hbOff - idle)} (socket + heartbeat children, timers, snapshots);` +
      ` heartbeat on adds ${kb(hbOn - hbOff)} over off (the heartbeat child exists either way, parked in 'off')`,
  );

  console.log(`\nBreakdown B — heap snapshot: objects 1,000 real socketchart connections (default options) add, per connection`);
  const b = await snapshotBreakdown();
  const perConn = (bytes: number) => fixed(bytes / N / 1024);
  const kinds = (list: Iterable<KindTotal>, count = 4) =>
    [...list]
      .sort((x, y) => y.bytes - x.bytes)
      .slice(0, count)
      .map((k) => `${k.kind} ${int(k.bytes / N)} B×${fixed(k.count / N, 1)}`)
      .join(', ');
  console.log(
    `  ${b.found} Connection objects found. New JS-heap objects: ${kb(b.newBytes / N)}/conn, plus ${kb(b.newOffHeap / N)}/conn off-heap ` +
      '(ArrayBuffer backing stores, native handles).\n' +
      '  V8 shallow sizes; each component is walked from its root without crossing another component\'s root, in this order,\n' +
      '  so an object two components share goes to the first. heap KB excludes off-heap.\n',
  );
  const unclaimedHeap = b.unclaimedByKind.reduce((s, k) => s + k.bytes, 0);
  const unclaimedOff = b.unclaimedByKind.reduce((s, k) => s + k.offHeap, 0);
  console.log(
    table(
      ['component', 'heap KB/conn', 'off-heap KB', 'objects', 'largest kinds (bytes × count, per conn)'],
      [
        ...b.components.map((c) => [c.label, perConn(c.bytes), perConn(c.offHeap), fixed(c.nodes / N, 1), kinds(c.kinds.values())]),
        ['(no connection reaches it: JIT code, caches, …)', perConn(unclaimedHeap), perConn(unclaimedOff), '', kinds(b.unclaimedByKind, 3)],
      ],
    ),
  );
  const xstateHeap = b.components.filter((c) => /actor|system/.test(c.label) && !c.label.startsWith('ws client')).reduce((s, c) => s + c.bytes, 0);
  const plainHeap = b.components.filter((c) => /Metrics|Router|options|Runtime|Connection object/.test(c.label)).reduce((s, c) => s + c.bytes, 0);
  console.log(
    `  ⇒ XState actors (root + children + system): ${kb(xstateHeap / N)}; socketchart's plain objects (runtime, metrics, router, options, Connection): ${kb(plainHeap / N)};` +
      ` the ws socket: ${kb(b.components.find((c) => c.label.startsWith('ws client'))!.bytes / N)}`,
  );
  console.log('\n  Largest kinds of new JS-heap objects overall, per connection');
  console.log(table(['kind', 'bytes/conn', 'count/conn'], b.byKind.filter((k) => k.bytes > 0).slice(0, 12).map((k) => [k.kind, int(k.bytes / N), fixed(k.count / N, 1)])));

  return {
    raw: raw.median,
    rawActor: rawActor.median,
    scNoHeartbeat: scNoHeartbeat.median,
    scDefault: scDefault.median,
    scSteady: steady?.median ?? null,
    rounds: ROUNDS,
    ranges: { raw: raw.range, rawActor: rawActor.range, scNoHeartbeat: scNoHeartbeat.range, scDefault: scDefault.range, scSteady: steady?.range ?? null },
  };
}

try {
  const result = await main();
  toParent({ type: 'result', bench: 'memory', result });
  server.send({ type: 'exit' });
  await stopChild(server);
  process.exit(0);
} catch (error) {
  console.error('memory bench failed:', error);
  await stopChild(server, 500);
  process.exit(1);
}
