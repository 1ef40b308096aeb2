import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../../../src/index.js';
import type { MockSocket } from '../../../src/testing/index.js';
import { harness, type Harness } from '../../support/harness.js';
import { graphql, socketOf as graphqlSocketOf } from '../../support/graphql-mock.js';
import { jsonProtocol, type ProtocolAdapter } from '../../../src/index.js';
import { expectInvariants } from '../../support/invariants.js';

const socketOf = (h: Harness): MockSocket => {
  const socket = h.server.last;
  if (!socket) throw new Error('no socket was dialed');
  return socket;
};

/** A connected harness that records what its subscribers of channel `a` receive. */
async function connected(options: Parameters<typeof harness>[0] = {}) {
  const h = harness(options);
  const got: unknown[] = [];
  h.connection.subscribe('a', (data) => got.push(data));
  await h.connect();
  expect(h.connection.status).toBe('connected');
  return { h, got, socket: socketOf(h) };
}

/** Runs `fn` with queueMicrotask captured, so errors rethrown "later" by listeners can be inspected, not crash the run. */
function capturingMicrotasks(fn: () => void): Array<() => void> {
  const deferred: Array<() => void> = [];
  const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback: () => void) => {
    deferred.push(callback);
  });
  try {
    fn();
  } finally {
    spy.mockRestore();
  }
  return deferred;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('bad input from the server', () => {
  it('malformed JSON is an INVALID_MESSAGE_FORMAT error with recovery none; the connection stays up and keeps delivering', async () => {
    const { h, got, socket } = await connected();
    socket.push('{"type":"message", "ch": "a", ');
    expect(h.errors).toHaveLength(1);
    expect(h.errors[0]).toMatchObject({ name: 'SocketchartError', code: ErrorCode.INVALID_MESSAGE_FORMAT, recovery: 'none' });
    expect(h.connection.status).toBe('connected');
    socket.push({ type: 'message', ch: 'a', seq: 1, data: 'still here' });
    expect(got).toEqual(['still here']);
    expectInvariants(h);
  });

  it('a frame without a type is INVALID_MESSAGE_FORMAT (objects, arrays and bare JSON values alike)', async () => {
    const { h, got, socket } = await connected();
    socket.push({ ch: 'a', data: 1 });
    socket.push('[1,2,3]');
    socket.push('42');
    socket.push('null');
    socket.push({ type: 7 });
    expect(h.errors.map((error) => [error.code, error.recovery])).toEqual(Array(5).fill([ErrorCode.INVALID_MESSAGE_FORMAT, 'none']));
    expect(h.connection.status).toBe('connected');
    socket.push({ type: 'message', ch: 'a', seq: 1, data: 'ok' });
    expect(got).toEqual(['ok']);
  });

  it('an unknown frame type is INVALID_MESSAGE_FORMAT naming the type; the connection stays up', async () => {
    const { h, got, socket } = await connected();
    socket.push({ type: 'bogus', ch: 'a', data: 1 });
    expect(h.errors).toHaveLength(1);
    expect(h.errors[0]).toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT, recovery: 'none' });
    expect(h.errors[0]?.message).toContain('bogus');
    expect(h.connection.status).toBe('connected');
    socket.push({ type: 'message', ch: 'a', seq: 1, data: 'ok' });
    expect(got).toEqual(['ok']);
  });

  it('an inbound frame above maxInboundBytes is dropped with MESSAGE_TOO_LARGE (recovery none); later frames still arrive', async () => {
    const { h, got, socket } = await connected({ maxInboundBytes: 100 });
    socket.push({ type: 'message', ch: 'a', seq: 1, data: 'x'.repeat(200) });
    expect(got).toEqual([]);
    expect(h.errors).toHaveLength(1);
    expect(h.errors[0]).toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE, recovery: 'none' });
    socket.push(new ArrayBuffer(101));
    expect(h.errors.map((error) => error.code)).toEqual([ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.MESSAGE_TOO_LARGE]);
    expect(h.connection.status).toBe('connected');
    socket.push({ type: 'message', ch: 'a', seq: 2, data: 'small' });
    expect(got).toEqual(['small']);
  });

  it('an inbound frame of exactly maxInboundBytes is delivered (the limit is inclusive)', async () => {
    const { h, got, socket } = await connected({ maxInboundBytes: 100 });
    const head = JSON.stringify({ type: 'message', ch: 'a', seq: 1, data: '' });
    const frame = JSON.stringify({ type: 'message', ch: 'a', seq: 1, data: 'x'.repeat(100 - head.length) });
    expect(frame.length).toBe(100);
    socket.push(frame);
    expect(got).toHaveLength(1);
    socket.push(new ArrayBuffer(100));
    expect(h.errors.filter((error) => error.code === ErrorCode.MESSAGE_TOO_LARGE)).toEqual([]);
  });

  it('maxInboundBytes counts UTF-8 bytes: a multi-byte frame short in UTF-16 units but over the limit in bytes is MESSAGE_TOO_LARGE', async () => {
    const { h, got, socket } = await connected({ maxInboundBytes: 100 });
    const frame = JSON.stringify({ type: 'message', ch: 'a', seq: 1, data: 'é'.repeat(55) });
    expect(frame.length).toBeLessThanOrEqual(100);
    expect(new TextEncoder().encode(frame).byteLength).toBeGreaterThan(100);
    socket.push(frame);
    expect(got).toEqual([]);
    expect(h.errors.map((error) => error.code)).toEqual([ErrorCode.MESSAGE_TOO_LARGE]);
  });

  it('a server that never answers auth times out after authTimeoutMs with TIMEOUT and reconnects', async () => {
    const h = harness({ auth: { token: 'tkn' }, authTimeoutMs: 3_000 }, { autoAuth: false });
    h.connection.start();
    await h.settle();
    expect(h.connection.status).toBe('authenticating');
    await h.advance(2_999);
    expect(h.connection.status).toBe('authenticating');
    expect(h.errors).toEqual([]);
    await h.advance(1);
    expect(h.connection.status).toBe('reconnecting');
    expect(h.errors.map((error) => [error.code, error.recovery])).toEqual([[ErrorCode.TIMEOUT, 'retry']]);
    expect(h.connection.lastError?.code).toBe(ErrorCode.TIMEOUT);
    expect(h.server.live).toHaveLength(0);
    expectInvariants(h);
  });

  it('a server error frame with an id reaches on(error) with messageId, and the connection stays up', async () => {
    const { h, got, socket } = await connected();
    socket.push({ type: 'error', id: 'msg-7', code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', retry_after: 2 });
    socket.push({ type: 'error', id: 'msg-8', code: 'NOT_A_KNOWN_CODE', message: 'odd' });
    expect(h.errors).toHaveLength(2);
    expect(h.errors[0]).toMatchObject({ code: ErrorCode.RATE_LIMIT_EXCEEDED, messageId: 'msg-7', message: 'slow down', retryAfterMs: 2_000 });
    expect(h.errors[1]).toMatchObject({ code: ErrorCode.SERVER_ERROR, messageId: 'msg-8' });
    expect(h.connection.status).toBe('connected');
    socket.push({ type: 'message', ch: 'a', seq: 1, data: 'ok' });
    expect(got).toEqual(['ok']);
  });

  it('a channel listener that throws does not stop delivery to the other listeners; the error is rethrown asynchronously', async () => {
    const h = harness();
    const boom = new Error('listener bug');
    const seen: string[] = [];
    h.connection.subscribe('a', () => {
      seen.push('first');
      throw boom;
    });
    h.connection.subscribe('a', () => seen.push('second'));
    h.connection.on('message', () => seen.push('any'));
    await h.connect();
    const deferred = capturingMicrotasks(() => socketOf(h).push({ type: 'message', ch: 'a', seq: 1, data: 1 }));
    expect(seen).toEqual(['first', 'second', 'any']);
    expect(deferred).toHaveLength(1);
    expect(() => deferred[0]?.()).toThrow(boom);
    const again = capturingMicrotasks(() => socketOf(h).push({ type: 'message', ch: 'a', seq: 2, data: 2 }));
    expect(seen).toEqual(['first', 'second', 'any', 'first', 'second', 'any']);
    expect(again).toHaveLength(1);
  });

  it('an on(message) or on(error) listener that throws does not stop the others either', async () => {
    const h = harness();
    const seen: string[] = [];
    h.connection.on('message', () => {
      seen.push('message-1');
      throw new Error('m');
    });
    h.connection.on('message', () => seen.push('message-2'));
    h.connection.on('error', () => {
      seen.push('error-1');
      throw new Error('e');
    });
    h.connection.on('error', () => seen.push('error-2'));
    await h.connect();
    const deferred = capturingMicrotasks(() => {
      socketOf(h).push({ type: 'message', ch: 'x', data: 1 });
      socketOf(h).push('not json');
    });
    expect(seen).toEqual(['message-1', 'message-2', 'error-1', 'error-2']);
    expect(deferred).toHaveLength(2);
    expect(h.connection.status).toBe('connected');
  });
  it('a message frame with a non-numeric seq is delivered but neither deduplicated nor remembered as the last seq', async () => {
    const { h, got, socket } = await connected();
    socket.push({ type: 'message', ch: 'a', seq: null, data: 1 });
    socket.push({ type: 'message', ch: 'a', seq: null, data: 2 });
    socket.push({ type: 'message', ch: 'a', seq: 'x', data: 3 });
    socket.push({ type: 'message', ch: 'a', seq: 1, data: 4 });
    expect(got).toEqual([1, 2, 3, 4]);
    expect(h.errors).toEqual([]);
  });
});

describe('hostile frames from the server never throw out of the socket callback', () => {
  it('a graphql-transport-ws frame whose type is an object without toString is INVALID_MESSAGE_FORMAT; the running operation completes', async () => {
    const { h } = graphql({ heartbeat: false });
    await h.connect();
    const result = h.connection.execute<{ data: unknown }>({ query: '{ hello }' }, { id: 'q' });
    expect(() => graphqlSocketOf(h).push('{"type":{"toString":0},"id":"q"}')).not.toThrow();
    expect(h.errors.map((error) => error.code)).toEqual([ErrorCode.INVALID_MESSAGE_FORMAT]);
    expect(h.errors[0]!.message).toContain('(object)');
    graphqlSocketOf(h).push({ type: 'next', id: 'q', payload: { data: { hello: 'world' } } });
    await expect(result).resolves.toEqual({ data: { hello: 'world' } });
    expect(h.connection.status).toBe('connected');
  });

  it('an error frame whose code is an object without toString, and no message, is a SERVER_ERROR "Server error"', async () => {
    const { h, socket } = await connected();
    expect(() => socket.push('{"type":"error","code":{"toString":0}}')).not.toThrow();
    await h.settle();
    expect(h.errors.map((error) => [error.code, error.message])).toEqual([[ErrorCode.SERVER_ERROR, 'Server error']]);
  });

  it.each([
    ['a limit that overflows once scaled', { limit: 1e308 }],
    ['an infinite burst', { limit: 10, burst: Infinity }],
    ['a burst below one message', { limit: 10, burst: 0 }],
    ['a window of next to no time', { limit: 10, window_seconds: 1e-320 }],
  ])('a rate_limit_status with %s is ignored: sends go on at once', async (_, status) => {
    const { h, socket } = await connected({ heartbeat: false });
    const frame = JSON.stringify({ type: 'rate_limit_status', remaining: 5, reset_at: 0, ...status }).replace('null', '1e400');
    expect(() => socket.push(frame)).not.toThrow();
    await expect(h.connection.send('still sent', { channel: 'a' })).resolves.toBeUndefined();
    expect(h.errors).toEqual([]);
    expect(socket.sentOfType('publish').map((frame) => frame.data)).toEqual(['still sent']);
    expect(h.connection.status).toBe('connected');
  });

  it('a retry_after too large for a number (1e400) is no retry time: the error carries none', async () => {
    const { h, socket } = await connected();
    socket.push('{"type":"error","code":"RATE_LIMIT_EXCEEDED","message":"slow down","retry_after":1e400}');
    await h.settle();
    expect(h.errors).toHaveLength(1);
    expect(h.errors[0]!.retryAfterMs).toBeUndefined();
  });

  it("a protocol adapter whose decode throws is INVALID_MESSAGE_FORMAT; later frames still arrive", async () => {
    const protocol: ProtocolAdapter = {
      ...jsonProtocol,
      decode(raw, sink) {
        if (raw === 'boom') throw new TypeError('adapter bug');
        jsonProtocol.decode(raw, sink);
      },
    };
    const { h, got, socket } = await connected({ protocol });
    expect(() => socket.push('boom')).not.toThrow();
    socket.push({ type: 'message', ch: 'a', data: 'after' });
    await h.settle();
    expect(h.errors.map((error) => error.code)).toEqual([ErrorCode.INVALID_MESSAGE_FORMAT]);
    expect(got).toEqual(['after']);
    expect(h.connection.status).toBe('connected');
  });
});
