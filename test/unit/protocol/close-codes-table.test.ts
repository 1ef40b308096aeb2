import { describe, expect, it } from 'vitest';
import { ErrorCode, SocketchartError, classifyClose } from '../../../src/index.js';
import { classifyErrorFrame } from '../../../src/protocol/close-codes.js';

/**
 * README, "Close codes and errors": every row of the table, code by code, with the error it reports and
 * what the connection does (`reconnect-normal`: backoff without counting a failure; `reconnect`: backoff;
 * `reconnect-fast`: within the restart window; `reconnect-slow`: at least `tryLaterMs`; `refresh-token`:
 * one fresh token; `fail`: `failed`).
 */
describe('the close-code table of the README', () => {
  it('1000 and 1001 (normal, going away) reconnect without counting a failure', () => {
    for (const code of [1000, 1001]) {
      const { action, error } = classifyClose({ code });
      expect(action, `close ${code}`).toBe('reconnect-normal');
      expect(error.recovery, `close ${code}`).toBe('retry');
    }
  });

  it('1005, 1006 and 1015 (no status, abnormal, TLS) are NETWORK_ERROR and back off', () => {
    for (const code of [1005, 1006, 1015]) {
      const { action, error } = classifyClose({ code });
      expect(action, `close ${code}`).toBe('reconnect');
      expect(error.code, `close ${code}`).toBe(ErrorCode.NETWORK_ERROR);
      expect(error.recovery, `close ${code}`).toBe('retry');
    }
  });

  it('1002, 1003 and 1007 (protocol violation) are INVALID_MESSAGE_FORMAT and fail the connection', () => {
    for (const code of [1002, 1003, 1007]) {
      const { action, error } = classifyClose({ code });
      expect(action, `close ${code}`).toBe('fail');
      expect(error.code, `close ${code}`).toBe(ErrorCode.INVALID_MESSAGE_FORMAT);
      expect(error.recovery, `close ${code}`).toBe('fail');
    }
  });

  it('1008 (policy) is AUTHORIZATION_FAILED and fails the connection', () => {
    const { action, error } = classifyClose({ code: 1008 });
    expect(action).toBe('fail');
    expect(error.code).toBe(ErrorCode.AUTHORIZATION_FAILED);
    expect(error.recovery).toBe('fail');
  });

  it('1009 (too big) is MESSAGE_TOO_LARGE and backs off', () => {
    const { action, error } = classifyClose({ code: 1009 });
    expect(action).toBe('reconnect');
    expect(error.code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect(error.recovery).toBe('retry');
  });

  it('1011 and 1014 (server error) are SERVER_ERROR and back off', () => {
    for (const code of [1011, 1014]) {
      const { action, error } = classifyClose({ code });
      expect(action, `close ${code}`).toBe('reconnect');
      expect(error.code, `close ${code}`).toBe(ErrorCode.SERVER_ERROR);
      expect(error.recovery, `close ${code}`).toBe('retry');
    }
  });

  it('1012 (service restart) is SERVER_ERROR and reconnects within the restart window', () => {
    const { action, error } = classifyClose({ code: 1012 });
    expect(action).toBe('reconnect-fast');
    expect(error.code).toBe(ErrorCode.SERVER_ERROR);
    expect(error.recovery).toBe('retry');
  });

  it('1013 and 4008 (try later, slow consumer) wait at least tryLaterMs', () => {
    for (const code of [1013, 4008]) {
      const { action, error } = classifyClose({ code });
      expect(action, `close ${code}`).toBe('reconnect-slow');
      expect(error.recovery, `close ${code}`).toBe('retry');
    }
  });

  it('4001 and 3000 (unauthorized) are AUTHENTICATION_FAILED and get one fresh token', () => {
    for (const code of [4001, 3000]) {
      const { action, error } = classifyClose({ code });
      expect(action, `close ${code}`).toBe('refresh-token');
      expect(error.code, `close ${code}`).toBe(ErrorCode.AUTHENTICATION_FAILED);
      expect(error.recovery, `close ${code}`).toBe('refresh_token');
    }
  });

  it('4003 and 3003 (forbidden) are AUTHORIZATION_FAILED and fail the connection', () => {
    for (const code of [4003, 3003]) {
      const { action, error } = classifyClose({ code });
      expect(action, `close ${code}`).toBe('fail');
      expect(error.code, `close ${code}`).toBe(ErrorCode.AUTHORIZATION_FAILED);
      expect(error.recovery, `close ${code}`).toBe('fail');
    }
  });

  it('4029 (rate limited) is RATE_LIMIT_EXCEEDED and waits at least retry_after', () => {
    const { action, error } = classifyClose({ code: 4029, reason: '{"retry_after":7}' });
    expect(action).toBe('reconnect-slow');
    expect(error.code).toBe(ErrorCode.RATE_LIMIT_EXCEEDED);
    expect(error.recovery).toBe('retry');
    expect(error.retryAfterMs).toBe(7_000);
  });

  it('any other code is CONNECTION_FAILED and backs off', () => {
    for (const code of [1004, 1010, 3001, 4000, 4002, 4030]) {
      const { action, error } = classifyClose({ code });
      expect(action, `close ${code}`).toBe('reconnect');
      expect(error.code, `close ${code}`).toBe(ErrorCode.CONNECTION_FAILED);
      expect(error.recovery, `close ${code}`).toBe('retry');
    }
  });
});

describe('an error frame answering the auth frame', () => {
  it('AUTHENTICATION_FAILED gets one fresh token', () => {
    expect(classifyErrorFrame(new SocketchartError(ErrorCode.AUTHENTICATION_FAILED))).toBe('refresh-token');
  });

  it('AUTHORIZATION_FAILED fails the connection', () => {
    expect(classifyErrorFrame(new SocketchartError(ErrorCode.AUTHORIZATION_FAILED))).toBe('fail');
  });

  it('RATE_LIMIT_EXCEEDED waits at least retry_after', () => {
    expect(classifyErrorFrame(new SocketchartError(ErrorCode.RATE_LIMIT_EXCEEDED))).toBe('reconnect-slow');
  });

  it('SERVER_ERROR, TIMEOUT and CONNECTION_FAILED back off', () => {
    for (const code of [ErrorCode.SERVER_ERROR, ErrorCode.TIMEOUT, ErrorCode.CONNECTION_FAILED]) {
      expect(classifyErrorFrame(new SocketchartError(code)), code).toBe('reconnect');
    }
  });

  it('keeps the meaning of its code when the frame itself asks for no recovery', () => {
    const none = (code: ErrorCode) => classifyErrorFrame(new SocketchartError(code, { recovery: 'none' }));
    expect(none(ErrorCode.AUTHENTICATION_FAILED)).toBe('refresh-token');
    expect(none(ErrorCode.AUTHORIZATION_FAILED)).toBe('fail');
    expect(none(ErrorCode.RATE_LIMIT_EXCEEDED)).toBe('reconnect-slow');
    expect(none(ErrorCode.SERVER_ERROR)).toBe('reconnect');
    expect(none(ErrorCode.TIMEOUT)).toBe('reconnect');
    expect(none(ErrorCode.CONNECTION_FAILED)).toBe('reconnect');
  });

  it('an error that is final by its code or by the frame (recovery fail) fails the connection: retrying would meet it again', () => {
    expect(classifyErrorFrame(new SocketchartError(ErrorCode.MESSAGE_TOO_LARGE))).toBe('fail');
    expect(classifyErrorFrame(new SocketchartError(ErrorCode.SERVER_ERROR, { recovery: 'fail' }))).toBe('fail');
  });

  it('an error the engine has no rule for backs off', () => {
    expect(classifyErrorFrame(new SocketchartError(ErrorCode.INVALID_MESSAGE_FORMAT, { recovery: 'none' }))).toBe('reconnect');
  });
});
