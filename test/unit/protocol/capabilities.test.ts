import { describe, expect, it } from 'vitest';
import { ErrorCode, jsonProtocol, type ProtocolAdapter } from '../../../src/index.js';
import { harness } from '../../support/harness.js';

/** jsonProtocol with one more capability. */
const withCloseHandling = (extra: Pick<ProtocolAdapter, 'closeRule' | 'normalizeCloseCode'>): ProtocolAdapter => ({ ...jsonProtocol, ...extra });

describe('close codes under a protocol adapter', () => {
  it("an adapter's closeRule decides what the connection does; the error keeps the code received", async () => {
    const h = harness({
      protocol: withCloseHandling({ closeRule: (code) => (code === 4600 ? { action: 'fail', error: ErrorCode.AUTHORIZATION_FAILED, description: 'banned' } : undefined) }),
    });
    await h.connect();
    h.server.last!.closeFromServer(4600, 'go away');
    await h.settle();
    expect(h.connection.status).toBe('failed');
    expect(h.connection.lastError).toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED, closeCode: 4600, recovery: 'fail' });
    expect(h.connection.lastError?.message).toBe('Connection closed by the server: 4600 banned (go away)');
  });

  it('codes the adapter leaves undefined follow the common table', async () => {
    const h = harness({ protocol: withCloseHandling({ closeRule: () => undefined }) });
    await h.connect();
    h.server.last!.closeFromServer(4003, 'forbidden');
    await h.settle();
    expect(h.connection.status).toBe('failed');
    expect(h.connection.lastError).toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED, closeCode: 4003 });
  });

  it('the deprecated normalizeCloseCode still classifies, and no longer replaces the code the app sees', async () => {
    const h = harness({ protocol: withCloseHandling({ normalizeCloseCode: (code) => (code === 4601 ? 4003 : code) }) });
    await h.connect();
    h.server.last!.closeFromServer(4601, '');
    await h.settle();
    expect(h.connection.status).toBe('failed');
    expect(h.connection.lastError).toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED, closeCode: 4601 });
  });
});
