/**
 * Acknowledged publishes over one connection against the reference server (servers/ack-server.ts, its own
 * process): messages per second from the first send to the last ack, with at most WINDOW in flight.
 *
 *   - raw ws:      the same frames by hand: auth, then `publish {ch, id, data}` and a map of pending ids
 *                  resolved by the server's `ack {id}` frames
 *   - socketchart: `connection.send(data, { channel, ack: true })` (ids, in-flight tracking, ack timeout,
 *                  resend after reconnect), awaited the same way
 *
 * Rounds alternate which client goes first; the table shows the median of each, and the ratio as the median
 * over rounds of (socketchart ÷ raw ws in the same round). A publish the server answers with an error
 * frame, or does not ack within ACK_TIMEOUT_MS, fails the run (raw ws here; socketchart's send() rejects).
 */
import WebSocket from 'ws';
import { createConnection } from '../../src/index.node.js';
import { forkTs, here, isType, nextMessage, stopChild } from './lib/proc.js';
import { openRaw, whenConnected } from './lib/clients.js';
import { fixed, heading, int, median, rate, table } from './lib/stats.js';

const quick = process.argv.includes('--quick');
const N = quick ? 2_000 : 40_000;
const WINDOW = 256;
const ROUNDS = quick ? 1 : 3;
const CHANNEL = 'bench:acks';
const DATA = { v: 'x'.repeat(24) };
/** A publish not acked within this fails the run (the reference server acks in well under a millisecond). */
const ACK_TIMEOUT_MS = 10_000;

export interface AcksResult {
  raw: number;
  socketchart: number;
  ratio: number;
  window: number;
}

const server = forkTs(here(import.meta.url, './servers/ack-server.ts'));
const { port } = await nextMessage(server, isType<{ type: 'listening'; port: number }>('listening'));
const url = `ws://127.0.0.1:${port}`;

async function windowed(n: number, sendOne: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (next < n) await sendOne(next++);
    }),
  );
  return n / ((performance.now() - started) / 1000);
}

let round = 0;

async function rawRun(n: number): Promise<number> {
  const ws: WebSocket = await openRaw(url);
  const pending = new Map<string, { resolve: () => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  /** Fails every pending publish, and so the run (an error frame, a closed socket). */
  let failed: Error | undefined;
  const failAll = (error: Error) => {
    failed ??= error;
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(failed);
    }
    pending.clear();
  };
  const authed = new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; id?: string; code?: string; message?: string };
      if (frame.type === 'auth_ok') resolve();
      else if (frame.type === 'ack' && frame.id !== undefined) {
        const p = pending.get(frame.id);
        if (p) {
          clearTimeout(p.timer);
          pending.delete(frame.id);
          p.resolve();
        }
      } else if (frame.type === 'error') {
        const error = new Error(`raw ws: the server answered an error frame (${frame.code ?? '?'}: ${frame.message ?? ''}${frame.id === undefined ? '' : `, id ${frame.id}`})`);
        reject(error);
        failAll(error);
      }
    });
    ws.once('close', (code) => {
      const error = new Error(`raw ws: socket closed (${code}) during the run`);
      reject(error);
      failAll(error);
    });
  });
  ws.send(JSON.stringify({ type: 'auth', token: `raw-${round}` }));
  await authed;
  const prefix = `raw${round++}-`;
  try {
    return await windowed(
      n,
      (i) =>
        new Promise<void>((resolve, reject) => {
          if (failed) return reject(failed);
          const id = prefix + i;
          const timer = setTimeout(() => {
            pending.delete(id);
            failAll(new Error(`raw ws: publish ${id} not acked within ${ACK_TIMEOUT_MS} ms`));
            reject(failed);
          }, ACK_TIMEOUT_MS);
          pending.set(id, { resolve, reject, timer });
          ws.send(JSON.stringify({ type: 'publish', ch: CHANNEL, id, data: DATA }));
        }),
    );
  } finally {
    ws.removeAllListeners('close');
    ws.close();
  }
}

async function socketchartRun(n: number): Promise<number> {
  const connection = createConnection({ url, name: 'bench-acks', auth: { token: `sc-${round++}` }, heartbeat: false });
  connection.start();
  await whenConnected(connection);
  const result = await windowed(n, () => connection.send(DATA, { channel: CHANNEL, ack: true }));
  connection.dispose();
  return result;
}

console.log(heading('Acknowledged publishes over one connection (reference server, separate process)'));
console.log(`${int(N)} publishes of a ${JSON.stringify(DATA).length}-byte payload per run, at most ${WINDOW} in flight; ${ROUNDS} round(s), alternating order`);
await rawRun(Math.min(N, 5_000));
await socketchartRun(Math.min(N, 5_000));
const raw: number[] = [];
const sc: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const pair = [async () => raw.push(await rawRun(N)), async () => sc.push(await socketchartRun(N))];
  if (r % 2 === 1) pair.reverse();
  for (const run of pair) await run();
}
// paired per round: the ratio is the median over rounds of (socketchart ÷ raw ws in the same round)
const ratios = sc.map((v, i) => v / raw[i]!);
const result: AcksResult = { raw: median(raw), socketchart: median(sc), ratio: median(ratios), window: WINDOW };
console.log(
  table(
    ['client', 'runs (msgs/s)', 'median', 'vs raw (per round)', 'vs raw (median of rounds)'],
    [
      ['raw ws, publish + ack by hand', raw.map((v) => rate(v)).join(', '), rate(result.raw), '', '1.00'],
      ['socketchart send({ ack: true })', sc.map((v) => rate(v)).join(', '), rate(result.socketchart), ratios.map((v) => fixed(v)).join(', '), fixed(result.ratio)],
    ],
  ),
);
server.send({ type: 'exit' });
await stopChild(server);
process.send?.({ type: 'result', bench: 'acks', result });
