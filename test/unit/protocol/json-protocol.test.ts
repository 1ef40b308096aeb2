import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  JSON_SUBPROTOCOL,
  TOKEN_SUBPROTOCOL_PREFIX,
  jsonProtocol,
  type FrameSink,
  type InboundMessage,
  type IncomingFrame,
  type SessionInfo,
  type SocketchartError,
} from '../../../src/index.js';

type Call =
  | { kind: 'data'; message: InboundMessage }
  | { kind: 'authOk'; session: SessionInfo }
  | { kind: 'pong'; ts: number | undefined }
  | { kind: 'ping'; ts: number | undefined }
  | { kind: 'serverError'; error: SocketchartError }
  | { kind: 'control'; type: string; frame: Readonly<Record<string, unknown>> }
  | { kind: 'invalid'; error: SocketchartError };

/** A sink that records every call the adapter makes. */
function recordingSink(): FrameSink & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    data: (message) => calls.push({ kind: 'data', message }),
    authOk: (session) => calls.push({ kind: 'authOk', session }),
    pong: (ts) => calls.push({ kind: 'pong', ts }),
    ping: (ts) => calls.push({ kind: 'ping', ts }),
    serverError: (error) => calls.push({ kind: 'serverError', error }),
    control: (type, frame) => calls.push({ kind: 'control', type, frame }),
    invalid: (error) => calls.push({ kind: 'invalid', error }),
  };
}

/** Decodes one frame and returns the single call it made (exactly one call per frame). */
function decodeOne(frame: IncomingFrame | Record<string, unknown>): Call {
  const sink = recordingSink();
  jsonProtocol.decode(typeof frame === 'object' && !(frame instanceof ArrayBuffer) && !ArrayBuffer.isView(frame) ? JSON.stringify(frame) : frame, sink);
  expect(sink.calls).toHaveLength(1);
  return sink.calls[0]!;
}

const parse = (frame: unknown): unknown => {
  expect(typeof frame).toBe('string');
  return JSON.parse(frame as string);
};

describe('default JSON protocol: encoding', () => {
  it('is named socketchart.v1', () => {
    expect(jsonProtocol.name).toBe('socketchart.v1');
    expect(JSON_SUBPROTOCOL).toBe('socketchart.v1');
  });

  it('auth frame: {type: auth, token} in message mode, nothing in the other modes or without a token', () => {
    expect(parse(jsonProtocol.authFrame({ mode: 'message', token: 'tkn' }))).toEqual({ type: 'auth', token: 'tkn' });
    expect(jsonProtocol.authFrame({ mode: 'subprotocol', token: 'tkn' })).toBeUndefined();
    expect(jsonProtocol.authFrame({ mode: 'query', token: 'tkn' })).toBeUndefined();
    expect(jsonProtocol.authFrame({ mode: 'message', token: undefined })).toBeUndefined();
  });

  it('awaits the auth answer exactly when there is a token', () => {
    expect(jsonProtocol.awaitsAuthAnswer({ mode: 'message', token: 'tkn' })).toBe(true);
    expect(jsonProtocol.awaitsAuthAnswer({ mode: 'query', token: 'tkn' })).toBe(true);
    expect(jsonProtocol.awaitsAuthAnswer({ mode: 'message', token: undefined })).toBe(false);
  });

  it('offers the token as a subprotocol entry only in subprotocol mode', () => {
    expect(jsonProtocol.subprotocols({ mode: 'subprotocol', token: 'tkn' })).toEqual([JSON_SUBPROTOCOL, `${TOKEN_SUBPROTOCOL_PREFIX}tkn`]);
    expect(jsonProtocol.subprotocols({ mode: 'message', token: 'tkn' })).toBeUndefined();
    expect(jsonProtocol.subprotocols({ mode: 'subprotocol', token: undefined })).toBeUndefined();
  });

  it('refresh frame is an auth frame with the fresh token', () => {
    expect(parse(jsonProtocol.refreshFrame('fresh'))).toEqual({ type: 'auth', token: 'fresh' });
  });

  it('ping and pong frames carry ts', () => {
    expect(parse(jsonProtocol.pingFrame(123))).toEqual({ type: 'ping', ts: 123 });
    expect(parse(jsonProtocol.pongFrame(456))).toEqual({ type: 'pong', ts: 456 });
    expect(parse(jsonProtocol.pongFrame(undefined))).toEqual({ type: 'pong' });
  });

  it('subscribe / unsubscribe frames, with since only when given (0 included)', () => {
    expect(parse(jsonProtocol.subscribeFrame('room', undefined))).toEqual({ type: 'subscribe', ch: 'room' });
    expect(parse(jsonProtocol.subscribeFrame('room', 41))).toEqual({ type: 'subscribe', ch: 'room', since: 41 });
    expect(parse(jsonProtocol.subscribeFrame('room', 0))).toEqual({ type: 'subscribe', ch: 'room', since: 0 });
    expect(parse(jsonProtocol.unsubscribeFrame('room'))).toEqual({ type: 'unsubscribe', ch: 'room' });
  });

  it('encodes strings without a channel as they are, binary as a copy of its bytes, and refuses other data without one (the server would)', () => {
    const buffer = new ArrayBuffer(4);
    const view = new Uint8Array([1, 2]);
    expect(jsonProtocol.encode('raw text', {})).toBe('raw text');
    expect(jsonProtocol.encode(buffer, {})).toEqual(buffer);
    expect(jsonProtocol.encode(buffer, {})).not.toBe(buffer);
    expect(jsonProtocol.encode(view, {})).toEqual(view);
    expect(jsonProtocol.encode(view, {})).not.toBe(view);
    expect(jsonProtocol.encode(new Uint16Array(new Uint8Array([1, 2, 3, 4]).buffer, 2, 1), {})).toEqual(new Uint8Array([3, 4]));
    expect(() => jsonProtocol.encode({ a: [1, 'b'] }, {})).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_MESSAGE_FORMAT }));
    expect(() => jsonProtocol.encode(7, {})).toThrow(/send\(data, \{ channel \}\)/);
  });

  it('encodes data with a channel as a publish frame carrying id and event when given', () => {
    expect(parse(jsonProtocol.encode({ text: 'hi' }, { channel: 'room' }))).toEqual({ type: 'publish', ch: 'room', data: { text: 'hi' } });
    expect(parse(jsonProtocol.encode('hi', { channel: 'room', id: 'm1', event: 'chat' }))).toEqual({
      type: 'publish',
      ch: 'room',
      id: 'm1',
      event: 'chat',
      data: 'hi',
    });
  });

  it('refuses binary data on a channel (INVALID_MESSAGE_FORMAT, final) rather than publish it as the JSON of its object', () => {
    for (const data of [new ArrayBuffer(2), new Uint8Array([1, 2]), new DataView(new ArrayBuffer(2)), new Float64Array(1)]) {
      expect(() => jsonProtocol.encode(data, { channel: 'room' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_MESSAGE_FORMAT, recovery: 'fail' }));
    }
  });

  it('throws on data JSON cannot encode (the connection turns it into INVALID_MESSAGE_FORMAT)', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => jsonProtocol.encode(circular, {})).toThrow();
    expect(() => jsonProtocol.encode(circular, { channel: 'room' })).toThrow();
  });

  it('round trip: any JSON value published on a channel comes back intact', () => {
    fc.assert(
      fc.property(fc.string(), fc.jsonValue(), fc.option(fc.string(), { nil: undefined }), (channel, value, id) => {
        const frame = parse(jsonProtocol.encode(value, { channel, id })) as Record<string, unknown>;
        expect(frame.type).toBe('publish');
        expect(frame.ch).toBe(channel);
        expect(frame.id).toBe(id);
        expect(JSON.stringify(frame.data)).toBe(JSON.stringify(value));
      }),
    );
  });
});

describe('default JSON protocol: decoding', () => {
  it('message → data, with ch, seq, id, event and data', () => {
    const call = decodeOne({ type: 'message', ch: 'room', seq: 3, id: 'm1', event: 'chat', data: { text: 'hi' } });
    expect(call.kind).toBe('data');
    expect(call).toMatchObject({ message: { ch: 'room', seq: 3, id: 'm1', event: 'chat', data: { text: 'hi' } } });
  });

  it('round trip: any message frame a server sends reaches the sink with its channel, seq and data', () => {
    fc.assert(
      fc.property(fc.string(), fc.nat(), fc.jsonValue(), (ch, seq, data) => {
        const call = decodeOne({ type: 'message', ch, seq, data });
        if (call.kind !== 'data') throw new Error(`expected data, got ${call.kind}`);
        expect(call.message.ch).toBe(ch);
        expect(call.message.seq).toBe(seq);
        expect(JSON.stringify(call.message.data)).toBe(JSON.stringify(data));
      }),
    );
  });

  it('binary frames (ArrayBuffer, views) are data outside any channel, untouched', () => {
    const buffer = new Uint8Array([1, 2, 3]).buffer;
    expect(decodeOne(buffer)).toEqual({ kind: 'data', message: { data: buffer } });
    const view = new Uint8Array([4, 5]);
    expect(decodeOne(view)).toEqual({ kind: 'data', message: { data: view } });
  });

  it('pong → pong(ts); a pong without a numeric ts → pong(undefined)', () => {
    expect(decodeOne({ type: 'pong', ts: 99 })).toEqual({ kind: 'pong', ts: 99 });
    expect(decodeOne({ type: 'pong' })).toEqual({ kind: 'pong', ts: undefined });
    expect(decodeOne({ type: 'pong', ts: '99' })).toEqual({ kind: 'pong', ts: undefined });
  });

  it('ping → ping(ts)', () => {
    expect(decodeOne({ type: 'ping', ts: 5 })).toEqual({ kind: 'ping', ts: 5 });
    expect(decodeOne({ type: 'ping' })).toEqual({ kind: 'ping', ts: undefined });
  });

  it('a ts too large for a number (1e400) is no ts: the pong answering it stays valid JSON', () => {
    expect(decodeOne('{"type":"ping","ts":1e400}')).toEqual({ kind: 'ping', ts: undefined });
    expect(decodeOne('{"type":"pong","ts":-1e400}')).toEqual({ kind: 'pong', ts: undefined });
    expect(() => JSON.parse(jsonProtocol.pongFrame(undefined) as string)).not.toThrow();
  });

  it('ping and pong frames it encodes decode back to the same ts', () => {
    fc.assert(
      fc.property(fc.nat(), (ts) => {
        expect(decodeOne(jsonProtocol.pingFrame(ts) as string)).toEqual({ kind: 'ping', ts });
        expect(decodeOne(jsonProtocol.pongFrame(ts) as string)).toEqual({ kind: 'pong', ts });
      }),
    );
  });

  it('auth_ok → authOk with userId, sessionId, expiresAt, ignoring ill-typed fields', () => {
    expect(decodeOne({ type: 'auth_ok', userId: 'u1', sessionId: 's1', expiresAt: 1_000 })).toEqual({
      kind: 'authOk',
      session: { userId: 'u1', sessionId: 's1', expiresAt: 1_000 },
    });
    expect(decodeOne({ type: 'auth_ok', userId: 7, sessionId: null, expiresAt: 'soon' })).toEqual({ kind: 'authOk', session: {} });
  });

  it('an auth_ok expiresAt too large for a number (1e400) is no expiry', () => {
    expect(decodeOne('{"type":"auth_ok","userId":"u1","expiresAt":1e400}')).toEqual({ kind: 'authOk', session: { userId: 'u1' } });
  });

  it('error → serverError with the typed code, message, details, messageId and retryAfterMs', () => {
    const call = decodeOne({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', details: { limit: 5 }, id: 'm9', retry_after: 1.5 });
    if (call.kind !== 'serverError') throw new Error(`expected serverError, got ${call.kind}`);
    expect(call.error).toMatchObject({
      name: 'SocketchartError',
      code: ErrorCode.RATE_LIMIT_EXCEEDED,
      message: 'slow down',
      details: { limit: 5 },
      messageId: 'm9',
      retryAfterMs: 1_500,
      recovery: 'retry',
    });
  });

  it('a retry_after that is not a number of seconds, 0 or more, is no wait; 0 is none at all; an id that is not a string names no message', () => {
    const errorOf = (extra: Record<string, unknown>) => {
      const call = decodeOne({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', ...extra });
      if (call.kind !== 'serverError') throw new Error(`expected serverError, got ${call.kind}`);
      return call.error;
    };
    for (const retry_after of [-1, '5', null, Number.POSITIVE_INFINITY, { s: 5 }]) expect(errorOf({ retry_after }).retryAfterMs).toBeUndefined();
    expect(errorOf({ retry_after: 0 }).retryAfterMs).toBe(0);
    for (const id of [42, { id: 'm1' }, null]) expect(errorOf({ id }).messageId).toBeUndefined();
  });

  it('a retry_after in fractions of a second is the nearest whole millisecond', () => {
    const waitOf = (retry_after: number) => {
      const call = decodeOne({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', retry_after });
      return call.kind === 'serverError' ? call.error.retryAfterMs : call.kind;
    };
    expect(waitOf(1.005)).toBe(1_005);
    expect(waitOf(0.0016)).toBe(2);
    expect(waitOf(0.0004)).toBe(0);
  });

  it('a retry_after longer than the longest timer is that timer: a wait the client keeps, never an infinite one', () => {
    const waitOf = (retry_after: number) => {
      const call = decodeOne({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', retry_after });
      return call.kind === 'serverError' ? call.error.retryAfterMs : call.kind;
    };
    expect(waitOf(1e306)).toBe(2 ** 31 - 1);
    expect(waitOf(3e6)).toBe(2 ** 31 - 1);
    expect(waitOf(2e6)).toBe(2e9);
  });

  it('a nested error frame ({ error: { code, message, details } }) gives the same typed error; request_id names the message, retry_after may sit in details', () => {
    const call = decodeOne({
      id: 'error-123',
      type: 'error',
      error: { code: 'RATE_LIMIT_EXCEEDED', message: 'Message rate limit exceeded', details: { limit: 120, remaining: 0, retry_after: 30, window_seconds: 60 } },
      timestamp: '2025-01-15T10:35:00Z',
      request_id: 'req-456',
    });
    expect(call).toMatchObject({
      kind: 'serverError',
      error: {
        code: ErrorCode.RATE_LIMIT_EXCEEDED,
        message: 'Message rate limit exceeded',
        details: { limit: 120, remaining: 0, retry_after: 30, window_seconds: 60 },
        messageId: 'req-456',
        retryAfterMs: 30_000,
        recovery: 'retry',
      },
    });
    const bare = decodeOne({ id: 'error-9', type: 'error', error: { code: 'AUTHENTICATION_FAILED', message: 'Invalid or expired token' } });
    expect(bare).toMatchObject({ kind: 'serverError', error: { code: ErrorCode.AUTHENTICATION_FAILED, recovery: 'refresh_token' } });
    if (bare.kind === 'serverError') expect(bare.error.messageId).toBeUndefined();
  });

  it('an error frame whose `error` is not an object is read as a flat one', () => {
    for (const error of [null, 'quota', 7, ['x']]) {
      expect(decodeOne({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', id: 'm1', error }), JSON.stringify(error)).toMatchObject({
        kind: 'serverError',
        error: { code: ErrorCode.RATE_LIMIT_EXCEEDED, message: 'slow down', messageId: 'm1' },
      });
    }
  });

  it('error frames with every known code keep that code; an unknown code becomes SERVER_ERROR', () => {
    for (const code of Object.values(ErrorCode)) {
      const call = decodeOne({ type: 'error', code });
      expect(call).toMatchObject({ kind: 'serverError', error: { code } });
    }
    const call = decodeOne({ type: 'error', code: 'TEAPOT' });
    expect(call).toMatchObject({ kind: 'serverError', error: { code: ErrorCode.SERVER_ERROR } });
    if (call.kind === 'serverError') {
      expect(call.error.message).toContain('TEAPOT');
      expect(call.error.messageId).toBeUndefined();
    }
  });

  it.each(['ack', 'subscribed', 'unsubscribed', 'gap', 'presence', 'typing', 'rate_limit_status'])('%s → control(type, frame)', (type) => {
    const frame = { type, ch: 'room', id: 'm1', seq: 4, from: 1, to: 3, joins: [], leaves: [], limit: 10, remaining: 9, reset_at: 0 };
    expect(decodeOne(frame)).toEqual({ kind: 'control', type, frame });
  });

  it('a nested error frame may give retry_after beside the error; the flat form in its details', () => {
    const nested = decodeOne({ type: 'error', error: { code: 'RATE_LIMIT_EXCEEDED', message: 'slow' }, retry_after: 2 });
    expect(nested).toMatchObject({ kind: 'serverError', error: { retryAfterMs: 2_000 } });
    const flat = decodeOne({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'slow', details: { retry_after: 3 } });
    expect(flat).toMatchObject({ kind: 'serverError', error: { retryAfterMs: 3_000 } });
  });

  it("a nested error's own retry_after counts before one beside it or in its details", () => {
    const both = decodeOne({ type: 'error', error: { code: 'RATE_LIMIT_EXCEEDED', message: 'slow', retry_after: 1, details: { retry_after: 3 } }, retry_after: 2 });
    expect(both).toMatchObject({ kind: 'serverError', error: { retryAfterMs: 1_000 } });
    const beside = decodeOne({ type: 'error', error: { code: 'RATE_LIMIT_EXCEEDED', message: 'slow', details: { retry_after: 3 } }, retry_after: 2 });
    expect(beside).toMatchObject({ kind: 'serverError', error: { retryAfterMs: 2_000 } });
  });

  it('an error frame without a message is described by its code, cut at 64 characters, or as a server error', () => {
    const messageOf = (frame: Record<string, unknown>) => {
      const call = decodeOne({ type: 'error', ...frame });
      return call.kind === 'serverError' ? call.error.message : call.kind;
    };
    expect(messageOf({ code: 503 })).toBe('Server error 503');
    expect(messageOf({ code: 'Z'.repeat(100) })).toBe(`Server error ${'Z'.repeat(64)}`);
    expect(messageOf({ code: { nested: true } })).toBe('Server error');
    expect(messageOf({})).toBe('Server error');
  });

  it('the invalid frames it reports say what was wrong and carry no content of the frame but its length or type', () => {
    const errorOf = (raw: string) => {
      const call = decodeOne(raw);
      if (call.kind !== 'invalid') throw new Error(`expected invalid, got ${call.kind}`);
      return call.error;
    };
    expect(errorOf('{"type": secret')).toMatchObject({ message: 'Malformed frame: not JSON', details: { length: 15 } });
    expect(errorOf('{"token":"secret"}')).toMatchObject({ message: 'Malformed frame: no "type"' });
    expect(errorOf('{"token":"secret"}').details).toBeUndefined();
    expect(errorOf(JSON.stringify({ type: 'y'.repeat(50), token: 'secret' }))).toMatchObject({ message: `Unknown frame type "${'y'.repeat(40)}"`, details: { type: 'y'.repeat(40) } });
  });

  it('malformed JSON → invalid (INVALID_MESSAGE_FORMAT, recovery none)', () => {
    const call = decodeOne('{"type":');
    expect(call).toMatchObject({ kind: 'invalid', error: { code: ErrorCode.INVALID_MESSAGE_FORMAT, recovery: 'none' } });
  });

  it('a frame without a string type → invalid', () => {
    for (const frame of ['{}', '{"ch":"room"}', '{"type":1}', '[]', '"message"', '12', 'null', 'true']) {
      expect(decodeOne(frame)).toMatchObject({ kind: 'invalid', error: { code: ErrorCode.INVALID_MESSAGE_FORMAT, recovery: 'none' } });
    }
  });

  it('an unknown type → invalid naming the type (truncated), including client-bound types echoed back', () => {
    const call = decodeOne({ type: 'teleport' });
    expect(call).toMatchObject({ kind: 'invalid', error: { code: ErrorCode.INVALID_MESSAGE_FORMAT, recovery: 'none' } });
    if (call.kind === 'invalid') expect(call.error.message).toContain('teleport');
    const long = decodeOne({ type: 'x'.repeat(1_000) });
    expect(long.kind).toBe('invalid');
    if (long.kind === 'invalid') expect(long.error.message.length).toBeLessThan(200);
    for (const type of ['auth', 'publish', 'subscribe', 'unsubscribe']) expect(decodeOne({ type }).kind).toBe('invalid');
  });

  it('decodes any string into exactly one sink call and never throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((value) => JSON.stringify(value))), (raw) => {
        const sink = recordingSink();
        expect(() => jsonProtocol.decode(raw, sink)).not.toThrow();
        expect(sink.calls).toHaveLength(1);
      }),
    );
  });
});
