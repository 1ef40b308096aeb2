import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CloseCode,
  ErrorCode,
  SocketchartError,
  classifyClose,
  closeCodeTable,
  type CloseAction,
  type Recovery,
} from '../../../src/index.js';
import { closeRule, retryAfterFromReason } from '../../../src/protocol/close-codes.js';
import { readmeCloseTable } from '../../support/close-table.js';

/** The recovery each close action announces on its error. */
const recoveryFor: Record<CloseAction, Recovery> = {
  reconnect: 'retry',
  'reconnect-fast': 'retry',
  'reconnect-slow': 'retry',
  'reconnect-normal': 'retry',
  'refresh-token': 'refresh_token',
  fail: 'fail',
};

describe('classifyClose', () => {
  it.each(readmeCloseTable)('%i → %s with %s, as the README\'s table says', (code, action, errorCode, description) => {
    const { action: taken, error } = classifyClose({ code, reason: 'why' });
    expect(taken).toBe(action);
    expect(error).toBeInstanceOf(SocketchartError);
    expect(error.code).toBe(errorCode);
    expect(error.closeCode).toBe(code);
    expect(error.recovery).toBe(recoveryFor[action]);
    expect(error.message).toContain(String(code));
    expect(error.message).toContain(description);
    expect(error.message).toContain('why');
    expect(closeRule(code)).toEqual({ action, error: errorCode, description });
  });

  it('the table has a row for every code of the README, and no other', () => {
    expect(Object.keys(closeCodeTable).map(Number).sort()).toEqual(readmeCloseTable.map(([code]) => code).sort());
  });

  it('the table gives the DESIGN meanings to the codes it names', () => {
    const expected: Array<[number, CloseAction, ErrorCode]> = [
      [CloseCode.Normal, 'reconnect-normal', ErrorCode.CLOSED],
      [CloseCode.GoingAway, 'reconnect-normal', ErrorCode.CLOSED],
      [CloseCode.Abnormal, 'reconnect', ErrorCode.NETWORK_ERROR],
      [CloseCode.PolicyViolation, 'fail', ErrorCode.AUTHORIZATION_FAILED],
      [CloseCode.MessageTooBig, 'reconnect', ErrorCode.MESSAGE_TOO_LARGE],
      [CloseCode.InternalError, 'reconnect', ErrorCode.SERVER_ERROR],
      [CloseCode.ServiceRestart, 'reconnect-fast', ErrorCode.SERVER_ERROR],
      [CloseCode.TryAgainLater, 'reconnect-slow', ErrorCode.SERVER_ERROR],
      [CloseCode.Unauthorized, 'refresh-token', ErrorCode.AUTHENTICATION_FAILED],
      [CloseCode.Forbidden, 'fail', ErrorCode.AUTHORIZATION_FAILED],
      [CloseCode.RateLimited, 'reconnect-slow', ErrorCode.RATE_LIMIT_EXCEEDED],
    ];
    for (const [code, action, error] of expected) {
      expect(classifyClose({ code }), `close ${code}`).toMatchObject({ action, error: { code: error } });
    }
  });

  it('every named CloseCode has a row in the table', () => {
    for (const [name, code] of Object.entries(CloseCode)) expect(closeCodeTable[code], name).toBeDefined();
  });

  it.each([1004, 1010, 1016, 2000, 2999, 3001, 3999, 4000, 4002, 4999, 0, -1])('unknown code %i falls back to reconnect / CONNECTION_FAILED', (code) => {
    const { action, error } = classifyClose({ code });
    expect(action).toBe('reconnect');
    expect(error.code).toBe(ErrorCode.CONNECTION_FAILED);
    expect(error.recovery).toBe('retry');
    expect(error.closeCode).toBe(code);
  });

  it('any code not in the table falls back to reconnect / CONNECTION_FAILED', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5_000 }).filter((code) => closeCodeTable[code] === undefined),
        (code) => {
          expect(classifyClose({ code })).toMatchObject({ action: 'reconnect', error: { code: ErrorCode.CONNECTION_FAILED, closeCode: code } });
        },
      ),
    );
  });

  it('parses retry_after (seconds) from a JSON reason into retryAfterMs', () => {
    const { error } = classifyClose({ code: 4029, reason: '{"retry_after":3}' });
    expect(error.retryAfterMs).toBe(3_000);
    expect(retryAfterFromReason('{"error":"rate limited","retry_after": 12}')).toBe(12_000);
  });

  it('reads a retry_after longer than the longest timer as that timer, however many digits it has', () => {
    expect(retryAfterFromReason(`retry_after=${'9'.repeat(400)}`)).toBe(2 ** 31 - 1);
    expect(classifyClose({ code: 4029, reason: '{"retry_after":3000000}' }).error.retryAfterMs).toBe(2 ** 31 - 1);
    expect(retryAfterFromReason('retry_after=2000000')).toBe(2e9);
  });

  it('parses retry_after=N (fractional) from a plain-text reason', () => {
    expect(classifyClose({ code: 1013, reason: 'retry_after=2.5' }).error.retryAfterMs).toBe(2_500);
    expect(retryAfterFromReason('overloaded; retry_after=0.25')).toBe(250);
  });

  it('has no retryAfterMs when the reason carries none (or a malformed one)', () => {
    for (const reason of [undefined, '', 'bye', 'retry_after=', 'retry_after=soon', '{"retry_after":"x"}', 'retry_after=-5']) {
      expect(retryAfterFromReason(reason), String(reason)).toBeUndefined();
      expect(classifyClose({ code: 4029, ...(reason === undefined ? {} : { reason }) }).error.retryAfterMs).toBeUndefined();
    }
  });

  it('keeps the retry_after of any code, not only 4029', () => {
    expect(classifyClose({ code: 1012, reason: 'retry_after=1' }).error.retryAfterMs).toBe(1_000);
  });

  it('shows a reason of up to 120 characters whole in the error message, and the first 120 of a longer one', () => {
    const shown = (reason: string) => classifyClose({ code: 1011, reason }).error.message.match(/\((x+…?)\)$/)?.[1];
    expect(shown('x'.repeat(120))).toBe('x'.repeat(120));
    expect(shown('x'.repeat(121))).toBe(`${'x'.repeat(120)}…`);
    expect(shown('x'.repeat(500))).toBe(`${'x'.repeat(120)}…`);
  });
});
