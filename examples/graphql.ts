/** The README's GraphQL example, against examples/graphql-server.ts: `JWT_SECRET=… npx tsx examples/graphql.ts`. */
import { tokenFor } from './token.js';

// #region readme
import { createConnection, graphqlTransportWsProtocol, type GraphqlResult } from 'socketchart';

const gql = createConnection({
  url: 'ws://localhost:4000/graphql',
  protocol: graphqlTransportWsProtocol({ initPayload: (token) => ({ authorization: `Bearer ${token}` }) }),
  auth: { token: getToken },
});
gql.start();

// a query or a mutation: resolves with its result (like awaiting graphql-ws's client.subscribe)
const { data } = await gql.execute<GraphqlResult<{ user: { name: string } }>>(
  { query: 'query ($id: ID!) { user(id: $id) { name } }', variables: { id: '1' } },
  { signal: AbortSignal.timeout(10_000) },
);

// a subscription with a sink (like client.subscribe): returns the function that stops it
const stop = gql.operation<GraphqlResult>(
  { query: 'subscription { ticks }' },
  { next: (result) => render(result.data), error: (error) => console.warn(error.details), complete: () => {} },
);

// or as an async iterator (like client.iterate): break stops it
for await (const result of gql.iterate<GraphqlResult>({ query: 'subscription { countdown(from: 3) }' })) console.log(result.data);
// #endregion

console.log('user', data?.user.name);
stop();
gql.stop();

function getToken(): Promise<string> {
  return tokenFor('alice');
}

function render(data: unknown): void {
  console.log('tick', JSON.stringify(data));
}
