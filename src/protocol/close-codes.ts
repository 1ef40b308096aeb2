import type { FailureAction } from '../../machines/connection.types.js';
import { ErrorCode, SocketchartError, retryAfterWait, type Recovery } from './errors.js';

export { CloseCode } from './wire.js';

/** How the connection reacts to a close (see `FailureAction`). */
export type CloseAction = FailureAction;

export interface CloseRule {
  readonly action: CloseAction;
  readonly error: ErrorCode;
  readonly description: string;
}

/** The one table that classifies close codes. A code not listed reconnects, as CONNECTION_FAILED (see `closeRule`). */
export const closeCodeTable: Readonly<Record<number, CloseRule>> = {
  1000: { action: 'reconnect-normal', error: 'CLOSED', description: 'normal closure' },
  1001: { action: 'reconnect-normal', error: 'CLOSED', description: 'going away' },
  1002: { action: 'fail', error: 'INVALID_MESSAGE_FORMAT', description: 'protocol error' },
  1003: { action: 'fail', error: 'INVALID_MESSAGE_FORMAT', description: 'unsupported data' },
  1005: { action: 'reconnect', error: 'NETWORK_ERROR', description: 'no status received' },
  1006: { action: 'reconnect', error: 'NETWORK_ERROR', description: 'abnormal closure' },
  1007: { action: 'fail', error: 'INVALID_MESSAGE_FORMAT', description: 'invalid frame payload' },
  1008: { action: 'fail', error: 'AUTHORIZATION_FAILED', description: 'policy violation' },
  1009: { action: 'reconnect', error: 'MESSAGE_TOO_LARGE', description: 'message too big' },
  1011: { action: 'reconnect', error: 'SERVER_ERROR', description: 'internal server error' },
  1012: { action: 'reconnect-fast', error: 'SERVER_ERROR', description: 'service restart' },
  1013: { action: 'reconnect-slow', error: 'SERVER_ERROR', description: 'try again later' },
  1014: { action: 'reconnect', error: 'SERVER_ERROR', description: 'bad gateway' },
  1015: { action: 'reconnect', error: 'NETWORK_ERROR', description: 'TLS handshake failure' },
  3000: { action: 'refresh-token', error: 'AUTHENTICATION_FAILED', description: 'unauthorized' },
  3003: { action: 'fail', error: 'AUTHORIZATION_FAILED', description: 'forbidden' },
  3008: { action: 'reconnect', error: 'TIMEOUT', description: 'timeout' },
  4001: { action: 'refresh-token', error: 'AUTHENTICATION_FAILED', description: 'unauthorized' },
  4003: { action: 'fail', error: 'AUTHORIZATION_FAILED', description: 'forbidden' },
  4008: { action: 'reconnect-slow', error: 'SERVER_ERROR', description: 'slow consumer' },
  4029: { action: 'reconnect-slow', error: 'RATE_LIMIT_EXCEEDED', description: 'rate limited' },
};

const fallbackRule: CloseRule = { action: 'reconnect', error: 'CONNECTION_FAILED', description: 'closed' };

export interface ClosedBy {
  code: number;
  reason?: string;
}

export interface CloseClassification {
  action: CloseAction;
  error: SocketchartError;
}

/** The recovery of a close's action: every reconnect is a `retry`. */
const recoveryOf = (action: CloseAction): Recovery => (action === 'fail' ? 'fail' : action === 'refresh-token' ? 'refresh_token' : 'retry');

/** Reads a `retry_after` (seconds) the server may put in a close reason, as JSON or `retry_after=N`. */
export function retryAfterFromReason(reason: string | undefined): number | undefined {
  if (!reason) return undefined;
  const match = /retry_after"?\s*[:=]\s*(\d+(?:\.\d+)?)/.exec(reason);
  return match?.[1] === undefined ? undefined : retryAfterWait(Number(match[1]));
}

export function closeRule(code: number): CloseRule {
  return closeCodeTable[code] ?? fallbackRule;
}

/** Classifies a close the connection did not ask for, by `rule` (a protocol's own) or else by `closeCodeTable`; the error keeps `code`. */
export function classifyClose({ code, reason }: ClosedBy, rule: CloseRule = closeRule(code)): CloseClassification {
  const retryAfterMs = retryAfterFromReason(reason);
  const error = new SocketchartError(rule.error, {
    message: `Connection closed by the server: ${code} ${rule.description}${reason ? ` (${truncate(reason)})` : ''}`,
    recovery: recoveryOf(rule.action),
    closeCode: code,
    retryAfterMs,
  });
  return { action: rule.action, error };
}

/** Error frames by code: the recovery a connection takes when one arrives outside a single message. */
export const errorFrameAction: Readonly<Partial<Record<ErrorCode, CloseAction>>> = {
  AUTHENTICATION_FAILED: 'refresh-token',
  AUTHORIZATION_FAILED: 'fail',
  RATE_LIMIT_EXCEEDED: 'reconnect-slow',
  SERVER_ERROR: 'reconnect',
  TIMEOUT: 'reconnect',
  CONNECTION_FAILED: 'reconnect',
};

/** What an error frame that answers an auth frame asks of the connection. */
export function classifyErrorFrame(error: SocketchartError): CloseAction {
  if (error.recovery === 'retry') return error.code === ErrorCode.RATE_LIMIT_EXCEEDED ? 'reconnect-slow' : 'reconnect';
  if (error.recovery === 'fail') return 'fail';
  return errorFrameAction[error.code] ?? 'reconnect';
}

const truncate = (text: string) => (text.length > 120 ? `${text.slice(0, 120)}…` : text);
