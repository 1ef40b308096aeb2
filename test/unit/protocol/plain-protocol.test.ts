import { describe, expect, it } from 'vitest';
import {
  createConnection,
  ErrorCode,
  InvalidOptionError,
  plainProtocol,
  PLAIN_PROTOCOL,
  type FrameSink,
  type InboundMessage,
  type PlainProtocolOptions,
} from '../../../src/index.js';
import { createMockServer } from '../../../src/testing/index.js';
import { bytesSentBeforeBufferReused, harness } from '../../support/harness.js';
import { expectInvariants } from '../../support/invariants.js';

function decodeOne(adapter: ReturnType<typeof plainProtocol>, raw: string | ArrayBuffer) {
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

function plain(options: PlainProtocolOptions | undefined, connection: Parameters<typeof harness>[0] = {}) {
  const h = harness({ protocol: plainProtocol(options), ...connection }, { autoAuth: false, autoPong: false });
  const messages: InboundMessage[] = [];
  h.connection.on('message', (message) => messages.push(message));
  return { h, messages };
}

describe('plainProtocol: codec', () => {
  const adapter = plainProtocol();

  it('delivers every frame untouched, with no channel: text (JSON-looking or not) and binary', () => {
    const binary = new Uint8Array([0, 255, 7]).buffer;
    expect(decodeOne(adapter, '{"type":"message","ch":"a","data":1}')).toEqual(['data', [{ data: '{"type":"message","ch":"a","data":1}' }]]);
    expect(decodeOne(adapter, 'not json {')).toEqual(['data', [{ data: 'not json {' }]]);
    expect(decodeOne(adapter, 'ping')).toEqual(['data', [{ data: 'ping' }]]);
    const [kind, [message]] = decodeOne(adapter, binary);
    expect(kind).toBe('data');
    expect((message as InboundMessage).data).toBe(binary);
  });

  it('writes strings as they are, binary as a copy of its bytes, other values as JSON text; the channel is not on the wire', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    expect(adapter.encode('hello', {})).toBe('hello');
    expect(adapter.encode('{"raw":true}', { channel: 'room' })).toBe('{"raw":true}');
    expect(adapter.encode(bytes, {})).toEqual(bytes);
    expect(adapter.encode(bytes, {})).not.toBe(bytes);
    expect(adapter.encode(bytes.buffer, {})).toEqual(bytes.buffer);
    expect(adapter.encode(bytes.buffer, {})).not.toBe(bytes.buffer);
    expect(adapter.encode(new Uint16Array(bytes.buffer.slice(0, 2)), {})).toEqual(new Uint8Array([1, 2]));
    expect(adapter.encode({ a: 1 }, { channel: 'room', event: 'e', id: 'x' })).toBe('{"a":1}');
    expect(() => adapter.encode(undefined, {})).toThrow(TypeError);
  });

  it('has no auth frame, no subscribe frames, no refresh, no acks and no heartbeat by default', () => {
    expect(adapter.name).toBe(PLAIN_PROTOCOL);
    expect(adapter.subprotocols({ mode: 'query', token: 't' })).toBeUndefined();
    expect(adapter.authFrame({ mode: 'query', token: 't' })).toBeUndefined();
    expect(adapter.awaitsAuthAnswer({ mode: 'query', token: 't' })).toBe(false);
    expect(adapter.subscribeFrame('room', 1)).toBeUndefined();
    expect(adapter.unsubscribeFrame('room')).toBeUndefined();
    expect(adapter.refreshFrame('t')).toBeUndefined();
    expect(adapter.pingFrame(1)).toBeUndefined();
    expect(adapter.acknowledges).toBe(false);
    expect(adapter.operations).toBeUndefined();
  });

  it('with a ping/pong pair: the pair is the heartbeat, and neither frame reaches the app', () => {
    const paired = plainProtocol({ heartbeat: { ping: 'ping', pong: 'pong' } });
    expect(paired.pingFrame(1)).toBe('ping');
    expect(paired.pongFrame(undefined)).toBe('pong');
    expect(decodeOne(paired, 'pong')).toEqual(['pong', [undefined]]);
    expect(decodeOne(paired, 'ping')).toEqual(['ping', [undefined]]);
    expect(decodeOne(paired, 'pong!')).toEqual(['data', [{ data: 'pong!' }]]);
  });

  it('offers its subprotocols, and the token as one more in subprotocol mode', () => {
    const adapter = plainProtocol({ subprotocols: ['chat.v2'], tokenSubprotocol: (token) => `bearer.${token}` });
    expect(adapter.subprotocols({ mode: 'message', token: undefined })).toEqual(['chat.v2']);
    expect(adapter.subprotocols({ mode: 'subprotocol', token: 'abc' })).toEqual(['chat.v2', 'bearer.abc']);
    expect(plainProtocol().subprotocols({ mode: 'subprotocol', token: 'abc' })).toEqual(['abc']);
  });

  it('offers the subprotocols it was created with: changing that array afterwards changes nothing', () => {
    const subprotocols = ['chat.v2'];
    const adapter = plainProtocol({ subprotocols });
    subprotocols.push('chat.v3');
    subprotocols[0] = '';
    expect(adapter.subprotocols({ mode: 'message', token: undefined })).toEqual(['chat.v2']);
    expect(adapter.subprotocols({ mode: 'subprotocol', token: 'abc' })).toEqual(['chat.v2', 'abc']);
  });

  it('an unknown option is named with the options it could have been', () => {
    expect(() => plainProtocol({ heartbeats: {} } as unknown as PlainProtocolOptions)).toThrow(
      expect.objectContaining({ expectation: 'one of heartbeat, subprotocols, tokenSubprotocol, authFrame', received: 'an unknown option' }),
    );
  });

  it('writes a SharedArrayBuffer as a copy of its bytes in an ArrayBuffer (a browser sends no shared memory), and says which value has no JSON text', () => {
    const shared = new SharedArrayBuffer(4);
    new Uint8Array(shared).set([1, 2, 3, 4]);
    const frame = plainProtocol().encode(shared, {});
    expect(frame).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(frame as ArrayBuffer)]).toEqual([1, 2, 3, 4]);
    expect(() => plainProtocol().encode(undefined, {})).toThrow('A undefined has no JSON text');
    expect(() => plainProtocol().encode(() => 1, {})).toThrow('A function has no JSON text');
  });

  it('writes the authFrame only in message mode with a token, and offers no token subprotocol without a token', () => {
    const adapter = plainProtocol({ subprotocols: ['chat.v2'], authFrame: (token) => `login ${token}` });
    expect(adapter.authFrame({ mode: 'message', token: 't' })).toBe('login t');
    expect(adapter.authFrame({ mode: 'query', token: 't' })).toBeUndefined();
    expect(adapter.authFrame({ mode: 'subprotocol', token: 't' })).toBeUndefined();
    expect(adapter.authFrame({ mode: 'message', token: undefined })).toBeUndefined();
    expect(adapter.subprotocols({ mode: 'subprotocol', token: undefined })).toEqual(['chat.v2']);
    expect(plainProtocol().authFrame({ mode: 'message', token: undefined })).toBeUndefined();
    expect(plainProtocol().authFrame({ mode: 'message', token: 't' })).toBeUndefined();
    expect(plainProtocol().pongFrame(undefined)).toBeUndefined();
  });

  it('bad options are InvalidOptionErrors naming the option', () => {
    const cases: Array<[unknown, string]> = [
      ['yes', 'plainProtocol'],
      [{ heartbeat: 'ping' }, 'plainProtocol.heartbeat'],
      [{ heartbeat: { ping: '', pong: 'pong' } }, 'plainProtocol.heartbeat.ping'],
      [{ heartbeat: { ping: 'ping' } }, 'plainProtocol.heartbeat.pong'],
      [{ subprotocols: 'chat' }, 'plainProtocol.subprotocols'],
      [{ subprotocols: [''] }, 'plainProtocol.subprotocols'],
      [{ tokenSubprotocol: 'x' }, 'plainProtocol.tokenSubprotocol'],
      [{ authFrame: {} }, 'plainProtocol.authFrame'],
      [{ heartbeats: {} }, 'plainProtocol.heartbeats'],
      [null, 'plainProtocol'],
      [{ heartbeat: null }, 'plainProtocol.heartbeat'],
      [{ heartbeat: { ping: 1, pong: 'pong' } }, 'plainProtocol.heartbeat.ping'],
      [{ heartbeat: { ping: 'ping', pong: '' } }, 'plainProtocol.heartbeat.pong'],
      [{ subprotocols: ['chat', 3] }, 'plainProtocol.subprotocols'],
    ];
    for (const [options, option] of cases) {
      expect(() => plainProtocol(options as PlainProtocolOptions), option).toThrow(InvalidOptionError);
      try {
        plainProtocol(options as PlainProtocolOptions);
      } catch (error) {
        expect((error as InvalidOptionError).option).toBe(option);
      }
    }
  });
});

describe('plainProtocol driving a connection', () => {
  it('is connected as soon as the socket opens, and sends nothing of its own', async () => {
    const { h } = plain(undefined);
    await h.connect();
    expect(h.states).toEqual(['idle', 'connecting', 'connected']);
    expect(h.server.last!.sent).toEqual([]);
    expectInvariants(h);
  });

  it('without a ping/pong pair nothing times out: an hour of silence, one socket, no frame sent', async () => {
    const { h } = plain(undefined, { heartbeat: { intervalMs: 1_000, timeoutMs: 500 } });
    await h.connect();
    for (let minute = 0; minute < 60; minute++) await h.advance(60_000);
    expect(h.connection.status).toBe('connected');
    expect(h.server.sockets).toHaveLength(1);
    expect(h.server.last!.sent).toEqual([]);
    expect(h.errors).toEqual([]);
  });

  it('with a ping/pong pair: pings every interval, pongs are heard and not delivered, silence is a dead link', async () => {
    const { h, messages } = plain({ heartbeat: { ping: 'ping', pong: 'pong' } }, { heartbeat: { intervalMs: 1_000, timeoutMs: 500 } });
    let answering = true;
    h.server.onFrame = (socket, frame) => {
      if (frame.raw === 'ping' && answering) socket.push('pong');
    };
    await h.connect();
    const socket = h.server.last!;
    await h.advance(1_000);
    await h.advance(1_000);
    expect(socket.sent.map((frame) => frame.raw)).toEqual(['ping', 'ping']);
    expect(h.connection.rttMs).not.toBeNull();
    expect(messages).toEqual([]);
    answering = false;
    await h.advance(1_000);
    await h.advance(499);
    expect(h.connection.status).toBe('connected');
    await h.advance(1);
    expect(h.connection.status).toBe('reconnecting');
    expect(h.connection.lastError?.code).toBe(ErrorCode.NETWORK_ERROR);
  });

  it("answers the server's ping with the pair's pong", async () => {
    const { h, messages } = plain({ heartbeat: { ping: 'ping', pong: 'pong' } });
    await h.connect();
    h.server.last!.push('ping');
    expect(h.server.last!.sent.map((frame) => frame.raw)).toEqual(['pong']);
    expect(messages).toEqual([]);
  });

  it('every frame reaches on(message) as it came; subscribe() listeners receive nothing; no error is reported', async () => {
    const { h, messages } = plain(undefined);
    const onChannel: unknown[] = [];
    h.connection.subscribe('room', (data) => onChannel.push(data));
    await h.connect();
    const socket = h.server.last!;
    socket.push('{"type":"message","ch":"room","data":1}');
    socket.push('hello');
    socket.push(new Uint8Array([9, 8]).buffer);
    expect(messages.map((message) => message.data)).toEqual(['{"type":"message","ch":"room","data":1}', 'hello', new Uint8Array([9, 8]).buffer]);
    expect(messages.every((message) => message.ch === undefined)).toBe(true);
    expect(onChannel).toEqual([]);
    expect(socket.sent).toEqual([]);
    expect(h.errors).toEqual([]);
  });

  it('send() writes the frame as given', async () => {
    const { h } = plain(undefined);
    await h.connect();
    await h.connection.send('raw text');
    await h.connection.send({ a: 1 }, { channel: 'ignored' });
    await h.connection.send(new Uint8Array([1, 2]));
    expect(h.server.last!.sent.map((frame) => frame.raw)).toEqual(['raw text', '{"a":1}', new Uint8Array([1, 2])]);
  });

  it('binary queued while the link is down goes as it was when sent: an app that reuses its buffer changes nothing queued, as a browser copies at send()', async () => {
    const { h } = plain(undefined);
    expect(await bytesSentBeforeBufferReused(h)).toEqual([
      [1, 2],
      [0, 1, 2, 0],
    ]);
  });

  it('request() and ack sends reject at once: a plain server sends no acks', async () => {
    const { h } = plain(undefined);
    await h.connect();
    await expect(h.connection.request('x', { channel: 'c' })).rejects.toMatchObject({
      code: ErrorCode.INVALID_MESSAGE_FORMAT,
      message: 'The plain protocol has no acknowledgements (ack: true, request())',
    });
    expect(h.server.last!.sent).toEqual([]);
  });

  it('a token in query mode rides on the url; in subprotocol mode on the handshake; no frame carries it', async () => {
    const query = plain(undefined, { auth: { token: 'secret-1', mode: 'query', queryParam: 'access_token' } });
    await query.h.connect();
    expect(query.h.server.last!.url).toBe('ws://mock.test/socket?access_token=secret-1');
    expect(query.h.server.last!.sent).toEqual([]);
    expect(query.h.connection.status).toBe('connected');

    const sub = plain({ subprotocols: ['chat'] }, { auth: { token: 'secret-2', mode: 'subprotocol' } });
    await sub.h.connect();
    expect(sub.h.server.last!.protocols).toEqual(['chat', 'secret-2']);
    expect(sub.h.server.last!.sent).toEqual([]);
    expect(sub.h.connection.status).toBe('connected');
  });

  it('message mode sends the authFrame first and does not wait for an answer', async () => {
    const { h } = plain({ authFrame: (token) => `AUTH ${token}` }, { auth: { token: 'secret-3' } });
    await h.connect();
    expect(h.server.last!.sent.map((frame) => frame.raw)).toEqual(['AUTH secret-3']);
    expect(h.connection.status).toBe('connected');
  });

  it('message mode without authFrame is refused at creation, naming auth.mode and not the token', () => {
    const server = createMockServer();
    let thrown: unknown;
    try {
      createConnection({ url: 'ws://mock.test/', WebSocket: server.WebSocket, protocol: plainProtocol(), auth: { token: 'secret-4' }, environment: false });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidOptionError);
    expect(thrown).toMatchObject({ option: 'auth.mode' });
    expect(String((thrown as Error).message)).not.toContain('secret-4');
    expect(server.sockets).toEqual([]);
  });

  it('a server close is classified by the common table, with the code received', async () => {
    const { h } = plain(undefined);
    await h.connect();
    h.server.last!.closeFromServer(1012, 'restart');
    await h.settle();
    expect(h.connection.status).toBe('reconnecting');
    expect(h.connection.lastError).toMatchObject({ code: ErrorCode.SERVER_ERROR, closeCode: 1012 });
  });
});
