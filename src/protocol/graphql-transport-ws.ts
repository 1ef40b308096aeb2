import type { FrameSink, IncomingFrame, OutgoingFrame, ProtocolAdapter } from './adapter.js';
import { ErrorCode, SocketchartError } from './errors.js';
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

/** The protocol's close codes and what the connection does about each (the error keeps the code received). */
export const graphqlTransportWsCloseRules: Readonly<Record<number, CloseRule>> = {
  4400: { action: 'fail', error: ErrorCode.INVALID_MESSAGE_FORMAT, description: 'bad request' },
  4401: { action: 'refresh-token', error: ErrorCode.AUTHENTICATION_FAILED, description: 'unauthorized' },
  4403: { action: 'fail', error: ErrorCode.AUTHORIZATION_FAILED, description: 'forbidden' },
  4406: { action: 'fail', error: ErrorCode.INVALID_MESSAGE_FORMAT, description: 'subprotocol not acceptable' },
  4408: { action: 'reconnect', error: ErrorCode.TIMEOUT, description: 'connection initialisation timeout' },
  4409: { action: 'fail', error: ErrorCode.INVALID_MESSAGE_FORMAT, description: 'subscriber already exists' },
  4429: { action: 'fail', error: ErrorCode.INVALID_MESSAGE_FORMAT, description: 'too many initialisation requests' },
  4499: { action: 'reconnect-normal', error: ErrorCode.CLOSED, description: 'terminated' },
  4500: { action: 'reconnect', error: ErrorCode.SERVER_ERROR, description: 'internal server error' },
};

type Frame = Record<string, unknown> & { type?: unknown; id?: unknown; payload?: unknown };

const invalid = (message: string) =>
  new SocketchartError(ErrorCode.INVALID_MESSAGE_FORMAT, { message, recovery: 'none' });

/**
 * Adapter for the `graphql-transport-ws` protocol: `connection_init` / `connection_ack` is the auth
 * exchange, its `ping` / `pong` drive the heartbeat, `send(payload, { channel: operationId })` starts a
 * subscription, and each `next` is delivered to the subscribers of its operation id.
 */
export function graphqlTransportWsProtocol(options: GraphqlTransportWsOptions = {}): ProtocolAdapter {
  const initPayload = options.initPayload ?? ((token: string | undefined) => (token === undefined ? {} : { token }));
  return {
    name: GRAPHQL_TRANSPORT_WS,
    subprotocols: () => [GRAPHQL_TRANSPORT_WS],
    authFrame: ({ token }) => JSON.stringify({ type: 'connection_init', payload: initPayload(token) }),
    awaitsAuthAnswer: () => true,
    refreshFrame: () => undefined,
    startsOperations: true,
    pingFrame: () => '{"type":"ping"}',
    pongFrame: () => '{"type":"pong"}',
    encode(data, { channel }): OutgoingFrame {
      if (channel === undefined) return typeof data === 'string' ? data : JSON.stringify(data);
      return JSON.stringify({ type: 'subscribe', id: channel, payload: data });
    },
    subscribeFrame: () => undefined,
    unsubscribeFrame: (id) => JSON.stringify({ type: 'complete', id }),
    closeRule: (code) => graphqlTransportWsCloseRules[code],
    decode(raw: IncomingFrame, sink: FrameSink): void {
      if (typeof raw !== 'string') {
        sink.invalid(invalid('graphql-transport-ws carries text frames only'));
        return;
      }
      let frame: Frame;
      try {
        const parsed: unknown = JSON.parse(raw);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        frame = parsed as Frame;
      } catch {
        sink.invalid(invalid('Malformed frame: not a JSON object'));
        return;
      }
      const id = typeof frame.id === 'string' ? frame.id : undefined;
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
          sink.data({ ch: id, data: frame.payload });
          return;
        case 'error':
          sink.serverError(
            new SocketchartError(ErrorCode.SERVER_ERROR, {
              message: 'GraphQL operation error',
              recovery: 'none',
              details: frame.payload,
              ...(id === undefined ? {} : { messageId: id }),
            }),
          );
          return;
        case 'complete':
          sink.control('complete', frame);
          return;
        default:
          sink.invalid(invalid(`Unknown graphql-transport-ws frame type "${String(frame.type).slice(0, 40)}"`));
      }
    },
  };
}
