import { describe, expect, it } from 'vitest';
import { harness } from '../../support/harness.js';
import { expectInvariants, expectNothingLeft } from '../../support/invariants.js';

describe('network and page lifecycle', () => {
  it('goes offline without dialing, and back to connecting at once on online', async () => {
    const h = harness();
    await h.connect();
    h.env.emit('offline');
    await h.settle();
    expect(h.connection.status).toBe('offline');
    expect(h.server.live).toHaveLength(0);
    await h.advance(3_600_000);
    expect(h.server.sockets).toHaveLength(1);
    h.env.emit('online');
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(h.server.sockets).toHaveLength(2);
  });

  it('starts in offline, without dialing, when the network is down at start()', async () => {
    const h = harness();
    h.env.online = false;
    h.connection.start();
    await h.settle();
    expect(h.connection.status).toBe('offline');
    expect(h.server.sockets).toHaveLength(0);
  });

  it('leaves a backoff at once when the network comes back', async () => {
    const h = harness({ reconnect: { baseMs: 20_000, capMs: 60_000 } });
    await h.connect();
    h.server.last!.drop();
    await h.settle();
    expect(h.connection.status).toBe('reconnecting');
    h.env.emit('online');
    await h.settle();
    expect(h.connection.status).toBe('connected');
  });

  it('a user-closed connection is never reopened by online, visibility, resume or any timer', async () => {
    const h = harness({ closeWhenHidden: true });
    await h.connect();
    h.connection.stop();
    await h.settle();
    for (const event of ['offline', 'online', 'hidden', 'visible', 'freeze', 'resume'] as const) h.env.emit(event);
    await h.advance(24 * 3_600_000);
    expect(h.connection.status).toBe('closed');
    expect(h.server.sockets).toHaveLength(1);
    expectNothingLeft(h);
  });

  it('stop() while offline, during backoff, or with the circuit open closes without dialing', async () => {
    for (const reach of ['offline', 'reconnecting', 'circuitOpen'] as const) {
      const h = harness({ circuit: { failureThreshold: reach === 'circuitOpen' ? 1 : 5 } });
      await h.connect();
      if (reach === 'offline') h.env.emit('offline');
      else h.server.last!.drop();
      await h.settle();
      expect(h.connection.status).toBe(reach);
      h.connection.stop();
      await h.advance(3_600_000);
      expectNothingLeft(h);
      expect(h.server.sockets).toHaveLength(1);
    }
  });

  it('an online event racing stop() does not reopen the connection', async () => {
    const h = harness();
    await h.connect();
    h.env.emit('offline');
    h.connection.stop();
    h.env.emit('online');
    await h.advance(60_000);
    expect(h.connection.status).toBe('closed');
    expect(h.server.sockets).toHaveLength(1);
  });

  it('with closeWhenHidden, closes while hidden and reopens when visible', async () => {
    const h = harness({ closeWhenHidden: true });
    await h.connect();
    h.env.emit('hidden');
    await h.settle();
    expect(h.connection.status).toBe('suspended');
    expect(h.server.live).toHaveLength(0);
    await h.advance(3_600_000);
    expect(h.server.sockets).toHaveLength(1);
    h.env.emit('visible');
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expectInvariants(h);
  });

  it('keeps the socket open while hidden by default', async () => {
    const h = harness();
    await h.connect();
    h.env.emit('hidden');
    await h.advance(3_600_000);
    expect(h.connection.status).toBe('connected');
    expect(h.server.sockets).toHaveLength(1);
  });

  it('registers one environment listener while running and none after stop()', async () => {
    const h = harness();
    expect(h.env.listenerCount).toBe(0);
    await h.connect();
    expect(h.env.listenerCount).toBe(1);
    h.connection.stop();
    await h.settle();
    expect(h.env.listenerCount).toBe(0);
  });
});
