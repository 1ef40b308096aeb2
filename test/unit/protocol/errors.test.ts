import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, InvalidOptionError, SocketchartError, checkSignal, closedError, failedError, isSocketchartError, releaseFrames } from '../../../src/protocol/errors.js';
import { collectGarbage } from '../../support/collect.js';

/** A second copy of the errors module, as when an app loads both the ESM and the CommonJS build. */
async function otherCopy(): Promise<typeof import('../../../src/protocol/errors.js')> {
  vi.resetModules();
  return import('../../../src/protocol/errors.js');
}

describe('isSocketchartError', () => {
  it('recognises an error made by another copy of socketchart (dual ESM/CommonJS load)', async () => {
    const other = await otherCopy();
    expect(other.SocketchartError).not.toBe(SocketchartError);
    const foreign = new other.SocketchartError(other.ErrorCode.TIMEOUT, { message: 'late' });
    expect(isSocketchartError(foreign)).toBe(true);
    expect(other.isSocketchartError(new SocketchartError(ErrorCode.CLOSED))).toBe(true);
  });

  it('refuses plain errors and look-alikes that only copy the fields', () => {
    expect(isSocketchartError(new Error('TIMEOUT'))).toBe(false);
    expect(isSocketchartError({ name: 'SocketchartError', code: 'TIMEOUT', recovery: 'retry', message: 'x' })).toBe(false);
    expect(isSocketchartError(JSON.parse(JSON.stringify(new SocketchartError(ErrorCode.TIMEOUT))))).toBe(false);
    expect(isSocketchartError(null)).toBe(false);
    expect(isSocketchartError('SocketchartError')).toBe(false);
  });

  it('recognises the errors that extend it', () => {
    expect(isSocketchartError(new InvalidOptionError('url', 'a ws:// URL', 'http://x'))).toBe(true);
  });
});

describe('releaseFrames', () => {
  /** An error made inside a method of `holder`, wrapped `wraps` times as the cause of a SocketchartError. */
  function errorMadeBy(holder: object, wraps: number): { error: Error; made: WeakRef<object> } {
    const made = { holder, fail: (): Error => new Error('made here') };
    let error = made.fail.call(made);
    for (let i = 0; i < wraps; i++) error = new SocketchartError(ErrorCode.AUTHENTICATION_FAILED, { message: `wrap ${i}`, cause: error });
    return { error, made: new WeakRef(made) };
  }

  it('lets what the frames of an error and of its causes referenced be collected, and keeps the stack text', async () => {
    for (const wraps of [0, 1, 3]) {
      const { error, made } = errorMadeBy({ big: new Uint8Array(1024) }, wraps);
      expect(releaseFrames(error)).toBe(error);
      await collectGarbage();
      expect({ wraps, reachable: made.deref() !== undefined }).toEqual({ wraps, reachable: false });
      let innermost: unknown = error;
      while (innermost instanceof Error && innermost.cause instanceof Error) innermost = innermost.cause;
      expect((innermost as Error).stack).toContain('made here');
    }
  });
});

describe('SocketchartError', () => {
  it('takes the recovery of its code unless told another: the error table\'s actions', () => {
    const expected = {
      CONNECTION_FAILED: 'retry',
      AUTHENTICATION_FAILED: 'refresh_token',
      AUTHORIZATION_FAILED: 'fail',
      RATE_LIMIT_EXCEEDED: 'retry',
      MESSAGE_TOO_LARGE: 'fail',
      INVALID_MESSAGE_FORMAT: 'none',
      SERVER_ERROR: 'retry',
      NETWORK_ERROR: 'retry',
      TIMEOUT: 'retry',
      QUEUE_OVERFLOW: 'fail',
      MESSAGE_EXPIRED: 'fail',
      CLOSED: 'fail',
      INVALID_OPTION: 'fail',
      CONFLICT: 'fail',
    };
    expect(Object.fromEntries(Object.values(ErrorCode).map((code) => [code, new SocketchartError(code).recovery]))).toEqual(expected);
    expect(new SocketchartError(ErrorCode.TIMEOUT, { recovery: 'none' }).recovery).toBe('none');
  });

  it('with() replaces what it is given and keeps every other field, the cause included', () => {
    const cause = new Error('socket reset');
    const error = new SocketchartError(ErrorCode.RATE_LIMIT_EXCEEDED, { message: 'slow down', details: { scope: 'chat' }, closeCode: 4029, retryAfterMs: 2_000, messageId: 'm-1', cause });
    const copy = error.with({ recovery: 'fail' });
    expect(copy.toJSON()).toEqual({ ...error.toJSON(), recovery: 'fail' });
    expect(copy.cause).toBe(cause);
    expect(error.with({ message: 'other', details: undefined }).toJSON()).toEqual({ ...error.toJSON(), message: 'other', details: undefined });
  });

  it('as JSON keeps its name, code, message, recovery, close code, wait, message id and details', () => {
    const error = new SocketchartError(ErrorCode.RATE_LIMIT_EXCEEDED, { message: 'slow down', details: { scope: 'chat' }, closeCode: 4029, retryAfterMs: 2_000, messageId: 'm-1', recovery: 'none' });
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      name: 'SocketchartError',
      code: 'RATE_LIMIT_EXCEEDED',
      message: 'slow down',
      recovery: 'none',
      closeCode: 4029,
      retryAfterMs: 2_000,
      messageId: 'm-1',
      details: { scope: 'chat' },
    });
  });

  it('with() on an error without the optional fields leaves them out, and gives no cause', () => {
    const copy = new SocketchartError(ErrorCode.TIMEOUT).with({ recovery: 'none' });
    expect(JSON.parse(JSON.stringify(copy))).toEqual({ name: 'SocketchartError', code: 'TIMEOUT', message: 'TIMEOUT', recovery: 'none' });
    expect('cause' in copy).toBe(false);
  });
});

describe('the errors of a closed connection', () => {
  it('CLOSED says whether the connection was disposed or what status it is in', () => {
    expect(closedError('disposed')).toMatchObject({ code: ErrorCode.CLOSED, recovery: 'fail', message: 'The connection was disposed' });
    expect(closedError('failed').message).toBe('The connection is failed');
    expect(failedError()).toMatchObject({ code: ErrorCode.CONNECTION_FAILED, message: 'The connection failed' });
  });
});

describe('InvalidOptionError', () => {
  it('describes what it received without printing more than 40 characters of a text, nor any object', () => {
    const received = (value: unknown) => new InvalidOptionError('x', 'y', value).received;
    expect(received('a'.repeat(40))).toBe(JSON.stringify('a'.repeat(40)));
    expect(received('b'.repeat(41))).toBe(JSON.stringify(`${'b'.repeat(40)}…`));
    expect([7, true, null, undefined].map(received)).toEqual(['7', 'true', 'null', 'undefined']);
    expect([[1], { secret: 's' }, () => 1, Symbol('s'), 10n].map(received)).toEqual(['an array', 'an object', 'a function', 'a symbol', 'a bigint']);
    expect(new InvalidOptionError('url', 'a ws:// URL', 'http://x')).toMatchObject({ message: 'Invalid option `url`: expected a ws:// URL, received "http://x"', details: { option: 'url' } });
  });

  it('checkSignal takes an AbortSignal or nothing, and names the signal option otherwise', () => {
    expect(() => checkSignal(undefined)).not.toThrow();
    expect(() => checkSignal(new AbortController().signal)).not.toThrow();
    for (const value of [null, 'abort', { aborted: false }, () => undefined]) {
      expect(() => checkSignal(value)).toThrow(expect.objectContaining({ option: 'signal', expectation: 'an AbortSignal' }));
    }
  });
});
