/**
 * A plain `ws` server for the memory and pool benches, run in its own process: it holds many idle
 * connections and answers socketchart's default-protocol control frames (`ping` → `pong`, `auth` →
 * `auth_ok`, `subscribe` → `subscribed`). IPC:
 *
 *   ← { type: 'listening', port }                          once, at start (port chosen by the OS)
 *   → { type: 'count' }         ← { type: 'count', open }   sockets held now
 *   → { type: 'restart', mode: 'close1012' | 'terminate', downMs }
 *       stops listening, then closes every socket (close frame 1012 "service restart", or a TCP reset with
 *       `terminate`), waits `downMs`, listens again on the SAME port and answers
 *   ← { type: 'restarted', port, downAt, upAt, closed }     downAt/upAt: Date.now() of "listener closed" and
 *       of the new listener's 'listening' event (wall clock, comparable across processes on one host)
 *   → { type: 'exit' }
 *
 *   → { type: 'dials' }         ← { type: 'dials', at }     Date.now() of every upgrade request so far
 *   → { type: 'fanout', ch, messages, burst, highWater }    a plain ws broadcast loop (servers/fanout-loop.ts):
 *       per message one frame, encoded once, ws.send() to every subscriber of `ch`, each subscriber's TCP socket
 *       corked around the burst (one write per socket per burst, as socketchart/server)   ← { type: 'fanned', … }
 *
 * It is also the peers bench's plain `ws` broadcast server: `subscribe` adds the socket to the channel's set,
 * and a `{type:'publish', ch, data}` frame is sent on as `{type:'message', ch, data}` to every subscriber.
 * `--port N` listens on N (the peers bench restarts it as a new process on the same port); with
 * `--listen-on-command` it loads, answers `ready` and binds only at the time the bench's `listen` names
 * (servers/listen-on-command.ts), so the restart's downtime is the bench's choice.
 *
 * One WebSocketServer in noServer mode, fed by whichever HTTP server is listening, so a restart keeps the
 * client count and the port.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Socket } from 'node:net';
import { fanoutLoop, type FanoutSpec } from './fanout-loop.js';
import { bindRetrying, listenCommand, listenOnCommand, untilWallClock } from './listen-on-command.js';

const HOST = '127.0.0.1';
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: true });
const send = (message: unknown) => process.send?.(message);
let listener: http.Server | undefined;
const portArg = process.argv.indexOf('--port');
let port = portArg >= 0 ? Number(process.argv[portArg + 1]) : 0;
const dials: number[] = [];
const channels = new Map<string, Set<WebSocket>>();

function subscribe(ws: WebSocket, ch: string): void {
  let set = channels.get(ch);
  if (!set) channels.set(ch, (set = new Set()));
  set.add(ws);
  ws.once('close', () => set.delete(ws));
}

/** A Buffer sent as a text frame (ws sends a Buffer as binary unless told), as socketchart/server sends its frames. */
const TEXT = { binary: false } as const;

/**
 * The plain broadcast loop: per message one frame text, encoded to bytes once, ws.send() to every subscriber
 * (socketchart/server encodes a message once for all its subscribers, src/server/hub.ts; a string handed to
 * ws.send() would be encoded again for every socket). Each subscriber's TCP socket is corked around the burst
 * (ws's own cork/uncork nests inside), as socketchart/server holds each socket's writes until the end of the
 * event-loop turn (src/server/corked-writes.ts): a burst leaves in one write per socket in both, so the
 * × plain ws ratio compares the servers' work, not their encoding or write batching.
 */
function fanout(ch: string, spec: FanoutSpec) {
  const data = { v: 'x'.repeat(24) };
  const targets = [...(channels.get(ch) ?? [])];
  const tcp = targets.map((ws) => (ws as unknown as { _socket: Socket })._socket);
  let seq = 1_000_000_000_000_000;
  return fanoutLoop(
    () => tcp,
    spec,
    (n) => {
      for (const socket of tcp) socket.cork();
      for (let k = 0; k < n; k++) {
        const bytes = Buffer.from(JSON.stringify({ type: 'message', ch, seq: ++seq, data, ts: Date.now() }));
        for (const ws of targets) ws.send(bytes, TEXT);
      }
      for (const socket of tcp) socket.uncork();
    },
  );
}

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    let frame: { type?: unknown; ts?: unknown; ch?: unknown; data?: unknown };
    try {
      frame = JSON.parse(data.toString()) as typeof frame;
    } catch {
      return;
    }
    if (frame.type === 'ping') ws.send(typeof frame.ts === 'number' ? `{"type":"pong","ts":${frame.ts}}` : '{"type":"pong"}');
    else if (frame.type === 'auth') ws.send('{"type":"auth_ok","userId":"bench","sessionId":"bench"}');
    else if (frame.type === 'subscribe') {
      subscribe(ws, String(frame.ch));
      ws.send(JSON.stringify({ type: 'subscribed', ch: frame.ch, seq: 0 }));
    } else if (frame.type === 'publish') {
      const text = JSON.stringify({ type: 'message', ch: frame.ch, data: frame.data });
      for (const sub of channels.get(String(frame.ch)) ?? []) sub.send(text);
    }
  });
  ws.on('error', () => {});
});

/** Starts an HTTP listener on `onPort` (0: any); resolves with the port once it is listening. */
function listen(onPort: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = http.createServer((_req, res) => {
      res.writeHead(426).end();
    });
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      dials.push(Date.now());
      socket.on('error', () => {});
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    });
    server.once('error', reject);
    server.listen({ host: HOST, port: onPort, backlog: 2048 }, () => {
      server.off('error', reject);
      server.on('error', () => {});
      listener = server;
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

async function restart(mode: 'close1012' | 'terminate', downMs: number): Promise<void> {
  const old = listener;
  listener = undefined;
  old?.close(); // the listening socket closes now; upgraded sockets are closed below
  const downAt = Date.now();
  let closed = 0;
  for (const ws of wss.clients) {
    closed++;
    if (mode === 'terminate') ws.terminate();
    else ws.close(1012, 'service restart');
  }
  await new Promise((resolve) => setTimeout(resolve, downMs));
  // The port is free again (the listener is closed; Node listens with SO_REUSEADDR, so TIME_WAIT pairs
  // left by the closed connections do not block the bind). A few retries in case the bind races anyway.
  for (let attempt = 1; ; attempt++) {
    try {
      await listen(port);
      break;
    } catch (error) {
      if (attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  send({ type: 'restarted', port, downAt, upAt: Date.now(), closed });
}

process.on('message', (message: { type: string; mode?: 'close1012' | 'terminate'; downMs?: number; ch?: string } & Partial<FanoutSpec>) => {
  if (message.type === 'count') send({ type: 'count', open: wss.clients.size });
  else if (message.type === 'dials') send({ type: 'dials', at: dials });
  else if (message.type === 'fanout')
    fanout(message.ch ?? '', { messages: message.messages ?? 0, burst: message.burst ?? 16, highWater: message.highWater ?? 256 * 1024 }).then(send, (error: Error) =>
      send({ type: 'error', message: error.message }),
    );
  else if (message.type === 'restart')
    restart(message.mode ?? 'close1012', message.downMs ?? 200).catch((error: Error) => send({ type: 'error', message: error.message }));
  else if (message.type === 'exit') process.exit(0);
});
process.on('disconnect', () => process.exit(0));

if (listenOnCommand) await untilWallClock(await listenCommand());
port = await bindRetrying(() => listen(port));
send({ type: 'listening', port, upAt: Date.now() });
