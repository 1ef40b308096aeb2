/**
 * Inspection never touches the data plane: a socketchart connection's receive throughput with inspection
 * on (socketchart's helper, `connectInspector()`, sending to the offline inspector in its own process) and
 * off, in the same run, against the throughput server in another process (servers/throughput-server.ts).
 *
 *   - off:        createConnection({ url })                          → subscribe(channel, listener)
 *   - on:         createConnection({ url, inspect: connectInspector({ url: inspector }) })
 *   - reference:  the same with `messages: true`, which asks the helper for data-plane messages too
 *                 (capped at 50 a second): the one way inspection reaches the data plane.
 *
 * Runs interleave in ABBA order after a warm-up; the ratio is the median over rounds of on ÷ off in the
 * same round. Run alone: `node --expose-gc --import tsx test/bench/inspection.ts [--quick]`.
 */
import { createConnection, connectInspector, type SocketchartInspector } from '../../src/index.node.js';
import { startInspectorProcess } from '../../src/cli/inspector-process.js';
import { CHANNEL } from './lib/frames.js';
import { whenConnected } from './lib/clients.js';
import { counter, type Run } from './lib/client-runs.js';
import { forkTs, here, isType, nextMessage, toParent } from './lib/proc.js';
import { fixed, heading, int, median, rate, table, tick, verdict, within } from './lib/stats.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 7;
const N = quick ? 100_000 : 600_000;
const TARGET = 0.95;
/** One run takes about a second; one that has not ended after this fails the bench. */
const RUN_TIMEOUT_MS = 120_000;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

const server = forkTs(here(import.meta.url, './servers/throughput-server.ts'));

async function receive(n: number, inspect: SocketchartInspector | undefined, url: string): Promise<Run> {
  const connection = createConnection({ url, name: 'bench-inspected', ...(inspect ? { inspect } : {}) });
  const c = counter(n);
  connection.subscribe(CHANNEL, c.listener);
  connection.start();
  await whenConnected(connection);
  server.send({ type: 'blast', n });
  try {
    // a run that stalls (a lost frame, the server gone) fails the bench instead of hanging it
    await within(c.done, RUN_TIMEOUT_MS, `receive ${n} messages${inspect ? ' (inspection on)' : ''}`);
  } finally {
    connection.dispose();
  }
  return c.result();
}

export interface InspectionResult {
  off: number;
  on: number;
  messages: number;
  ratio: number;
  messagesRatio: number;
}

async function main(): Promise<InspectionResult> {
  const listening = await nextMessage(server, isType<{ type: 'listening'; port: number }>('listening'), 30_000);
  const url = `ws://127.0.0.1:${listening.port}`;
  const inspectorProcess = await startInspectorProcess(0);
  const inspector = connectInspector({ url: inspectorProcess.wsUrl });
  const withMessages = connectInspector({ url: inspectorProcess.wsUrl, messages: true });
  console.log(heading('Inspection on vs off — receive throughput of one connection (the inspector in its own process)'));
  const measure = async (label: string, fn: () => Promise<Run>) => {
    gc();
    await tick();
    const run = await fn();
    console.log(`  ${label.padEnd(40)} ${rate(run.rate).padStart(9)}   client CPU ${fixed(run.cpuNs, 0)} ns/msg`);
    return run;
  };
  console.log('warm-up (not counted)');
  await measure('inspection off', () => receive(N / 2, undefined, url));
  await measure('inspection on', () => receive(N / 2, inspector, url));
  const off: Run[] = [];
  const on: Run[] = [];
  const messages: Run[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`round ${round}/${ROUNDS}`);
    const pair = [async () => off.push(await measure('inspection off', () => receive(N, undefined, url))), async () => on.push(await measure('inspection on (connectInspector)', () => receive(N, inspector, url)))];
    if (round % 2 === 0) pair.reverse();
    for (const run of pair) await run();
    messages.push(await measure('inspection on, messages: true', () => receive(N, withMessages, url)));
  }
  const ratio = median(on.map((r, i) => r.rate / off[i]!.rate));
  const messagesRatio = median(messages.map((r, i) => r.rate / off[i]!.rate));
  inspector.flush();
  const runs = (values: Run[]) => values.map((v) => int(v.rate / 1000)).join(' / ');
  console.log(
    table(
      ['variant', 'runs (k msg/s)', 'median', '× off', 'target', ''],
      [
        ['inspection off', runs(off), rate(median(off.map((r) => r.rate))), '1.00', '', ''],
        ['inspection on (connectInspector())', runs(on), rate(median(on.map((r) => r.rate))), fixed(ratio), `≥ ${TARGET}`, verdict(ratio >= TARGET)],
        ['reference: on, with messages: true', runs(messages), rate(median(messages.map((r) => r.rate))), fixed(messagesRatio), '', ''],
      ],
    ),
  );
  console.log('  × off = median over rounds of (on ÷ off in the same round). No message passes through a machine, so inspection sees none of them.');
  inspector.close();
  withMessages.close();
  await inspectorProcess.close();
  return { off: median(off.map((r) => r.rate)), on: median(on.map((r) => r.rate)), messages: median(messages.map((r) => r.rate)), ratio, messagesRatio };
}

main().then(
  (result) => {
    toParent({ type: 'result', bench: 'inspection', result });
    server.kill();
    process.exit(0);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
