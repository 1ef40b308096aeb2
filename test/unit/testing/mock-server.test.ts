import { describe, expect, it } from 'vitest';
import { createMockServer, type MockServerOptions } from '../../../src/testing/index.js';
import { harness, settle } from '../../support/harness.js';
import { tokenProvider } from '../../support/tokens.js';
import { until } from '../../support/until.js';

describe('MockSocket.push', () => {
  it.each([
    ['a Uint8Array', new Uint8Array([1, 2, 3])],
    ['a view into a larger buffer', new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4)],
    ['a Node Buffer', Buffer.from([1, 2, 3])],
  ])('delivers %s as binary data (an ArrayBuffer of its bytes), not as its JSON', async (_, frame) => {
    const server = createMockServer();
    const ws = new server.WebSocket('ws://mock') as unknown as { binaryType: string; onmessage: ((event: { data: unknown }) => void) | null };
    ws.binaryType = 'arraybuffer';
    const got: unknown[] = [];
    ws.onmessage = (event) => got.push(event.data);
    await Promise.resolve();
    server.last!.push(frame);
    expect(got).toHaveLength(1);
    expect(got[0]).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(got[0] as ArrayBuffer)]).toEqual([1, 2, 3]);
  });
});

describe('MockSocket.close() before the handshake completes', () => {
  it('fails the connection as a browser or ws does: an error, then 1006 with wasClean false, and never an open', async () => {
    const server = createMockServer({ autoOpen: false });
    const ws = new server.WebSocket('ws://mock');
    const events: unknown[] = [];
    ws.onopen = () => events.push('open');
    ws.onerror = () => events.push('error');
    ws.onclose = (event) => events.push({ code: event.code, wasClean: event.wasClean });
    ws.close(1000, 'bye');
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(events).toEqual(['error', { code: 1006, wasClean: false }]);
    expect(ws.readyState).toBe(3);
  });
});

/** A client socket on a fresh mock server, open (unless `autoOpen` is false), with what it reports recorded. */
async function dial(options: MockServerOptions = {}) {
  const server = createMockServer(options);
  const ws = new server.WebSocket('ws://mock');
  const socket = server.last!;
  const events: string[] = [];
  const received: unknown[] = [];
  ws.onerror = () => events.push('error');
  ws.onclose = (event) => events.push(`close ${event.code}`);
  ws.onmessage = (event) => {
    received.push(event.data);
    events.push('message');
  };
  if (options.autoOpen !== false) await settle();
  return { server, socket, ws, events, received };
}

/** What `action` throws. */
function thrown(action: () => void): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  return undefined;
}

const bytesOf = async (data: unknown) => [...new Uint8Array(data instanceof Blob ? await data.arrayBuffer() : (data as ArrayBuffer))];

describe('MockSocket binary frames', () => {
  it('delivers binary data as a Blob of its bytes while binaryType is "blob", the browser default', async () => {
    const { socket, ws, received } = await dial();
    expect(ws.binaryType).toBe('blob');
    socket.push(new Uint8Array([1, 2, 3]));
    await settle();
    expect(received).toHaveLength(1);
    expect(received[0]).toBeInstanceOf(Blob);
    expect(await bytesOf(received[0])).toEqual([1, 2, 3]);
  });

  it('delivers a pushed Blob as its bytes, not as its JSON, and in order with the frames pushed around it', async () => {
    const { socket, ws, received } = await dial();
    ws.binaryType = 'arraybuffer';
    socket.push('before');
    socket.push(new Blob([new Uint8Array([1, 2, 3])]));
    socket.push('after');
    await until(() => received.length === 3, 1_000, 'the three frames');
    expect(received[0]).toBe('before');
    expect(received[1]).toBeInstanceOf(ArrayBuffer);
    expect(await bytesOf(received[1])).toEqual([1, 2, 3]);
    expect(received[2]).toBe('after');
  });

  it('a close from the server waits for a pushed Blob being read, as a close frame follows the data sent before it', async () => {
    const { socket, events, received } = await dial();
    socket.push(new Blob([new Uint8Array([7])]));
    socket.closeFromServer(1000, 'done');
    await until(() => events.length === 2, 1_000, 'the frame and the close');
    expect(events).toEqual(['message', 'close 1000']);
    expect(await bytesOf(received[0])).toEqual([7]);
  });
});

describe('MockSocket.send', () => {
  it('throws an InvalidStateError DOMException while the socket is CONNECTING, as a browser does', async () => {
    const { ws } = await dial({ autoOpen: false });
    const error = thrown(() => ws.send('early'));
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('InvalidStateError');
  });

  it('after close(), discards the data without throwing, as a browser and ws do', async () => {
    const { socket, ws } = await dial();
    ws.close(1000);
    expect(ws.readyState).toBe(2);
    expect(() => ws.send('late')).not.toThrow();
    await settle();
    expect(ws.readyState).toBe(3);
    expect(() => ws.send('later')).not.toThrow();
    expect(socket.sent).toEqual([]);
  });
});

describe('MockServer automatic answers', () => {
  it('delivers auth_ok after the client\'s send() returns, never from inside it', async () => {
    const { ws, received } = await dial();
    ws.send(JSON.stringify({ type: 'auth', token: 't' }));
    expect(received).toEqual([]);
    await settle();
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0] as string)).toMatchObject({ type: 'auth_ok' });
  });

  it('delivers pong after the client\'s send() returns, never from inside it', async () => {
    const { ws, received } = await dial();
    ws.send(JSON.stringify({ type: 'ping', ts: 5 }));
    expect(received).toEqual([]);
    await settle();
    expect(received.map((data) => JSON.parse(data as string))).toEqual([{ type: 'pong', ts: 5 }]);
  });

  it('delivers a refused auth as the error frame, then the close 4001, after the client\'s send() returns', async () => {
    const { ws, events, received } = await dial({ autoAuth: () => false });
    ws.send(JSON.stringify({ type: 'auth', token: 'bad' }));
    expect(events).toEqual([]);
    expect(ws.readyState).toBe(1);
    await settle();
    expect(events).toEqual(['message', 'close 4001']);
    expect(JSON.parse(received[0] as string)).toMatchObject({ type: 'error', code: 'AUTHENTICATION_FAILED' });
  });

  it('answers a token given in the URL (auth mode "query") with auth_ok once open, as the reference server does: the connection connects', async () => {
    const h = harness({ auth: { token: 'tok', mode: 'query' }, heartbeat: false });
    await h.connect();
    await h.settle();
    expect(h.server.last!.url).toContain('token=tok');
    expect(h.server.last!.sentOfType('auth')).toEqual([]);
    expect(h.connection.status).toBe('connected');
  });

  it('reads the URL token from the queryParam option, as the reference server\'s auth.queryParam', async () => {
    const asked: string[] = [];
    const h = harness({ auth: { token: 'tok', mode: 'query', queryParam: 'access_token' }, heartbeat: false }, { queryParam: 'access_token', autoAuth: (token) => (asked.push(token), true) });
    await h.connect();
    await h.settle();
    expect(asked).toEqual(['tok']);
    expect(h.connection.status).toBe('connected');
  });

  it('answers a token offered as a subprotocol (auth mode "subprotocol") with auth_ok once open, asking autoAuth about the token without its prefix', async () => {
    const asked: string[] = [];
    const h = harness({ auth: { token: 'tok', mode: 'subprotocol' }, heartbeat: false }, { autoAuth: (token) => (asked.push(token), true) });
    await h.connect();
    await h.settle();
    expect(asked).toEqual(['tok']);
    expect(h.connection.status).toBe('connected');
  });

  it('asks an autoAuth function about a token given in the URL, and a refused one ends the session with 4001', async () => {
    const asked: string[] = [];
    const h = harness({ auth: { token: 'bad', mode: 'query' }, heartbeat: false }, { autoAuth: (token) => (asked.push(token), false) });
    await h.connect();
    await h.settle();
    expect(asked).toEqual(['bad']);
    expect(h.server.sockets[0]!.isLive).toBe(false);
  });

  it('answers a refused in-band token refresh with an error and leaves the socket open, as the reference server does (no 4001 close)', async () => {
    const { token } = tokenProvider(['t1', 't2']);
    const h = harness({ auth: { token, refreshLeadMs: 30_000 }, heartbeat: false }, { sessionTtlMs: 60_000, autoAuth: (t) => t === 't1' });
    await h.connect();
    expect(h.connection.status).toBe('connected');
    const socket = h.server.last!;
    await h.advance(30_000); // the refresh goes out with t2, which the server refuses
    await h.settle();
    await h.settle();
    expect(socket.sentOfType('auth').map((frame) => frame.token)).toEqual(['t1', 't2']);
    expect(h.errors.map((error) => [error.code, error.message])).toContainEqual(['AUTHENTICATION_FAILED', 'token refresh refused: invalid token']);
    expect(h.server.sockets).toHaveLength(1);
    expect(socket.isLive, 'the socket the refresh was refused on').toBe(true);
    expect(h.connection.status).toBe('connected');
  });

  it('keeps one sessionId per socket: a refresh is answered with the session the first auth_ok named, even after other sockets dialed', async () => {
    const { server, ws, received } = await dial();
    ws.send(JSON.stringify({ type: 'auth', token: 't1' }));
    const other = new server.WebSocket('ws://mock/b');
    const otherReceived: unknown[] = [];
    other.onmessage = (event) => otherReceived.push(event.data);
    await settle();
    ws.send(JSON.stringify({ type: 'auth', token: 't2' })); // in-band refresh
    other.send(JSON.stringify({ type: 'auth', token: 't3' }));
    await settle();
    const answers = received.map((data) => JSON.parse(data as string) as Record<string, unknown>);
    expect(answers.map((frame) => frame.type)).toEqual(['auth_ok', 'auth_ok']);
    expect(answers[1]!.sessionId).toBe(answers[0]!.sessionId);
    expect((JSON.parse(otherReceived[0] as string) as Record<string, unknown>).sessionId).not.toBe(answers[0]!.sessionId);
  });

  it('keeps the order the server made: the automatic answer, what onFrame pushes, then what the test pushes after send()', async () => {
    const { server, socket, ws, received } = await dial();
    server.onFrame = (to) => to.push('from onFrame');
    ws.send(JSON.stringify({ type: 'ping', ts: 1 }));
    socket.push('from the test');
    expect(received).toEqual([]);
    await settle();
    expect(received).toEqual([JSON.stringify({ type: 'pong', ts: 1 }), 'from onFrame', 'from the test']);
  });
});

describe('MockSocket.close validation', () => {
  it.each([1001, 1005, 1006, 2999, 5000])('close(%i) throws an InvalidAccessError DOMException and leaves the socket open, as a browser does', async (code) => {
    const { ws, events } = await dial();
    const error = thrown(() => ws.close(code));
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('InvalidAccessError');
    await settle();
    expect(ws.readyState).toBe(1);
    expect(events).toEqual([]);
  });

  it.each([
    [1000.5, 1000],
    [3000.5, 3000],
    [3001.5, 3002],
    [4000.7, 4001],
  ])('close(%d) closes with the code a browser sends for it, %i (WebIDL [Clamp] rounds half to even)', async (code, sent) => {
    const { socket, ws, events } = await dial();
    expect(thrown(() => ws.close(code))).toBeUndefined();
    await settle();
    expect(events).toEqual([`close ${sent}`]);
    expect(socket.closedByClient?.code).toBe(sent);
  });

  it('close() with a reason of more than 123 UTF-8 bytes throws a SyntaxError DOMException and leaves the socket open', async () => {
    const { ws } = await dial();
    const error = thrown(() => ws.close(1000, 'é'.repeat(62)));
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('SyntaxError');
    expect(ws.readyState).toBe(1);
  });

  it.each([
    [1000, 'é'.repeat(61) + 'x'],
    [3000, ''],
    [4999, undefined],
  ])('close(%i, reason) with a valid code and a reason of at most 123 UTF-8 bytes closes', async (code, reason) => {
    const { socket, ws, events } = await dial();
    ws.close(code, reason);
    await settle();
    expect(events).toEqual([`close ${code}`]);
    expect(socket.closedByClient).toEqual({ code, reason });
  });
  it('close() with a reason and no code closes with 1000 and the reason, as a browser does (a reason travels only after a code)', async () => {
    const { socket, ws } = await dial();
    const closes: unknown[] = [];
    ws.onclose = (event) => closes.push({ code: event.code, reason: event.reason });
    ws.close(undefined, 'bye');
    await settle();
    expect(closes).toEqual([{ code: 1000, reason: 'bye' }]);
    expect(socket.closedByClient).toEqual({ code: 1000, reason: 'bye' });
  });
});

describe('MockSocket.drop', () => {
  it('closes at once with 1006, and a frame still queued for the client is lost with it, as in a reset', async () => {
    const { socket, ws, events } = await dial();
    ws.send(JSON.stringify({ type: 'ping', ts: 1 }));
    socket.drop();
    expect(events).toEqual(['close 1006']);
    await settle();
    expect(events).toEqual(['close 1006']);
  });

  it('from inside the client\'s send() (an onFrame handler), closes once send() has returned, after the answers made before it', async () => {
    const { server, ws, events } = await dial();
    server.onFrame = (socket) => socket.drop();
    ws.send(JSON.stringify({ type: 'ping', ts: 1 }));
    expect(events).toEqual([]);
    await settle();
    expect(events).toEqual(['message', 'close 1006']);
  });
});

describe('MockSocket event order when the handshake fails', () => {
  it('a dial refused and closed by the client at once reports one error, then one close 1006', async () => {
    const server = createMockServer();
    server.refusing = true;
    const ws = new server.WebSocket('ws://mock');
    const events: string[] = [];
    ws.onerror = () => events.push('error');
    ws.onclose = (event) => events.push(`close ${event.code}`);
    ws.close();
    await settle();
    expect(events).toEqual(['error', 'close 1006']);
  });

  it('closeFromServer() before the handshake completes fails the connection as a browser does: an error, then 1006 with wasClean false, and never an open', async () => {
    const server = createMockServer({ autoOpen: false });
    const ws = new server.WebSocket('ws://mock');
    const events: unknown[] = [];
    ws.onopen = () => events.push('open');
    ws.onerror = () => events.push('error');
    ws.onclose = (event) => events.push({ code: event.code, wasClean: event.wasClean });
    server.last!.closeFromServer(4001, 'unauthorized'); // e.g. the upgrade refused
    server.last!.accept();
    await settle();
    expect(events).toEqual(['error', { code: 1006, wasClean: false }]);
    expect(ws.readyState).toBe(3);
  });

  it('drop() of a socket the client closed during its handshake reports one error, then one close 1006', async () => {
    const { socket, ws, events } = await dial({ autoOpen: false });
    ws.close();
    socket.drop();
    await settle();
    expect(events).toEqual(['error', 'close 1006']);
  });
});

/** The frames a test client received, decoded. */
const framesOf = (received: unknown[]) => received.map((data) => JSON.parse(data as string) as Record<string, unknown>);

it('refuses an auth frame without a string token as the reference server does: INVALID_MESSAGE_FORMAT, AUTHENTICATION_FAILED, then 4001, never auth_ok', async () => {
  for (const frame of [{ type: 'auth' }, { type: 'auth', token: 42 }, { type: 'auth', token: '' }]) {
    const { ws, events, received } = await dial();
    ws.send(JSON.stringify(frame));
    await settle();
    expect(framesOf(received).map((answer) => answer.code ?? answer.type)).toEqual(['INVALID_MESSAGE_FORMAT', 'AUTHENTICATION_FAILED']);
    expect(events.at(-1)).toBe('close 4001');
  }
});

it('answers an auth frame without a string token on an authenticated socket with INVALID_MESSAGE_FORMAT alone, as the reference server does: the link stays open', async () => {
  const asked: string[] = [];
  const { ws, events, received } = await dial({ autoAuth: (token) => (asked.push(token), true) });
  ws.send(JSON.stringify({ type: 'auth', token: 't1' }));
  await settle();
  ws.send(JSON.stringify({ type: 'auth' }));
  await settle();
  expect(asked).toEqual(['t1']);
  expect(framesOf(received).map((answer) => answer.code ?? answer.type)).toEqual(['auth_ok', 'INVALID_MESSAGE_FORMAT']);
  expect(events).not.toContain('close 4001');
  expect(ws.readyState).toBe(1);
});

it('answers a ping whose ts is not a number with INVALID_MESSAGE_FORMAT, not a pong, as the reference server does', async () => {
  const { ws, received } = await dial();
  ws.send(JSON.stringify({ type: 'auth', token: 't' }));
  ws.send(JSON.stringify({ type: 'ping', ts: 'now' }));
  await settle();
  expect(framesOf(received).map((answer) => answer.code ?? answer.type)).toEqual(['auth_ok', 'INVALID_MESSAGE_FORMAT']);
  expect(ws.readyState).toBe(1);
});

it('closeFromServer() with a code no close frame can carry (1006, 1015) fails the connection as a browser does: an error, then 1006 with wasClean false', async () => {
  for (const code of [1006, 1015]) {
    const { socket, ws } = await dial();
    const events: unknown[] = [];
    ws.onerror = () => events.push('error');
    ws.onclose = (event) => events.push({ code: event.code, reason: event.reason, wasClean: event.wasClean });
    socket.closeFromServer(code, 'bye');
    await settle();
    expect(events).toEqual(['error', { code: 1006, reason: '', wasClean: false }]);
  }
});

it('closeFromServer(1005) sends a close frame without a code: the browser reports 1005 with no reason (a reason travels only after a code)', async () => {
  const { socket, ws } = await dial();
  const events: unknown[] = [];
  ws.onerror = () => events.push('error');
  ws.onclose = (event) => events.push({ code: event.code, reason: event.reason, wasClean: event.wasClean });
  socket.closeFromServer(1005, 'bye');
  await settle();
  expect(events).toEqual([{ code: 1005, reason: '', wasClean: true }]);
});

describe('MockServer.WebSocket as a browser WebSocket', () => {
  it.each([
    ['a token with characters no subprotocol may hold (base64 "/" and "=")', ['socketchart.v1', 'socketchart.token.a/b+c=']],
    ['a token with a space', ['socketchart.v1', 'socketchart.token.Bearer abc']],
    ['a subprotocol offered twice', ['socketchart.v1', 'socketchart.v1']],
    ['an empty subprotocol', ['']],
  ])('throws a SyntaxError DOMException for %s, as a browser does, and dials nothing', (_, protocols) => {
    const server = createMockServer();
    const error = thrown(() => new server.WebSocket('ws://mock', protocols));
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('SyntaxError');
    expect(server.sockets).toEqual([]);
  });

  it('accepts subprotocols a browser accepts (a JWT-like token)', () => {
    const server = createMockServer();
    expect(() => new server.WebSocket('ws://mock', ['socketchart.v1', 'socketchart.token.eyJhbGciOi.J9_x-y~z!#$%&\'*^`|'])).not.toThrow();
    expect(server.sockets).toHaveLength(1);
  });

  it('ignores a binaryType other than "blob" and "arraybuffer", as a browser does: binary data still arrives as a Blob', async () => {
    const { socket, ws, received } = await dial();
    ws.binaryType = 'nodebuffer';
    expect(ws.binaryType).toBe('blob');
    socket.push(new Uint8Array([1, 2]));
    await settle();
    expect(received[0]).toBeInstanceOf(Blob);
  });

  it('counts what is sent once closing in bufferedAmount, as a browser does, though it is discarded', async () => {
    const { socket, ws } = await dial();
    ws.close(1000);
    ws.send('é1');
    ws.send(new Uint8Array(4));
    expect(ws.bufferedAmount).toBe(7);
    expect(socket.sent).toEqual([]);
  });
});
