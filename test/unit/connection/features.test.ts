import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  ChannelIterationFeature,
  InvalidOptionError,
  OperationsFeature,
  PresenceFeature,
  createBaseConnection,
  createConnection,
  graphqlTransportWsProtocol,
  type ConnectionFeature,
  type ConnectionOptions,
  type WebSocketConstructor,
} from '../../../src/index.js';
import { graphql, socketOf } from '../../support/graphql-mock.js';
import { URL, harness } from '../../support/harness.js';

/** `createBaseConnection({ features })`: a connection with only the optional parts it names. */

const base =
  (...features: ConnectionFeature[]) =>
  (options: ConnectionOptions) =>
    createBaseConnection({ ...options, features });

/** The InvalidOptionError `call` throws, or undefined. */
function refusal(call: () => unknown): InvalidOptionError | undefined {
  try {
    call();
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  return undefined;
}

describe('a base connection', () => {
  it('without features connects, subscribes, receives and publishes as createConnection does', async () => {
    const h = harness({ heartbeat: false }, {}, base());
    const received: unknown[] = [];
    h.connection.subscribe('news', (data) => received.push(data));
    await h.connect();
    expect(h.connection.status).toBe('connected');
    expect(socketOf(h).sentOfType('subscribe')).toEqual([{ type: 'subscribe', ch: 'news' }]);
    socketOf(h).push({ type: 'message', ch: 'news', seq: 1, data: { headline: 'up' } });
    await h.connection.send({ text: 'hi' }, { channel: 'news' });
    expect(received).toEqual([{ headline: 'up' }]);
    expect(socketOf(h).sentOfType('publish')).toEqual([{ type: 'publish', ch: 'news', data: { text: 'hi' } }]);
  });

  it('without PresenceFeature: connection.presence throws InvalidOptionError naming the feature', () => {
    const h = harness({}, {}, base(ChannelIterationFeature, OperationsFeature));
    const error = refusal(() => h.connection.presence);
    expect(error?.option).toBe('features');
    expect(error?.message).toBe('Invalid option `features`: expected PresenceFeature for connection.presence, received a connection created without it');
  });

  it('without ChannelIterationFeature: channel() throws InvalidOptionError naming the feature', () => {
    const h = harness({}, {}, base(PresenceFeature, OperationsFeature));
    const error = refusal(() => h.connection.channel('news'));
    expect(error?.option).toBe('features');
    expect(error?.message).toContain('ChannelIterationFeature for connection.channel()');
  });

  it('without OperationsFeature: operation(), execute() and iterate() throw InvalidOptionError naming the feature', () => {
    const h = harness({}, {}, base(PresenceFeature, ChannelIterationFeature));
    const calls = {
      'operation()': () => h.connection.operation({ query: '{ a }' }, { next: () => {} }),
      'execute()': () => h.connection.execute({ query: '{ a }' }),
      'iterate()': () => h.connection.iterate({ query: '{ a }' }),
    };
    for (const [name, call] of Object.entries(calls)) {
      const error = refusal(call);
      expect(error?.option, name).toBe('features');
      expect(error?.message, name).toContain(`OperationsFeature for ${name}`);
    }
  });

  it('with a protocol that runs operations but without OperationsFeature is refused at creation', () => {
    const error = refusal(() => createBaseConnection({ url: URL, WebSocket: WebSocket as unknown as WebSocketConstructor, protocol: graphqlTransportWsProtocol(), features: [PresenceFeature] }));
    expect(error?.option).toBe('features');
    expect(error?.message).toContain('OperationsFeature');
    expect(error?.message).toContain('graphql-transport-ws');
  });

  it('without a features option has none of them', () => {
    const connection = createBaseConnection({ url: URL, WebSocket: WebSocket as unknown as WebSocketConstructor });
    expect(refusal(() => connection.presence)?.option).toBe('features');
    expect(refusal(() => connection.channel('news'))?.option).toBe('features');
    connection.dispose();
  });

  it('with PresenceFeature joins a channel and resolves with the members the server lists', async () => {
    const h = harness({ heartbeat: false }, {}, base(PresenceFeature));
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'presence') socket.push({ type: 'presence_state', ch: frame.json.ch, members: [{ userId: 'me' }, { userId: 'ann' }] });
    };
    await h.connect();
    await expect(h.connection.presence.join('room:1')).resolves.toEqual([{ userId: 'me' }, { userId: 'ann' }]);
    expect(h.connection.presence.members('room:1').map((m) => m.userId)).toEqual(['me', 'ann']);
  });

  it('with ChannelIterationFeature iterates a channel until break, which unsubscribes', async () => {
    const h = harness({ heartbeat: false }, {}, base(ChannelIterationFeature));
    await h.connect();
    const messages = h.connection.channel<{ n: number }>('ticks');
    await h.settle();
    for (const n of [1, 2, 3]) socketOf(h).push({ type: 'message', ch: 'ticks', seq: n, data: { n } });
    const read: number[] = [];
    for await (const message of messages) {
      read.push(message.data.n);
      if (read.length === 2) break;
    }
    expect(read).toEqual([1, 2]);
    expect(socketOf(h).sentOfType('unsubscribe')).toEqual([{ type: 'unsubscribe', ch: 'ticks' }]);
  });

  it('with OperationsFeature runs a graphql-transport-ws query to its result', async () => {
    const { h, gql } = graphql({ heartbeat: false }, {}, base(OperationsFeature));
    await h.connect();
    const result = h.connection.execute({ query: '{ hello }' });
    await h.settle();
    const [subscribe] = gql.subscribes;
    socketOf(h).push({ type: 'next', id: subscribe!.id, payload: { data: { hello: 'world' } } });
    socketOf(h).push({ type: 'complete', id: subscribe!.id });
    await expect(result).resolves.toEqual({ data: { hello: 'world' } });
  });

  it('refuses features that are not an array of features, naming what it expected', () => {
    for (const features of ['presence', {}, [PresenceFeature, { feature: 'telepathy' }], [null], ['presence'], [{ feature: 'toString' }], [{ feature: 'presence' }]]) {
      const error = refusal(() => createBaseConnection({ url: URL, features: features as ConnectionFeature[] }));
      expect(error?.option, JSON.stringify(features)).toMatch(/^features/);
      expect(error?.message).toContain('an array of features (PresenceFeature, OperationsFeature, ChannelIterationFeature)');
    }
  });

  it('names a bad feature by its place in the list', () => {
    const error = refusal(() => createBaseConnection({ url: URL, features: [PresenceFeature, { feature: 'telepathy' }] as unknown as ConnectionFeature[] }));
    expect(error?.option).toBe('features[1]');
  });

  it('names the bad option of a base connection as createConnection does', () => {
    expect(refusal(() => createBaseConnection({ url: 'http://example.test', features: [] }))?.option).toBe('url');
    expect(refusal(() => createBaseConnection(null as unknown as ConnectionOptions))?.option).toBe('options');
  });
});

describe('createConnection', () => {
  it('has every feature, and takes no features option', async () => {
    const { h } = graphql({ heartbeat: false });
    expect(() => h.connection.presence).not.toThrow();
    expect(() => h.connection.channel('news').return!()).not.toThrow();
    expect(() => h.connection.execute({ query: '{ a }' }).catch(() => {})).not.toThrow();
    const error = refusal(() => createConnection({ url: URL, features: [PresenceFeature] } as ConnectionOptions));
    expect(error?.option).toBe('features');
  });
});
