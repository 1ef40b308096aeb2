import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createConnection, plainProtocol, type Connection, type WebSocketConstructor } from '../../src/index.node.js';
import { SimulatedClock } from '../../src/testing/index.js';
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

describe('frames that arrive after stop(), while the close handshake is in flight (Node `ws` still delivers them; a browser does not)', () => {
  /** A connection with a simulated clock on a local `ws` server; `frames` are what the server sends right after the app's `stop()`, before the client's close frame reaches it. */
  async function stoppedWhileServerSends(setup: (connection: Connection) => void, frames: object[]) {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => wss!.once('listening', () => resolve()));
    const port = (wss.address() as { port: number }).port;
    const serverSockets: WebSocket[] = [];
    wss.on('connection', (socket) => {
      serverSockets.push(socket);
      socket.on('message', (raw) => {
        const frame = JSON.parse(raw.toString());
        if (frame.type === 'auth') socket.send(JSON.stringify({ type: 'auth_ok', userId: 'me', sessionId: 's1' }));
      });
    });
    const clock = new SimulatedClock(1_700_000_000_000);
    connection = createConnection({ url: `ws://127.0.0.1:${port}/`, WebSocket: WebSocket as unknown as WebSocketConstructor, heartbeat: false, clock, auth: { token: 't' } });
    setup(connection);
    connection.start();
    await until(() => connection!.status === 'connected', 8_000, 'connected');
    connection.stop();
    for (const frame of frames) serverSockets[0]!.send(JSON.stringify(frame));
    await until(() => connection!.status === 'closed' && serverSockets[0]!.readyState === WebSocket.CLOSED, 8_000, 'closed');
    return clock;
  }

  it('a subscribe refused over the control limit then is not asked again later: closed, the connection holds no timer', async () => {
    const refusal = {
      type: 'error',
      code: 'RATE_LIMIT_EXCEEDED',
      message: 'rate limit exceeded for control',
      details: { scope: 'control', limit: 60, remaining: 0, ch: 'a', action: 'subscribe', retry_after_ms: 2_000 },
    };
    const clock = await stoppedWhileServerSends((c) => void c.subscribe('a', () => {}), [refusal]);
    expect(clock.pending).toBe(0);
  });

  it('another user typing then is not told, and leaves no timer to tell the stop', async () => {
    const typing: unknown[] = [];
    const clock = await stoppedWhileServerSends((c) => {
      c.subscribe('room', () => {});
      c.presence.watch('room', () => {});
      c.on('typing', (event) => typing.push(event));
    }, [{ type: 'typing', ch: 'room', userId: 'other', typing: true }]);
    expect(typing).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('a message then reaches no listener: the app stopped listening with stop()', async () => {
    const got: unknown[] = [];
    await stoppedWhileServerSends((c) => {
      c.subscribe('room', (data) => got.push(data));
      c.on('message', (message) => got.push(message));
    }, [{ type: 'message', ch: 'room', seq: 1, data: 'late' }]);
    expect(got).toEqual([]);
  });
});
