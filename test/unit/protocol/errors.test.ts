import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, InvalidOptionError, SocketchartError, isSocketchartError } from '../../../src/protocol/errors.js';

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
