import { describe, expect, it } from 'vitest';
import { ErrorCode, SocketchartError } from '../../../src/index.js';
import { harness } from '../../support/harness.js';

/** The seed's error table: every code a server may answer with. */
const seedCodes = [
  ErrorCode.CONNECTION_FAILED,
  ErrorCode.AUTHENTICATION_FAILED,
  ErrorCode.AUTHORIZATION_FAILED,
  ErrorCode.RATE_LIMIT_EXCEEDED,
  ErrorCode.MESSAGE_TOO_LARGE,
  ErrorCode.INVALID_MESSAGE_FORMAT,
  ErrorCode.SERVER_ERROR,
  ErrorCode.NETWORK_ERROR,
] as const;

describe('errors reach the app', () => {
  it.each(seedCodes)('an error frame %s reaches on(error) typed, with its message, details and the recovery the engine takes', async (code) => {
    const h = harness({ heartbeat: false });
    await h.connect();
    h.server.last!.push({ type: 'error', code, message: `server says ${code}`, details: { reason: 'test', n: 1 } });
    await h.settle();
    expect(h.errors).toHaveLength(1);
    const error = h.errors[0]!;
    expect(error).toBeInstanceOf(SocketchartError);
    expect(error).toMatchObject({ code, message: `server says ${code}`, details: { reason: 'test', n: 1 } });
    expect(error.recovery, 'an unsolicited error frame is reported; only a rate limit makes the engine wait').toBe(code === ErrorCode.RATE_LIMIT_EXCEEDED ? 'retry' : 'none');
    expect(h.connection.status).toBe('connected');
  });

  it.each(seedCodes)('an error frame %s for an acknowledged message rejects that send, typed, and gives the message up', async (code) => {
    const h = harness({ heartbeat: false, rateLimit: { followServer: false } });
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'publish') socket.push({ type: 'error', id: frame.json.id, code, message: 'refused', details: { why: code } });
    };
    await h.connect();
    const error = await h.connection.send('x', { channel: 'c', ack: true }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(SocketchartError);
    expect(error).toMatchObject({ code, message: 'refused', details: { why: code }, recovery: 'fail' });
    expect(h.errors).toEqual([]);
  });

  it('an error frame in the nested form carries the same fields', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    h.server.last!.push({ id: 'error-1', type: 'error', error: { code: 'SERVER_ERROR', message: 'Internal server error', details: { retryable: true } } });
    await h.settle();
    expect(h.errors.map((error) => [error.code, error.message, error.details, error.recovery])).toEqual([
      [ErrorCode.SERVER_ERROR, 'Internal server error', { retryable: true }, 'none'],
    ]);
  });

  it('a close reaches on(error) with its close code and the recovery the engine takes', async () => {
    const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    await h.connect();
    h.server.last!.closeFromServer(1011, 'internal error');
    await h.settle();
    expect(h.errors.map((error) => [error.code, error.closeCode, error.recovery])).toEqual([[ErrorCode.SERVER_ERROR, 1011, 'retry']]);
    expect(h.connection.status).toBe('reconnecting');
  });
});
