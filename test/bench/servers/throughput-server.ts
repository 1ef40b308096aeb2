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
 */
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { frameBatch } from '../lib/frames.js';

const BATCH = 1024;

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, clientTracking: true });
let newest: WebSocket | undefined;

const send = (message: unknown) => process.send?.(message);
const socketOf = (ws: WebSocket) => (ws as unknown as { _socket: Socket })._socket;

wss.on('connection', (ws) => {
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
});

async function blast(n: number): Promise<void> {
  const ws = newest;
  if (!ws) throw new Error('blast: no client connected');
  const socket = socketOf(ws);
  const started = performance.now();
  let seq = 1;
  while (seq <= n) {
    if (socket.destroyed) throw new Error('blast: client went away');
    const count = Math.min(BATCH, n - seq + 1);
    const ok = socket.write(frameBatch(seq, count));
    seq += count;
    if (!ok) {
      await new Promise<void>((resolve) => {
        const done = () => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
    }
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

wss.on('listening', () => {
  const address = wss.address();
  send({ type: 'listening', port: typeof address === 'object' && address !== null ? address.port : 0 });
});
