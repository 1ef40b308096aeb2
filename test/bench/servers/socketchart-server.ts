/**
 * The socketchart reference server (createServer from src/server, in-memory backend, no Redis) in its own
 * process, for the server bench (server.ts). Forked with --expose-gc and an IPC channel.
 *
 * Configuration: attached to an http.Server of ours on 127.0.0.1 (OS port) so the bench can see the TCP
 * sockets (for backpressure); `auth.verify` accepts any token as its user id (no JWT cost; every client
 * uses its own token so `maxConnectionsPerUser` never bites); channel rule `bench:*` subscribe + publish;
 * `rateLimits.bench` raised so one client may publish 10,000 msgs/s; `maxConnections` 20,000 (headroom
 * over the 10,000 measured); a silent pino logger (the per-connection child loggers are still created);
 * everything else default (heartbeat 30 s, history 1,000 per channel, implicit channels on, metrics on).
 *
 * IPC (→ from the bench, ← to the bench):
 *   ← { type: 'listening', port }
 *   → { type: 'count' }                              ← { type: 'count', open, sockets }
 *   → { type: 'heap' }                               ← { type: 'heap', heapUsed, external, rss, open }   (after full GCs)
 *   → { type: 'fanout', ch, messages, burst, highWater, mode }
 *       server.broadcast(ch, data) `messages` times, `burst` calls per event-loop turn; after each burst,
 *       waits for every TCP socket holding more than `highWater` unsent bytes to drain; at the end waits
 *       for every socket to drain. `mode`: see FanoutMode (reference variants on the same sockets).
 *                                                    ← { type: 'fanned', startedAt, publishMs, drainedMs, cpuUs, sysUs, drainWaits, maxBuffered, failed }
 *   → { type: 'sendToUsers', prefix, count }         one sendToUser per connected user (users `${prefix}${i}`)
 *                                                    ← { type: 'sent', ms }
 *   → { type: 'metricsCost', n }                     CPU ns per call of the per-frame metrics bookkeeping
 *                                                    ← { type: 'metricsCost', countOutNs, byteLengthNs, sendTextBaseNs }
 *   → { type: 'snapshot' } / { type: 'baseline' }    heap-snapshot split (see servers/snapshot-split.ts)
 *   → { type: 'exit' }
 * Times are "hr epoch" ms (performance.timeOrigin + performance.now()), comparable across processes on one host.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { createServer } from '../../../src/server/index.js';
import { createMetrics } from '../../../src/server/metrics.js';
import { connectionSplit, takeBaseline } from './snapshot-split.js';
import { fanoutLoop } from './fanout-loop.js';

const send = (message: unknown) => process.send?.(message);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('socketchart-server.ts needs --expose-gc');
  process.exit(2);
}

const sockets = new Set<Socket>();
const httpServer = http.createServer();
httpServer.on('connection', (socket: Socket) => {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
});
await new Promise<void>((resolve, reject) => {
  httpServer.once('error', reject);
  httpServer.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => {
    httpServer.off('error', reject);
    resolve();
  });
});

const server = await createServer({
  server: httpServer,
  auth: { verify: (token) => ({ userId: token }) },
  channels: [{ pattern: 'bench:*', subscribe: true, publish: true }],
  rateLimits: { bench: { perMinute: 60_000_000, burst: 1_000_000 } },
  maxConnections: 20_000,
  logger: pino({ level: 'silent' }),
});

async function settleHeap() {
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return process.memoryUsage();
}

/** The server-side `ws` WebSocket of an upgraded TCP socket (ws keeps it under a symbol on the socket). */
function websocketOf(socket: Socket): WebSocket | undefined {
  const key = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'websocket');
  const ws = key === undefined ? undefined : (socket as unknown as Record<symbol, unknown>)[key];
  return ws instanceof WebSocket && ws.readyState === WebSocket.OPEN ? ws : undefined;
}

/**
 * `socketchart`: server.broadcast(ch, data). `corked`: the same, with every TCP socket corked for the burst
 * (ws's own cork/uncork nests inside), so each socket gets one write per burst instead of one per message.
 * `raw`: no socketchart: the same frame text (built like the server builds it, once per message, and encoded
 * to bytes once, as the server encodes it once for all subscribers: a string handed to ws.send() would be
 * encoded again for every socket) passed to ws.send() of every subscriber's server-side WebSocket, each TCP
 * socket corked around the burst as socketchart/server holds a socket's writes for the event-loop turn
 * (src/server/corked-writes.ts): a plain `ws` loop encoded and batched alike (servers/plain-server.ts), so the
 * comparison is of the work per message, not of one encoding per message against one per delivery, or of
 * one write per socket per burst against one per frame.
 */
type FanoutMode = 'socketchart' | 'corked' | 'raw';

/** A Buffer sent as a text frame (ws sends a Buffer as binary unless told), as socketchart/server sends its frames. */
const TEXT = { binary: false } as const;

function fanout(ch: string, messages: number, burst: number, highWater: number, mode: FanoutMode) {
  const data = { v: 'x'.repeat(24) };
  let failed = 0;
  const onFail = () => void failed++;
  const targets = mode === 'raw' ? [...sockets].map(websocketOf).filter((ws): ws is WebSocket => ws !== undefined) : [];
  const tcp = targets.map((ws) => (ws as unknown as { _socket: Socket })._socket);
  let seq = 1_000_000_000_000_000;
  const broadcastBurst = (n: number) => {
    if (mode === 'raw') {
      for (const socket of tcp) socket.cork();
      for (let k = 0; k < n; k++) {
        const bytes = Buffer.from(JSON.stringify({ type: 'message', ch, seq: ++seq, data, ts: Date.now() }));
        for (const ws of targets) ws.send(bytes, TEXT);
      }
      for (const socket of tcp) socket.uncork();
    } else {
      if (mode === 'corked') for (const socket of sockets) socket.cork();
      for (let k = 0; k < n; k++) server.broadcast(ch, data).catch(onFail);
      if (mode === 'corked') for (const socket of sockets) socket.uncork();
    }
  };
  return fanoutLoop(() => sockets, { messages, burst, highWater }, broadcastBurst, () => failed);
}

/** CPU cost of the bookkeeping Connection.sendText does for every frame it sends (besides ws.send). */
function metricsCost(n: number) {
  const metrics = createMetrics({ prefix: 'bench_', defaultMetrics: false });
  const text = `{"type":"message","ch":"bench:fanout","seq":1760000000000001,"data":{"v":"${'x'.repeat(24)}"},"ts":1760000000000}`;
  const time = (fn: () => void) => {
    for (let i = 0; i < Math.min(n, 100_000); i++) fn();
    const t0 = process.cpuUsage();
    for (let i = 0; i < n; i++) fn();
    const cpu = process.cpuUsage(t0);
    return ((cpu.user + cpu.system) * 1000) / n;
  };
  let sink = 0;
  const byteLengthNs = time(() => void (sink += Buffer.byteLength(text)));
  const countOutNs = time(() => metrics.countOut('message', 120));
  const sendTextBaseNs = time(() => void (sink += text.length));
  return { type: 'metricsCost', countOutNs, byteLengthNs, sendTextBaseNs, sink };
}

process.on('message', (message: { type: string; ch?: string; messages?: number; burst?: number; highWater?: number; mode?: FanoutMode; prefix?: string; count?: number; n?: number }) => {
  const fail = (error: unknown) => send({ type: 'error', message: String((error as Error)?.stack ?? error) });
  try {
    switch (message.type) {
      case 'count':
        send({ type: 'count', open: server.connections, sockets: sockets.size });
        break;
      case 'heap':
        settleHeap().then((m) => send({ type: 'heap', heapUsed: m.heapUsed, external: m.external, rss: m.rss, open: server.connections }), fail);
        break;
      case 'fanout':
        fanout(message.ch!, message.messages!, message.burst ?? 16, message.highWater ?? 256 * 1024, message.mode ?? 'socketchart').then(send, fail);
        break;
      case 'sendToUsers': {
        const t0 = performance.now();
        const all: Promise<unknown>[] = [];
        for (let i = 0; i < message.count!; i++) all.push(server.sendToUser(`${message.prefix}${i}`, { hello: i }));
        Promise.all(all).then(() => send({ type: 'sent', ms: performance.now() - t0 }), fail);
        break;
      }
      case 'metricsCost':
        send(metricsCost(message.n ?? 2_000_000));
        break;
      case 'baseline':
        takeBaseline().then(() => send({ type: 'baseline' }), fail);
        break;
      case 'snapshot':
        connectionSplit().then((split) => send({ type: 'snapshot', split }), fail);
        break;
      case 'exit':
        process.exit(0);
    }
  } catch (error) {
    fail(error);
  }
});
process.on('disconnect', () => process.exit(0));

const address = httpServer.address();
send({ type: 'listening', port: typeof address === 'object' && address !== null ? address.port : 0 });
