/**
 * A plain `ws` server for examples/plain.ts: `npx tsx examples/plain-server.ts`. It listens on
 * ws://localhost:8090/feed, wants a token in the `access_token` query parameter, greets and echoes.
 */
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 8090, path: '/feed' });
wss.on('connection', (socket, request) => {
  const token = new URL(request.url ?? '/', 'http://localhost').searchParams.get('access_token');
  if (!token) return socket.close(4001, 'token required');
  socket.send('welcome');
  socket.on('message', (data, isBinary) => socket.send(isBinary ? data : `echo: ${String(data)}`, { binary: isBinary }));
});
wss.once('listening', () => console.log('listening on ws://localhost:8090/feed'));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => wss.close(() => process.exit(0)));
