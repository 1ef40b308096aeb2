import { graphqlTransportWsProtocol, type ConnectionOptions, type GraphqlTransportWsOptions } from '../../src/index.js';
import type { MockSocket } from '../../src/testing/index.js';
import { harness, type Harness } from './harness.js';

/** Server-side behaviour of the mock graphql-transport-ws server; tests flip these switches. */
export interface GqlServer {
  /** Answer connection_init with connection_ack. */
  ack: boolean;
  /** Answer ping with pong. */
  pong: boolean;
  /** connection_init payloads received, in order. */
  inits: unknown[];
  /** subscribe frames received, in order. */
  subscribes: Array<Record<string, unknown>>;
  /** complete frames received, in order. */
  completes: Array<Record<string, unknown>>;
}

/** A connection speaking graphql-transport-ws to a mock server built on MockServer's onFrame hook. */
export function graphql(options: Partial<ConnectionOptions> = {}, adapter: GraphqlTransportWsOptions = {}, create?: Parameters<typeof harness>[2]) {
  const h = harness({ protocol: graphqlTransportWsProtocol(adapter), ...options }, { autoAuth: false, autoPong: false }, create);
  const gql: GqlServer = { ack: true, pong: true, inits: [], subscribes: [], completes: [] };
  h.server.onFrame = (socket, frame) => {
    const json = frame.json;
    if (!json) return;
    switch (json.type) {
      case 'connection_init':
        gql.inits.push(json.payload);
        if (gql.ack) socket.push({ type: 'connection_ack' });
        break;
      case 'ping':
        if (gql.pong) socket.push({ type: 'pong' });
        break;
      case 'subscribe':
        gql.subscribes.push(json);
        break;
      case 'complete':
        gql.completes.push(json);
        break;
    }
  };
  return { h, gql };
}

export const socketOf = (h: Harness): MockSocket => {
  const socket = h.server.last;
  if (!socket) throw new Error('no socket was dialed');
  return socket;
};

/** `subscribe` frames each socket received for operation `id`, by socket number (1 for the first). */
export function subscribesPerSocket(h: Harness, id: string): Record<number, number> {
  const counts: Record<number, number> = {};
  h.server.sockets.forEach((socket, index) => {
    const n = socket.sentOfType('subscribe').filter((frame) => frame.id === id).length;
    if (n > 0) counts[index + 1] = n;
  });
  return counts;
}

/** Drops the socket and waits out the backoff until the connection is up again on a new one. */
export async function reconnect(h: Harness): Promise<void> {
  socketOf(h).drop();
  await h.settle();
  await h.advance(h.connection.snapshot.context.retryDelayMs);
  await h.settle();
}
