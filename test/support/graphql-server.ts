import { createRequire } from 'node:module';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * `graphql` as graphql-ws loads it (Node's resolution: its CommonJS build), so that the schema and the
 * server's executor are the same module; a second copy (its ES build) would be refused as another realm.
 */
const { buildSchema } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

/** A small schema: a query, a slow query the test releases, a mutation, and subscriptions that tick, complete or fail. */
const schema = buildSchema(`
  type Query {
    hello(name: String!): String!
    slow: String!
  }
  type Mutation {
    increment: Int!
  }
  type Subscription {
    countdown(from: Int!): Int!
    failing: Int!
    ticks: Int!
  }
`);

/** One `subscribe` the server received. */
export interface Received {
  /** Which socket it came on (1 for the first the server accepted). */
  socket: number;
  id: string;
  query: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A real graphql-ws 6 server (`useServer` over a `ws` WebSocketServer) on 127.0.0.1, recording what it
 * receives, for specs of the graphql-transport-ws adapter.
 */
export class GraphqlServer {
  port = 0;
  /** Every `subscribe` frame received, in order. */
  readonly received: Received[] = [];
  /** Every frame received (`type` and `id`), in order. */
  readonly frames: Array<{ socket: number; type: string; id?: string }> = [];
  /** Times the mutation ran. */
  increments = 0;
  /** Sockets accepted so far. */
  sockets = 0;
  /** Close codes the server's sockets ended with, in order. */
  readonly closes: number[] = [];
  /** `onConnect` answer: false closes the socket with 4403. */
  accept = true;
  /** `ticks` values are sent every this many ms. */
  tickMs = 20;
  private wss: WebSocketServer | undefined;
  private disposer: { dispose(): void | Promise<void> } | undefined;
  private readonly clients = new Set<WebSocket>();
  private releaseSlow: Array<() => void> = [];
  /** Resolvers of `slow` waiting to be released. */
  get slowWaiting(): number {
    return this.releaseSlow.length;
  }

  async listen(port = 0): Promise<number> {
    const wss = new WebSocketServer({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => wss.once('listening', resolve).once('error', reject));
    this.wss = wss;
    this.port = (wss.address() as { port: number }).port;
    wss.on('connection', (socket) => {
      this.sockets++;
      const index = this.sockets;
      (socket as WebSocket & { index?: number }).index = index;
      this.clients.add(socket);
      socket.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { type: string; id?: string };
        this.frames.push({ socket: index, type: frame.type, ...(frame.id === undefined ? {} : { id: frame.id }) });
      });
      socket.on('close', (code) => {
        this.clients.delete(socket);
        this.closes.push(code);
      });
    });
    const roots = {
      query: {
        hello: ({ name }: { name: string }) => `hello ${name}`,
        slow: () => new Promise<string>((resolve) => this.releaseSlow.push(() => resolve('finally'))),
      },
      mutation: {
        increment: () => ++this.increments,
      },
      subscription: {
        countdown: async function* ({ from }: { from: number }) {
          for (let n = from; n >= 0; n--) {
            await sleep(5);
            yield { countdown: n };
          }
        },
        failing: async function* () {
          yield { failing: 1 };
          await sleep(5);
          throw new Error('the feed broke');
        },
        ticks: async function* (this: void) {
          for (let n = 1; ; n++) {
            await sleep(tickMs());
            yield { ticks: n };
          }
        },
      },
    };
    const tickMs = () => this.tickMs;
    this.disposer = useServer(
      {
        schema,
        roots,
        isProd: true,
        onConnect: () => this.accept,
        onSubscribe: (ctx, id, payload) => {
          const socket = (ctx.extra as { socket: WebSocket & { index?: number } }).socket;
          this.received.push({ socket: socket.index ?? 0, id, query: payload.query });
        },
      },
      wss,
      0,
    );
    return this.port;
  }

  /** Lets every `slow` query waiting finish. */
  finishSlow(): void {
    const waiting = this.releaseSlow;
    this.releaseSlow = [];
    for (const release of waiting) release();
  }

  /** `subscribe` frames received for `id`, per socket. */
  subscribesPerSocket(id: string): Record<number, number> {
    const counts: Record<number, number> = {};
    for (const frame of this.received) if (frame.id === id) counts[frame.socket] = (counts[frame.socket] ?? 0) + 1;
    return counts;
  }

  /** Cuts every socket without a close frame (a network drop: the client sees 1006). */
  dropAll(): void {
    for (const client of this.clients) client.terminate();
  }

  /** Stops the server: its sockets are cut and the port is free again. */
  async stop(): Promise<void> {
    this.dropAll();
    this.finishSlow();
    const wss = this.wss;
    this.wss = undefined;
    if (!wss) return;
    await this.disposer?.dispose();
  }
}
