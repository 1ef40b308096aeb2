import { Server, WebSocket as MockSocketWebSocket, type Client } from 'mock-socket';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createConnection, type Connection, type ConnectionOptions, type InboundMessage, type WebSocketConstructor } from '../../../src/index.js';

const URL = 'ws://mock-socket.test/live';

type Frame = string | Blob | ArrayBuffer | ArrayBufferView;

/** A `mock-socket` Server speaking the default protocol: answers auth and ping, records what it receives. */
function mockSocketServer() {
  const server = new Server(URL, { mock: false });
  const clients: Client[] = [];
  const received: Frame[] = [];
  server.on('connection', (socket) => {
    clients.push(socket);
    socket.on('message', (data) => {
      received.push(data);
      if (typeof data !== 'string') return;
      let frame: { type?: unknown; token?: unknown; ts?: unknown } | undefined;
      try {
        frame = JSON.parse(data) as typeof frame;
      } catch {
        return;
      }
      if (frame?.type === 'auth') socket.send(JSON.stringify({ type: 'auth_ok', userId: `user-of-${String(frame.token)}`, sessionId: `s${clients.length}` }));
      if (frame?.type === 'ping') socket.send(JSON.stringify({ type: 'pong', ts: frame.ts }));
    });
  });
  const latest = () => {
    const client = clients.at(-1);
    if (!client) throw new Error('no client connected');
    return client;
  };
  return { server, clients, received, latest };
}

/** Text frames the server received, parsed when JSON. */
const jsonFrames = (received: Frame[]) =>
  received.flatMap((frame) => {
    if (typeof frame !== 'string') return [];
    try {
      return [JSON.parse(frame) as Record<string, unknown>];
    } catch {
      return [];
    }
  });

let connection: Connection | undefined;
let server: Server | undefined;

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  connection?.dispose();
  connection = undefined;
  server?.stop();
  server = undefined;
  vi.useRealTimers();
});

function connect(options: Partial<ConnectionOptions> = {}) {
  const mock = mockSocketServer();
  server = mock.server;
  const states: string[] = [];
  connection = createConnection({
    url: URL,
    WebSocket: MockSocketWebSocket as unknown as WebSocketConstructor,
    environment: false,
    heartbeat: false,
    auth: { token: 'tkn' },
    reconnect: { baseMs: 100, jitter: 0 },
    random: () => 0.5,
    ...options,
  });
  connection.on('state', ({ status }) => states.push(status));
  return { ...mock, connection, states };
}

describe('transport on the real mock-socket package', () => {
  it('connects, authenticates and delivers messages', async () => {
    const { connection: c, received, latest, states } = connect();
    const got: unknown[] = [];
    c.subscribe('room', (data) => got.push(data));
    c.start();
    await vi.advanceTimersByTimeAsync(50);
    expect(c.status).toBe('connected');
    expect(states).toEqual(['connecting', 'authenticating', 'connected']);
    expect(c.session).toEqual({ userId: 'user-of-tkn', sessionId: 's1' });
    expect(jsonFrames(received).slice(0, 2)).toEqual([
      { type: 'auth', token: 'tkn' },
      { type: 'subscribe', ch: 'room' },
    ]);
    latest().send(JSON.stringify({ type: 'message', ch: 'room', seq: 1, data: { text: 'hello' } }));
    latest().send(JSON.stringify({ type: 'message', ch: 'room', seq: 2, data: { text: 'world' } }));
    expect(got).toEqual([{ text: 'hello' }, { text: 'world' }]);
  });

  it('a server close sends the connection to reconnecting, and it reconnects, resubscribing from the last seq', async () => {
    const { connection: c, clients, received, latest, states } = connect();
    const got: unknown[] = [];
    c.subscribe('room', (data) => got.push(data));
    c.start();
    await vi.advanceTimersByTimeAsync(50);
    latest().send(JSON.stringify({ type: 'message', ch: 'room', seq: 5, data: 'before' }));

    latest().close({ code: 1011, reason: 'restarting', wasClean: true });
    await vi.advanceTimersByTimeAsync(10);
    expect(c.status).toBe('reconnecting');
    expect(c.lastError).toMatchObject({ code: 'SERVER_ERROR', closeCode: 1011 });

    await vi.advanceTimersByTimeAsync(200);
    expect(c.status).toBe('connected');
    expect(clients).toHaveLength(2);
    expect(states).toEqual(['connecting', 'authenticating', 'connected', 'reconnecting', 'connecting', 'authenticating', 'connected']);
    expect(jsonFrames(received).filter((frame) => frame.type === 'subscribe')).toEqual([
      { type: 'subscribe', ch: 'room' },
      { type: 'subscribe', ch: 'room', since: 5 },
    ]);
    latest().send(JSON.stringify({ type: 'message', ch: 'room', seq: 6, data: 'after' }));
    expect(got).toEqual(['before', 'after']);
    expect(c.metrics().reconnects).toBe(1);
  });

  it('carries text and binary frames from client to server', async () => {
    const { connection: c, received } = connect();
    c.start();
    await vi.advanceTimersByTimeAsync(50);
    const bytes = new Uint8Array([0, 1, 2, 254, 255]);
    const results = [c.send('plain text'), c.send(JSON.stringify({ json: true })), c.send(bytes.buffer)];
    await vi.advanceTimersByTimeAsync(50);
    await expect(Promise.all(results)).resolves.toEqual([undefined, undefined, undefined]);
    const data = received.slice(1);
    expect(data.slice(0, 2)).toEqual(['plain text', '{"json":true}']);
    const binary = data[2];
    expect(binary).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(binary as ArrayBuffer)]).toEqual([0, 1, 2, 254, 255]);
  });

  it('carries text and binary frames from server to client', async () => {
    const { connection: c, latest } = connect();
    const messages: InboundMessage[] = [];
    c.on('message', (message) => messages.push(message));
    c.start();
    await vi.advanceTimersByTimeAsync(50);
    latest().send(JSON.stringify({ type: 'message', ch: 'news', seq: 1, data: 'text frame' }));
    latest().send(new Uint8Array([9, 8, 7]).buffer);
    expect(messages).toHaveLength(2);
    expect(messages[0]).toMatchObject({ ch: 'news', data: 'text frame' });
    expect(messages[1]?.ch).toBeUndefined();
    expect(messages[1]?.data).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(messages[1]?.data as ArrayBuffer)]).toEqual([9, 8, 7]);
    expect(c.metrics().messagesIn, 'the two data frames, no control frame').toBe(2);
  });

  it('a binary frame that arrives as a Blob (mock-socket ignores binaryType) is counted in bytes', async () => {
    const { connection: c, latest } = connect();
    c.start();
    await vi.advanceTimersByTimeAsync(50);
    latest().send(new Blob([new Uint8Array([1, 2, 3])]));
    expect(c.metrics().messagesIn).toBe(1);
    expect(c.metrics().bytesIn).toBe(3);
  });

  it('a binary frame over maxInboundBytes that arrives as a Blob is dropped with MESSAGE_TOO_LARGE', async () => {
    const { connection: c, latest } = connect({ maxInboundBytes: 1_024 });
    const errors: string[] = [];
    const messages: InboundMessage[] = [];
    c.on('error', (error) => errors.push(error.code));
    c.on('message', (message) => messages.push(message));
    c.start();
    await vi.advanceTimersByTimeAsync(50);
    latest().send(new Blob([new Uint8Array(4_096)]));
    expect(messages).toEqual([]);
    expect(errors).toEqual(['MESSAGE_TOO_LARGE']);
  });

  it('the heartbeat runs over mock-socket with the default clock', async () => {
    const { connection: c, received } = connect({ heartbeat: { intervalMs: 1_000, timeoutMs: 500 } });
    c.start();
    await vi.advanceTimersByTimeAsync(50);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(jsonFrames(received).filter((frame) => frame.type === 'ping').length).toBeGreaterThanOrEqual(2);
    expect(c.status).toBe('connected');
    expect(c.metrics().rtt.count).toBeGreaterThanOrEqual(2);
  });

  it('send() while connected takes the fast path on a mock-socket WebSocket (no machine event)', async () => {
    const events: string[] = [];
    const { connection: c } = connect({ inspect: (event) => events.push((event as { type: string }).type) });
    c.start();
    await vi.advanceTimersByTimeAsync(50);
    expect(c.status).toBe('connected');
    const before = c.snapshot;
    const mark = events.length;
    void c.send('fast');
    expect(events.slice(mark)).toEqual([]);
    expect(c.snapshot).toBe(before);
    expect(c.queued).toBe(0);
  });

  it('stop() closes the mock-socket connection and nothing reopens it', async () => {
    const { connection: c, clients, states } = connect();
    c.start();
    await vi.advanceTimersByTimeAsync(50);
    c.stop();
    await vi.advanceTimersByTimeAsync(50);
    expect(c.status).toBe('closed');
    expect(server?.clients()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(clients).toHaveLength(1);
    expect(states.at(-1)).toBe('closed');
  });
});
