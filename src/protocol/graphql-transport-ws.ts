import type { FrameSink, IncomingFrame, OperationCodec, OutgoingFrame, ProtocolAdapter } from './adapter.js';
import { ErrorCode, InvalidOptionError, SocketchartError, finalFormatError } from './errors.js';
import type { CloseRule } from './close-codes.js';

/** Subprotocol of the `graphql-transport-ws` protocol (the `graphql-ws` library, Apollo, Hasura, Yoga…). */
export const GRAPHQL_TRANSPORT_WS = 'graphql-transport-ws';

export interface GraphqlTransportWsOptions {
  /**
   * Builds the `connection_init` payload from the token.
   * @default (token) => token === undefined ? {} : { token }
   */
  initPayload?: (token: string | undefined) => Record<string, unknown>;
}

/** What a graphql-transport-ws operation runs: the payload of its `subscribe` frame. */
export interface GraphqlPayload {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
  extensions?: Record<string, unknown> | null;
}

/** One result of an operation: the payload of a `next` frame (a GraphQL execution result). */
export interface GraphqlResult<TData = Record<string, unknown>, TExtensions = Record<string, unknown>> {
  data?: TData | null;
  errors?: ReadonlyArray<{ message: string; locations?: ReadonlyArray<{ line: number; column: number }>; path?: ReadonlyArray<string | number>; extensions?: Record<string, unknown> }>;
  extensions?: TExtensions;
}

/**
 * The protocol's close codes and what the connection does about each (the error keeps the code received).
 * Plain data (codes as literals, checked by the type), so a bundle without this protocol drops it.
 */
export const graphqlTransportWsCloseRules: Readonly<Record<number, CloseRule>> = {
  4400: { action: 'fail', error: 'INVALID_MESSAGE_FORMAT', description: 'bad request' },
  4401: { action: 'refresh-token', error: 'AUTHENTICATION_FAILED', description: 'unauthorized' },
  4403: { action: 'fail', error: 'AUTHORIZATION_FAILED', description: 'forbidden' },
  4406: { action: 'fail', error: 'INVALID_MESSAGE_FORMAT', description: 'subprotocol not acceptable' },
  4408: { action: 'reconnect', error: 'TIMEOUT', description: 'connection initialisation timeout' },
  4409: { action: 'fail', error: 'INVALID_MESSAGE_FORMAT', description: 'subscriber already exists' },
  4429: { action: 'fail', error: 'INVALID_MESSAGE_FORMAT', description: 'too many initialisation requests' },
  4499: { action: 'reconnect-normal', error: 'CLOSED', description: 'terminated' },
  4500: { action: 'reconnect', error: 'SERVER_ERROR', description: 'internal server error' },
};

type Frame = Record<string, unknown> & { type?: unknown; id?: unknown; payload?: unknown };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A frame's `type` as a message may show it: a string, cut short, or the kind of value it is. */
const typeName = (type: unknown) => (typeof type === 'string' ? JSON.stringify(type.slice(0, 40)) : `(${type === null ? 'null' : typeof type})`);

const invalid = (message: string) => new SocketchartError(ErrorCode.INVALID_MESSAGE_FORMAT, { message, recovery: 'none' });

const refused = finalFormatError;

/**
 * The payload checks a graphql-ws server makes before it closes the socket with 4400: refused here
 * instead, so that one bad operation does not take the connection and its other operations with it.
 */
function checkPayload(payload: unknown): asserts payload is GraphqlPayload {
  if (!isRecord(payload)) throw refused('A GraphQL operation is an object { query, variables?, operationName?, extensions? }');
  if (typeof payload.query !== 'string') throw refused('A GraphQL operation needs a `query` string');
  if (payload.variables != null && !isRecord(payload.variables)) throw refused('`variables` of a GraphQL operation must be an object');
  if (payload.operationName != null && typeof payload.operationName !== 'string') throw refused('`operationName` of a GraphQL operation must be a string');
  if (payload.extensions != null && !isRecord(payload.extensions)) throw refused('`extensions` of a GraphQL operation must be an object');
}

const operations: OperationCodec = {
  start(id, payload) {
    checkPayload(payload);
    return JSON.stringify({ type: 'subscribe', id, payload });
  },
  stop: (id) => JSON.stringify({ type: 'complete', id }),
};

/** The error of an `error` frame: the operation was refused or failed; `details` holds the server's GraphQL errors. */
function operationError(id: string, payload: unknown): SocketchartError {
  const first = Array.isArray(payload) && isRecord(payload[0]) && typeof payload[0].message === 'string' ? payload[0].message : undefined;
  const text = first === undefined ? '' : `: ${first.length > 200 ? `${first.slice(0, 200)}…` : first}`;
  return new SocketchartError(ErrorCode.SERVER_ERROR, { message: `GraphQL operation ${id.slice(0, 64)} failed${text}`, recovery: 'none', details: payload, messageId: id });
}

/**
 * Adapter for the `graphql-transport-ws` protocol: `connection_init` / `connection_ack` is the auth
 * exchange, its `ping` / `pong` drive the heartbeat, and operations are first-class: `execute()` runs a
 * query or mutation and resolves with its result, `operation()` and `iterate()` follow a subscription
 * until it completes; each is written once per socket and started again after a reconnect while it is
 * live. Its close codes follow `graphqlTransportWsCloseRules`. The protocol has no acknowledgements:
 * `send(…, { ack: true })` and `request()` reject.
 */
export function graphqlTransportWsProtocol(options: GraphqlTransportWsOptions = {}): ProtocolAdapter {
  const initPayload = options.initPayload ?? ((token: string | undefined) => (token === undefined ? {} : { token }));
  if (typeof initPayload !== 'function') throw new InvalidOptionError('graphqlTransportWsProtocol.initPayload', 'a function (token) => payload', initPayload);
  return {
    name: GRAPHQL_TRANSPORT_WS,
    subprotocols: () => [GRAPHQL_TRANSPORT_WS],
    authFrame: ({ token }) => JSON.stringify({ type: 'connection_init', payload: initPayload(token) }),
    awaitsAuthAnswer: () => true,
    refreshFrame: () => undefined,
    operations,
    acknowledges: false,
    pingFrame: () => '{"type":"ping"}',
    pongFrame: () => '{"type":"pong"}',
    encode(data, { channel }): OutgoingFrame {
      if (channel === undefined) throw refused('graphql-transport-ws carries operations only: use execute(), operation() or iterate()');
      if (typeof channel !== 'string' || channel === '') throw refused('The channel of a graphql-transport-ws operation (its id) is a non-empty string');
      return operations.start(channel, data);
    },
    subscribeFrame: () => undefined,
    unsubscribeFrame: () => undefined,
    closeRule: (code) => graphqlTransportWsCloseRules[code],
    decode(raw: IncomingFrame, sink: FrameSink): void {
      if (typeof raw !== 'string') {
        sink.invalid(invalid('graphql-transport-ws carries text frames only'));
        return;
      }
      let frame: Frame;
      try {
        const parsed: unknown = JSON.parse(raw);
        if (!isRecord(parsed)) throw new Error('not an object');
        frame = parsed as Frame;
      } catch {
        sink.invalid(invalid('Malformed frame: not a JSON object'));
        return;
      }
      const id = typeof frame.id === 'string' && frame.id !== '' ? frame.id : undefined;
      switch (frame.type) {
        case 'connection_ack':
          sink.authOk({});
          return;
        case 'ping':
          sink.ping(undefined);
          return;
        case 'pong':
          sink.pong(undefined);
          return;
        case 'next':
          if (id === undefined) break;
          if (isRecord(frame.payload)) sink.data({ ch: id, data: frame.payload });
          else sink.invalid(invalid('A graphql-transport-ws "next" frame carries a result object'));
          return;
        case 'error':
          if (id === undefined) break;
          sink.end?.(id, operationError(id, frame.payload));
          return;
        case 'complete':
          if (id === undefined) break;
          sink.end?.(id);
          return;
        default:
          sink.invalid(invalid(`Unknown graphql-transport-ws frame type ${typeName(frame.type)}`));
          return;
      }
      sink.invalid(invalid(`A graphql-transport-ws ${typeName(frame.type)} frame needs an id`));
    },
  };
}
