import { describe, expect, it } from 'vitest';
import { harness, type Harness } from '../../support/harness.js';

/**
 * What each state allows, as `snapshot.hasTag()` tells it (README, "The machine is the one source of truth"):
 * `socketless` no socket may exist, `dialing` the socket is being opened, `awaitingAuth` an auth frame waits
 * for its answer, `connected` the link is up, `writable` send() writes directly, `settled` closed or failed.
 */
const tags = (h: Harness) => [...h.connection.snapshot.tags].sort();

describe('state tags', () => {
  it('idle, before start(): socketless', () => {
    expect(tags(harness())).toEqual(['socketless']);
  });

  it('connecting: dialing', async () => {
    const h = harness({}, { autoOpen: false });
    h.connection.start();
    await h.settle();
    expect(h.connection.status).toBe('connecting');
    expect(tags(h)).toEqual(['dialing']);
  });

  it('authenticating: awaitingAuth', async () => {
    const h = harness({ auth: { token: 't' } }, { autoAuth: false });
    await h.connect();
    expect(h.connection.status).toBe('authenticating');
    expect(tags(h)).toEqual(['awaitingAuth']);
  });

  it('connected: connected and writable; while an in-band refresh waits for its answer, awaitingAuth too', async () => {
    const h = harness({ auth: { token: () => 't', refreshLeadMs: 30_000 }, heartbeat: false }, { sessionTtlMs: 60_000 });
    await h.connect();
    expect(tags(h)).toEqual(['connected', 'writable']);
    h.server.options.autoAuth = false;
    await h.advance(30_000);
    await h.settle();
    expect(tags(h)).toEqual(['awaitingAuth', 'connected', 'writable']);
  });

  it('queued for the dial gate, reconnecting, offline and suspended: socketless', async () => {
    const held: Array<() => void> = [];
    const gated = harness({ dialGate: { request: (_priority, grant) => (held.push(grant), () => {}) } });
    gated.connection.start();
    await gated.settle();
    expect(gated.connection.status).toBe('queued');
    expect(tags(gated)).toEqual(['socketless']);

    const h = harness({ closeWhenHidden: true });
    await h.connect();
    h.server.last!.drop();
    await h.settle();
    expect(h.connection.status).toBe('reconnecting');
    expect(tags(h)).toEqual(['socketless']);
    h.env.emit('offline');
    await h.settle();
    expect(h.connection.status).toBe('offline');
    expect(tags(h)).toEqual(['socketless']);
    h.env.emit('online');
    h.env.emit('hidden');
    await h.settle();
    expect(h.connection.status).toBe('suspended');
    expect(tags(h)).toEqual(['socketless']);
  });

  it('circuitOpen: socketless; its probe, halfOpen: dialing', async () => {
    const h = harness({ circuit: { failureThreshold: 1, recoveryMs: 10_000 } });
    await h.connect();
    h.server.options.autoOpen = false;
    h.server.last!.drop();
    await h.settle();
    expect(h.connection.status).toBe('circuitOpen');
    expect(tags(h)).toEqual(['socketless']);
    await h.advance(10_000);
    expect(h.connection.status).toBe('halfOpen');
    expect(tags(h)).toEqual(['dialing']);
  });

  it('closed and failed: socketless and settled', async () => {
    const h = harness();
    await h.connect();
    h.connection.stop();
    await h.settle();
    expect(h.connection.status).toBe('closed');
    expect(tags(h)).toEqual(['settled', 'socketless']);

    const refused = harness();
    await refused.connect();
    refused.server.last!.closeFromServer(4003, 'forbidden');
    await refused.settle();
    expect(refused.connection.status).toBe('failed');
    expect(tags(refused)).toEqual(['settled', 'socketless']);
  });
});
