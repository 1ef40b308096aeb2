/**
 * One measured pool start, in a fresh process (forked by pool.ts with --expose-gc): warm up with three
 * small pools, then createPool() with N endpoints on the in-memory socket (lib/fake-socket.ts), start it,
 * and time it until every connection is `connected`. Then, on the same connected pool: heap per
 * connection, the size of the XState system's scheduled-event table, and what stopping one actor in that
 * system costs. Answers over IPC and exits WITHOUT disposing the big pool (unless asked to time
 * dispose()): tearing down a pool of 10,000 takes tens of seconds (see pool.ts), which is not what this
 * measures. Two more tasks: 'standalone' (N createConnection(), same socket: a heap reference) and
 * 'heartbeat' (CPU per liveness probe in a connected pool whose sockets answer pings).
 *
 * argv[2]: JSON WorkerTask.
 */
import { createActor, createMachine, type AnyActorRef } from 'xstate';
import { createConnection, createPool, type Connection, type DialBudgetOptions, type Pool, type WebSocketConstructor } from '../../src/index.node.js';
import { FakeSocket } from './lib/fake-socket.js';
import { whenConnected } from './lib/clients.js';
import { toParent } from './lib/proc.js';
import { sleep } from './lib/stats.js';

export interface WorkerTask {
  n: number;
  /**
   * 'budget': { ratePerSec: 1e6, burst: 1e6 }; 'free': dialBudget false; 'standalone': N createConnection()
   * (heap reference only); 'heartbeat': a pool (no budget) whose sockets answer pings, heartbeat every
   * `heartbeatMs`: CPU per liveness probe.
   */
  variant: 'budget' | 'free' | 'standalone' | 'heartbeat';
  /** Time pool.dispose() at the end. */
  dispose?: boolean;
  /** Time stopping actors in the pool's XState system. */
  stopProbe?: boolean;
  /** 'heartbeat' only: heartbeat interval. @default 1000 */
  heartbeatMs?: number;
}

export interface WorkerResult {
  type: 'result';
  n: number;
  variant: WorkerTask['variant'];
  createMs: number;
  startMs: number;
  totalMs: number;
  /** JS heap per connection, connected, after full GCs (in-memory socket included). */
  heapPerConn: number;
  /** Delayed events pending in the pool's XState system (timers every connection holds). */
  scheduledEvents: number;
  /** µs to stop one trivial actor whose parent is the pool actor (shares its system), and in a pool whose system holds no pending delayed events. */
  stopInPoolUs?: number;
  stopAloneUs?: number;
  disposeMs?: number;
  /** 'heartbeat' only: probes answered within the window, CPU ms per probe, probes per second of wall time. */
  probes?: number;
  cpuPerProbeMs?: number;
  probesPerSec?: number;
  windowMs?: number;
}

/** The most wall time the 'heartbeat' task's measurement window lasts. */
const PROBE_WINDOW_MS = 2_500;

/** The in-memory socket, answering every `ping` with its `pong` (on the next microtask), and counting. */
class PongSocket extends FakeSocket {
  static pongs = 0;
  static firstPing: { at: number; cpu: NodeJS.CpuUsage } | undefined;
  static onPong: (() => void) | undefined;

  override send(data: unknown): void {
    super.send(data);
    if (typeof data !== 'string' || !data.startsWith('{"type":"ping"')) return;
    PongSocket.firstPing ??= { at: performance.now(), cpu: process.cpuUsage() };
    const ts = /"ts":(\d+)/.exec(data)?.[1];
    queueMicrotask(() => {
      if (this.readyState !== 1) return;
      this.messageListener?.(Buffer.from(ts === undefined ? '{"type":"pong"}' : `{"type":"pong","ts":${ts}}`), false);
      PongSocket.pongs++;
      PongSocket.onPong?.();
    });
  }
}

const BIG_BUDGET: DialBudgetOptions = { ratePerSec: 1e6, burst: 1e6 };
const URL = 'ws://fake.invalid/pool';
const WebSocket = FakeSocket as unknown as WebSocketConstructor;

const gcFn = (globalThis as { gc?: () => void }).gc;
if (!gcFn) {
  console.error('pool-start-worker.ts needs --expose-gc');
  process.exit(2);
}
const gc = gcFn;

async function settleHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await sleep(10);
  }
  return process.memoryUsage().heapUsed;
}

const endpointsOf = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `c${i}`, url: URL }));

function makePool(n: number, variant: 'budget' | 'free', endpoints = endpointsOf(n)): Pool {
  return createPool({ endpoints, staggerMs: 0, dialBudget: variant === 'budget' ? BIG_BUDGET : false, defaults: { WebSocket } });
}

/** Resolves with performance.now() taken inside the pool's `health` → `up` event. */
function whenUp(pool: Pool, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`pool not up within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = pool.on('health', ({ health }) => {
      if (health !== 'up') return;
      const at = performance.now();
      clearTimeout(timer);
      off();
      resolve(at);
    });
  });
}

const bare = createMachine({ id: 'probe', initial: 'idle', states: { idle: {} } });

/**
 * Mean µs to stop one trivial started actor whose parent is `parent` (a pool actor, so the actor lives in
 * the pool's XState system), the way a pooled connection is released: `connection.release` → stopChild.
 */
function stopCost(parent: AnyActorRef, count = 200): number {
  const actors = Array.from({ length: count }, () => createActor(bare, { parent }).start());
  const t0 = performance.now();
  for (const ref of actors) parent.send({ type: 'connection.release', ref });
  const us = ((performance.now() - t0) * 1000) / count;
  if (actors.some((a) => a.getSnapshot().status === 'active')) throw new Error('stopCost: an actor was not stopped');
  return us;
}

async function standalone(n: number): Promise<WorkerResult> {
  for (let i = 0; i < 3; i++) {
    const warm = Array.from({ length: 200 }, (_, k) => createConnection({ url: URL, name: `w${k}`, WebSocket }).start());
    await Promise.all(warm.map((c) => whenConnected(c)));
    for (const c of warm) c.dispose();
  }
  FakeSocket.last = undefined;
  const before = await settleHeap();
  const t0 = performance.now();
  const connections: Connection[] = [];
  for (let i = 0; i < n; i++) connections.push(createConnection({ url: URL, name: `s${i}`, WebSocket }));
  const t1 = performance.now();
  for (const c of connections) c.start();
  await Promise.all(connections.map((c) => whenConnected(c, 120_000)));
  const t2 = performance.now();
  const heapPerConn = ((await settleHeap()) - before) / n;
  const system = (connections[0]!.actor as unknown as { system: { _snapshot: { _scheduledEvents: object } } }).system;
  return {
    type: 'result',
    n,
    variant: 'standalone',
    createMs: t1 - t0,
    startMs: t2 - t1,
    totalMs: t2 - t0,
    heapPerConn,
    scheduledEvents: Object.keys(system._snapshot._scheduledEvents).length,
  };
}

async function pooled(task: WorkerTask & { variant: 'budget' | 'free' }): Promise<WorkerResult> {
  // warm-up (JIT): three small pools, started, connected and disposed
  for (let i = 0; i < 3; i++) {
    const warm = makePool(200, task.variant);
    const up = whenUp(warm, 30_000);
    warm.start();
    await up;
    warm.dispose();
    FakeSocket.last = undefined; // it would keep the disposed pool reachable
  }
  const endpoints = endpointsOf(task.n); // the caller's option objects: built before the baseline
  const before = await settleHeap();
  const t0 = performance.now();
  const pool = makePool(task.n, task.variant, endpoints);
  const t1 = performance.now();
  const up = whenUp(pool, 300_000);
  pool.start();
  const t2 = await up;
  const heapPerConn = ((await settleHeap()) - before) / task.n;
  const system = (pool.actor as unknown as { system: { _snapshot: { _scheduledEvents: object } } }).system;
  const result: WorkerResult = {
    type: 'result',
    n: task.n,
    variant: task.variant,
    createMs: t1 - t0,
    startMs: t2 - t1,
    totalMs: t2 - t0,
    heapPerConn,
    scheduledEvents: Object.keys(system._snapshot._scheduledEvents).length,
  };
  if (task.stopProbe) {
    // the same release path in a pool whose system holds no pending delayed events (one idle endpoint)
    const empty = makePool(1, task.variant);
    stopCost(pool.actor, 50); // warm
    stopCost(empty.actor, 50);
    result.stopInPoolUs = stopCost(pool.actor);
    result.stopAloneUs = stopCost(empty.actor);
  }
  if (task.dispose) {
    const d0 = performance.now();
    pool.dispose();
    result.disposeMs = performance.now() - d0;
  }
  return result;
}

/**
 * N pooled connections (no dial budget) on sockets that answer pings, heartbeat every `heartbeatMs`. They all
 * connect within the start time, so their first probes come due together; the window runs from the first
 * ping until every connection has had its pong or PROBE_WINDOW_MS has passed. CPU per probe = this
 * process's CPU time in the window / pongs delivered (ping written, pong decoded, the heartbeat child
 * actor done and stopped, the next interval scheduled).
 */
async function heartbeat(n: number, heartbeatMs: number): Promise<WorkerResult> {
  const make = (count: number) =>
    createPool({
      endpoints: endpointsOf(count),
      staggerMs: 0,
      dialBudget: false,
      defaults: { WebSocket: PongSocket as unknown as WebSocketConstructor, heartbeat: { intervalMs: heartbeatMs, timeoutMs: 5_000 } },
    });
  // warm-up: a small pool through two probe rounds
  const warm = make(200);
  const warmUp = whenUp(warm, 30_000);
  warm.start();
  await warmUp;
  await sleep(heartbeatMs * 2 + 200);
  warm.dispose();
  FakeSocket.last = undefined;
  gc();
  PongSocket.pongs = 0;
  PongSocket.firstPing = undefined;

  const pool = make(n);
  const t0 = performance.now();
  const up = whenUp(pool, 300_000);
  pool.start();
  const t2 = await up;
  const done = new Promise<{ at: number; cpu: NodeJS.CpuUsage; pongs: number }>((resolve) => {
    PongSocket.onPong = () => {
      const first = PongSocket.firstPing!;
      const now = performance.now();
      if (PongSocket.pongs >= n || now - first.at >= PROBE_WINDOW_MS) {
        PongSocket.onPong = undefined;
        resolve({ at: now, cpu: process.cpuUsage(first.cpu), pongs: PongSocket.pongs });
      }
    };
  });
  const end = await done;
  const first = PongSocket.firstPing!;
  const cpuMs = (end.cpu.user + end.cpu.system) / 1000;
  const windowMs = end.at - first.at;
  const system = (pool.actor as unknown as { system: { _snapshot: { _scheduledEvents: object } } }).system;
  return {
    type: 'result',
    n,
    variant: 'heartbeat',
    createMs: 0,
    startMs: t2 - t0,
    totalMs: t2 - t0,
    heapPerConn: Number.NaN,
    scheduledEvents: Object.keys(system._snapshot._scheduledEvents).length,
    probes: end.pongs,
    cpuPerProbeMs: cpuMs / end.pongs,
    probesPerSec: end.pongs / (windowMs / 1000),
    windowMs,
  };
}

try {
  const task = JSON.parse(process.argv[2] ?? '{}') as WorkerTask;
  const result =
    task.variant === 'standalone'
      ? await standalone(task.n)
      : task.variant === 'heartbeat'
        ? await heartbeat(task.n, task.heartbeatMs ?? 1_000)
        : await pooled(task as WorkerTask & { variant: 'budget' | 'free' });
  toParent(result);
  process.exit(0);
} catch (error) {
  console.error('pool start worker failed:', error);
  process.exit(1);
}
