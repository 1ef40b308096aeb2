/**
 * In-process data-plane cost per message, with an in-memory socket (lib/fake-socket.ts): no network, no
 * second process, so the library's own per-message work (time and heap allocation) is isolated from TCP,
 * `ws` framing and scheduling noise. Same inputs for every variant; interleaved rounds; medians.
 *
 * Run alone: `node --expose-gc --import tsx test/bench/micro.ts [--quick]`.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { createActor, setup } from 'xstate';
import { createConnection, type Connection } from '../../src/index.node.js';
import type { WebSocketConstructor } from '../../src/index.js';
import { FakeSocket } from './lib/fake-socket.js';
import { CHANNEL, OUTBOUND_MESSAGE, messageFrame } from './lib/frames.js';
import { whenConnected } from './lib/clients.js';
import { toParent } from './lib/proc.js';
import { fixed, heading, int, median, min, sleep, table, tick } from './lib/stats.js';

const quick = process.argv.includes('--quick');
const M = quick ? 50_000 : 200_000;
const ROUNDS = quick ? 3 : 7;
const SEND_M = M * 5;
const ALLOC_OPS = Math.min(10_000, M / 10); // at most 10 stretches, each with frames (sequence numbers) not used before

const gcFn = (globalThis as { gc?: () => void }).gc;
if (!gcFn) {
  console.error('micro.ts needs --expose-gc');
  process.exit(2);
}
const gc = gcFn;

let gcCount = 0;
new PerformanceObserver((list) => {
  gcCount += list.getEntries().length;
}).observe({ entryTypes: ['gc'] });

/**
 * Bytes allocated per call of `op`: heapUsed growth across `ops` calls with no GC in between (a stretch in
 * which a GC ran is discarded). The minimum of several stretches is kept: JIT work (feedback, code) and
 * lazy allocation only ever add to a stretch, so the smallest one is the steady-state figure.
 */
async function allocPerOp(op: (i: number) => void, ops = ALLOC_OPS, stretches = 5): Promise<number> {
  let best = Number.NaN;
  let offset = 0;
  for (let attempt = 0; attempt < stretches * 2 && !(attempt >= stretches && !Number.isNaN(best)); attempt++) {
    gc();
    await sleep(20); // the forced GC's own entry reaches the observer asynchronously
    const seen = gcCount;
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < ops; i++) op(offset + i);
    const after = process.memoryUsage().heapUsed;
    offset += ops;
    await sleep(20);
    if (gcCount === seen && after >= before) {
      const perOp = (after - before) / ops;
      if (Number.isNaN(best) || perOp < best) best = perOp;
    }
  }
  return best;
}

const frames = Array.from({ length: M }, (_, i) => Buffer.from(messageFrame(i + 1)));
let sink = 0;
// One listener per variant, each its own function literal (V8 keeps type feedback per literal), so no
// variant's call pattern slows another's listener down.
const rawListener = (data: unknown) => {
  if (data !== undefined) sink++;
};
const scListener = (data: unknown) => {
  if (data !== undefined) sink++;
};
const xsListener = (data: unknown) => {
  if (data !== undefined) sink++;
};

type Handler = (data: Buffer, isBinary: boolean) => void;

const rawHandler: Handler = (buf, isBinary) => {
  if (isBinary) return;
  const msg = JSON.parse(buf.toString()) as { type: string; ch?: string; data: unknown };
  if (msg.type === 'message' && msg.ch === CHANNEL) rawListener(msg.data);
};

const machine = setup({
  types: {} as { events: { type: 'message'; data: unknown; msg: unknown } },
  actions: { deliver: ({ event }) => xsListener(event.data) },
}).createMachine({ initial: 'open', states: { open: { on: { message: { actions: 'deliver' } } } } });

function xstateHandler(): { handler: Handler; stop: () => void } {
  const actor = createActor(machine).start();
  return {
    handler: (buf, isBinary) => {
      if (isBinary) return;
      const msg = JSON.parse(buf.toString()) as { type: string; ch?: string; data: unknown };
      if (msg.type === 'message' && msg.ch === CHANNEL) actor.send({ type: 'message', data: msg.data, msg });
    },
    stop: () => actor.stop(),
  };
}

async function connected(): Promise<{ connection: Connection; socket: FakeSocket }> {
  const connection = createConnection({ url: 'ws://fake.invalid/bench', WebSocket: FakeSocket as unknown as WebSocketConstructor });
  connection.subscribe(CHANNEL, scListener);
  connection.start();
  await whenConnected(connection);
  const socket = FakeSocket.last!;
  if (!socket.messageListener) throw new Error('socketchart did not attach a ws-style message listener');
  return { connection, socket };
}

/** CPU time (user + system) of this process, in ns: unlike wall time, barely moved by other processes on the box. */
function cpuNs(from?: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(from);
  return (used.user + used.system) * 1000;
}

function timeLoop(handler: Handler, count: number): number {
  const start = process.cpuUsage();
  for (let i = 0; i < count; i++) handler(frames[i]!, false);
  return cpuNs(start) / count;
}

function timeSend(send: (message: string) => unknown, count: number): number {
  const message = OUTBOUND_MESSAGE;
  const start = process.cpuUsage();
  for (let i = 0; i < count; i++) send(message);
  return cpuNs(start) / count;
}

export interface MicroResult {
  receive: { raw: number; socketchart: number; xstate: number; rawAlloc: number; scAlloc: number; xsAlloc: number };
  send: { raw: number; socketchart: number; rawAlloc: number; scAlloc: number };
}

async function main(): Promise<MicroResult> {
  console.log(heading('Data plane per message, in process (in-memory socket: no TCP, no ws framing, no second process)'));
  console.log(`${int(M)} messages per receive run, ${int(SEND_M)} per send run, ${ROUNDS} interleaved rounds, medians of process CPU time (user+sys, so other load on the box matters less);\n` +
      `allocation = smallest heapUsed growth per op over 5 stretches of ${int(ALLOC_OPS)} ops with no GC in between\n`);
  const t = { raw: [] as number[], sc: [] as number[], xs: [] as number[], sendRaw: [] as number[], sendSc: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    gc();
    t.raw.push(timeLoop(rawHandler, M));
    const { connection, socket } = await connected();
    gc();
    t.sc.push(timeLoop(socket.messageListener!, M));
    connection.dispose();
    const xs = xstateHandler();
    gc();
    t.xs.push(timeLoop(xs.handler, M));
    xs.stop();

    const raw = new FakeSocket('ws://fake.invalid/raw');
    await tick();
    gc();
    t.sendRaw.push(timeSend((m) => raw.send(m), SEND_M));
    const sc = await connected();
    gc();
    t.sendSc.push(timeSend((m) => sc.connection.send(m), SEND_M));
    const out = sc.connection.metrics().messagesOut;
    if (out !== SEND_M || sc.connection.queued !== 0) throw new Error(`socketchart send left the fast path (${out} written, ${sc.connection.queued} queued)`);
    sc.connection.dispose();
  }

  // Allocation (fresh connection so sequence numbers are new to the router).
  const rawAlloc = await allocPerOp((i) => rawHandler(frames[i]!, false));
  const a = await connected();
  const scAlloc = await allocPerOp((i) => a.socket.messageListener!(frames[i]!, false));
  a.connection.dispose();
  const xs = xstateHandler();
  const xsAlloc = await allocPerOp((i) => xs.handler(frames[i]!, false), 1_000); // ~5 KB/event: keep a stretch inside the young generation
  xs.stop();
  const rawSocket = new FakeSocket('ws://fake.invalid/raw');
  await tick();
  const sendRawAlloc = await allocPerOp(() => rawSocket.send(OUTBOUND_MESSAGE));
  const b = await connected();
  const sendScAlloc = await allocPerOp(() => b.connection.send(OUTBOUND_MESSAGE));
  b.connection.dispose();

  const r = { raw: median(t.raw), sc: median(t.sc), xs: median(t.xs), sendRaw: median(t.sendRaw), sendSc: median(t.sendSc) };
  const lo = { raw: min(t.raw), sc: min(t.sc), xs: min(t.xs), sendRaw: min(t.sendRaw), sendSc: min(t.sendSc) };
  const ns = (v: number) => `${fixed(v, 0)} ns`;
  const b8 = (v: number) => (Number.isNaN(v) ? 'n/a' : `${fixed(v, 0)} B`);
  const plus = (v: number) => `${v >= 0 ? '+' : ''}${fixed(v, 0)} ns`;
  const plusB = (v: number) => (Number.isNaN(v) ? 'n/a' : `${Math.round(v) >= 0 ? '+' : '-'}${fixed(Math.abs(v), 0)} B`);
  console.log(
    table(
      ['path', 'CPU/msg median', 'vs raw', 'min', 'vs raw', 'heap alloc/msg', 'vs raw'],
      [
        ['receive raw: buf.toString + JSON.parse + listener', ns(r.raw), '', ns(lo.raw), '', b8(rawAlloc), ''],
        ["receive socketchart: ws 'message' handler → decode → router → listener", ns(r.sc), plus(r.sc - r.raw), ns(lo.sc), plus(lo.sc - lo.raw), b8(scAlloc), plusB(scAlloc - rawAlloc)],
        ['receive raw + 1 XState event (actor.send → action → listener)', ns(r.xs), plus(r.xs - r.raw), ns(lo.xs), plus(lo.xs - lo.raw), b8(xsAlloc), plusB(xsAlloc - rawAlloc)],
        ['send raw: socket.send(string) (in-memory socket: ~no work)', ns(r.sendRaw), '', ns(lo.sendRaw), '', b8(sendRawAlloc), ''],
        ['send socketchart: connection.send(string), fast path', ns(r.sendSc), plus(r.sendSc - r.sendRaw), ns(lo.sendSc), plus(lo.sendSc - lo.sendRaw), b8(sendScAlloc), plusB(sendScAlloc - sendRawAlloc)],
      ],
    ),
  );
  console.log(`  runs (CPU ns/msg): receive raw ${t.raw.map((v) => fixed(v, 0)).join('/')}, socketchart ${t.sc.map((v) => fixed(v, 0)).join('/')}, XState ${t.xs.map((v) => fixed(v, 0)).join('/')}`);
  console.log(`                     send raw ${t.sendRaw.map((v) => fixed(v, 0)).join('/')}, socketchart ${t.sendSc.map((v) => fixed(v, 0)).join('/')}`);
  if (sink === 0) console.log('(listener never ran)');
  return {
    receive: { raw: r.raw, socketchart: r.sc, xstate: r.xs, rawAlloc, scAlloc, xsAlloc },
    send: { raw: r.sendRaw, socketchart: r.sendSc, rawAlloc: sendRawAlloc, scAlloc: sendScAlloc },
  };
}

try {
  const result = await main();
  toParent({ type: 'result', bench: 'micro', result });
  process.exit(0);
} catch (error) {
  console.error('micro bench failed:', error);
  process.exit(1);
}
