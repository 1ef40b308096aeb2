import { describe, expect, it } from 'vitest';
import { harness } from '../../support/harness.js';
import { expectInvariants, expectNothingLeft } from '../../support/invariants.js';

describe('connection lifecycle', () => {
  it('starts idle and dials nothing until start()', async () => {
    const h = harness();
    await h.advance(60_000);
    expect(h.connection.status).toBe('idle');
    expect(h.server.sockets).toHaveLength(0);
  });

  it('goes idle → connecting → authenticating → connected with a token', async () => {
    const h = harness({ auth: { token: 'tkn' } });
    await h.connect();
    expect(h.states).toEqual(['idle', 'connecting', 'authenticating', 'connected']);
    expect(h.server.last?.sentOfType('auth')).toEqual([{ type: 'auth', token: 'tkn' }]);
    expect(h.connection.session).toMatchObject({ userId: 'user-1' });
    expectInvariants(h);
  });

  it('passes through authenticating without resting there when no auth answer is awaited', async () => {
    const h = harness();
    await h.connect();
    expect(h.states).toEqual(['idle', 'connecting', 'connected']);
    expect(h.server.last?.sentOfType('auth')).toEqual([]);
  });

  it('at rest in connected only the socket actor runs; the heartbeat child exists for one probe', async () => {
    const h = harness({ heartbeat: { intervalMs: 10_000, timeoutMs: 1_000 } }, { autoPong: false });
    await h.connect();
    expect(Object.keys(h.connection.snapshot.children)).toEqual(['socket']);
    await h.advance(10_000);
    expect(Object.keys(h.connection.snapshot.children).sort()).toEqual(['heartbeat', 'socket']);
    h.server.last!.push({ type: 'pong' });
    await h.settle();
    expect(Object.keys(h.connection.snapshot.children)).toEqual(['socket']);
    expect(h.connection.metrics().rtt.count).toBe(1);
  });

  it('stop() closes with 1000, passes through closing, and leaves no socket, timer, actor or listener', async () => {
    const h = harness({ auth: { token: 'tkn' } });
    await h.connect();
    h.connection.stop();
    expect(h.connection.status).toBe('closing');
    expect(h.server.last?.closedByClient).toEqual({ code: 1000, reason: 'client closed' });
    await h.settle();
    expectNothingLeft(h);
  });

  it('leaves closing after closeTimeout when the server never completes the close handshake', async () => {
    const h = harness({ closeTimeoutMs: 500 });
    await h.connect();
    h.server.onClientClose = () => {};
    h.connection.stop();
    await h.advance(499);
    expect(h.connection.status).toBe('closing');
    await h.advance(1);
    expectNothingLeft(h);
  });

  it('start() called from a state listener as the connection closes dials again and connects; every listener hears closed first', async () => {
    const h = harness();
    await h.connect();
    h.connection.on('state', ({ status }) => {
      if (status === 'closed' && h.server.sockets.length === 1) h.connection.start();
    });
    const heard: string[] = [];
    h.connection.on('state', ({ status }) => heard.push(status));
    h.connection.stop();
    await h.advance(5_000);
    expect(h.server.sockets).toHaveLength(2);
    expect(h.connection.status).toBe('connected');
    expect(heard).toEqual(['closing', 'closed', 'connecting', 'connected']);
  });

  it('retry() called from a state listener as the connection fails dials again and connects', async () => {
    const h = harness();
    await h.connect();
    h.connection.on('state', ({ status }) => {
      if (status === 'failed' && h.server.sockets.length === 1) h.connection.retry();
    });
    h.server.last!.closeFromServer(4003, 'forbidden');
    await h.advance(5_000);
    expect(h.server.sockets).toHaveLength(2);
    expect(h.connection.status).toBe('connected');
  });
});

describe('start() during closing', () => {
  it('stop() then start() on a connected connection comes back connected', async () => {
    const h = harness();
    await h.connect();
    expect(h.connection.status).toBe('connected');
    h.connection.stop();
    expect(h.connection.status).toBe('closing');
    h.connection.start();
    const ready = h.connection.ready().then(
      () => 'connected',
      (error: { code: string }) => `rejected ${error.code}`,
    );
    await h.settle();
    await h.settle();
    await h.advance(5_000);
    expect(await ready).toBe('connected');
    expect(h.connection.status).toBe('connected');
  });

  it('stop() then start() while authenticating comes back too', async () => {
    const h = harness({ auth: { token: 'tkn' } }, { autoAuth: false });
    h.connection.start();
    await h.settle();
    expect(h.connection.status).toBe('authenticating');
    h.connection.stop();
    h.connection.start();
    await h.settle();
    await h.advance(5_000);
    expect(h.connection.status).not.toBe('closed');
    expect(h.server.sockets.length).toBe(2);
  });
});

it('a connection disposed from a state listener: later listeners hear each change in order (connected before closed), then disposed', async () => {
  const h = harness();
  const heard: string[] = [];
  h.connection.on('state', ({ status }) => status === 'connected' && h.connection.dispose());
  h.connection.on('state', ({ previous, status }) => heard.push(`${previous}→${status}`));
  h.connection.on('disposed', () => heard.push('disposed'));
  h.connection.start();
  await h.settle();
  expect(heard).toEqual(['idle→connecting', 'connecting→connected', 'connected→closed', 'disposed']);
});
