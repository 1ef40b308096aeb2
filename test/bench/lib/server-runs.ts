/**
 * Bench-side helpers for the server benches (server.ts, peers.ts): asking a child process over IPC, and the
 * fan-out and latency runs driven through servers/server-clients.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { forkTs, isType, nextMessage } from './proc.js';
import { fixed, int, max, median, min, sleep } from './stats.js';

/**
 * One latency run. Every expected delivery is ranked: one that never arrived (or arrived more than 3 s after
 * the last publish, when the client stops waiting) counts as +∞, so with more than 1 % missing p99 is +∞.
 */
export interface LatencyFigures {
  label: string;
  publishesPerSec: number;
  subscribers: number;
  deliveriesPerSec: number;
  /** Deliveries expected: published after the warm-up × subscribers. */
  expected: number;
  /** Deliveries that arrived in time. */
  arrived: number;
  /** Values ranked for the percentiles: every expected delivery (a missing one as +∞), so always `expected`. */
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  /** +∞ if any delivery is missing. */
  max: number;
  /** p99 of how late the publisher was against its schedule (ms): large means the rate was not kept. */
  publisherLagP99: number;
}

/** Several rounds of one latency case: medians of the rounds' percentiles, p99's range, deliveries summed. */
export interface LatencySummary extends LatencyFigures {
  rounds: number;
  p99Min: number;
  p99Max: number;
}

export function latencySummary(rounds: readonly LatencyFigures[]): LatencySummary {
  const first = rounds[0];
  if (!first) throw new Error('latencySummary: no rounds');
  const p99s = rounds.map((r) => r.p99);
  return {
    ...first,
    expected: rounds.reduce((n, r) => n + r.expected, 0),
    arrived: rounds.reduce((n, r) => n + r.arrived, 0),
    samples: rounds.reduce((n, r) => n + r.samples, 0),
    p50: median(rounds.map((r) => r.p50)),
    p95: median(rounds.map((r) => r.p95)),
    p99: median(p99s),
    max: max(rounds.map((r) => r.max)),
    publisherLagP99: max(rounds.map((r) => r.publisherLagP99)),
    rounds: rounds.length,
    p99Min: min(p99s),
    p99Max: max(p99s),
  };
}

/** "2.78 ms", "∞" (a missing delivery ranked there). */
export const latencyMs = (v: number) => (v === Number.POSITIVE_INFINITY ? '∞' : `${fixed(v, 2)} ms`);

/** "2.61–3.10 ms": the rounds' lowest and highest p99. */
export const p99Range = (s: LatencySummary) => `${s.p99Min === Number.POSITIVE_INFINITY ? '∞' : fixed(s.p99Min, 2)}–${latencyMs(s.p99Max)}`;

/** "p99 2.78 ms (2.61–3.10 ms over 3 rounds)". */
export const p99WithRange = (s: LatencySummary) => `p99 ${latencyMs(s.p99)}${s.rounds > 1 ? ` (${p99Range(s)} over ${s.rounds} rounds)` : ''}`;

/** "29,700/30,000 arrived". */
export const arrivedOf = (f: Pick<LatencyFigures, 'arrived' | 'expected'>) => `${int(f.arrived)}/${int(f.expected)} arrived`;

/** Every child forked by forkChild (for a cleanup on failure). */
export const children: ChildProcess[] = [];

/** Forks a TypeScript file (absolute path, args), logging its `error` messages. */
export function forkChild(file: string, flags: string[] = [], args: string[] = []): ChildProcess {
  const child = forkTs(file, { flags, args });
  child.on('message', (m) => {
    if (isType<{ type: 'error'; message: string }>('error')(m)) console.error(`${file} (pid ${child.pid}): ${m.message}`);
  });
  child.on('error', (error) => console.error(`${file} (pid ${child.pid}): ${error.message}`));
  children.push(child);
  return child;
}

/** Sends over IPC if the child is still there (a dead child is reported by whatever waits for its answer). */
export function tell(child: ChildProcess, message: unknown): void {
  if (child.connected) child.send(message as never);
}

/** Waits for a `type` message from the child; rejects on its `error` message, on its exit, or on timeout. */
export function expect<T extends { type: string }>(child: ChildProcess, type: T['type'], timeoutMs: number): Promise<T> {
  return nextMessage(child, (m): m is T | { type: 'error'; message: string } => isType<T>(type)(m) || isType<{ type: 'error'; message: string }>('error')(m), timeoutMs).then((m) =>
    m.type === 'error' ? Promise.reject(new Error((m as { message: string }).message)) : (m as T),
  );
}

export async function ask<T extends { type: string }>(child: ChildProcess, message: { type: string } & Record<string, unknown>, reply: T['type'], timeoutMs = 30_000): Promise<T> {
  const answer = expect<T>(child, reply, timeoutMs);
  tell(child, message);
  return answer;
}

export async function serverOpen(server: ChildProcess): Promise<number> {
  return (await ask<{ type: 'count'; open: number }>(server, { type: 'count' }, 'count', 10_000)).open;
}

export async function waitOpen(server: ChildProcess, expected: number, timeoutMs = 30_000, pollMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await serverOpen(server);
    if (open === expected) return;
    if (Date.now() > deadline) throw new Error(`server holds ${open} connections, expected ${expected}`);
    await sleep(pollMs);
  }
}

export const pct = (sorted: Float64Array, p: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!);

export interface Counted {
  type: 'counted';
  firstAt: number;
  lastAt: number;
  frames: number;
  other: number;
  cpuUs: number;
}
export interface Fanned {
  type: 'fanned';
  startedAt: number;
  publishMs: number;
  drainedMs: number;
  cpuUs: number;
  sysUs: number;
  drainWaits: number;
  maxBuffered: number;
  failed: number;
}

export interface FanoutRun {
  messages: number;
  deliveries: number;
  ms: number;
  rate: number;
  serverCpuUs: number;
  serverSysUs: number;
  clientCpuUs: number;
  drainWaits: number;
  maxBuffered: number;
}

export interface FanoutSpec {
  ch: string;
  messages: number;
  subscribers: number;
  burst: number;
  highWater: number;
  /** Passed on to the server (servers/socketchart-server.ts has several). */
  mode?: string;
}

/**
 * One fan-out run: the client processes (servers/server-clients.ts) count frames from their headers, the
 * server runs its fan-out loop (servers/fanout-loop.ts); deliveries/s = messages × subscribers / (last frame
 * counted at any client − first broadcast).
 */
export async function fanoutRun(server: ChildProcess, clients: ChildProcess[], { ch, messages, subscribers, burst, highWater, mode }: FanoutSpec): Promise<FanoutRun> {
  const timeoutMs = 60_000;
  await Promise.all(clients.map((c) => ask(c, { type: 'count', perSocket: messages }, 'counting')));
  const counted = clients.map((c) => expect<Counted>(c, 'counted', timeoutMs));
  const fanned = await ask<Fanned>(server, { type: 'fanout', ch, messages, burst, highWater, mode }, 'fanned', timeoutMs);
  const results = await Promise.all(counted);
  const deliveries = messages * subscribers;
  const frames = results.reduce((s, r) => s + r.frames, 0);
  if (frames !== deliveries || fanned.failed > 0) throw new Error(`fan-out: ${frames} frames counted, ${deliveries} expected, ${fanned.failed} broadcasts failed`);
  const elapsed = Math.max(...results.map((r) => r.lastAt)) - fanned.startedAt;
  return {
    messages,
    deliveries,
    ms: elapsed,
    rate: (deliveries / elapsed) * 1000,
    serverCpuUs: fanned.cpuUs,
    serverSysUs: fanned.sysUs,
    clientCpuUs: results.reduce((s, r) => s + r.cpuUs, 0),
    drainWaits: fanned.drainWaits,
    maxBuffered: fanned.maxBuffered,
  };
}

interface LatencyReply {
  type: 'latency';
  samples: Float64Array;
  expected: number;
  published: number;
  lagP99Ms: number;
}

export interface LatencySpec {
  label: string;
  subscribers: number;
  publishRate: number;
  tag: string;
  warmupMs: number;
  measureMs: number;
  /** servers/server-clients.ts's wire protocol: 'socketchart' (default) or 'socketio'. */
  protocol?: string;
}

/** One latency case, run by one client process (servers/server-clients.ts) holding publisher and subscribers. */
export async function latencyCase(client: ChildProcess, url: string, { label, subscribers, publishRate, tag, warmupMs, measureMs, protocol }: LatencySpec): Promise<LatencyFigures> {
  const reply = await ask<LatencyReply>(
    client,
    { type: 'latency', url, ch: `bench:lat-${tag}`, subscribers, rate: publishRate, warmupMs, measureMs, userPrefix: `l${tag}-`, ...(protocol ? { protocol } : {}) },
    'latency',
    measureMs + warmupMs + 60_000,
  );
  const arrived = Math.min(reply.samples.length, reply.expected);
  // every expected delivery is ranked; the missing ones at +∞ (after every delivery that arrived)
  const sorted = new Float64Array(Math.max(reply.expected, arrived)).fill(Number.POSITIVE_INFINITY);
  sorted.set(reply.samples.subarray(0, arrived));
  sorted.subarray(0, arrived).sort();
  return {
    label,
    publishesPerSec: publishRate,
    subscribers,
    deliveriesPerSec: publishRate * subscribers,
    expected: reply.expected,
    arrived,
    samples: sorted.length,
    p50: pct(sorted, 0.5),
    p95: pct(sorted, 0.95),
    p99: pct(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    publisherLagP99: reply.lagP99Ms,
  };
}
