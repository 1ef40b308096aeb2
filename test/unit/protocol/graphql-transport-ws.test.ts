import { describe, expect, it } from 'vitest';
import { ErrorCode, GRAPHQL_TRANSPORT_WS, InvalidOptionError, graphqlTransportWsProtocol, type FrameSink, type SocketchartError } from '../../../src/index.js';
import { tokenProvider } from '../../support/tokens.js';
import { expectInvariants } from '../../support/invariants.js';
import { graphql, reconnect, socketOf, subscribesPerSocket } from '../../support/graphql-mock.js';

const provider = tokenProvider;

it('refuses an initPayload that is not a function at creation, with InvalidOptionError naming it, never its contents', () => {
  const create = () => graphqlTransportWsProtocol({ initPayload: { authorization: 'Bearer s3cr3t' } as never });
  expect(create).toThrow(InvalidOptionError);
  expect(create).toThrow(/`graphqlTransportWsProtocol\.initPayload`: expected a function/);
  expect(create).not.toThrow(/s3cr3t/);
});

describe('graphql-transport-ws adapter: codec', () => {
  const adapter = graphqlTransportWsProtocol();

  function decodeOne(raw: string | ArrayBuffer) {
    const calls: Array<[string, unknown[]]> = [];
    const record =
      (name: string) =>
      (...args: unknown[]) => {
        calls.push([name, args]);
      };
    const sink: FrameSink = {
      data: record('data'),
      authOk: record('authOk'),
      pong: record('pong'),
      ping: record('ping'),
      serverError: record('serverError'),
      control: record('control'),
      invalid: record('invalid'),
      end: record('end'),
    };
    adapter.decode(raw, sink);
    expect(calls).toHaveLength(1);
    return calls[0]!;
  }

  it('offers the graphql-transport-ws subprotocol and waits for connection_ack', () => {
    expect(adapter.name).toBe(GRAPHQL_TRANSPORT_WS);
    expect(adapter.subprotocols({ mode: 'message', token: 't' })).toEqual([GRAPHQL_TRANSPORT_WS]);
    expect(adapter.awaitsAuthAnswer({ mode: 'message', token: undefined })).toBe(true);
  });

  it('encodes connection_init, ping, pong, subscribe and complete', () => {
    expect(JSON.parse(adapter.authFrame({ mode: 'message', token: 't' }) as string)).toEqual({ type: 'connection_init', payload: { token: 't' } });
    expect(JSON.parse(adapter.authFrame({ mode: 'message', token: undefined }) as string)).toEqual({ type: 'connection_init', payload: {} });
    expect(JSON.parse(adapter.pingFrame(1) as string)).toEqual({ type: 'ping' });
    expect(JSON.parse(adapter.pongFrame(undefined) as string)).toEqual({ type: 'pong' });
    expect(JSON.parse(adapter.encode({ query: '{ a }' }, { channel: 'op1' }) as string)).toEqual({ type: 'subscribe', id: 'op1', payload: { query: '{ a }' } });
    expect(JSON.parse(adapter.operations!.stop('op1') as string)).toEqual({ type: 'complete', id: 'op1' });
    expect(adapter.unsubscribeFrame('op1')).toBeUndefined();
    expect(adapter.subscribeFrame('op1', 3)).toBeUndefined();
    expect(adapter.refreshFrame('t')).toBeUndefined();
  });

  it('routes connection_ack, ping, pong, next, error, complete; rejects binary, malformed, unknown and id-less operation frames', () => {
    expect(decodeOne('{"type":"connection_ack","payload":{}}')).toEqual(['authOk', [{}]]);
    expect(decodeOne('{"type":"ping"}')).toEqual(['ping', [undefined]]);
    expect(decodeOne('{"type":"pong"}')).toEqual(['pong', [undefined]]);
    expect(decodeOne('{"type":"next","id":"op1","payload":{"data":{"n":1}}}')).toEqual(['data', [{ ch: 'op1', data: { data: { n: 1 } } }]]);
    const [kind, [id, error]] = decodeOne('{"type":"error","id":"op1","payload":[{"message":"bad"}]}');
    expect([kind, id]).toEqual(['end', 'op1']);
    expect(error).toMatchObject({ code: ErrorCode.SERVER_ERROR, messageId: 'op1', message: 'GraphQL operation op1 failed: bad', details: [{ message: 'bad' }] });
    expect(decodeOne('{"type":"complete","id":"op1"}')).toEqual(['end', ['op1']]);
    for (const raw of [new ArrayBuffer(2), 'nope', '[]', '{"type":"subscribe"}', '{"type":"next","payload":{}}', '{"type":"error","id":""}', '{"type":"complete"}']) {
      const [invalidKind, [invalidError]] = decodeOne(raw);
      expect(invalidKind).toBe('invalid');
      expect(invalidError).toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT, recovery: 'none' });
    }
  });
});

describe('graphql-transport-ws adapter: what it refuses', () => {
  const adapter = graphqlTransportWsProtocol();

  function invalidOf(raw: string | ArrayBuffer): { message: string; recovery: string } {
    const errors: Array<{ message: string; recovery: string }> = [];
    const ignore = () => undefined;
    adapter.decode(raw, { data: ignore, authOk: ignore, pong: ignore, ping: ignore, serverError: ignore, control: ignore, invalid: (error) => errors.push(error) });
    expect(errors).toHaveLength(1);
    return errors[0]!;
  }

  function endOf(raw: string): [string, { message: string; recovery: string; messageId?: string; details?: unknown } | undefined] {
    const ends: Array<[string, never]> = [];
    const ignore = () => undefined;
    adapter.decode(raw, { data: ignore, authOk: ignore, pong: ignore, ping: ignore, serverError: ignore, control: ignore, invalid: ignore, end: (id, error) => ends.push([id, error as never]) });
    expect(ends).toHaveLength(1);
    return ends[0]!;
  }

  it('refuses an operation a graphql-ws server would close the socket for (4400), saying what is wrong, as final for that operation', () => {
    const refusal = (payload: unknown) => {
      try {
        adapter.encode(payload, { channel: 'op1' });
      } catch (error) {
        return error as { code: string; message: string; recovery: string };
      }
      return undefined;
    };
    const shape = 'A GraphQL operation is an object { query, variables?, operationName?, extensions? }';
    const cases: Array<[unknown, string]> = [
      [null, shape],
      ['{ a }', shape],
      [[{ query: '{ a }' }], shape],
      [{}, 'A GraphQL operation needs a `query` string'],
      [{ query: 1 }, 'A GraphQL operation needs a `query` string'],
      [{ query: '{ a }', variables: 'x' }, '`variables` of a GraphQL operation must be an object'],
      [{ query: '{ a }', operationName: 7 }, '`operationName` of a GraphQL operation must be a string'],
      [{ query: '{ a }', extensions: [] }, '`extensions` of a GraphQL operation must be an object'],
    ];
    for (const [payload, message] of cases) {
      expect(refusal(payload), JSON.stringify(payload)).toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT, message, recovery: 'fail' });
    }
    expect(refusal({ query: '{ a }', variables: null, operationName: null, extensions: null })).toBeUndefined();
    expect(refusal({ query: '{ a }', variables: { n: 1 }, operationName: 'A', extensions: { persisted: true } })).toBeUndefined();
  });

  it('refuses data sent outside an operation, as final', () => {
    expect(() => adapter.encode({ query: '{ a }' }, {})).toThrow(
      expect.objectContaining({ message: 'graphql-transport-ws carries operations only: use execute(), operation() or iterate()', recovery: 'fail' }),
    );
  });

  it('names a malformed frame: binary, not a JSON object, an unknown type cut to 40 characters or the kind of value it is, an operation frame without an id', () => {
    expect(invalidOf(new ArrayBuffer(1)).message).toBe('graphql-transport-ws carries text frames only');
    expect(invalidOf('[1]').message).toBe('Malformed frame: not a JSON object');
    expect(invalidOf('null').message).toBe('Malformed frame: not a JSON object');
    expect(invalidOf(JSON.stringify({ type: 'x'.repeat(50) })).message).toBe(`Unknown graphql-transport-ws frame type "${'x'.repeat(40)}"`);
    expect(invalidOf('{"type":null}').message).toBe('Unknown graphql-transport-ws frame type (null)');
    expect(invalidOf('{"type":3}').message).toBe('Unknown graphql-transport-ws frame type (number)');
    expect(invalidOf('{"type":"next","id":5}').message).toBe('A graphql-transport-ws "next" frame needs an id');
    expect(invalidOf('{"type":"complete","id":""}').message).toBe('A graphql-transport-ws "complete" frame needs an id');
  });

  it('refuses a next frame whose result is not an object, as a graphql-ws client does', () => {
    for (const payload of [undefined, null, 'text', 3, [{ data: {} }]]) {
      expect(invalidOf(JSON.stringify({ type: 'next', id: 'op1', payload })), JSON.stringify(payload)).toMatchObject({
        message: 'A graphql-transport-ws "next" frame carries a result object',
        recovery: 'none',
      });
    }
  });

  it('an error frame fails its operation with the first GraphQL error\'s message, cut at 200 characters, and the id cut at 64', () => {
    const long = 'm'.repeat(201);
    const [id, error] = endOf(JSON.stringify({ type: 'error', id: 'i'.repeat(70), payload: [{ message: long }, { message: 'second' }] }));
    expect(id).toBe('i'.repeat(70));
    expect(error).toMatchObject({ message: `GraphQL operation ${'i'.repeat(64)} failed: ${'m'.repeat(200)}…`, recovery: 'none', messageId: 'i'.repeat(70) });
    expect(endOf(JSON.stringify({ type: 'error', id: 'op', payload: [{ message: 'm'.repeat(200) }] }))[1]?.message).toBe(`GraphQL operation op failed: ${'m'.repeat(200)}`);
  });

  it('an error frame without a GraphQL error message to quote says only that the operation failed, and keeps the payload as details', () => {
    for (const payload of [undefined, { message: 'not an array' }, [], ['text'], [{ message: 5 }]]) {
      const [, error] = endOf(JSON.stringify({ type: 'error', id: 'op', payload }));
      expect(error, JSON.stringify(payload)).toMatchObject({ message: 'GraphQL operation op failed' });
      expect(error?.details).toEqual(payload);
    }
  });

  it('error and complete frames are harmless to a sink that does not follow operations', () => {
    const ignore = () => undefined;
    const sink = { data: ignore, authOk: ignore, pong: ignore, ping: ignore, serverError: ignore, control: ignore, invalid: ignore };
    expect(() => adapter.decode('{"type":"error","id":"op","payload":[]}', sink)).not.toThrow();
    expect(() => adapter.decode('{"type":"complete","id":"op"}', sink)).not.toThrow();
  });
});

describe('graphql-transport-ws adapter driving a connection', () => {
  it('connection_init with the token payload → connection_ack → connected', async () => {
    const { h, gql } = graphql({ auth: { token: 'tkn' } });
    gql.ack = false;
    h.connection.start();
    await h.settle();
    const socket = socketOf(h);
    expect(socket.protocols).toEqual([GRAPHQL_TRANSPORT_WS]);
    expect(socket.sent[0]?.json).toEqual({ type: 'connection_init', payload: { token: 'tkn' } });
    expect(h.connection.status).toBe('authenticating');
    socket.push({ type: 'connection_ack' });
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(h.states).toEqual(['idle', 'connecting', 'authenticating', 'connected']);
    expectInvariants(h);
  });

  it('sends connection_init (empty payload) and waits for the ack even without auth', async () => {
    const { h, gql } = graphql();
    await h.connect();
    expect(gql.inits).toEqual([{}]);
    expect(h.connection.status).toBe('connected');
  });

  it('builds the connection_init payload with initPayload', async () => {
    const { h, gql } = graphql({ auth: { token: 'tkn' } }, { initPayload: (token) => ({ Authorization: `Bearer ${token}` }) });
    await h.connect();
    expect(gql.inits).toEqual([{ Authorization: 'Bearer tkn' }]);
    expect(h.connection.status).toBe('connected');
  });

  it('a connection_ack that never comes times out after authTimeoutMs', async () => {
    const { h, gql } = graphql({ authTimeoutMs: 2_000 });
    gql.ack = false;
    h.connection.start();
    await h.settle();
    await h.advance(2_000);
    expect(h.connection.status).toBe('reconnecting');
    expect(h.connection.lastError?.code).toBe(ErrorCode.TIMEOUT);
  });

  it('answers a server ping with pong, without any state change', async () => {
    const { h } = graphql();
    await h.connect();
    const before = h.connection.snapshot;
    socketOf(h).push({ type: 'ping' });
    expect(socketOf(h).sent.at(-1)?.json).toEqual({ type: 'pong' });
    expect(h.connection.snapshot).toBe(before);
  });

  it('the heartbeat sends ping and accepts pong; without pong the socket is declared dead', async () => {
    const { h, gql } = graphql({ heartbeat: { intervalMs: 1_000, timeoutMs: 500 } });
    await h.connect();
    const socket = socketOf(h);
    for (let i = 1; i <= 3; i++) {
      await h.advance(1_000);
      expect(socket.sentOfType('ping')).toHaveLength(i);
      expect(h.connection.status).toBe('connected');
    }
    await h.advance(999);
    expect(h.connection.status).toBe('connected');
    expect(socket.sentOfType('ping')).toEqual([{ type: 'ping' }, { type: 'ping' }, { type: 'ping' }]);
    expect(h.connection.metrics().rtt.count).toBeGreaterThanOrEqual(3);

    gql.pong = false;
    await h.advance(1);
    expect(socket.sentOfType('ping')).toHaveLength(4);
    await h.advance(499);
    expect(h.connection.status).toBe('connected');
    await h.advance(1);
    expect(h.connection.status).toBe('reconnecting');
    expect(h.connection.lastError?.code).toBe(ErrorCode.NETWORK_ERROR);
  });

  it('send(payload, { channel }) sends subscribe { id, payload }', async () => {
    const { h, gql } = graphql();
    await h.connect();
    const payload = { query: 'subscription { ticks }', variables: { every: 1 } };
    await h.connection.send(payload, { channel: 'op1' });
    expect(gql.subscribes).toEqual([{ type: 'subscribe', id: 'op1', payload }]);
  });

  it('next frames reach the subscribers of their operation id, and only them', async () => {
    const { h } = graphql();
    const op1: unknown[] = [];
    const op2: unknown[] = [];
    h.connection.subscribe('op1', (data) => op1.push(data));
    h.connection.subscribe('op2', (data) => op2.push(data));
    await h.connect();
    const socket = socketOf(h);
    expect(socket.sentOfType('subscribe')).toEqual([]);
    socket.push({ type: 'next', id: 'op1', payload: { data: { ticks: 1 } } });
    socket.push({ type: 'next', id: 'op1', payload: { data: { ticks: 2 } } });
    socket.push({ type: 'next', id: 'op2', payload: { data: { other: true } } });
    expect(op1).toEqual([{ data: { ticks: 1 } }, { data: { ticks: 2 } }]);
    expect(op2).toEqual([{ data: { other: true } }]);
  });

  it('an operation error reaches on(error) with the operation id; complete reaches on(control); the socket stays up', async () => {
    const { h } = graphql();
    const controls: string[] = [];
    h.connection.on('control', ({ type, frame }) => controls.push(`${type}:${String(frame.id)}`));
    await h.connect();
    await h.connection.send({ query: '{ nope }' }, { channel: 'op1' });
    socketOf(h).push({ type: 'error', id: 'op1', payload: [{ message: 'no such field' }] });
    socketOf(h).push({ type: 'complete', id: 'op1' });
    expect(h.errors).toHaveLength(1);
    expect(h.errors[0]).toMatchObject({ code: ErrorCode.SERVER_ERROR, messageId: 'op1' });
    expect(controls).toEqual(['complete:op1']);
    expect(h.connection.status).toBe('connected');
  });

  it('an operation error or an unknown frame type that echoes a long token, cut short in the error, holds no 8 characters of the token', async () => {
    const token = `sk_live_${'Q7vR2mX9pL4wK8zN'.repeat(6)}`;
    const { h } = graphql({ auth: { token }, heartbeat: false });
    await h.connect();
    const result = h.connection.execute({ query: '{ me }' }, { id: 'q1' }).catch((error: SocketchartError) => error);
    await h.settle();
    // a gateway that quotes what it could not verify
    socketOf(h).push({ type: 'error', id: 'q1', payload: [{ message: `Could not verify the token in connection_init.payload (signature mismatch, unknown kid, issuer https://auth.example.com/realms/production-eu-west-1): ${token}` }] });
    socketOf(h).push({ type: token });
    const error = (await result) as SocketchartError;
    expect(error.message).toBe('GraphQL operation q1 failed: Could not verify the token in connection_init.payload (signature mismatch, unknown kid, issuer https://auth.example.com/realms/production-eu-west-1): [redacted]…');
    expect(JSON.stringify(error.details)).not.toContain(token.slice(-8));
    expect(h.errors.map((e) => e.message)).toEqual(['Unknown graphql-transport-ws frame type "[redacted]"']);
  });

  it('a subscribed operation is started again, once, after every reconnect', async () => {
    const { h, gql } = graphql();
    h.connection.subscribe('op1', () => {});
    await h.connect();
    const payload = { query: 'subscription { ticks }' };
    await h.connection.send(payload, { channel: 'op1' });
    socketOf(h).drop();
    await h.settle();
    await h.advance(h.connection.snapshot.context.retryDelayMs);
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(h.server.sockets).toHaveLength(2);
    expect(gql.subscribes).toEqual([
      { type: 'subscribe', id: 'op1', payload },
      { type: 'subscribe', id: 'op1', payload },
    ]);
  });

  it('an operation started while disconnected is sent once on connect, not queued twice; its send() resolves then', async () => {
    const { h } = graphql();
    h.connection.subscribe('op1', () => {});
    let written = false;
    const sent = h.connection.send({ query: 'subscription { a }' }, { channel: 'op1' }).then(() => (written = true));
    await h.settle();
    expect(written).toBe(false);
    await h.connect();
    await sent;
    expect(subscribesPerSocket(h, 'op1')).toEqual({ 1: 1 });
    await reconnect(h);
    expect(subscribesPerSocket(h, 'op1')).toEqual({ 1: 1, 2: 1 });
  });

  it('unsubscribing the last listener of a live operation sends complete', async () => {
    const { h } = graphql();
    await h.connect();
    const off = h.connection.subscribe('op1', () => {});
    await h.connection.send({ query: 'subscription { a }' }, { channel: 'op1' });
    off();
    expect(socketOf(h).sentOfType('complete')).toEqual([{ type: 'complete', id: 'op1' }]);
  });

  it('close 4401 behaves as 4001: one fresh token and a redial, then failed if refused again', async () => {
    const tokens = provider(['t1', 't2', 't3']);
    const { h, gql } = graphql({ auth: { token: tokens.token } });
    await h.connect();
    expect(h.connection.status).toBe('connected');
    gql.ack = false;
    socketOf(h).closeFromServer(4401, 'Unauthorized');
    await h.settle();
    await h.settle();
    expect(tokens.reasons).toEqual(['connect', 'rejected']);
    expect(h.server.sockets).toHaveLength(2);
    expect(gql.inits).toEqual([{ token: 't1' }, { token: 't2' }]);
    expect(h.connection.status).toBe('authenticating');

    socketOf(h).closeFromServer(4401, 'Unauthorized');
    await h.settle();
    expect(h.connection.status).toBe('failed');
    expect(h.connection.lastError).toMatchObject({ code: ErrorCode.AUTHENTICATION_FAILED, closeCode: 4401 });
    await h.advance(600_000);
    expect(h.server.sockets).toHaveLength(2);
    expect(tokens.reasons).toEqual(['connect', 'rejected']);
  });

  it('close 4401 with a static token fails at once', async () => {
    const { h } = graphql({ auth: { token: 'static' } });
    await h.connect();
    socketOf(h).closeFromServer(4401, 'Unauthorized');
    await h.settle();
    expect(h.connection.status).toBe('failed');
    expect(h.server.sockets).toHaveLength(1);
  });

  it('close 4403 goes to failed and never dials again on its own', async () => {
    const { h } = graphql({ auth: { token: 'tkn' } });
    await h.connect();
    socketOf(h).closeFromServer(4403, 'Forbidden');
    await h.settle();
    expect(h.connection.status).toBe('failed');
    expect(h.connection.lastError).toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED, closeCode: 4403, recovery: 'fail' });
    await h.advance(600_000);
    expect(h.server.sockets).toHaveLength(1);
    expectInvariants(h);
  });

  it('close 4500 (internal server error) reconnects', async () => {
    const { h } = graphql();
    await h.connect();
    socketOf(h).closeFromServer(4500, 'Internal Server Error');
    await h.settle();
    expect(h.connection.status).toBe('reconnecting');
    expect(h.connection.lastError).toMatchObject({ code: ErrorCode.SERVER_ERROR, closeCode: 4500 });
  });

  it('close 4409 fails the connection and reports 4409 itself, described as the protocol describes it', async () => {
    const { h } = graphql();
    await h.connect();
    socketOf(h).closeFromServer(4409, 'Subscriber for op1 already exists');
    await h.settle();
    expect(h.connection.status).toBe('failed');
    expect(h.connection.lastError).toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT, closeCode: 4409, recovery: 'fail' });
    expect(h.connection.lastError?.message).toContain('4409');
    expect(h.errors.at(-1)?.closeCode).toBe(4409);
  });
});

describe('graphql-transport-ws close codes: the code received is reported, the protocol classifies it', () => {
  /** The graphql-transport-ws close codes (PROTOCOL.md of graphql-ws) and what the connection does about each. */
  const rows = [
    [4400, 'fail', ErrorCode.INVALID_MESSAGE_FORMAT, 'failed'],
    [4401, 'refresh-token', ErrorCode.AUTHENTICATION_FAILED, 'connected'],
    [4403, 'fail', ErrorCode.AUTHORIZATION_FAILED, 'failed'],
    [4406, 'fail', ErrorCode.INVALID_MESSAGE_FORMAT, 'failed'],
    [4408, 'reconnect', ErrorCode.TIMEOUT, 'reconnecting'],
    [4409, 'fail', ErrorCode.INVALID_MESSAGE_FORMAT, 'failed'],
    [4429, 'fail', ErrorCode.INVALID_MESSAGE_FORMAT, 'failed'],
    [4499, 'reconnect-normal', ErrorCode.CLOSED, 'reconnecting'],
    [4500, 'reconnect', ErrorCode.SERVER_ERROR, 'reconnecting'],
  ] as const;

  it.each(rows)('%i → %s with %s, leaving the connection %s; error.closeCode is the code itself', async (code, action, error, state) => {
    const rule = graphqlTransportWsProtocol().closeRule?.(code);
    expect(rule).toMatchObject({ action, error });
    const { h } = graphql({ auth: { token: async () => 'fresh' } });
    await h.connect();
    socketOf(h).closeFromServer(code, 'bye');
    await h.settle();
    await h.settle();
    expect(h.connection.status).toBe(state);
    expect(h.errors.at(-1)).toMatchObject({ code: error, closeCode: code });
  });

  it('leaves standard codes and codes of other ranges to the common table', () => {
    const adapter = graphqlTransportWsProtocol();
    for (const code of [1000, 1001, 1006, 1011, 1012, 4001, 4003, 4029, 4999, 3000]) expect(adapter.closeRule?.(code)).toBeUndefined();
  });
});
