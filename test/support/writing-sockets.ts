import { createConnection, type ConnectionOptions, type WebSocketConstructor } from '../../src/index.js';
import { SimulatedClock, createManualEnvironment, createMockServer, type MockSocket } from '../../src/testing/index.js';
import { settle, URL } from './harness.js';

/**
 * A connection on a mock server whose sockets write through `write`: it decides what a `send()` on the
 * socket does (`pass` hands the frame to the mock socket; throwing is a write that throws).
 */
export function withSockets(write: (socket: MockSocket, data: unknown, pass: () => void) => void, options: Partial<ConnectionOptions> = {}) {
  const clock = new SimulatedClock(1_700_000_000_000);
  const server = createMockServer({ now: () => clock.now() });
  const Base = server.WebSocket as unknown as new (url: string, protocols?: string | string[]) => MockSocket;
  const WebSocket = class {
    constructor(url: string, protocols?: string | string[]) {
      const socket = new Base(url, protocols);
      const send = socket.send.bind(socket);
      socket.send = (data) => write(socket, data, () => send(data));
      return socket;
    }
  } as unknown as WebSocketConstructor;
  const connection = createConnection({ url: URL, WebSocket, clock, environment: createManualEnvironment(), random: () => 0.5, heartbeat: false, ...options });
  return {
    clock,
    server,
    connection,
    async advance(ms: number) {
      clock.advance(ms);
      await settle();
    },
    async connect() {
      connection.start();
      await settle();
      await settle();
    },
  };
}

/** The frames a mock socket was handed, as written. */
export const raws = (socket: MockSocket | undefined) => (socket?.sent ?? []).map((frame) => frame.raw);

/** Makes the next `count` writes on `socket` throw, as a broken transport's `send()` does. */
export function failWrites(socket: MockSocket, count = 1): void {
  const send = socket.send.bind(socket);
  socket.send = (data) => {
    if (count-- > 0) throw new Error('write failed');
    send(data);
  };
}
