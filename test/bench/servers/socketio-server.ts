/**
 * A socket.io server (rooms) for the peers bench (peers.ts), in its own process; socket.io's defaults
 * unless a flag says otherwise. Clients `emit('join', ch, ack)` to join the room `ch` and
 * `emit('publish', { ch, data })` to have `data` emitted as `message` to the room.
 *
 *   --port N                listen on N (0: any); the bench restarts it as a new process on the same port
 *   --listen-on-command     load, answer `ready`, bind only at the time the bench's `listen` names
 *                           (servers/listen-on-command.ts: a fixed downtime for the restart storm)
 *   --ping-interval-ms N    engine.io pingInterval (the fan-out and latency runs count frames from their
 *                           headers, so no ping may land in a run: they pass 10 min)
 *
 * IPC (→ from the bench, ← to the bench):
 *   ← { type: 'listening', port, upAt }                 upAt: Date.now() once listening
 *   → { type: 'count' }            ← { type: 'count', open }     engine.io clients connected now
 *   → { type: 'dials' }            ← { type: 'dials', at }       Date.now() of every engine.io handshake so far
 *   → { type: 'fanout', ch, messages, burst, highWater }   io.to(ch).emit('message', data) in the shared
 *       fan-out loop (servers/fanout-loop.ts)              ← { type: 'fanned', … }
 *   → { type: 'exit' }
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { Server } from 'socket.io';
import { fanoutLoop, type FanoutSpec } from './fanout-loop.js';
import { bindRetrying, listenCommand, listenOnCommand, untilWallClock } from './listen-on-command.js';

const send = (message: unknown) => process.send?.(message);
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : undefined;
};

const httpServer = http.createServer();
const pingInterval = arg('--ping-interval-ms');
const io = new Server(httpServer, pingInterval === undefined ? {} : { pingInterval });
const dials: number[] = [];
io.engine.on('connection', () => dials.push(Date.now()));

io.on('connection', (socket) => {
  socket.on('join', (ch: string, ack?: () => void) => {
    void socket.join(ch);
    ack?.();
  });
  socket.on('publish', (frame: { ch: string; data: unknown }) => {
    io.to(frame.ch).emit('message', frame.data);
  });
});

/** The TCP sockets under the room's members (websocket transport). */
function tcpSockets(ch: string): Socket[] {
  const out: Socket[] = [];
  for (const id of io.sockets.adapter.rooms.get(ch) ?? []) {
    const transport = (io.sockets.sockets.get(id)?.conn as unknown as { transport?: { socket?: { _socket?: Socket } } } | undefined)?.transport;
    const tcp = transport?.socket?._socket;
    if (tcp) out.push(tcp);
  }
  return out;
}

function fanout(ch: string, spec: FanoutSpec) {
  const data = { v: 'x'.repeat(24) };
  const targets = tcpSockets(ch);
  return fanoutLoop(
    () => targets,
    spec,
    (n) => {
      for (let k = 0; k < n; k++) io.to(ch).emit('message', data);
    },
  );
}

process.on('message', (message: { type: string; ch?: string } & Partial<FanoutSpec>) => {
  if (message.type === 'count') send({ type: 'count', open: io.engine.clientsCount });
  else if (message.type === 'dials') send({ type: 'dials', at: dials });
  else if (message.type === 'fanout')
    fanout(message.ch ?? '', { messages: message.messages ?? 0, burst: message.burst ?? 16, highWater: message.highWater ?? 256 * 1024 }).then(send, (error: Error) =>
      send({ type: 'error', message: error.message }),
    );
  else if (message.type === 'exit') process.exit(0);
});
process.on('disconnect', () => process.exit(0));

if (listenOnCommand) await untilWallClock(await listenCommand());
await bindRetrying(
  () =>
    new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen({ host: '127.0.0.1', port: arg('--port') ?? 0, backlog: 2048 }, () => {
        httpServer.off('error', reject);
        resolve();
      });
    }),
);
send({ type: 'listening', port: (httpServer.address() as { port: number }).port, upAt: Date.now() });
