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
 * Runs are interleaved in ABBA order (raw, socketchart, reference | socketchart, raw, reference | …) after
 * one warm-up run of each; figures are medians. Run alone: `node --expose-gc --import tsx test/bench/throughput.ts [--quick]`.
 */
import { createActor, setup } from 'xstate';
import { FRAME_BYTES, OUTBOUND_MESSAGE, messageFrame } from './lib/frames.js';
import { BURST, SEND_LIMIT, ThroughputServer, rawWs, socketchart, type Listener, type Run, type ThroughputClient } from './lib/client-runs.js';
import { toParent } from './lib/proc.js';
import { fixed, heading, int, median, rate, table, tick, verdict } from './lib/stats.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 7;
/** Run sizes are picked from the warm-up rates so that one run takes about this long (bounded below and above). */
const RECV_SECONDS = quick ? 0.3 : 1.2;
const SEND_SECONDS = quick ? 0.3 : 1;
const XSTATE_SECONDS = quick ? 0.3 : 0.6;
const MAX_N = 2_000_000;
const MIN_N = 50_000;
const WARMUP_N = quick ? 50_000 : 200_000;
const sizeFor = (rate: number, seconds: number) => Math.max(MIN_N, Math.min(MAX_N, Math.round((rate * seconds) / 10_000) * 10_000));
const TARGET = 0.95;

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

// ─── receive ────────────────────────────────────────────────────────────────────────────────────────

const messageMachine = setup({
  types: {} as { context: { listener: Listener }; input: { listener: Listener }; events: { type: 'message'; data: unknown; msg: unknown } },
  actions: { deliver: ({ context, event }) => context.listener(event.data, event.msg) },
}).createMachine({
  context: ({ input }) => ({ listener: input.listener }),
  initial: 'open',
  states: { open: { on: { message: { actions: 'deliver' } } } },
});

/** raw ws + JSON.parse + one XState event per message (an action calls the listener). */
const xstateReceiver: Pick<ThroughputClient, 'label' | 'receiver'> = {
  label: 'xstate',
  async receiver(url, listener) {
    const actor = createActor(messageMachine, { input: { listener } }).start();
    const close = await rawWs.receiver(url, (data, msg) => actor.send({ type: 'message', data, msg }));
    return () => {
      close();
      actor.stop();
    };
  },
};

const receiveRaw = (n: number) => server.receive(rawWs, n);
const receiveSocketchart = (n: number) => server.receive(socketchart, n);
const receiveXState = (n: number) => server.receive(xstateReceiver, n, 180_000);
const sendRaw = (n: number) => server.send(rawWs, n);
const sendSocketchart = (n: number) => server.send(socketchart, n);

// ─── main ───────────────────────────────────────────────────────────────────────────────────────────

const show = (r: Run) => `${rate(r.rate).padStart(9)}   client CPU ${fixed(r.cpuNs, 0)} ns/msg`;

async function measure(label: string, fn: () => Promise<Run>): Promise<Run> {
  gc();
  await tick();
  const value = await fn();
  console.log(`  ${label.padEnd(36)} ${show(value)}`);
  return value;
}

export interface ThroughputResult {
  receive: { raw: number; socketchart: number; xstate: number; ratio: number; cpuRatio: number; xstateRatio: number };
  send: { raw: number; socketchart: number; ratio: number; cpuRatio: number };
}

let server!: ThroughputServer;

async function main(): Promise<ThroughputResult> {
  server = await ThroughputServer.start();
  console.log(heading('Throughput — socketchart vs raw ws, same run, loopback, server in a separate process'));
  console.log(`inbound frame  (${FRAME_BYTES} B, seq 1..N): ${messageFrame(123456)}`);
  console.log(`outbound message (${FRAME_BYTES} B): ${OUTBOUND_MESSAGE}  — one constant string object, sent as is by both clients (no JSON.stringify on either side)`);
  console.log('receive: raw = ws.on("message") → JSON.parse(buf.toString()) → type/channel check → listener;  socketchart = subscribe(channel, listener)');
  console.log(`send: bursts of ${BURST}, then wait for the TCP socket's 'drain' when bufferedAmount ≥ ${SEND_LIMIT / 1024} KiB (same driver for both; socketchart's own high-water mark is 1 MiB)`);
  console.log('msgs/s is wall clock (raw and socketchart interleaved, so load from other processes hits both); client CPU ns/msg is this process\'s CPU time / messages\n');

  console.log('warm-up (not counted; also sizes the runs to ~' + `${RECV_SECONDS} s receive / ${SEND_SECONDS} s send each)`);
  const wRaw = await measure('receive raw ws', () => receiveRaw(WARMUP_N));
  await measure('receive socketchart', () => receiveSocketchart(WARMUP_N));
  const wXs = await measure('receive raw ws + XState event/msg', () => receiveXState(WARMUP_N / 2));
  const wSend = await measure('send raw ws', () => sendRaw(WARMUP_N));
  await measure('send socketchart', () => sendSocketchart(WARMUP_N));
  const recvN = sizeFor(wRaw.rate, RECV_SECONDS);
  const xsN = sizeFor(wXs.rate, XSTATE_SECONDS);
  const sendN = sizeFor(wSend.rate, SEND_SECONDS);
  console.log(`run sizes: receive N = ${int(recvN)}, XState reference N = ${int(xsN)}, send N = ${int(sendN)}; ${ROUNDS} interleaved round(s)`);

  const recv = { raw: [] as Run[], sc: [] as Run[], xs: [] as Run[] };
  const send = { raw: [] as Run[], sc: [] as Run[] };
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`round ${round}/${ROUNDS}`);
    // ABBA order: odd rounds raw first, even rounds socketchart first, so neither always runs second.
    const rawFirst = round % 2 === 1;
    const recvPair = [
      async () => recv.raw.push(await measure('receive raw ws', () => receiveRaw(recvN))),
      async () => recv.sc.push(await measure('receive socketchart', () => receiveSocketchart(recvN))),
    ];
    const sendPair = [
      async () => send.raw.push(await measure('send raw ws', () => sendRaw(sendN))),
      async () => send.sc.push(await measure('send socketchart', () => sendSocketchart(sendN))),
    ];
    if (!rawFirst) recvPair.reverse(), sendPair.reverse();
    for (const run of recvPair) await run();
    recv.xs.push(await measure('receive raw ws + XState event/msg', () => receiveXState(xsN)));
    for (const run of sendPair) await run();
  }

  const runs = (values: Run[]) => values.map((v) => int(v.rate / 1000)).join(' / ');
  const med = (values: Run[]) => ({ rate: median(values.map((v) => v.rate)), cpu: median(values.map((v) => v.cpuNs)) });
  /** Median over rounds of (variant / raw in the same round): load drifts between rounds cancel out. */
  const paired = (variant: Run[], raw: Run[]) => ({
    rate: median(variant.map((v, i) => v.rate / raw[i]!.rate)),
    cpu: median(variant.map((v, i) => v.cpuNs / raw[i]!.cpuNs)),
  });
  const rRaw = med(recv.raw);
  const rSc = med(recv.sc);
  const rXs = med(recv.xs);
  const sRaw = med(send.raw);
  const sSc = med(send.sc);
  const rScX = paired(recv.sc, recv.raw);
  const rXsX = paired(recv.xs, recv.raw);
  const sScX = paired(send.sc, send.raw);
  const ns = (v: number) => `${fixed(v, 0)} ns`;
  const header = ['variant', 'runs (k msg/s)', 'median', '× raw', 'target', '', 'client CPU/msg', '× raw'];
  const note =
    '  × raw = median over rounds of (variant ÷ raw ws in the same round). Wall-clock msgs/s swings with other load on the box;\n' +
    '  client CPU/msg (this process\'s CPU time per message) is the steadier measure of what each client costs.';

  console.log(`\nReceive (server → client), N = ${int(recvN)} (reference ${int(xsN)}): msgs/s from the first to the N-th message delivered to the listener`);
  console.log(
    table(header, [
      ['raw ws: JSON.parse + listener', runs(recv.raw), rate(rRaw.rate), '1.00', '', '', ns(rRaw.cpu), '1.00'],
      ['socketchart: subscribe() listener', runs(recv.sc), rate(rSc.rate), fixed(rScX.rate), `≥ ${TARGET}`, verdict(rScX.rate >= TARGET), ns(rSc.cpu), fixed(rScX.cpu)],
      ['reference: raw ws + 1 XState event/msg', runs(recv.xs), rate(rXs.rate), fixed(rXsX.rate), 'reference', '', ns(rXs.cpu), fixed(rXsX.cpu)],
    ]),
  );
  console.log(note);
  console.log(`  one XState event per message: ≈ ${ns(rXs.cpu - rRaw.cpu)} more client CPU per message than raw — why inbound data bypasses the machine`);

  console.log(`\nSend (client → server), N = ${int(sendN)}: msgs/s from the first to the N-th frame counted at the server`);
  console.log(
    table(header, [
      ['raw ws: ws.send(string)', runs(send.raw), rate(sRaw.rate), '1.00', '', '', ns(sRaw.cpu), '1.00'],
      ['socketchart: connection.send(string)', runs(send.sc), rate(sSc.rate), fixed(sScX.rate), `≥ ${TARGET}`, verdict(sScX.rate >= TARGET), ns(sSc.cpu), fixed(sScX.cpu)],
    ]),
  );
  console.log(note);
  return {
    receive: { raw: rRaw.rate, socketchart: rSc.rate, xstate: rXs.rate, ratio: rScX.rate, cpuRatio: rScX.cpu, xstateRatio: rXsX.rate },
    send: { raw: sRaw.rate, socketchart: sSc.rate, ratio: sScX.rate, cpuRatio: sScX.cpu },
  };
}

try {
  const result = await main();
  toParent({ type: 'result', bench: 'throughput', result });
  await server.stop();
  process.exit(0);
} catch (error) {
  console.error('throughput bench failed:', error);
  await server?.stop();
  process.exit(1);
}
