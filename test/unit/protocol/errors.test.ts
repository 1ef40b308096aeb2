import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, InvalidOptionError, SocketchartError, isSocketchartError, releaseFrames } from '../../../src/protocol/errors.js';
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
