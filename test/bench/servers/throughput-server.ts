/**
 * Throughput bench server, run in its own process (forked with an IPC channel by throughput.ts).
 *
 * It speaks just enough of socketchart's default protocol for a client to connect (`ping` → `pong`,
 * `auth` → `auth_ok`, `subscribe` → `subscribed`) and is otherwise driven over IPC by the bench:
 *
 *   → { type: 'blast', n }   write n `message` frames to the newest connection as fast as TCP takes them
 *   ← { type: 'blasted', n, ms }
 *   → { type: 'sink', n }    count the next n text frames from the newest connection
 *   ← { type: 'sinking' }                              (the client may start sending)
 *   ← { type: 'sunk', n, bytes, wrongSize, ms }        ms: first frame → n-th frame, measured here
 *
 * Both directions bypass `ws`'s per-frame machinery on the server side (pre-framed batches written to the
 * TCP socket; a header-only frame counter that never unmasks payloads), so the server costs far less per
 * message than any client and the client is what gets measured.
 *
 * With `--socket.io` it is a socket.io server instead (websocket transport only, pingInterval 10 min so no
 * engine.io ping lands in a run): blast writes socket.io EVENT frames (lib/frames.ts ioMessageFrame) to the
 * newest client's server-side `ws` socket, sink counts the client's emits the same way.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { frameBatch, ioMessageFrame, messageFrame } from '../lib/frames.js';
import { drained } from './fanout-loop.js';

const BATCH = 1024;
const socketIo = process.argv.includes('--socket.io');
const frame = socketIo ? ioMessageFrame : messageFrame;

let newest: WebSocket | undefined;

const send = (message: unknown) => process.send?.(message);
const socketOf = (ws: WebSocket) => (ws as unknown as { _socket: Socket })._socket;

async function listenSocketIo(): Promise<number> {
  const { Server } = await import('socket.io');
  const httpServer = http.createServer();
  const io = new Server(httpServer, { transports: ['websocket'], pingInterval: 600_000, perMessageDeflate: false });
  io.on('connection', (socket) => {
    const ws = (socket.conn as unknown as { transport: { socket: WebSocket } }).transport.socket;
    newest = ws;
    socket.on('disconnect', () => {
      if (newest === ws) newest = undefined;
    });
  });
  await new Promise<void>((resolve) => httpServer.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return (httpServer.address() as { port: number }).port;
}

function listenWs(): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, clientTracking: true });
  wss.on('connection', onConnection);
  return new Promise((resolve) => wss.on('listening', () => resolve((wss.address() as { port: number }).port)));
}

function onConnection(ws: WebSocket): void {
  newest = ws;
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    let frame: { type?: unknown; ts?: unknown; ch?: unknown };
    try {
      frame = JSON.parse(data.toString()) as typeof frame;
    } catch {
      return;
    }
    if (frame.type === 'ping') ws.send(typeof frame.ts === 'number' ? `{"type":"pong","ts":${frame.ts}}` : '{"type":"pong"}');
    else if (frame.type === 'auth') ws.send('{"type":"auth_ok","userId":"bench","sessionId":"bench"}');
    else if (frame.type === 'subscribe') ws.send(JSON.stringify({ type: 'subscribed', ch: frame.ch, seq: 0 }));
  });
  ws.on('close', () => {
    if (newest === ws) newest = undefined;
  });
  ws.on('error', () => {});
}

async function blast(n: number): Promise<void> {
  const ws = newest;
  if (!ws) throw new Error('blast: no client connected');
  const socket = socketOf(ws);
  const started = performance.now();
  let seq = 1;
  while (seq <= n) {
    if (socket.destroyed) throw new Error('blast: client went away');
    const count = Math.min(BATCH, n - seq + 1);
    const ok = socket.write(frameBatch(seq, count, frame));
    seq += count;
    if (!ok) await drained(socket);
  }
  send({ type: 'blasted', n, ms: performance.now() - started });
}

function sink(n: number): void {
  const ws = newest;
  if (!ws) throw new Error('sink: no client connected');
  const socket = socketOf(ws);
  // Take the byte stream away from ws's Receiver: from here on only frame headers are read.
  socket.removeAllListeners('data');
  let leftover: Buffer | null = null;
  let skip = 0;
  let frames = 0;
  let bytes = 0;
  let wrongSize = 0;
  let first = 0;
  let reported = false;
  socket.on('data', (chunk: Buffer) => {
    let buf = chunk;
    if (leftover) {
      buf = Buffer.concat([leftover, chunk]);
      leftover = null;
    }
    let i = 0;
    const length = buf.length;
    while (i < length) {
      if (skip > 0) {
        const k = Math.min(skip, length - i);
        skip -= k;
        i += k;
        continue;
      }
      const avail = length - i;
      if (avail < 2) {
        leftover = Buffer.from(buf.subarray(i));
        break;
      }
      const b0 = buf[i]!;
      const b1 = buf[i + 1]!;
      let payload = b1 & 0x7f;
      let headerLength = 2;
      if (payload === 126) {
        if (avail < 4) {
          leftover = Buffer.from(buf.subarray(i));
          break;
        }
        payload = buf.readUInt16BE(i + 2);
        headerLength = 4;
      } else if (payload === 127) {
        if (avail < 10) {
          leftover = Buffer.from(buf.subarray(i));
          break;
        }
        payload = Number(buf.readBigUInt64BE(i + 2));
        headerLength = 10;
      }
      if (b1 & 0x80) headerLength += 4;
      if (avail < headerLength) {
        leftover = Buffer.from(buf.subarray(i));
        break;
      }
      i += headerLength;
      skip = payload;
      if ((b0 & 0x0f) === 1) {
        if (frames === 0) first = performance.now();
        frames++;
        bytes += payload;
        if (payload !== 60) wrongSize++;
        if (frames === n && !reported) {
          reported = true;
          send({ type: 'sunk', n, bytes, wrongSize, ms: performance.now() - first });
          socket.destroy();
        }
      }
    }
  });
  send({ type: 'sinking' });
}

process.on('message', (message: { type: string; n?: number }) => {
  try {
    if (message.type === 'blast') void blast(message.n ?? 0).catch((error: Error) => send({ type: 'error', message: error.message }));
    else if (message.type === 'sink') sink(message.n ?? 0);
    else if (message.type === 'exit') process.exit(0);
  } catch (error) {
    send({ type: 'error', message: (error as Error).message });
  }
});
process.on('disconnect', () => process.exit(0));

send({ type: 'listening', port: await (socketIo ? listenSocketIo() : listenWs()) });
