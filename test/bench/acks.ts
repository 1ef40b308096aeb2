/**
 * Acknowledged publishes over one connection against the reference server (servers/ack-server.ts, its own
 * process): messages per second from the first send to the last ack, with at most WINDOW in flight.
 *
 *   - raw ws:      the same frames by hand: auth, then `publish {ch, id, data}` and a map of pending ids
 *                  resolved by the server's `ack {id}` frames
 *   - socketchart: `connection.send(data, { channel, ack: true })` (ids, in-flight tracking, ack timeout,
 *                  resend after reconnect), awaited the same way
 *
 * Rounds alternate which client goes first; the table shows the median of each and their ratio.
 */
import WebSocket from 'ws';
import { createConnection } from '../../src/index.node.js';
import { forkTs, here, isType, nextMessage, stopChild } from './lib/proc.js';
import { openRaw, whenConnected } from './lib/clients.js';
import { fixed, heading, int, rate, table } from './lib/stats.js';

const quick = process.argv.includes('--quick');
const N = quick ? 2_000 : 40_000;
const WINDOW = 256;
const ROUNDS = quick ? 1 : 3;
const CHANNEL = 'bench:acks';
const DATA = { v: 'x'.repeat(24) };

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
  const pending = new Map<string, () => void>();
  const authed = new Promise<void>((resolve) => {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; id?: string };
      if (frame.type === 'auth_ok') resolve();
      else if (frame.type === 'ack' && frame.id !== undefined) {
        pending.get(frame.id)?.();
        pending.delete(frame.id);
      }
    });
  });
  ws.send(JSON.stringify({ type: 'auth', token: `raw-${round}` }));
  await authed;
  const prefix = `raw${round++}-`;
  const result = await windowed(
    n,
    (i) =>
      new Promise<void>((resolve) => {
        const id = prefix + i;
        pending.set(id, resolve);
        ws.send(JSON.stringify({ type: 'publish', ch: CHANNEL, id, data: DATA }));
      }),
  );
  ws.close();
  return result;
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
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const result: AcksResult = { raw: median(raw), socketchart: median(sc), ratio: median(sc) / median(raw), window: WINDOW };
console.log(
  table(
    ['client', 'runs (msgs/s)', 'median', 'vs raw'],
    [
      ['raw ws, publish + ack by hand', raw.map((v) => rate(v)).join(', '), rate(result.raw), '1.00'],
      ['socketchart send({ ack: true })', sc.map((v) => rate(v)).join(', '), rate(result.socketchart), fixed(result.ratio)],
    ],
  ),
);
server.send({ type: 'exit' });
await stopChild(server);
process.send?.({ type: 'result', bench: 'acks', result });
