/**
 * Client throughput runs against servers/throughput-server.ts (throughput.ts, peers.ts): the same listener,
 * the same send driver and the same server for every client measured, so that only the client differs.
 *
 * A client is a `ThroughputClient`: `receiver(url, listener)` connects one whose application listener runs
 * for every `message` on CHANNEL; `sender(url)` connects one and says how to send `count` copies of the
 * outbound message and which `ws` socket carries them (for the drain wait).
 */
import type WebSocket from 'ws';
import type { ChildProcess } from 'node:child_process';
import { createConnection, type Connection } from '../../../src/index.node.js';
import { CHANNEL, FRAME_BYTES, OUTBOUND_MESSAGE } from './frames.js';
import { drained, openRaw, socketOfConnection, tcpOf, whenConnected } from './clients.js';
import { forkTs, here, isType, nextMessage, stopChild } from './proc.js';
import { tick } from './stats.js';

export const BURST = 256;
export const SEND_LIMIT = 256 * 1024;
const YIELD_EVERY = 16_384;

export type Listener = (data: unknown, message: unknown) => void;

/**
 * One run: msgs/s, and this (client) process's CPU time per message. Receive: CPU from the first to the n-th
 * message delivered. Send: CPU from the first send until the server reports the n-th frame received, so
 * what a library writes after its send calls returned (a buffer of its own, flushed on a later tick) is
 * counted too.
 */
export interface Run {
  rate: number;
  cpuNs: number;
}

/** The application's listener, identical for every variant: counts and timestamps first and last message. */
export function counter(n: number) {
  let count = 0;
  let first = 0;
  let last = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  let sink = 0;
  let cpuStart: NodeJS.CpuUsage | undefined;
  let cpu: NodeJS.CpuUsage | undefined;
  const listener: Listener = (data) => {
    if (data !== undefined) sink++;
    if (++count === 1) {
      first = performance.now();
      cpuStart = process.cpuUsage();
    }
    if (count === n) {
      last = performance.now();
      cpu = process.cpuUsage(cpuStart);
      resolve();
    }
  };
  return {
    listener,
    done,
    result: (): Run => ({ rate: (n - 1) / ((last - first) / 1000), cpuNs: cpu ? ((cpu.user + cpu.system) * 1000) / (n - 1) : Number.NaN }),
    check: () => sink,
  };
}

export interface Sender {
  /** The `ws` socket the messages go out on (bufferedAmount, and its TCP socket's `drain`). */
  ws: WebSocket;
  burst: (count: number) => void;
  /**
   * For a library that keeps sends in a buffer of its own before they reach `ws` (socket.io-client:
   * engine.io's writeBuffer, flushed on the next tick): the bytes held there now, and a promise that
   * resolves once that buffer is empty. The driver's backpressure counts them with ws.bufferedAmount.
   */
  own?: { held: () => number; flushed: () => Promise<void> };
  /** Throws if the run did not go as measured (the run fails). */
  close: () => void;
}

export interface ThroughputClient {
  label: string;
  /** Connects; resolves once connected, with how to close it. */
  receiver: (url: string, listener: Listener) => Promise<() => void>;
  sender: (url: string) => Promise<Sender>;
}

/**
 * Same driver for every client: bursts of BURST; above SEND_LIMIT unsent bytes (ws.bufferedAmount plus what
 * the library holds in a buffer of its own), waits for the library to hand its buffer to `ws` and for the
 * TCP socket to drain; a yield every YIELD_EVERY. Returns once the library's own buffer is empty.
 */
async function drive({ ws, burst, own }: Sender, n: number): Promise<void> {
  const socket = tcpOf(ws);
  const held = own?.held ?? (() => 0);
  let sent = 0;
  let sinceYield = 0;
  while (sent < n) {
    const count = Math.min(BURST, n - sent);
    burst(count);
    sent += count;
    sinceYield += count;
    if (ws.bufferedAmount + held() >= SEND_LIMIT) {
      if (own && held() > 0) await own.flushed();
      if (ws.bufferedAmount >= SEND_LIMIT) await drained(socket);
      sinceYield = 0;
    } else if (sinceYield >= YIELD_EVERY) {
      await tick();
      sinceYield = 0;
    }
  }
  if (own && held() > 0) await own.flushed();
}

/** servers/throughput-server.ts in its own process (`--socket.io`: the socket.io flavour). */
export class ThroughputServer {
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    private readonly serverError: Promise<never>,
  ) {}

  static async start(args: string[] = []): Promise<ThroughputServer> {
    const child = forkTs(here(import.meta.url, '../servers/throughput-server.ts'), { args });
    const serverError = new Promise<never>((_, reject) => {
      child.on('message', (m) => {
        if (isType<{ type: 'error'; message: string }>('error')(m)) reject(new Error(`server: ${m.message}`));
      });
    });
    serverError.catch(() => {});
    const listening = await nextMessage(child, isType<{ type: 'listening'; port: number }>('listening'), 30_000);
    return new ThroughputServer(child, `ws://127.0.0.1:${listening.port}`, serverError);
  }

  async withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        promise,
        this.serverError,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The server writes n frames to the newest connection; msgs/s from the first to the n-th delivered. */
  async receive(client: Pick<ThroughputClient, 'label' | 'receiver'>, n: number, timeoutMs = 120_000): Promise<Run> {
    const c = counter(n);
    const close = await client.receiver(this.url, c.listener);
    this.child.send({ type: 'blast', n });
    await this.withTimeout(c.done, timeoutMs, `${client.label} receive`);
    close();
    return c.result();
  }

  /**
   * The client sends n messages; msgs/s from the first to the n-th frame counted at the server. Client CPU
   * from the first send until the server has counted the n-th frame: every byte the client writes for the
   * n messages, whenever it writes it, is in the figure.
   */
  async send(client: ThroughputClient, n: number): Promise<Run> {
    const what = `${client.label} send`;
    const sender = await client.sender(this.url);
    this.child.send({ type: 'sink', n });
    await this.withTimeout(nextMessage(this.child, isType('sinking')), 10_000, 'sink');
    const sunk = nextMessage(this.child, isType<{ type: 'sunk'; n: number; bytes: number; wrongSize: number; ms: number }>('sunk'), 180_000);
    const cpuStart = process.cpuUsage();
    await this.withTimeout(drive(sender, n), 180_000, `${what} (driver)`);
    const result = await this.withTimeout(sunk, 180_000, what);
    const cpu = process.cpuUsage(cpuStart);
    sender.close();
    if (result.wrongSize !== 0 || result.bytes !== n * FRAME_BYTES) throw new Error(`${what}: server saw ${result.wrongSize} frames of the wrong size`);
    return { rate: (n - 1) / (result.ms / 1000), cpuNs: ((cpu.user + cpu.system) * 1000) / n };
  }

  async stop(): Promise<void> {
    if (this.child.connected) this.child.send({ type: 'exit' });
    await stopChild(this.child);
  }
}

/** A listener for the default protocol's `message` frames on CHANNEL, as an application on a bare socket writes it. */
export const onMessageFrame = (listener: Listener) => (text: string) => {
  const msg = JSON.parse(text) as { type: string; ch?: string; data: unknown };
  if (msg.type === 'message' && msg.ch === CHANNEL) listener(msg.data, msg);
};

/** raw ws: ws.on('message') → JSON.parse(buf.toString()) → type/channel check → listener; ws.send(string). */
export const rawWs: ThroughputClient = {
  label: 'raw ws',
  async receiver(url, listener) {
    const ws = await openRaw(url);
    const deliver = onMessageFrame(listener);
    ws.on('message', (buf: Buffer, isBinary: boolean) => {
      if (!isBinary) deliver(buf.toString());
    });
    return () => ws.terminate();
  },
  async sender(url) {
    const ws = await openRaw(url);
    const message = OUTBOUND_MESSAGE;
    return {
      ws,
      burst: (count) => {
        for (let i = 0; i < count; i++) ws.send(message);
      },
      close: () => ws.terminate(),
    };
  },
};

/** socketchart: createConnection() with default options; subscribe(CHANNEL, listener); send(string). */
export const socketchart: ThroughputClient = {
  label: 'socketchart',
  async receiver(url, listener) {
    const connection = createConnection({ url, name: 'bench-receive' });
    connection.subscribe(CHANNEL, listener);
    connection.start();
    await whenConnected(connection);
    return () => connection.dispose();
  },
  async sender(url) {
    const connection: Connection = createConnection({ url, name: 'bench-send' });
    connection.start();
    await whenConnected(connection);
    const message = OUTBOUND_MESSAGE;
    let queued = 0;
    let sent = 0;
    return {
      ws: socketOfConnection(connection),
      burst: (count) => {
        for (let i = 0; i < count; i++) connection.send(message);
        sent += count;
        queued += connection.queued;
      },
      close: () => {
        const metrics = connection.metrics();
        connection.dispose();
        // The figure is the fast path's (DESIGN: send() writes directly while connected, the queue empty and
        // bufferedAmount under its high-water mark); a run that queued measured something else.
        if (queued !== 0) throw new Error(`socketchart send: ${queued} messages were queued instead of taking the fast path (run not counted)`);
        if (metrics.messagesOut !== sent) throw new Error(`socketchart send: metrics counted ${metrics.messagesOut} messages out, ${sent} were sent (run not counted)`);
      },
    };
  },
};
