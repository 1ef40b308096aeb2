/**
 * Peers: socketchart next to the libraries people reach for instead, measured in the same run, on loopback,
 * every server in its own process. Needs --expose-gc (run.ts forks it with the flag).
 *
 * 1. Client throughput, receive and send: socketchart (createConnection, defaults), raw `ws`, partysocket
 *    (`partysocket/ws`), reconnecting-websocket, socket.io-client. The ws-based clients run against
 *    servers/throughput-server.ts, socket.io-client against the same server in its socket.io flavour
 *    (`--socket.io`); the client listener, the send driver and the 60-byte frames are the same for all
 *    (lib/client-runs.ts, lib/frames.ts). partysocket and reconnecting-websocket get `ws`'s WebSocket through
 *    their `WebSocket` option; socket.io-client is forced onto `transports: ['websocket']`. One warm-up run
 *    each, then ROUNDS rounds, the clients' order rotated every round; medians; × raw ws = median over rounds
 *    of (client ÷ raw ws in the same round).
 * 2. Heap per connection held open: 1,000 connections of each client with its defaults (socket.io-client:
 *    `forceNew`, so that each is its own connection as in 1,000 browsers; its default transports, polling
 *    first) against servers/plain-server.ts or servers/socketio-server.ts; ROUNDS_HEAP rounds, median.
 *    socketchart's figure is taken once its minUptimeMs (5 s) has passed, as in memory.ts.
 * 3. Restart storm: 1,000 clients of each library with its defaults, in a fresh process for every storm
 *    (storm-clients-worker.ts: a library that draws randomness at module load draws it anew); the server
 *    process is killed (SIGKILL) and a replacement, forked and loaded beforehand, binds the same port
 *    STORM_DOWN_MS after the kill (servers/listen-on-command.ts): the same downtime for every library. Time
 *    from the new server listening until all 1,000 are connected again (each client's own connected event,
 *    wall clock across processes), and the peak of new connections per 100 ms counted at the server (ws
 *    upgrades; engine.io handshakes for socket.io). socketchart twice: a pool with defaults, and 1,000
 *    standalone connections with defaults. STORM_ROUNDS storms per library, order rotated; median, range.
 * 4. Server fan-out to 1,000 subscribers and delivery latency at 10,000 deliveries/s (100 publishes/s to
 *    100 subscribers): socketchart/server (servers/socketchart-server.ts) vs socket.io with a room
 *    (servers/socketio-server.ts) vs a plain `ws` broadcast loop (servers/plain-server.ts); raw ws clients
 *    (servers/server-clients.ts, two processes per server) count frames from their headers; the servers
 *    run the same fan-out loop (servers/fanout-loop.ts); the plain loop encodes each message once and
 *    corks each subscriber's TCP socket around a burst, as socketchart/server encodes a message once for
 *    all subscribers and holds a socket's writes for the event-loop turn. Rounds interleaved over the three
 *    servers. Latency: LAT_ROUNDS rounds, interleaved; median p99 and range; every expected delivery
 *    ranked, a missing one as +∞ (lib/server-runs.ts).
 * 5. Browser bundle, min+gz (scripts/bundle-measure.mjs: esbuild, browser, minified, gzip 9) of an entry
 *    that exports just each library's client constructor; socketchart from the built dist/.
 *
 * Run alone: `node --expose-gc --import tsx test/bench/peers.ts [--quick] [--only <sections>] [--set key=value,…]`.
 */
import { execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import WebSocket from 'ws';
import PartySocket from 'partysocket/ws';
import ReconnectingWebSocket from 'reconnecting-websocket';
import { io, type Socket as IoSocket } from 'socket.io-client';
import { createConnection } from '../../src/index.node.js';
import type { StormKind } from './storm-clients-worker.js';
import { distProblem, measure as bundle, root } from '../../scripts/bundle-measure.mjs';
import { CHANNEL, FRAME_BYTES, IO_OUTBOUND_DATA, OUTBOUND_MESSAGE } from './lib/frames.js';
import { ThroughputServer, onMessageFrame, rawWs, socketchart, type Run, type Sender, type ThroughputClient } from './lib/client-runs.js';
import { openRaw, whenConnected } from './lib/clients.js';
import { closeAll, heapPerConnection, openAll, settleHeap, type Variant } from './lib/held.js';
import { here, runBenchMain, stopChild } from './lib/proc.js';
import {
  arrivedOf,
  ask,
  children,
  expect,
  fanoutRun,
  forkChild,
  latencyCase,
  latencyMs,
  latencySummary,
  p99Range,
  tell,
  waitOpen,
  type LatencyFigures,
  type LatencySummary,
} from './lib/server-runs.js';
import { fixed, heading, int, kb, median, peakInWindow, rate, sleep, table, tick } from './lib/stats.js';

const quick = process.argv.includes('--quick');
/** Sizes at full length, and for --quick (a smoke run: figures not meaningful). */
const SIZES = {
  full: { rounds: 5, runSeconds: 0.6, warmupN: 100_000, heapRounds: 3, heapN: 1_000, stormN: 1_000, stormRounds: 3, stormTimeoutMs: 30_000, fanoutSubs: 1_000, fanoutRounds: 3, fanoutSeconds: 1, latWarmupMs: 1_000, latMs: 3_000, latRounds: 3 },
  quick: { rounds: 1, runSeconds: 0.2, warmupN: 20_000, heapRounds: 1, heapN: 200, stormN: 200, stormRounds: 1, stormTimeoutMs: 15_000, fanoutSubs: 200, fanoutRounds: 1, fanoutSeconds: 0.3, latWarmupMs: 300, latMs: 700, latRounds: 3 },
};
const {
  rounds: ROUNDS,
  runSeconds: RUN_SECONDS,
  warmupN: WARMUP_N,
  heapRounds: ROUNDS_HEAP,
  heapN: HEAP_N,
  stormN: STORM_N,
  stormRounds: STORM_ROUNDS,
  stormTimeoutMs: STORM_TIMEOUT_MS,
  fanoutSubs: FANOUT_SUBS,
  fanoutRounds: FANOUT_ROUNDS,
  fanoutSeconds: FANOUT_SECONDS,
  latWarmupMs: LAT_WARMUP_MS,
  latMs: LAT_MS,
  latRounds: LAT_ROUNDS,
} = sizes();

/** The sizes for this run: full or --quick, then `--set key=value[,key=value]` (e.g. `--set stormN=200,stormRounds=3`) for a short check of one section. */
function sizes(): typeof SIZES.full {
  const base: typeof SIZES.full = { ...(quick ? SIZES.quick : SIZES.full) };
  const at = process.argv.indexOf('--set');
  if (at < 0) return base;
  for (const pair of (process.argv[at + 1] ?? '').split(',')) {
    const [key, value] = pair.split('=');
    if (key === undefined || !(key in base) || !Number.isFinite(Number(value))) throw new Error(`--set ${pair}: expected one of ${Object.keys(base).join(', ')} = a number`);
    base[key as keyof typeof base] = Number(value);
  }
  return base;
}
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

type Peer = 'socketchart' | 'raw' | 'partysocket' | 'rws' | 'socketio';
const PEERS: Peer[] = ['socketchart', 'raw', 'partysocket', 'rws', 'socketio'];
const NAMES: Record<Peer, string> = {
  socketchart: 'socketchart',
  raw: 'raw ws',
  partysocket: 'partysocket',
  rws: 'reconnecting-websocket',
  socketio: 'socket.io',
};

// ─── clients ────────────────────────────────────────────────────────────────────────────────────────

/** What partysocket and reconnecting-websocket share: the WebSocket-like API, `ws` passed as the constructor. */
interface Reconnecting {
  readonly readyState: number;
  addEventListener(type: 'open' | 'message', listener: (event: { data?: unknown }) => void): void;
  removeEventListener(type: 'open', listener: () => void): void;
  send(data: string): void;
  close(): void;
}
type ReconnectingCtor = new (url: string, protocols: undefined, options: { WebSocket: unknown }) => Reconnecting;

/**
 * Opens one and waits for its first `open`. The listener is removed once it has run (as openRaw, whenConnected
 * and ioConnected let go of theirs), so that a connection held open keeps nothing of the harness: the heap
 * per connection is the library's own.
 */
function openReconnecting(Ctor: ReconnectingCtor, url: string, timeoutMs = 10_000): Promise<Reconnecting> {
  const socket = new Ctor(url, undefined, { WebSocket });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${Ctor.name} did not open within ${timeoutMs} ms`)), timeoutMs);
    const opened = () => {
      clearTimeout(timer);
      socket.removeEventListener('open', opened);
      resolve(socket);
    };
    socket.addEventListener('open', opened);
  });
}

/** The `ws` socket under a reconnecting wrapper (both keep it as `_ws`). */
const wsOf = (socket: unknown) => (socket as { _ws: WebSocket })._ws;

function reconnectingClient(label: string, Ctor: ReconnectingCtor): ThroughputClient {
  return {
    label,
    async receiver(url, listener) {
      const socket = await openReconnecting(Ctor, url);
      const deliver = onMessageFrame(listener);
      socket.addEventListener('message', (event) => deliver(event.data as string));
      return () => socket.close();
    },
    async sender(url): Promise<Sender> {
      const socket = await openReconnecting(Ctor, url);
      const message = OUTBOUND_MESSAGE;
      return {
        ws: wsOf(socket),
        burst: (count) => {
          for (let i = 0; i < count; i++) socket.send(message);
        },
        close: () => socket.close(),
      };
    },
  };
}

function ioConnected(socket: IoSocket, timeoutMs = 20_000): Promise<IoSocket> {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket.io-client did not connect within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
  });
}

const socketIoClient: ThroughputClient = {
  label: 'socket.io-client',
  async receiver(url, listener) {
    const socket = await ioConnected(io(url, { transports: ['websocket'], forceNew: true }));
    socket.on(CHANNEL, (data: unknown) => listener(data, data));
    return () => socket.disconnect();
  },
  async sender(url): Promise<Sender> {
    const socket = await ioConnected(io(url, { transports: ['websocket'], forceNew: true }));
    const data = IO_OUTBOUND_DATA;
    // engine.io writes one packet, then keeps every further emit in its writeBuffer until the transport's
    // next-tick "drain" (not in ws.bufferedAmount): the driver's backpressure counts those bytes (every
    // packet here makes a FRAME_BYTES frame) and waits for the engine's own `drain` (writeBuffer empty).
    const engine = socket.io.engine as unknown as { writeBuffer: unknown[]; once(event: 'drain', fn: () => void): void; off(event: 'drain', fn: () => void): void; transport: { ws: WebSocket } };
    const flushed = () =>
      engine.writeBuffer.length === 0
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => {
              engine.off('drain', done);
              reject(new Error(`socket.io-client: engine.io's writeBuffer (${engine.writeBuffer.length} packets) not flushed within 30 s`));
            }, 30_000);
            const done = () => {
              clearTimeout(timer);
              resolve();
            };
            engine.once('drain', done);
          });
    return {
      ws: engine.transport.ws,
      burst: (count) => {
        for (let i = 0; i < count; i++) socket.emit(CHANNEL, data);
      },
      own: { held: () => engine.writeBuffer.length * FRAME_BYTES, flushed },
      close: () => socket.disconnect(),
    };
  },
};

const CLIENTS: Record<Peer, ThroughputClient> = {
  socketchart,
  raw: rawWs,
  partysocket: reconnectingClient('partysocket', PartySocket as unknown as ReconnectingCtor),
  rws: reconnectingClient('reconnecting-websocket', ReconnectingWebSocket as unknown as ReconnectingCtor),
  socketio: socketIoClient,
};

// ─── 1. throughput ──────────────────────────────────────────────────────────────────────────────────

interface Figure {
  median: number;
  /** Median over rounds of (this ÷ raw ws in the same round); NaN where not applicable. */
  ratio: number;
}
type Row = Partial<Record<Peer, Figure>>;

const rotate = <T>(list: readonly T[], by: number) => list.map((_, i) => list[(i + by) % list.length]!);

async function throughput(): Promise<{ receive: Row; send: Row; receiveCpu: Row; sendCpu: Row }> {
  console.log(heading('1. Client throughput — socketchart vs raw ws, partysocket, reconnecting-websocket, socket.io-client'));
  console.log(
    'servers/throughput-server.ts in its own process (socket.io-client: the same server with --socket.io, transports: [\'websocket\'] on the client);' +
      '\n60-byte frames; every client delivers to the same listener and sends through the same driver (lib/client-runs.ts).' +
      '\nsocket.io-client has no raw-string send: it emits a data object (JSON-encoded by the client) that makes a 60-byte frame.\n',
  );
  const wsServer = await ThroughputServer.start();
  const ioServer = await ThroughputServer.start(['--socket.io']);
  const serverOf = (peer: Peer) => (peer === 'socketio' ? ioServer : wsServer);
  try {
    const runs = { receive: new Map<Peer, Run[]>(), send: new Map<Peer, Run[]>() };
    const once = async (direction: 'receive' | 'send', peer: Peer, n: number) => {
      gc();
      await tick();
      const server = serverOf(peer);
      const run = direction === 'receive' ? await server.receive(CLIENTS[peer], n) : await server.send(CLIENTS[peer], n);
      console.log(`  ${`${direction} ${NAMES[peer]}`.padEnd(32)} ${rate(run.rate).padStart(9)}   client CPU ${fixed(run.cpuNs, 0)} ns/msg`);
      return run;
    };
    console.log('warm-up (not counted; sizes the runs)');
    const warm = { receive: new Map<Peer, Run>(), send: new Map<Peer, Run>() };
    for (const peer of PEERS) warm.receive.set(peer, await once('receive', peer, WARMUP_N));
    for (const peer of PEERS) warm.send.set(peer, await once('send', peer, WARMUP_N));
    const size = (run: Run) => Math.max(10_000, Math.min(1_000_000, Math.round((run.rate * RUN_SECONDS) / 10_000) * 10_000));
    const sizes = { receive: new Map(PEERS.map((p) => [p, size(warm.receive.get(p)!)])), send: new Map(PEERS.map((p) => [p, size(warm.send.get(p)!)])) };
    console.log(`run sizes (≈ ${RUN_SECONDS} s each): ${PEERS.map((p) => `${NAMES[p]} ${int(sizes.receive.get(p)!)} / ${int(sizes.send.get(p)!)}`).join(', ')} (receive / send)`);
    for (let round = 0; round < ROUNDS; round++) {
      console.log(`round ${round + 1}/${ROUNDS}`);
      for (const direction of ['receive', 'send'] as const) {
        for (const peer of rotate(PEERS, round)) {
          const list = runs[direction].get(peer) ?? [];
          list.push(await once(direction, peer, sizes[direction].get(peer)!));
          runs[direction].set(peer, list);
        }
      }
    }
    const figures = (direction: 'receive' | 'send', value: (r: Run) => number): Row => {
      const raw = runs[direction].get('raw')!;
      return Object.fromEntries(
        PEERS.map((peer) => {
          const mine = runs[direction].get(peer)!;
          return [peer, { median: median(mine.map(value)), ratio: median(mine.map((r, i) => value(r) / value(raw[i]!))) }];
        }),
      );
    };
    return {
      receive: figures('receive', (r) => r.rate),
      send: figures('send', (r) => r.rate),
      receiveCpu: figures('receive', (r) => r.cpuNs),
      sendCpu: figures('send', (r) => r.cpuNs),
    };
  } finally {
    await wsServer.stop();
    await ioServer.stop();
  }
}

// ─── 2. heap per connection ─────────────────────────────────────────────────────────────────────────

interface ServerProc {
  child: ChildProcess;
  port: number;
  upAt: number;
}

const SERVER_FILES = { plain: './servers/plain-server.ts', socketio: './servers/socketio-server.ts', socketchart: './servers/socketchart-server.ts' } as const;

async function startServer(kind: keyof typeof SERVER_FILES, args: string[] = [], flags: string[] = []): Promise<ServerProc> {
  const child = forkChild(here(import.meta.url, SERVER_FILES[kind]), flags, args);
  const { port, upAt } = await expect<{ type: 'listening'; port: number; upAt?: number }>(child, 'listening', 30_000);
  return { child, port, upAt: upAt ?? Date.now() };
}

async function stopServer(server: ServerProc): Promise<void> {
  tell(server.child, { type: 'exit' });
  await stopChild(server.child);
}

function heapVariant(peer: Peer, url: string): Variant<{ close(): void }> {
  const wrap = <T>(open: () => Promise<T>, close: (item: T) => void) => async () => {
    const item = await open();
    return { close: () => close(item) };
  };
  const opens: Record<Peer, () => Promise<{ close(): void }>> = {
    socketchart: wrap(
      async () => {
        const connection = createConnection({ url }).start();
        await whenConnected(connection);
        return connection;
      },
      (c) => c.dispose(),
    ),
    raw: wrap(
      () => openRaw(url),
      (ws) => ws.terminate(),
    ),
    partysocket: wrap(
      () => openReconnecting(PartySocket as unknown as ReconnectingCtor, url),
      (s) => s.close(),
    ),
    rws: wrap(
      () => openReconnecting(ReconnectingWebSocket as unknown as ReconnectingCtor, url),
      (s) => s.close(),
    ),
    socketio: wrap(
      () => ioConnected(io(url, { forceNew: true })),
      (s) => s.disconnect(),
    ),
  };
  return { label: NAMES[peer], open: opens[peer], close: (item) => item.close(), sockets: true };
}

async function heap(): Promise<Row> {
  console.log(heading(`2. Heap per connection — ${int(HEAP_N)} connections of each client held open, socket included`));
  console.log(
    'heapUsed after full GCs, (after − before) / N; each client with its defaults (socket.io-client: forceNew, one connection each; default transports,' +
      '\npolling then the upgrade to websocket); ws-based clients against servers/plain-server.ts, socket.io-client against servers/socketio-server.ts' +
      `\n(socket.io defaults). socketchart: measured once its minUptimeMs (5 s) has passed${quick ? ' (not in --quick)' : ''}. ${ROUNDS_HEAP} round(s), median.\n`,
  );
  const plain = await startServer('plain');
  const sio = await startServer('socketio');
  const serverOf = (peer: Peer) => (peer === 'socketio' ? sio : plain);
  const variantOf = (peer: Peer) => heapVariant(peer, `${peer === 'socketio' ? 'http' : 'ws'}://127.0.0.1:${serverOf(peer).port}`);
  try {
    // warm-up: as many of each as are measured, opened and closed (first-use allocations, JIT code and grown tables out of the figures)
    for (const peer of PEERS) await closeAll(serverOf(peer).child, variantOf(peer), await openAll(serverOf(peer).child, variantOf(peer), HEAP_N));
    const per = new Map<Peer, number[]>();
    for (let round = 0; round < ROUNDS_HEAP; round++) {
      for (const peer of rotate(PEERS, round)) {
        let steady: number | undefined;
        const result = await heapPerConnection(serverOf(peer).child, variantOf(peer), HEAP_N, async (_items, before) => {
          if (peer !== 'socketchart' || quick) return;
          await sleep(5_500);
          steady = ((await settleHeap()).heap - before.heap) / HEAP_N;
        });
        const value = steady ?? result.perConn;
        console.log(`  round ${round + 1}: ${NAMES[peer].padEnd(24)} ${kb(value)}/conn${steady === undefined ? '' : ` (${kb(result.perConn)} in its first minUptimeMs)`}`);
        per.set(peer, [...(per.get(peer) ?? []), value]);
      }
    }
    const raw = per.get('raw')!;
    return Object.fromEntries(PEERS.map((p) => [p, { median: median(per.get(p)!), ratio: median(per.get(p)!.map((v, i) => v / raw[i]!)) }]));
  } finally {
    await stopServer(plain);
    await stopServer(sio);
  }
}

// ─── 3. restart storm ───────────────────────────────────────────────────────────────────────────────

const STORMS: { kind: StormKind; label: string; server: 'plain' | 'socketio' }[] = [
  { kind: 'pool', label: 'socketchart pool (createPool, defaults; staggerMs 0)', server: 'plain' },
  { kind: 'standalone', label: 'socketchart, standalone createConnection (defaults)', server: 'plain' },
  { kind: 'socketio', label: 'socket.io-client (defaults, forceNew)', server: 'socketio' },
  { kind: 'partysocket', label: 'partysocket (defaults)', server: 'plain' },
  { kind: 'rws', label: 'reconnecting-websocket (defaults)', server: 'plain' },
];

/** One storm. */
interface StormRun {
  /** ms from the new server listening until all N were connected; null: not all back within the timeout. */
  allBackMs: number | null;
  back: number;
  peakDials: number;
  dials: number;
  /** kill → the new server listening (the fixed STORM_DOWN_MS, plus the bind's own lateness). */
  downMs: number;
}

/** STORM_ROUNDS storms of one kind: medians and ranges (a storm not all back counts as +∞ in the median). */
interface StormResult {
  kind: StormKind;
  label: string;
  runs: StormRun[];
}

/** The new server process is ready before the kill and binds this long after it. */
const STORM_DOWN_MS = 1_000;

async function storm(spec: (typeof STORMS)[number], round: number): Promise<StormRun> {
  let server = await startServer(spec.server);
  const url = `ws://127.0.0.1:${server.port}`;
  // the clients of every storm in a fresh process: a library that draws randomness at module load draws it anew
  const clients = forkChild(here(import.meta.url, './storm-clients-worker.ts'));
  let next: ChildProcess | undefined;
  try {
    await expect(clients, 'ready', 30_000);
    await ask(clients, { type: 'open', kind: spec.kind, url, n: STORM_N }, 'opened', 90_000);
    // the replacement server, forked and loaded while the clients are held; it binds when told
    next = forkChild(here(import.meta.url, SERVER_FILES[spec.server]), [], ['--port', String(server.port), '--listen-on-command']);
    const nextReady = expect(next, 'ready', 30_000);
    // held past minUptime (socketchart, partysocket, reconnecting-websocket: 5 s), so every client counts as stable
    await sleep(quick ? 500 : 6_000);
    await nextReady;
    const listening = expect<{ type: 'listening'; port: number; upAt: number }>(next, 'listening', 30_000);
    const killedAt = Date.now();
    server.child.kill('SIGKILL');
    tell(next, { type: 'listen', at: killedAt + STORM_DOWN_MS });
    await stopChild(server.child);
    const { upAt } = await listening;
    server = { child: next, port: server.port, upAt };
    next = undefined;
    const back = await ask<{ type: 'back'; all: boolean; back: number; lastAt: number | null }>(
      clients,
      { type: 'back', since: killedAt, timeoutMs: STORM_DOWN_MS + STORM_TIMEOUT_MS },
      'back',
      STORM_DOWN_MS + STORM_TIMEOUT_MS + 30_000,
    );
    const { at } = await ask<{ type: 'dials'; at: number[] }>(server.child, { type: 'dials' }, 'dials');
    const run: StormRun = {
      allBackMs: back.all && back.lastAt !== null ? back.lastAt - upAt : null,
      back: back.back,
      peakDials: peakInWindow([...at].sort((x, y) => x - y), 100),
      dials: at.length,
      downMs: upAt - killedAt,
    };
    console.log(
      `  storm ${round + 1}: ${spec.label.padEnd(52)} ${run.allBackMs === null ? `not all back in ${STORM_TIMEOUT_MS / 1000} s (${back.back})` : `all back in ${int(run.allBackMs)} ms`}; ` +
        `peak ${run.peakDials} new connections / 100 ms, ${run.dials} in all; server down ${run.downMs} ms (kill → listening)`,
    );
    return run;
  } finally {
    tell(clients, { type: 'exit' });
    await stopChild(clients, 5_000);
    if (next) await stopChild(next, 500);
    await sleep(300);
    await stopServer(server);
  }
}

async function storms(): Promise<StormResult[]> {
  console.log(heading(`3. Restart storm — ${int(STORM_N)} clients, server process killed, a new one listening on the same port ${fixed(STORM_DOWN_MS / 1000, 1)} s later`));
  console.log(
    'each library with its own defaults, against servers/plain-server.ts (socket.io-client: servers/socketio-server.ts), its clients in a fresh' +
      '\nprocess for every storm (storm-clients-worker.ts: a library that draws randomness when its module loads draws it anew). The clients connect and are' +
      `\nheld ${quick ? 0.5 : 6} s (past the 5 s minUptime of socketchart, partysocket and reconnecting-websocket: stable connections); the replacement` +
      '\nserver process is forked and loaded meanwhile; then the server process gets SIGKILL and the replacement binds the same port' +
      `\n${STORM_DOWN_MS} ms after the kill (a fixed downtime for every library). all back: from the new server listening until every client has` +
      `\nconnected again (its own connected/open event); peak: most new connections the server counted in any 100 ms (timeout ${STORM_TIMEOUT_MS / 1000} s).` +
      `\n${STORM_ROUNDS} storm(s) per library, the libraries' order rotated each round; median and range.\n`,
  );
  const runs = new Map<StormKind, StormRun[]>();
  for (let round = 0; round < STORM_ROUNDS; round++) {
    for (const spec of rotate(STORMS, round)) runs.set(spec.kind, [...(runs.get(spec.kind) ?? []), await storm(spec, round)]);
  }
  return STORMS.map((spec) => ({ kind: spec.kind, label: spec.label, runs: runs.get(spec.kind)! }));
}

// ─── 4. server fan-out and latency ──────────────────────────────────────────────────────────────────

type ServerPeer = 'socketchart' | 'raw' | 'socketio';
const SERVER_PEERS: { peer: ServerPeer; label: string; kind: keyof typeof SERVER_FILES; protocol: 'socketchart' | 'socketio'; ch: string }[] = [
  { peer: 'socketchart', label: 'socketchart/server: server.broadcast()', kind: 'socketchart', protocol: 'socketchart', ch: 'bench:fanout' },
  { peer: 'raw', label: 'plain ws broadcast loop', kind: 'plain', protocol: 'socketchart', ch: 'bench:fanout' },
  { peer: 'socketio', label: 'socket.io: io.to(room).emit()', kind: 'socketio', protocol: 'socketio', ch: 'bench:fanout' },
];

async function servers(): Promise<{ fanout: Row; latency: Partial<Record<Peer, LatencySummary>> }> {
  console.log(heading(`4. Server fan-out to ${int(FANOUT_SUBS)} subscribers, and delivery latency at 10,000 deliveries/s`));
  console.log(
    'servers in their own processes: socketchart/server (servers/socketchart-server.ts), socket.io with a room (servers/socketio-server.ts,' +
      '\npingInterval 10 min so no engine.io ping lands in a run), a plain ws broadcast loop (servers/plain-server.ts); raw ws subscribers speaking each' +
      '\nserver\'s protocol in 2 client processes per server, counting frames from their headers. Fan-out: the same loop in every server' +
      '\n(servers/fanout-loop.ts: 16 messages per event-loop turn, drain waits above 256 KB unsent); deliveries/s = messages × subscribers / time.' +
      '\nThe plain loop encodes each message to bytes once and corks each subscriber\'s TCP socket around a burst, as socketchart/server does' +
      '\nfor the event-loop turn: one encoding per message and one write per socket per burst in both (socket.io writes every frame on its own).' +
      `\nLatency: 100 publishes/s → 100 subscribers, publisher and subscribers in one client process; ${LAT_WARMUP_MS / 1000} s warm-up, ${LAT_MS / 1000} s measured;` +
      `\n${LAT_ROUNDS} rounds, servers interleaved; median p99 and its range; every expected delivery ranked, a missing one as +∞.\n`,
  );
  const setups: ((typeof SERVER_PEERS)[number] & { server: ServerProc; clients: ChildProcess[]; url: string })[] = [];
  for (const s of SERVER_PEERS) {
    const args = s.kind === 'socketio' ? ['--ping-interval-ms', '600000'] : [];
    const server = await startServer(s.kind, args, s.kind === 'socketchart' ? ['--expose-gc'] : []);
    const clients = [forkChild(here(import.meta.url, './servers/server-clients.ts')), forkChild(here(import.meta.url, './servers/server-clients.ts'))];
    await Promise.all(clients.map((c) => expect(c, 'ready', 30_000)));
    setups.push({ ...s, server, clients, url: `ws://127.0.0.1:${server.port}/` });
  }
  try {
    const rates = new Map<ServerPeer, number[]>();
    const messages = new Map<ServerPeer, number>();
    for (const s of setups) {
      const per = FANOUT_SUBS / s.clients.length;
      await Promise.all(
        s.clients.map((c, i) => ask(c, { type: 'open', url: s.url, count: per, userPrefix: `f${i}-`, ch: s.ch, concurrency: 100, protocol: s.protocol }, 'opened', 60_000)),
      );
      await waitOpen(s.server.child, FANOUT_SUBS);
    }
    const run = (s: (typeof setups)[number], n: number) =>
      fanoutRun(s.server.child, s.clients, { ch: s.ch, messages: n, subscribers: FANOUT_SUBS, burst: 16, highWater: 256 * 1024, mode: 'socketchart' });
    for (const s of setups) {
      const warm = await run(s, quick ? 50 : 150);
      messages.set(s.peer, Math.max(50, Math.min(5_000, Math.round((warm.rate * FANOUT_SECONDS) / FANOUT_SUBS / 50) * 50)));
      console.log(`  warm-up ${s.label.padEnd(40)} ${rate(warm.rate)}`);
    }
    for (let round = 0; round < FANOUT_ROUNDS; round++) {
      for (const s of rotate(setups, round)) {
        const r = await run(s, messages.get(s.peer)!);
        rates.set(s.peer, [...(rates.get(s.peer) ?? []), r.rate]);
        console.log(`  round ${round + 1}: ${s.label.padEnd(40)} ${rate(r.rate)} deliveries/s (${int(r.messages)} messages)`);
      }
    }
    for (const s of setups) {
      await Promise.all(s.clients.map((c) => ask(c, { type: 'closeAll' }, 'closed')));
      await waitOpen(s.server.child, 0);
    }
    const rounds = new Map<ServerPeer, LatencyFigures[]>();
    for (let round = 0; round < LAT_ROUNDS; round++) {
      for (const s of rotate(setups, round)) {
        const f = await latencyCase(s.clients[0]!, s.url, {
          label: s.label,
          subscribers: 100,
          publishRate: 100,
          tag: `${s.peer}${round}`,
          warmupMs: LAT_WARMUP_MS,
          measureMs: LAT_MS,
          protocol: s.protocol,
        });
        rounds.set(s.peer, [...(rounds.get(s.peer) ?? []), f]);
        console.log(`  latency round ${round + 1}: ${s.label.padEnd(40)} p50 ${latencyMs(f.p50)}, p99 ${latencyMs(f.p99)} (${arrivedOf(f)})`);
      }
    }
    const latency: Partial<Record<Peer, LatencySummary>> = Object.fromEntries(SERVER_PEERS.map(({ peer }) => [peer, latencySummary(rounds.get(peer)!)]));
    const raw = rates.get('raw')!;
    const fanout: Row = Object.fromEntries(SERVER_PEERS.map(({ peer }) => [peer, { median: median(rates.get(peer)!), ratio: median(rates.get(peer)!.map((v, i) => v / raw[i]!)) }]));
    return { fanout, latency };
  } finally {
    for (const s of setups) {
      for (const c of s.clients) tell(c, { type: 'exit' });
      await Promise.all(s.clients.map((c) => stopChild(c)));
      await stopServer(s.server);
    }
  }
}

// ─── 5. bundle size ─────────────────────────────────────────────────────────────────────────────────

const ENTRIES: Partial<Record<Peer, string>> = {
  socketchart: "export { createConnection } from './dist/index.js';",
  partysocket: "export { default } from 'partysocket/ws';",
  rws: "export { default } from 'reconnecting-websocket';",
  socketio: "export { io } from 'socket.io-client';",
};
/** socketchart's connection with none of its optional features (presence, operations, channel iteration). */
const BASE_ENTRY = "export { createBaseConnection } from './dist/index.js';";

/** Bundle sizes by peer, and socketchart's base connection as `base`. */
type Bundles = Partial<Record<Peer | 'base', number>>;

/**
 * socketchart's bundle figures are measured from dist/: a dist/ missing, or older than a file under src/ or
 * machines/, is built first (npm run build); if it is still older than its sources after that (someone is
 * editing them), the bench refuses rather than print figures of code that is no longer there.
 */
function freshDist(): void {
  const problem = distProblem();
  if (problem === undefined) return;
  console.log(`${problem}\n  building it now: npm run build`);
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
  const still = distProblem();
  if (still !== undefined) throw new Error(`peers bench, bundle section: ${still}`);
}

async function bundles(): Promise<Bundles> {
  console.log(heading('5. Browser bundle, min+gz'));
  freshDist();
  const out: Bundles = {};
  for (const [peer, contents] of [...Object.entries(ENTRIES), ['base', BASE_ENTRY]] as [Peer | 'base', string][]) {
    const { gz, min } = await bundle(contents);
    out[peer] = gz;
    console.log(`  ${(peer === 'base' ? 'socketchart, base' : NAMES[peer]).padEnd(24)} ${kb(gz, 1)} min+gz (${kb(min, 1)} min)   entry: ${contents}`);
  }
  return out;
}

// ─── main ───────────────────────────────────────────────────────────────────────────────────────────

export interface PeersResult {
  receive: Row;
  send: Row;
  receiveCpu: Row;
  sendCpu: Row;
  heap: Row;
  storms: StormResult[];
  fanout: Row;
  /** Server delivery latency: medians over LAT_ROUNDS rounds, p99 with its range, deliveries arrived / expected. */
  latency: Partial<Record<Peer, LatencySummary>>;
  bundles: Bundles;
  /** The side-by-side table and its notes, as printed (run.ts prints them again in its summary). */
  table: string;
}

function peersTable(r: Omit<PeersResult, 'table'>): string {
  const cell = (row: Row, show: (v: number) => string, ratio = true) => (peer: Peer) => {
    const f = row[peer];
    if (!f) return '—';
    return ratio && peer !== 'raw' ? `${show(f.median)} (${fixed(f.ratio)}×)` : show(f.median);
  };
  const ns = (v: number) => `${fixed(v, 0)} ns`;
  const storm = (kind: StormKind, show: (s: StormResult) => string) => {
    const s = r.storms.find((x) => x.kind === kind);
    return s ? show(s) : '—';
  };
  /** "1.37 s (1.21–1.52)": median and range over the storms; a storm not all back is "> 30 s" (+∞ in the median). */
  const back = (s: StormResult) => {
    const values = s.runs.map((x) => (x.allBackMs === null ? Number.POSITIVE_INFINITY : x.allBackMs / 1000));
    const show = (v: number) => (v === Number.POSITIVE_INFINITY ? `> ${STORM_TIMEOUT_MS / 1000}` : fixed(v, 2));
    const notBack = s.runs.filter((x) => x.allBackMs === null).length;
    return `${show(median(values))} s${values.length > 1 ? ` (${show(Math.min(...values))}–${show(Math.max(...values))})` : ''}${notBack > 0 ? ` [${notBack} of ${values.length} not all back]` : ''}`;
  };
  const peak = (s: StormResult) => {
    const values = s.runs.map((x) => x.peakDials);
    return `${fixed(median(values), 0)}${values.length > 1 ? ` (${Math.min(...values)}–${Math.max(...values)})` : ''}`;
  };
  const downs = r.storms.flatMap((s) => s.runs.map((x) => x.downMs));
  const stormCells = (show: (s: StormResult) => string): Record<Peer, string> => ({
    socketchart: `pool ${storm('pool', show)}; standalone ${storm('standalone', show)}`,
    raw: '—',
    partysocket: storm('partysocket', show),
    rws: storm('rws', show),
    socketio: storm('socketio', show),
  });
  const rows: [string, (peer: Peer) => string][] = [
    ['receive msgs/s (× raw ws)', cell(r.receive, rate)],
    ['  client CPU per message received (× raw ws)', cell(r.receiveCpu, ns)],
    ['send msgs/s (× raw ws)', cell(r.send, rate)],
    ['  client CPU per message sent (× raw ws)', cell(r.sendCpu, ns)],
    [`heap per connection, ${int(HEAP_N)} held open (× raw ws)`, cell(r.heap, (v) => kb(v))],
    [
      `restart: all ${int(STORM_N)} back, from server listening (server down ${fixed(STORM_DOWN_MS / 1000, 1)} s${downs.length > 0 ? `: ${int(Math.min(...downs))}–${int(Math.max(...downs))} ms` : ''}; median of ${STORM_ROUNDS}, range)`,
      (p) => stormCells(back)[p],
    ],
    ['restart: peak new connections / 100 ms at the server (median, range)', (p) => stormCells(peak)[p]],
    [`server fan-out deliveries/s, ${int(FANOUT_SUBS)} subscribers (× plain ws, corked alike)`, cell(r.fanout, rate)],
    [`server delivery latency at 10k deliveries/s: p99, median of ${LAT_ROUNDS} rounds (range)`, (p) => (r.latency[p] === undefined ? '—' : `${latencyMs(r.latency[p]!.p99)} (${p99Range(r.latency[p]!)})`)],
    ['  p50 (median); deliveries arrived / expected (a missing one ranks as +∞)', (p) => (r.latency[p] === undefined ? '—' : `${latencyMs(r.latency[p]!.p50)}; ${int(r.latency[p]!.arrived)}/${int(r.latency[p]!.expected)}`)],
    ['browser bundle, min+gz (client constructor only)', (p) => (p === 'raw' ? '0 (browser WebSocket)' : r.bundles[p] === undefined ? '—' : kb(r.bundles[p]!, 1) + (p === 'socketchart' && r.bundles.base !== undefined ? `; base ${kb(r.bundles.base, 1)}` : ''))],
  ];
  const header = ['figure', 'socketchart', 'raw ws', 'partysocket', 'reconnecting-websocket', 'socket.io-client / socket.io'];
  return table(
    header,
    rows.map(([label, f]) => [label, ...PEERS.map(f)]),
  );
}

const PEERS_NOTES =
  '  × raw ws: median over interleaved rounds of (client ÷ raw ws in the same round). Server rows: the raw ws column is\n' +
  '  servers/plain-server.ts, whose fan-out loop encodes a message once and corks each subscriber socket around a burst, as\n' +
  '  socketchart/server does.\n' +
  '  Client CPU per message sent: from the first send until the server counted the last frame (a library\'s own write buffer included).\n' +
  '  socket.io-client throughput: transports [\'websocket\'] forced; heap and restart: its defaults (polling first, then the upgrade)\n' +
  '  with forceNew, one connection per client. Restart: each storm\'s clients in a fresh process; the same fixed downtime for every\n' +
  '  library; socketchart as a pool with defaults (dial budget 200/s, burst 20; staggerMs 0 for the first start only) and as\n' +
  '  standalone connections with defaults.';

/** `--only <section>[,<section>]` (throughput, heap, storms, servers, bundles): the others are left out (their cells "—"). */
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1]!.split(',') : undefined;
const section = async <T>(name: string, run: () => Promise<T>, skipped: T): Promise<T> => (only === undefined || only.includes(name) ? run() : skipped);

async function main(): Promise<PeersResult> {
  // a dist/ that cannot be built fails the bench now, not after the other sections
  if (only === undefined || only.includes('bundles')) freshDist();
  const tp = await section('throughput', throughput, { receive: {}, send: {}, receiveCpu: {}, sendCpu: {} });
  const h = await section('heap', heap, {});
  const st = await section('storms', storms, []);
  const sv = await section('servers', servers, { fanout: {}, latency: {} });
  const b = await section('bundles', bundles, {});
  const figures = { ...tp, heap: h, storms: st, fanout: sv.fanout, latency: sv.latency, bundles: b };
  const result: PeersResult = { ...figures, table: `${peersTable(figures)}\n${PEERS_NOTES}` };
  console.log(heading('Side by side'));
  console.log(result.table);
  return result;
}

await runBenchMain('peers', main, () => Promise.all(children.map((c) => stopChild(c, 500))));
