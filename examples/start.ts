import { WebSocketServer } from 'ws';
import { createConnection } from '../src/index.node.js';

const log = (text: string) => console.log(`${new Date().toISOString().slice(11, 23)}  ${text}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let seq = 0;

async function listen(port: number): Promise<WebSocketServer> {
  const server = new WebSocketServer({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  server.on('connection', (socket) => {
    const timer = setInterval(() => socket.send(JSON.stringify({ type: 'message', ch: 'ticks', seq: ++seq, data: { at: Date.now() } })), 200);
    socket.on('close', () => clearInterval(timer));
    socket.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as { type: string; ts?: number };
      if (frame.type === 'auth') socket.send(JSON.stringify({ type: 'auth_ok', userId: 'demo', sessionId: 's1' }));
      if (frame.type === 'ping') socket.send(JSON.stringify({ type: 'pong', ts: frame.ts }));
    });
  });
  return server;
}

async function main(): Promise<void> {
  let server = await listen(0);
  const { port } = server.address() as { port: number };
  log(`local server on ws://127.0.0.1:${port}`);

  const connection = createConnection({
    url: `ws://127.0.0.1:${port}`,
    name: 'demo',
    auth: { token: async () => 'demo-token' },
    heartbeat: { intervalMs: 1_000, timeoutMs: 500 },
    reconnect: { baseMs: 200, capMs: 2_000 },
  });
  let ticks = 0;
  connection.on('state', ({ previous, status }) => log(`state  ${previous} → ${status}`));
  connection.on('error', (error) => log(`error  ${error.code}: ${error.message}`));
  connection.subscribe('ticks', () => ticks++);
  connection.start();

  await sleep(1_500);
  log(`received ${ticks} ticks; restarting the server`);
  for (const client of server.clients) client.close(1012, 'restart');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await sleep(500);
  server = await listen(port);
  await sleep(2_500);
  log(`received ${ticks} ticks; stopping`);
  connection.stop();
  await sleep(200);

  const metrics = connection.metrics();
  log(`connects ${metrics.connects}, reconnects ${metrics.reconnects}, rtt p50 ${metrics.rtt.p50} ms, health ${metrics.healthScore.toFixed(2)}`);
  connection.dispose();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
