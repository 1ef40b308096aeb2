import { describe, expect, it } from 'vitest';
import type { CloseAction } from '../../../src/index.js';
import { readmeCloseTable } from '../../support/close-table.js';
import { harness } from '../../support/harness.js';
import { expectInvariants } from '../../support/invariants.js';

const base = { reconnect: { baseMs: 1_000, capMs: 30_000, jitter: 0, restartWindowMs: 2_000, tryLaterMs: 10_000 } };

const expectedState: Record<CloseAction, string> = {
  reconnect: 'reconnecting',
  'reconnect-fast': 'reconnecting',
  'reconnect-slow': 'reconnecting',
  'reconnect-normal': 'reconnecting',
  'refresh-token': 'connected',
  fail: 'failed',
};

describe('close codes drive the connection as the table says', () => {
  for (const [code, action, error, description] of readmeCloseTable) {
    it(`${code} (${description}) → ${action}: ${expectedState[action]} with ${error}`, async () => {
      const h = harness({ ...base, auth: { token: async () => 'fresh' } });
      await h.connect();
      // no close frame carries 1015: a WebSocket that reports it (a TLS failure) does so locally
      if (code === 1015) h.server.last!.finish(code, '', false);
      else h.server.last!.closeFromServer(code, 'bye');
      await h.settle();
      expect(h.connection.status).toBe(expectedState[action]);
      expect(h.errors.at(-1)?.code).toBe(error);
      expect(h.errors.at(-1)?.closeCode).toBe(code);
      expectInvariants(h);
    });
  }

  it('1006 after a short-lived connection backs off by the base delay', async () => {
    const h = harness(base);
    await h.connect();
    h.server.last!.drop();
    await h.settle();
    expect(h.connection.snapshot.context.retryDelayMs).toBe(1_000);
    await h.advance(999);
    expect(h.server.sockets).toHaveLength(1);
    await h.advance(1);
    expect(h.server.sockets).toHaveLength(2);
    expect(h.connection.status).toBe('connected');
  });

  it('1012 (restart) reconnects within the restart window, spread by jitter', async () => {
    const delays: number[] = [];
    for (const random of [0, 0.25, 0.99]) {
      const h = harness({ ...base, random: () => random });
      await h.connect();
      h.server.last!.closeFromServer(1012);
      await h.settle();
      delays.push(h.connection.snapshot.context.retryDelayMs);
    }
    expect(delays).toEqual([0, 500, 1_980]);
  });

  it('1013 (try again later) waits at least tryLaterMs', async () => {
    const h = harness(base);
    await h.connect();
    h.server.last!.closeFromServer(1013);
    await h.settle();
    expect(h.connection.snapshot.context.retryDelayMs).toBe(10_000);
  });

  it('4029 (rate limited) waits at least the retry_after the server gave', async () => {
    const h = harness(base);
    await h.connect();
    h.server.last!.closeFromServer(4029, '{"retry_after":42}');
    await h.settle();
    expect(h.connection.snapshot.context.retryDelayMs).toBe(42_000);
    await h.advance(41_999);
    expect(h.server.sockets).toHaveLength(1);
    await h.advance(1);
    expect(h.server.sockets).toHaveLength(2);
  });

  it('1000 from the server reconnects without counting toward the circuit', async () => {
    const h = harness({ ...base, circuit: { failureThreshold: 1 } });
    await h.connect();
    h.server.last!.closeFromServer(1000);
    await h.settle();
    expect(h.connection.status).toBe('reconnecting');
    expect(h.connection.snapshot.context.circuit.failures).toBe(0);
  });

  it('a stable connection (up for minUptime) retries at once on its first drop, then backs off', async () => {
    const h = harness({ reconnect: { ...base.reconnect, minUptimeMs: 5_000 } });
    await h.connect();
    await h.advance(5_000);
    h.server.last!.drop();
    await h.settle();
    expect(h.connection.snapshot.context.retryKind).toBe('immediate');
    await h.advance(0);
    expect(h.server.sockets).toHaveLength(2);
    await h.settle();
    h.server.last!.drop();
    await h.settle();
    expect(h.connection.snapshot.context.retryDelayMs).toBe(1_000);
  });
});
