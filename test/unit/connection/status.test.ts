import { describe, expect, it } from 'vitest';
import { ErrorCode, SocketchartError } from '../../../src/protocol/errors.js';
import { errorHeard, errorShown } from '../../../src/connection/status.js';

/** What the bindings show of a connection's errors. */

describe('errorShown', () => {
  const error = new SocketchartError(ErrorCode.AUTHORIZATION_FAILED, { message: 'forbidden' });

  it('is the last error while the connection is not connected', () => {
    expect(errorShown({ isConnected: false, lastError: error, dials: 1 })).toBe(error);
  });

  it('is nothing while the connection is connected, whatever error it had before', () => {
    expect(errorShown({ isConnected: true, lastError: error, dials: 1 })).toBeNull();
  });

  it('while connected, is the error heard on this link, and nothing once the connection has dialed again', () => {
    const connection = { isConnected: true, lastError: null, dials: 1 };
    const heard = new SocketchartError(ErrorCode.SERVER_ERROR, { message: 'boom' });
    errorHeard(connection, heard);
    expect(errorShown(connection)).toBe(heard);
    connection.dials = 2;
    expect(errorShown(connection)).toBeNull();
  });

  it('is nothing when there was no error', () => {
    expect(errorShown({ isConnected: false, lastError: null, dials: 1 })).toBeNull();
  });
});
