import { describe, expect, it } from 'vitest';
import { clientFrameTypes, CloseCode, ErrorCode, isSeq, JSON_SUBPROTOCOL, MAX_MESSAGE_ID_LENGTH, serverFrameTypes, TOKEN_SUBPROTOCOL_PREFIX } from '../../../src/protocol/wire.js';
import { parseClientFrame } from '../../../src/server/schema.js';

describe('the wire protocol, as the README’s protocol tables give it', () => {
  it('names the subprotocols', () => {
    expect([JSON_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX]).toEqual(['socketchart.v1', 'socketchart.token.']);
  });

  it('numbers the close codes', () => {
    expect(CloseCode).toEqual({
      Normal: 1000,
      GoingAway: 1001,
      ProtocolError: 1002,
      UnsupportedData: 1003,
      NoStatus: 1005,
      Abnormal: 1006,
      InvalidPayload: 1007,
      PolicyViolation: 1008,
      MessageTooBig: 1009,
      InternalError: 1011,
      ServiceRestart: 1012,
      TryAgainLater: 1013,
      BadGateway: 1014,
      TlsHandshake: 1015,
      Unauthorized: 4001,
      Forbidden: 4003,
      SlowConsumer: 4008,
      RateLimited: 4029,
    });
  });

  it('lists the error codes, each its own name', () => {
    const codes = [
      'CONNECTION_FAILED',
      'AUTHENTICATION_FAILED',
      'AUTHORIZATION_FAILED',
      'RATE_LIMIT_EXCEEDED',
      'MESSAGE_TOO_LARGE',
      'INVALID_MESSAGE_FORMAT',
      'SERVER_ERROR',
      'TIMEOUT',
      'NETWORK_ERROR',
      'QUEUE_OVERFLOW',
      'MESSAGE_EXPIRED',
      'CLOSED',
      'INVALID_OPTION',
      'CONFLICT',
    ];
    expect(ErrorCode).toEqual(Object.fromEntries(codes.map((code) => [code, code])));
  });

  it('names the frames each side sends', () => {
    expect([...clientFrameTypes].sort()).toEqual(['auth', 'ping', 'pong', 'presence', 'publish', 'subscribe', 'typing', 'unsubscribe']);
    expect([...serverFrameTypes].sort()).toEqual(
      ['ack', 'auth_ok', 'error', 'gap', 'message', 'ping', 'pong', 'presence', 'presence_state', 'rate_limit_status', 'subscribed', 'typing', 'unsubscribed'].sort(),
    );
  });

  it('the reference server reads every client frame', () => {
    const samples: Record<string, unknown> = {
      auth: { type: 'auth', token: 't' },
      ping: { type: 'ping', ts: 1 },
      pong: { type: 'pong', ts: 1 },
      subscribe: { type: 'subscribe', ch: 'chat:a', since: 0 },
      unsubscribe: { type: 'unsubscribe', ch: 'chat:a' },
      publish: { type: 'publish', ch: 'chat:a', id: 'm1', data: { text: 'hi' }, event: 'message' },
      presence: { type: 'presence', ch: 'chat:a', action: 'join', meta: { name: 'Ann' } },
      typing: { type: 'typing', ch: 'chat:a', typing: true },
    };
    for (const type of clientFrameTypes) {
      expect(parseClientFrame(JSON.stringify(samples[type]), { maxDepth: 32, maxItems: 10_000 })).toEqual({ ok: true, frame: samples[type] });
    }
  });

  it('a message id has 1 to MAX_MESSAGE_ID_LENGTH (128) characters: the reference server reads no other, and the client sends no other', () => {
    expect(MAX_MESSAGE_ID_LENGTH).toBe(128);
    const publish = (id: string) => parseClientFrame(JSON.stringify({ type: 'publish', ch: 'chat:a', id, data: 1 }), { maxDepth: 32, maxItems: 10_000 }).ok;
    expect(publish('x'.repeat(MAX_MESSAGE_ID_LENGTH))).toBe(true);
    expect(publish('x'.repeat(MAX_MESSAGE_ID_LENGTH + 1))).toBe(false);
    expect(publish('')).toBe(false);
  });

  it('a sequence number is an integer from 0 to 2^53 - 1', () => {
    for (const seq of [0, 1, 42, 2 ** 53 - 1]) expect(isSeq(seq), String(seq)).toBe(true);
    for (const seq of [-1, 1.5, 2 ** 53, 1e300, Number.NaN, Number.POSITIVE_INFINITY, '3', null, undefined]) expect(isSeq(seq), String(seq)).toBe(false);
  });
});

describe('the wire module', () => {
  it('imports nothing, so engine and server can both depend on it', async () => {
    const { readFile } = await import('node:fs/promises');
    const source = await readFile(new URL('../../../src/protocol/wire.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/^\s*(import|export\s+\*|export\s+\{[^}]*\}\s+from)\b/m);
  });
});
