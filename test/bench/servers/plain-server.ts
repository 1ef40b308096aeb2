/**
 * A plain `ws` server for the memory bench, run in its own process: it holds many idle connections and
 * answers socketchart's default-protocol control frames (`ping` → `pong`, `auth` → `auth_ok`,
 * `subscribe` → `subscribed`). Reports `{ type: 'listening', port }` over IPC; `{ type: 'count' }` →
 * `{ type: 'count', open }`.
 */
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, backlog: 2048 });
const send = (message: unknown) => process.send?.(message);

wss.on('connection', (ws) => {
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
  ws.on('error', () => {});
});

process.on('message', (message: { type: string }) => {
  if (message.type === 'count') send({ type: 'count', open: wss.clients.size });
  else if (message.type === 'exit') process.exit(0);
});
process.on('disconnect', () => process.exit(0));

wss.on('listening', () => {
  const address = wss.address();
  send({ type: 'listening', port: typeof address === 'object' && address !== null ? address.port : 0 });
});
