import { describe, expect, it } from 'vitest';
import { harness, type Harness } from '../../support/harness.js';

/**
 * The machine: events from a socket the connection no longer owns are ignored. Each case sends the event
 * a socket would send, numbered as the socket before the current one, straight to the connection actor.
 */
const refusal = { code: 'AUTHORIZATION_FAILED', message: 'forbidden', recovery: 'fail' };
const stale = (h: Harness) => h.connection.snapshot.context.socket - 1;
const tokenState = (h: Harness) => (h.connection.snapshot.value as { link?: { connected?: { session?: string } } }).link?.connected?.session;

/** A connection dialed twice: its first socket dropped, the second open and (unless `autoAuth` is off) authenticated. */
async function onSecondSocket(h: Harness): Promise<void> {
  await h.connect();
  h.server.last!.drop();
  await h.advance(h.connection.snapshot.context.retryDelayMs);
  expect(h.server.sockets).toHaveLength(2);
}

describe('events from a socket the connection no longer owns', () => {
  it('an auth.ok from an earlier socket does not end the wait for auth', async () => {
    const h = harness({ auth: { token: 't' } }, { autoAuth: false });
    await onSecondSocket(h);
    expect(h.connection.status).toBe('authenticating');
    h.connection.actor.send({ type: 'auth.ok', socket: stale(h), session: { userId: 'u1' }, at: h.clock.now() });
    await h.settle();
    expect(h.connection.status).toBe('authenticating');
  });

  it('an error frame from an earlier socket does not end the wait for auth', async () => {
    const h = harness({ auth: { token: 't' } }, { autoAuth: false });
    await onSecondSocket(h);
    h.connection.actor.send({ type: 'server.error', socket: stale(h), action: 'fail', error: refusal });
    await h.settle();
    expect(h.connection.status).toBe('authenticating');
  });

  it('an auth refusal from an earlier socket does not end a dial', async () => {
    const h = harness({}, { autoOpen: false });
    h.connection.start();
    await h.settle();
    expect(h.connection.status).toBe('connecting');
    h.connection.actor.send({ type: 'auth.error', socket: h.connection.snapshot.context.socket + 1, action: 'fail', error: refusal });
    await h.settle();
    expect(h.connection.status).toBe('connecting');
  });

  it("an open from an earlier socket does not complete the circuit's probe", async () => {
    const h = harness({ circuit: { failureThreshold: 1, recoveryMs: 10_000 }, reconnect: { jitter: 0 } });
    await h.connect();
    h.server.options.autoOpen = false;
    h.server.last!.drop();
    await h.settle();
    expect(h.connection.status).toBe('circuitOpen');
    await h.advance(10_000);
    expect(h.connection.status).toBe('halfOpen');
    h.connection.actor.send({ type: 'socket.open', socket: stale(h) });
    await h.settle();
    expect(h.connection.status).toBe('halfOpen');
  });

  it('answers from an earlier socket neither confirm nor refuse an in-band token refresh', async () => {
    let tokens = 0;
    const h = harness({ auth: { token: () => `t${++tokens}`, refreshLeadMs: 30_000 }, heartbeat: false }, { sessionTtlMs: 60_000 });
    await onSecondSocket(h);
    h.server.onFrame = () => {};
    h.server.options.autoAuth = false;
    await h.advance(30_000);
    expect(h.server.last!.sentOfType('auth')).toHaveLength(2);
    expect(tokenState(h)).toBe('confirming');
    h.connection.actor.send({ type: 'auth.ok', socket: stale(h), session: { userId: 'u1', expiresAt: h.clock.now() + 60_000 }, at: h.clock.now() });
    h.connection.actor.send({ type: 'server.error', socket: stale(h), action: 'fail', error: refusal });
    await h.settle();
    expect(tokenState(h)).toBe('confirming');
  });

  it('an answer from an earlier socket does not confirm a refresh after its TIMEOUT', async () => {
    let tokens = 0;
    const h = harness({ auth: { token: () => `t${++tokens}`, refreshLeadMs: 30_000 }, authTimeoutMs: 5_000, heartbeat: false }, { sessionTtlMs: 60_000 });
    await onSecondSocket(h);
    h.server.options.autoAuth = false;
    await h.advance(30_000);
    await h.settle();
    await h.advance(5_000);
    expect(tokenState(h)).toBe('expiring');
    h.connection.actor.send({ type: 'auth.ok', socket: stale(h), session: { userId: 'u1', expiresAt: h.clock.now() + 60_000 }, at: h.clock.now() });
    await h.settle();
    expect(tokenState(h)).toBe('expiring');
  });

  it('an error frame from an earlier socket is not reported while connected', async () => {
    const h = harness({});
    await onSecondSocket(h);
    const before = h.errors.length;
    h.connection.actor.send({ type: 'server.error', socket: stale(h), action: 'reconnect', error: { code: 'SERVER_ERROR', message: 'late', recovery: 'retry' } });
    await h.settle();
    expect(h.errors.slice(before)).toEqual([]);
    expect(h.connection.status).toBe('connected');
  });

  it('a close from an earlier socket does not end the closing handshake', async () => {
    const h = harness({ closeTimeoutMs: 500 });
    await onSecondSocket(h);
    h.server.onClientClose = () => {};
    h.connection.stop();
    h.connection.actor.send({ type: 'socket.close', socket: stale(h), code: 1000, reason: '', wasClean: true, action: 'reconnect', error: refusal });
    await h.settle();
    expect(h.connection.status).toBe('closing');
    await h.advance(500);
    expect(h.connection.status).toBe('closed');
  });
});
