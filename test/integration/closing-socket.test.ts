import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createConnection, plainProtocol, type Connection, type WebSocketConstructor } from '../../src/index.node.js';
import { until } from '../support/until.js';

let wss: WebSocketServer | undefined;
let connection: Connection | undefined;
afterEach(async () => {
  connection?.dispose();
  for (const client of wss?.clients ?? []) client.terminate();
  await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
});

describe('send() while the server is closing the socket (its close frame sent, TCP still up)', () => {
  it('the message is not resolved as written and lost: it reaches the server on the next socket', async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => wss!.once('listening', () => resolve()));
    const port = (wss.address() as { port: number }).port;
    const received: string[] = [];
    const serverSockets: WebSocket[] = [];
    wss.on('connection', (socket) => {
      serverSockets.push(socket);
      socket.on('message', (raw) => received.push(raw.toString()));
    });

    const clientSockets: WebSocket[] = [];
    const Capturing = class extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        clientSockets.push(this);
      }
    } as unknown as WebSocketConstructor;

    connection = createConnection({
      url: `ws://127.0.0.1:${port}/`,
      protocol: plainProtocol(),
      WebSocket: Capturing,
      heartbeat: false,
      reconnect: { baseMs: 20, capMs: 20, jitter: 0 },
    });
    connection.start();
    await until(() => connection!.status === 'connected' && serverSockets.length === 1, 8_000, 'connected');
    await connection.send('before');
    await until(() => received.includes('before'), 8_000, 'first message');

    // Server restarts: it sends its close frame; it does not read the client's answer yet, so TCP stays up a while
    // (as it does for one round trip on any real network).
    const server = serverSockets[0]!;
    server.pause();
    server.close(1012, 'restart');
    await until(() => clientSockets[0]!.readyState === WebSocket.CLOSING, 8_000, 'client socket CLOSING');
    expect(connection.status).toBe('connected'); // the machine has not heard of the close yet

    let outcome = 'pending';
    const sent = connection.send('during-close').then(
      () => (outcome = 'resolved'),
      () => (outcome = 'rejected'),
    );

    server.resume(); // the handshake completes, the client reconnects
    await until(() => serverSockets.length === 2 && connection!.status === 'connected', 8_000, 'reconnected');
    await sent;
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(outcome).toBe('resolved');
    expect(received).toEqual(['before', 'during-close']);
  });
});
