/**
 * Throughput: a socketchart connection (createConnection from the Node entry, default options: heartbeat
 * on, queue on) against raw `ws` doing the same application work, in the same process and run, on
 * loopback, against a server in a separate process (servers/throughput-server.ts).
 *
 * Receive: the server writes N 60-byte `message` frames as fast as TCP accepts them; the client measures
 *   msgs/s from its first to its N-th delivered message.
 *   - raw ws:      ws.on('message') → JSON.parse(buf.toString()) → type/channel check → listener(data, msg)
 *   - socketchart: connection.subscribe(ch, listener) — the socket actor's data path → protocol decode →
 *                  router → listener(data, msg)
 *   - reference:   raw ws + JSON.parse + one XState event per message (actor.send → an action calls the
 *                  listener): what routing data through a statechart would cost.
 * Send: the client writes N copies of one constant 60-byte JSON string (the same string object for both:
 *   socketchart's send(string) passes strings through unchanged, so no JSON.stringify on either side),
 *   in bursts of BURST, and waits for the TCP socket's `drain` whenever bufferedAmount ≥ SEND_LIMIT (below
 *   socketchart's 1 MiB high-water mark, so its fast path stays open). The server counts frames and
 *   measures msgs/s from the first to the N-th frame it receives.
 *
 * Runs are interleaved (raw, socketchart, reference, raw, …) after one warm-up run of each; figures are
 * medians. Run alone: `node --expose-gc --import tsx test/bench/throughput.ts [--quick]`.
 */
import WebSocket from 'ws';
import { createActor, setup } from 'xstate';
import { createConnection, type Connection } from '../../src/index.node.js';
import { CHANNEL, FRAME_BYTES, OUTBOUND_MESSAGE, messageFrame } from './lib/frames.js';
import { drained, openRaw, socketOfConnection, tcpOf, whenConnected } from './lib/clients.js';
import { forkTs, here, isType, nextMessage, stopChild, toParent } from './lib/proc.js';
import { fixed, heading, int, median, rate, table, tick, verdict } from './lib/stats.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 3;
const RECV_N = quick ? 200_000 : 2_000_000;
const RECV_N_XSTATE = quick ? 100_000 : 500_000;
const SEND_N = quick ? 200_000 : 1_000_000;
const WARMUP_N = quick ? 50_000 : 200_000;
const BURST = 256;
const SEND_LIMIT = 256 * 1024;
const YIELD_EVERY = 16_384;
const TARGET = 0.95;

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

type Listener = (data: unknown, message: unknown) => void;

/** The application's listener, identical for every variant: counts and timestamps first and last message. */
function counter(n: number) {
  let count = 0;
  let first = 0;
  let last = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  let sink = 0;
  const listener: Listener = (data) => {
    if (data !== undefined) sink++;
    if (++count === 1) first = performance.now();
    if (count === n) {
      last = performance.now();
      resolve();
    }
  };
  return { listener, done, rate: () => (n - 1) / ((last - first) / 1000), check: () => sink };
}

const server = forkTs(here(import.meta.url, './servers/throughput-server.ts'));
const serverError = new Promise<never>((_, reject) => {
  server.on('message', (m) => {
    if (isType<{ type: 'error'; message: string }>('error')(m)) reject(new Error(`server: ${m.message}`));
  });
});
serverError.catch(() => {});

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      serverError,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

let url = '';

// ─── receive ────────────────────────────────────────────────────────────────────────────────────────

async function receiveRaw(n: number): Promise<number> {
  const ws = await openRaw(url);
  const c = counter(n);
  const listener = c.listener;
  ws.on('message', (buf: Buffer, isBinary: boolean) => {
    if (isBinary) return;
    const msg = JSON.parse(buf.toString()) as { type: string; ch?: string; data: unknown };
    if (msg.type === 'message' && msg.ch === CHANNEL) listener(msg.data, msg);
  });
  server.send({ type: 'blast', n });
  await withTimeout(c.done, 120_000, 'raw receive');
  ws.terminate();
  return c.rate();
}

async function receiveSocketchart(n: number): Promise<number> {
  const connection = createConnection({ url, name: 'bench-receive' });
  const c = counter(n);
  connection.subscribe(CHANNEL, c.listener);
  connection.start();
  await whenConnected(connection);
  server.send({ type: 'blast', n });
  await withTimeout(c.done, 120_000, 'socketchart receive');
  connection.dispose();
  return c.rate();
}

const messageMachine = setup({
  types: {} as { context: { listener: Listener }; input: { listener: Listener }; events: { type: 'message'; data: unknown; msg: unknown } },
  actions: { deliver: ({ context, event }) => context.listener(event.data, event.msg) },
}).createMachine({
  context: ({ input }) => ({ listener: input.listener }),
  initial: 'open',
  states: { open: { on: { message: { actions: 'deliver' } } } },
});

async function receiveXState(n: number): Promise<number> {
  const ws = await openRaw(url);
  const c = counter(n);
  const actor = createActor(messageMachine, { input: { listener: c.listener } }).start();
  ws.on('message', (buf: Buffer, isBinary: boolean) => {
    if (isBinary) return;
    const msg = JSON.parse(buf.toString()) as { type: string; ch?: string; data: unknown };
    if (msg.type === 'message' && msg.ch === CHANNEL) actor.send({ type: 'message', data: msg.data, msg });
  });
  server.send({ type: 'blast', n });
  await withTimeout(c.done, 180_000, 'xstate receive');
  ws.terminate();
  actor.stop();
  return c.rate();
}

// ─── send ───────────────────────────────────────────────────────────────────────────────────────────

/** Same driver for both clients: bursts of BURST, drain-wait above SEND_LIMIT, a yield every YIELD_EVERY. */
async function drive(ws: WebSocket, burst: (count: number) => void, n: number): Promise<void> {
  const socket = tcpOf(ws);
  let sent = 0;
  let sinceYield = 0;
  while (sent < n) {
    const count = Math.min(BURST, n - sent);
    burst(count);
    sent += count;
    sinceYield += count;
    if (ws.bufferedAmount >= SEND_LIMIT) {
      await drained(socket);
      sinceYield = 0;
    } else if (sinceYield >= YIELD_EVERY) {
      await tick();
      sinceYield = 0;
    }
  }
}

interface SendResult {
  rate: number;
  clientRate: number;
}

async function sendRun(ws: WebSocket, burst: (count: number) => void, n: number, what: string): Promise<SendResult> {
  server.send({ type: 'sink', n });
  await withTimeout(nextMessage(server, isType('sinking')), 10_000, 'sink');
  const sunk = nextMessage(server, isType<{ type: 'sunk'; n: number; bytes: number; wrongSize: number; ms: number }>('sunk'), 180_000);
  const started = performance.now();
  await drive(ws, burst, n);
  const clientMs = performance.now() - started;
  const result = await withTimeout(sunk, 180_000, what);
  if (result.wrongSize !== 0 || result.bytes !== n * FRAME_BYTES) throw new Error(`${what}: server saw ${result.wrongSize} frames of the wrong size`);
  return { rate: (n - 1) / (result.ms / 1000), clientRate: n / (clientMs / 1000) };
}

async function sendRaw(n: number): Promise<SendResult> {
  const ws = await openRaw(url);
  const message = OUTBOUND_MESSAGE;
  const result = await sendRun(
    ws,
    (count) => {
      for (let i = 0; i < count; i++) ws.send(message);
    },
    n,
    'raw send',
  );
  ws.terminate();
  return result;
}

async function sendSocketchart(n: number): Promise<SendResult> {
  const connection: Connection = createConnection({ url, name: 'bench-send' });
  connection.start();
  await whenConnected(connection);
  const message = OUTBOUND_MESSAGE;
  let queued = 0;
  const result = await sendRun(
    socketOfConnection(connection),
    (count) => {
      for (let i = 0; i < count; i++) connection.send(message);
      queued += connection.queued;
    },
    n,
    'socketchart send',
  );
  const metrics = connection.metrics();
  connection.dispose();
  if (queued !== 0) console.log(`  note: socketchart queued ${queued} messages instead of taking the fast path`);
  if (metrics.messagesOut !== n) console.log(`  note: socketchart counted ${metrics.messagesOut} messages out, expected ${n}`);
  return result;
}

// ─── main ───────────────────────────────────────────────────────────────────────────────────────────

async function measure<T>(label: string, fn: () => Promise<T>, show: (value: T) => string): Promise<T> {
  gc();
  await tick();
  const value = await fn();
  console.log(`  ${label.padEnd(34)} ${show(value)}`);
  return value;
}

export interface ThroughputResult {
  receive: { raw: number; socketchart: number; xstate: number; ratio: number };
  send: { raw: number; socketchart: number; ratio: number };
}

async function main(): Promise<ThroughputResult> {
  const listening = await withTimeout(nextMessage(server, isType<{ type: 'listening'; port: number }>('listening')), 30_000, 'server start');
  url = `ws://127.0.0.1:${listening.port}`;
  console.log(heading('Throughput — socketchart vs raw ws, same run, loopback, server in a separate process'));
  console.log(`sample inbound frame  (${FRAME_BYTES} B): ${messageFrame(123456)}`);
  console.log(`outbound message      (${FRAME_BYTES} B): ${OUTBOUND_MESSAGE}  (same string object sent by both clients)`);
  console.log(`receive N = ${int(RECV_N)} (XState reference: ${int(RECV_N_XSTATE)}); send N = ${int(SEND_N)}; ${ROUNDS} interleaved round(s) after 1 warm-up round\n`);

  console.log('warm-up (not counted)');
  await measure('receive raw ws', () => receiveRaw(WARMUP_N), rate);
  await measure('receive socketchart', () => receiveSocketchart(WARMUP_N), rate);
  await measure('receive raw ws + XState event/msg', () => receiveXState(WARMUP_N / 2), rate);
  await measure('send raw ws', () => sendRaw(WARMUP_N), (r) => rate(r.rate));
  await measure('send socketchart', () => sendSocketchart(WARMUP_N), (r) => rate(r.rate));

  const recv = { raw: [] as number[], sc: [] as number[], xs: [] as number[] };
  const send = { raw: [] as SendResult[], sc: [] as SendResult[] };
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`round ${round}/${ROUNDS}`);
    recv.raw.push(await measure('receive raw ws', () => receiveRaw(RECV_N), rate));
    recv.sc.push(await measure('receive socketchart', () => receiveSocketchart(RECV_N), rate));
    recv.xs.push(await measure('receive raw ws + XState event/msg', () => receiveXState(RECV_N_XSTATE), rate));
    send.raw.push(await measure('send raw ws', () => sendRaw(SEND_N), (r) => `${rate(r.rate)} at server (client loop ${rate(r.clientRate)})`));
    send.sc.push(await measure('send socketchart', () => sendSocketchart(SEND_N), (r) => `${rate(r.rate)} at server (client loop ${rate(r.clientRate)})`));
  }

  const runs = (values: number[]) => values.map((v) => int(v / 1000)).join(' / ');
  const rRaw = median(recv.raw);
  const rSc = median(recv.sc);
  const rXs = median(recv.xs);
  const sRaw = median(send.raw.map((r) => r.rate));
  const sSc = median(send.sc.map((r) => r.rate));
  const perMsg = (r: number) => `${fixed(1e9 / r, 0)} ns`;

  console.log(`\nReceive (server → client): msgs/s from the first to the N-th message delivered to the listener`);
  console.log(
    table(
      ['variant', 'runs (k msg/s)', 'median', 'per msg', '× raw', 'target', ''],
      [
        ['raw ws: JSON.parse + listener', runs(recv.raw), rate(rRaw), perMsg(rRaw), '1.00', '', ''],
        ['socketchart: subscribe() listener', runs(recv.sc), rate(rSc), perMsg(rSc), fixed(rSc / rRaw), `≥ ${TARGET}`, verdict(rSc / rRaw >= TARGET)],
        ['reference: raw ws + 1 XState event/msg', runs(recv.xs), rate(rXs), perMsg(rXs), fixed(rXs / rRaw), '(why data bypasses the machine)', ''],
      ],
    ),
  );
  console.log(
    `  per-message overhead vs raw: socketchart ${fixed(1e9 / rSc - 1e9 / rRaw, 0)} ns, XState event ${fixed(1e9 / rXs - 1e9 / rRaw, 0)} ns (end to end, noisy; see the in-process micro bench)`,
  );

  console.log(`\nSend (client → server): msgs/s from the first to the N-th frame counted at the server`);
  console.log(
    table(
      ['variant', 'runs (k msg/s)', 'median', 'per msg', '× raw', 'target', ''],
      [
        ['raw ws: ws.send(string)', runs(send.raw.map((r) => r.rate)), rate(sRaw), perMsg(sRaw), '1.00', '', ''],
        ['socketchart: connection.send(string)', runs(send.sc.map((r) => r.rate)), rate(sSc), perMsg(sSc), fixed(sSc / sRaw), `≥ ${TARGET}`, verdict(sSc / sRaw >= TARGET)],
      ],
    ),
  );
  return {
    receive: { raw: rRaw, socketchart: rSc, xstate: rXs, ratio: rSc / rRaw },
    send: { raw: sRaw, socketchart: sSc, ratio: sSc / sRaw },
  };
}

try {
  const result = await main();
  toParent({ type: 'result', bench: 'throughput', result });
  server.send({ type: 'exit' });
  await stopChild(server);
  process.exit(0);
} catch (error) {
  console.error('throughput bench failed:', error);
  await stopChild(server, 500);
  process.exit(1);
}
