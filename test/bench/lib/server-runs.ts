/**
 * Bench-side helpers for the server benches (server.ts, peers.ts): asking a child process over IPC, and the
 * fan-out and latency runs driven through servers/server-clients.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { forkTs, isType, nextMessage } from './proc.js';
import { sleep } from './stats.js';

export interface LatencyFigures {
  label: string;
  publishesPerSec: number;
  subscribers: number;
  deliveriesPerSec: number;
  /** Deliveries measured, and expected (published after the warm-up × subscribers). */
  samples: number;
  expected: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** p99 of how late the publisher was against its schedule (ms): large means the rate was not kept. */
  publisherLagP99: number;
}

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
  if (reply.samples.length < reply.expected * 0.99) throw new Error(`${label}: only ${reply.samples.length} of ${reply.expected} deliveries arrived`);
  const sorted = reply.samples.slice().sort();
  return {
    label,
    publishesPerSec: publishRate,
    subscribers,
    deliveriesPerSec: publishRate * subscribers,
    samples: sorted.length,
    expected: reply.expected,
    p50: pct(sorted, 0.5),
    p95: pct(sorted, 0.95),
    p99: pct(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    publisherLagP99: reply.lagP99Ms,
  };
}
