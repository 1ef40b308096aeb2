/**
 * A GraphQL server of the `graphql-transport-ws` protocol (the `graphql-ws` library) for examples/graphql.ts:
 * `npx tsx examples/graphql-server.ts` (needs `graphql` and `graphql-ws`). It listens on ws://localhost:4000/graphql
 * and accepts a `connection_init` that carries a bearer token.
 */
import { createRequire } from 'node:module';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';

// graphql as graphql-ws loads it (its CommonJS build): the schema and the executor must be one module.
const { buildSchema } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

const schema = buildSchema(`
  type User { name: String! }
  type Query { user(id: ID!): User }
  type Subscription {
    ticks: Int!
    countdown(from: Int!): Int!
  }
`);

const users: Record<string, { name: string }> = { '1': { name: 'Ada' } };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const roots = {
  query: { user: ({ id }: { id: string }) => users[id] ?? null },
  subscription: {
    ticks: async function* () {
      for (let n = 1; ; n++) {
        await sleep(25);
        yield { ticks: n };
      }
    },
    countdown: async function* ({ from }: { from: number }) {
      for (let n = from; n >= 0; n--) {
        await sleep(50);
        yield { countdown: n };
      }
    },
  },
};

const wss = new WebSocketServer({ host: '127.0.0.1', port: 4000, path: '/graphql' });
useServer(
  {
    schema,
    roots,
    onConnect: ({ connectionParams }) => typeof connectionParams?.authorization === 'string' && connectionParams.authorization.startsWith('Bearer '),
  },
  wss,
);
wss.once('listening', () => console.log('listening on ws://localhost:4000/graphql'));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => wss.close(() => process.exit(0)));
