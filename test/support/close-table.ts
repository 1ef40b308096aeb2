import type { CloseAction } from '../../src/index.js';

/**
 * The README's close-code table, written out here as literals: what each close asks of the connection,
 * and the error it reports. Specs take their expectations from here, never from `closeCodeTable`.
 */
export const readmeCloseTable: ReadonlyArray<readonly [code: number, action: CloseAction, error: string, description: string]> = [
  [1000, 'reconnect-normal', 'CLOSED', 'normal closure'],
  [1001, 'reconnect-normal', 'CLOSED', 'going away'],
  [1002, 'fail', 'INVALID_MESSAGE_FORMAT', 'protocol error'],
  [1003, 'fail', 'INVALID_MESSAGE_FORMAT', 'unsupported data'],
  [1005, 'reconnect', 'NETWORK_ERROR', 'no status received'],
  [1006, 'reconnect', 'NETWORK_ERROR', 'abnormal closure'],
  [1007, 'fail', 'INVALID_MESSAGE_FORMAT', 'invalid frame payload'],
  [1008, 'fail', 'AUTHORIZATION_FAILED', 'policy violation'],
  [1009, 'reconnect', 'MESSAGE_TOO_LARGE', 'message too big'],
  [1011, 'reconnect', 'SERVER_ERROR', 'internal server error'],
  [1012, 'reconnect-fast', 'SERVER_ERROR', 'service restart'],
  [1013, 'reconnect-slow', 'SERVER_ERROR', 'try again later'],
  [1014, 'reconnect', 'SERVER_ERROR', 'bad gateway'],
  [1015, 'reconnect', 'NETWORK_ERROR', 'TLS handshake failure'],
  [3000, 'refresh-token', 'AUTHENTICATION_FAILED', 'unauthorized'],
  [3003, 'fail', 'AUTHORIZATION_FAILED', 'forbidden'],
  [3008, 'reconnect', 'TIMEOUT', 'timeout'],
  [4001, 'refresh-token', 'AUTHENTICATION_FAILED', 'unauthorized'],
  [4003, 'fail', 'AUTHORIZATION_FAILED', 'forbidden'],
  [4008, 'reconnect-slow', 'SERVER_ERROR', 'slow consumer'],
  [4029, 'reconnect-slow', 'RATE_LIMIT_EXCEEDED', 'rate limited'],
];
