import { describe, expect, it } from 'vitest';
import { ErrorCode, SocketchartError } from '../../../src/protocol/errors.js';
import { errorShown } from '../../../src/connection/status.js';

/** What the bindings show of a connection's errors. */

describe('errorShown', () => {
  const error = new SocketchartError(ErrorCode.AUTHORIZATION_FAILED, { message: 'forbidden' });

  it('is the last error while the connection is not connected', () => {
    expect(errorShown({ isConnected: false, lastError: error })).toBe(error);
  });

  it('is nothing while the connection is connected, whatever error it had before', () => {
    expect(errorShown({ isConnected: true, lastError: error })).toBeNull();
  });

  it('is nothing when there was no error', () => {
    expect(errorShown({ isConnected: false, lastError: null })).toBeNull();
  });
});
