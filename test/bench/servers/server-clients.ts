/**
 * Client process for the server bench (server.ts): many raw `ws` clients speaking socketchart's wire
 * protocol (message-mode auth: `auth {token}` then `subscribe {ch}` right after the socket opens; a socket
 * counts as ready at `subscribed`). Every client uses its own token, which the bench server's `verify`
 * hook takes as the user id. Forked with an IPC channel; several run side by side.
 *
 * IPC (→ from the bench, ← to the bench):
 *   → { type: 'open', url, count, userPrefix, ch, concurrency }     ← { type: 'opened', count, ms }
 *   → { type: 'count', perSocket }
 *       switches every socket to a header-only frame counter (ws's Receiver is detached from the TCP stream,
 *       so counting costs next to nothing here and the server is what gets measured), then counts text frames
 *       until every socket has `perSocket` of them
 *                                         ← { type: 'counting' }, then
 *                                         ← { type: 'counted', firstAt, lastAt, frames, other, cpuUs }
 *                                           (firstAt/lastAt: hr epoch ms of the first / last counted frame)
 *   → { type: 'latency', url, ch, subscribers, rate, warmupMs, measureMs, userPrefix }
 *       opens `subscribers` subscribers of `ch` and one publisher (all in this process: one monotonic clock),
 *       publishes `{type:'publish', ch, data:{t}}` (fire and forget, no id) at a steady `rate` per second
 *       for warmupMs + measureMs, with t = performance.now() just before ws.send; every subscriber records
 *       performance.now() − t for messages published after the warm-up
 *                                         ← { type: 'latency', samples: Float64Array, expected, published, lagP99Ms }
 *       (samples: the deliveries that arrived, at most 3 s after the last publish; the bench ranks each
 *       missing one of `expected` as +∞)
 *   → { type: 'closeAll' }                ← { type: 'closed' }
 *
 * `protocol: 'socketio'` (on `open` and `latency`) speaks socket.io v4 over its websocket transport instead
 * (for the peers bench, servers/socketio-server.ts): `40` (connect), then `emit('join', ch, ack)` and ready
 * at the ack; publishes are `emit('publish', {ch, data:{t}})`, deliveries `message` events.
 *   → { type: 'exit' }
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';

const send = (message: unknown) => process.send?.(message);
const hrEpoch = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const tcpOf = (ws: WebSocket) => (ws as unknown as { _socket: Socket })._socket;

const sockets: WebSocket[] = [];

type Protocol = 'socketchart' | 'socketio';

/** What differs between the two wire protocols: the URL, the handshake, the publish frame, reading `t` back. */
const wire = {
  socketchart: {
    url: (url: string) => url,
    /** The frames to send for an incoming one (null: none); `ready` once the client may count as ready. */
    onFrame(text: string, token: string, ch: string | undefined): { reply: string[]; ready: boolean } {
      const frame = JSON.parse(text) as { type: string; ch?: string; code?: string; message?: string };
      if (frame.type === 'error') throw new Error(`client ${token}: ${frame.code} ${frame.message}`);
      return { reply: [], ready: ch === undefined ? frame.type === 'auth_ok' : frame.type === 'subscribed' && frame.ch === ch };
    },
    opening: (token: string, ch: string | undefined) => [JSON.stringify({ type: 'auth', token }), ...(ch === undefined ? [] : [JSON.stringify({ type: 'subscribe', ch })])],
    publish: (ch: string, t: number) => `{"type":"publish","ch":"${ch}","data":{"t":${t}}}`,
    sentAt(text: string, ch: string): number | undefined {
      return text.startsWith(`{"type":"message","ch":"${ch}"`) ? (JSON.parse(text) as { data: { t: number } }).data.t : undefined;
    },
  },
  socketio: {
    url: (url: string) => `${url.replace(/\/$/, '')}/socket.io/?EIO=4&transport=websocket`,
    onFrame(text: string, _token: string, ch: string | undefined): { reply: string[]; ready: boolean } {
      if (text.startsWith('0')) return { reply: ['40'], ready: false };
      if (text.startsWith('40')) return ch === undefined ? { reply: [], ready: true } : { reply: [`420${JSON.stringify(['join', ch])}`], ready: false };
      return { reply: [], ready: text.startsWith('430') };
    },
    opening: () => [],
    publish: (ch: string, t: number) => `42["publish",{"ch":"${ch}","data":{"t":${t}}}]`,
    sentAt: (text: string) => (text.startsWith('42["message"') ? (JSON.parse(text.slice(2)) as [string, { t: number }])[1].t : undefined),
  },
} satisfies Record<Protocol, unknown>;

interface OpenSpec {
  url: string;
  token: string;
  /** Channel to subscribe to; undefined: ready at auth_ok. */
  ch: string | undefined;
  timeoutMs?: number;
  protocol?: Protocol;
}

/** Opens one client, authenticates, subscribes; resolves once ready. */
function openOne({ url, token, ch, timeoutMs = 30_000, protocol = 'socketchart' }: OpenSpec): Promise<WebSocket> {
  const speak = wire[protocol];
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(speak.url(url), { perMessageDeflate: false });
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.removeAllListeners('message');
      if (error) {
        ws.terminate();
        reject(error);
      } else resolve(ws);
    };
    const timer = setTimeout(() => finish(new Error(`client ${token} not ready within ${timeoutMs} ms`)), timeoutMs);
    ws.on('error', (error) => finish(error));
    ws.once('close', (code, reason) => finish(new Error(`client ${token} closed (${code} ${reason.toString()}) before ready`)));
    ws.once('open', () => {
      for (const frame of speak.opening(token, ch)) ws.send(frame);
    });
    ws.on('message', (data: Buffer) => {
      try {
        const { reply, ready } = speak.onFrame(data.toString(), token, ch);
        for (const frame of reply) ws.send(frame);
        if (ready) finish();
      } catch (error) {
        finish(error as Error);
      }
    });
  });
}

/** Opens `count` clients with at most `concurrency` handshakes in flight. */
async function openMany(url: string, count: number, userPrefix: string, ch: string | undefined, concurrency: number, protocol?: Protocol): Promise<WebSocket[]> {
  const out: WebSocket[] = new Array(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await openOne({ url, token: `${userPrefix}${i}`, ch, ...(protocol ? { protocol } : {}) });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  for (const ws of out) ws.on('error', () => undefined);
  return out;
}

// ─── header-only frame counting ─────────────────────────────────────────────────────────────────────

interface Counter {
  frames: number;
  other: number;
  skip: number;
  leftover: Buffer | null;
}

let counters: Counter[] = [];
let expectedPerSocket = 0;
let done = 0;
let firstAt = 0;
let lastAt = 0;
let cpuStart: NodeJS.CpuUsage | undefined;
let reported = true;

function checkDone(counter: Counter): void {
  if (counter.frames !== expectedPerSocket) return;
  done++;
  if (done === counters.length && !reported) {
    reported = true;
    lastAt = hrEpoch();
    const cpu = process.cpuUsage(cpuStart);
    send({
      type: 'counted',
      firstAt,
      lastAt,
      frames: counters.reduce((s, c) => s + c.frames, 0),
      other: counters.reduce((s, c) => s + c.other, 0),
      cpuUs: cpu.user + cpu.system,
    });
  }
}

/** Reads server→client frame headers (unmasked) and skips payloads; counts text frames. */
function onData(counter: Counter, chunk: Buffer): void {
  let buf = chunk;
  if (counter.leftover) {
    buf = Buffer.concat([counter.leftover, chunk]);
    counter.leftover = null;
  }
  let i = 0;
  const length = buf.length;
  while (i < length) {
    if (counter.skip > 0) {
      const k = Math.min(counter.skip, length - i);
      counter.skip -= k;
      i += k;
      continue;
    }
    const avail = length - i;
    if (avail < 2) {
      counter.leftover = Buffer.from(buf.subarray(i));
      return;
    }
    const b0 = buf[i]!;
    let payload = buf[i + 1]! & 0x7f;
    let header = 2;
    if (payload === 126) {
      if (avail < 4) {
        counter.leftover = Buffer.from(buf.subarray(i));
        return;
      }
      payload = buf.readUInt16BE(i + 2);
      header = 4;
    } else if (payload === 127) {
      if (avail < 10) {
        counter.leftover = Buffer.from(buf.subarray(i));
        return;
      }
      payload = Number(buf.readBigUInt64BE(i + 2));
      header = 10;
    }
    i += header;
    counter.skip = payload;
    if ((b0 & 0x0f) === 1) {
      if (firstAt === 0) firstAt = hrEpoch();
      counter.frames++;
      checkDone(counter);
    } else {
      counter.other++;
    }
  }
}

function startCounting(perSocket: number): void {
  if (counters.length !== sockets.length) {
    counters = sockets.map((ws) => {
      const counter: Counter = { frames: 0, other: 0, skip: 0, leftover: null };
      const tcp = tcpOf(ws);
      tcp.removeAllListeners('data');
      tcp.on('data', (chunk: Buffer) => onData(counter, chunk));
      return counter;
    });
  }
  for (const c of counters) {
    c.frames = 0;
    c.other = 0;
  }
  expectedPerSocket = perSocket;
  done = 0;
  firstAt = 0;
  lastAt = 0;
  reported = false;
  cpuStart = process.cpuUsage();
  send({ type: 'counting' });
}

// ─── latency ────────────────────────────────────────────────────────────────────────────────────────

interface LatencySpec {
  url: string;
  ch: string;
  subscribers: number;
  rate: number;
  warmupMs: number;
  measureMs: number;
  userPrefix: string;
  protocol?: Protocol;
}

async function latency({ url, ch, subscribers, rate, warmupMs, measureMs, userPrefix, protocol = 'socketchart' }: LatencySpec) {
  const speak = wire[protocol];
  const subs = await openMany(url, subscribers, `${userPrefix}s`, ch, 50, protocol);
  const publisher = await openOne({ url, token: `${userPrefix}pub`, ch: undefined, protocol });
  publisher.on('error', () => undefined);
  const total = Math.round((rate * (warmupMs + measureMs)) / 1000);
  const warmupCount = Math.round((rate * warmupMs) / 1000);
  const expected = (total - warmupCount) * subscribers;
  const samples = new Float64Array(expected);
  let recorded = 0;
  let measureFrom = Number.POSITIVE_INFINITY;
  for (const ws of subs) {
    ws.on('message', (data: Buffer) => {
      const t = speak.sentAt(data.toString(), ch);
      if (t === undefined) return;
      const at = performance.now();
      if (t >= measureFrom && recorded < expected) samples[recorded++] = at - t;
    });
  }
  let lost = '';
  for (const ws of [...subs, publisher]) ws.once('close', (code) => (lost ||= `close code ${code}`));
  await sleep(200);
  const lags: number[] = [];
  const interval = 1000 / rate;
  const started = performance.now();
  let sent = 0;
  while (sent < total && !lost) {
    const now = performance.now();
    const due = Math.min(total, Math.floor((now - started) / interval) + 1);
    while (sent < due) {
      if (sent === warmupCount) measureFrom = performance.now();
      const t = performance.now();
      if (sent >= warmupCount) lags.push(t - (started + sent * interval));
      publisher.send(speak.publish(ch, t));
      sent++;
    }
    await sleep(1);
  }
  // A delivery not here 3 s after the last publish is missing: the bench ranks it as +∞ (lib/server-runs.ts
  // latencyCase), it is not left out of the percentiles.
  const deadline = performance.now() + 3_000;
  while (recorded < expected && performance.now() < deadline && !lost) await sleep(20);
  if (lost) {
    for (const ws of [...subs, publisher]) ws.terminate();
    throw new Error(`latency: a socket closed during the run (${lost})`);
  }
  lags.sort((a, b) => a - b);
  const lagP99Ms = lags[Math.min(lags.length - 1, Math.floor(lags.length * 0.99))] ?? 0;
  for (const ws of [...subs, publisher]) ws.terminate();
  return { type: 'latency', samples: samples.slice(0, recorded), expected, published: total - warmupCount, lagP99Ms };
}

// ─── IPC ────────────────────────────────────────────────────────────────────────────────────────────

type Command =
  | { type: 'open'; url: string; count: number; userPrefix: string; ch: string; concurrency?: number; protocol?: Protocol }
  | { type: 'count'; perSocket: number }
  | ({ type: 'latency' } & LatencySpec)
  | { type: 'closeAll' }
  | { type: 'exit' };

process.on('message', (message: Command) => {
  const fail = (error: unknown) => send({ type: 'error', message: String((error as Error)?.message ?? error) });
  switch (message.type) {
    case 'open': {
      const t0 = performance.now();
      openMany(message.url, message.count, message.userPrefix, message.ch, message.concurrency ?? 100, message.protocol).then((opened) => {
        sockets.push(...opened);
        send({ type: 'opened', count: opened.length, ms: performance.now() - t0 });
      }, fail);
      break;
    }
    case 'count':
      startCounting(message.perSocket);
      break;
    case 'latency':
      latency(message).then(send, fail);
      break;
    case 'closeAll':
      for (const ws of sockets) ws.terminate();
      sockets.length = 0;
      counters = [];
      send({ type: 'closed' });
      break;
    case 'exit':
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
