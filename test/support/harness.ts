import { createConnection, createPool, type Connection, type ConnectionOptions, type PoolOptions, type SocketchartError, type WebSocketConstructor } from '../../src/index.js';
import { SimulatedClock, createManualEnvironment, createMockServer, type MockServerOptions } from '../../src/testing/index.js';

export const URL = 'ws://mock.test/socket';

/** Lets queued microtasks and mock-socket callbacks run. */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A connection on a mock server, a simulated clock and a manual environment, with everything it does recorded.
 * `create` makes the connection (`createConnection`, or a `createBaseConnection` with some features).
 */
export function harness(options: Partial<ConnectionOptions> = {}, serverOptions: MockServerOptions = {}, create: (options: ConnectionOptions) => Connection = createConnection) {
  const clock = new SimulatedClock(1_700_000_000_000);
  const server = createMockServer({ now: () => clock.now(), ...serverOptions });
  const env = createManualEnvironment();
  /** Every dial: what the environment and the machine were at that moment. */
  const dials: Array<{ online: boolean; value: unknown }> = [];
  const ref: { connection?: Connection } = {};
  const WebSocket = class extends (server.WebSocket as unknown as new (url: string, protocols?: string | string[]) => object) {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      dials.push({ online: env.online, value: ref.connection?.snapshot.value });
    }
  } as unknown as WebSocketConstructor;
  const connection = create({
    url: URL,
    WebSocket,
    clock,
    environment: env,
    random: () => 0.5,
    ...options,
  });
  ref.connection = connection;
  const states: string[] = [connection.status];
  const errors: SocketchartError[] = [];
  connection.on('state', ({ status }) => states.push(status));
  connection.on('error', (error) => errors.push(error));
  return {
    clock,
    server,
    env,
    connection,
    dials,
    states,
    errors,
    settle,
    /** Moves simulated time and lets the effects land. */
    async advance(ms: number) {
      clock.advance(ms);
      await settle();
    },
    /**
     * Lets `ms` of simulated time pass in steps of at most `stepMs`, the effects landing after each: the server's
     * answers (pongs) come back between steps, as they would within a step over a network. `advance(ms)` fires
     * every timer of `ms` at once, with no answer in between.
     */
    async elapse(ms: number, stepMs = 1_000) {
      for (let left = ms; left > 0; left -= stepMs) {
        clock.advance(Math.min(stepMs, left));
        await settle();
      }
    },
    /** Starts and waits until connected. */
    async connect() {
      connection.start();
      await settle();
      await settle();
    },
  };
}

export type Harness = ReturnType<typeof harness>;

/** A pool of one endpoint, `a`, on the harness's mock server, clock and environment, started without stagger. */
export const poolOfOne = (h: Harness, overrides: Partial<PoolOptions> = {}) =>
  createPool({ endpoints: [{ name: 'a', url: 'ws://mock.test/a' }], defaults: { WebSocket: h.server.WebSocket }, clock: h.clock, environment: h.env, staggerMs: 0, ...overrides });

/**
 * A mock server with presence: `members` are present (and `me`, once joined); every presence frame is answered
 * with the members. Returns the members, as the server sees them.
 */
export function presenceServer(h: Harness, others: readonly string[] = ['bob']): Set<string> {
  const members = new Set<string>(others);
  h.server.onFrame = (socket, frame) => {
    const json = frame.json;
    if (json?.type !== 'presence') return;
    if (json.action === 'join') members.add('me');
    if (json.action === 'leave') members.delete('me');
    socket.push({ type: 'presence_state', ch: json.ch, members: [...members].map((userId) => ({ userId })) });
  };
  return members;
}

/** The server refuses every auth frame by closing with 4001 (unauthorized). */
export function refuseAuth(h: Harness): void {
  h.server.onFrame = (socket, frame) => {
    if (frame.json?.type === 'auth') socket.closeFromServer(4001, 'unauthorized');
  };
}

/**
 * Sends a view and its buffer while the link is down, overwrites the buffer as an app reusing it would, then
 * connects: the bytes of each binary frame the server got (`[1, 2]` and `[0, 1, 2, 0]` when `send()` copied).
 */
export async function bytesSentBeforeBufferReused(h: Harness): Promise<number[][]> {
  const buffer = new ArrayBuffer(4);
  const view = new Uint8Array(buffer, 1, 2);
  view.set([1, 2]);
  const sent = [h.connection.send(view), h.connection.send(buffer)];
  new Uint8Array(buffer).set([9, 9, 9, 9]);
  await h.connect();
  await Promise.all(sent);
  return h.server.last!.sent.filter((frame) => typeof frame.raw !== 'string').map((frame) => [...new Uint8Array(frame.raw as ArrayBuffer)]);
}
