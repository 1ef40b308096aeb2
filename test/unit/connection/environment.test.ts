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

describe('page facts remembered while no socket is open', () => {
  const heartbeat = { intervalMs: 10_000, timeoutMs: 2_000 };
  const reconnect = { baseMs: 1_000, jitter: 0, minUptimeMs: 3_600_000 };
  /** The two ways a page goes away and comes back. */
  const hideAndShow = [['hidden', 'visible'], ['freeze', 'resume']] as const;

  for (const [hide, show] of hideAndShow) {
    it(`a page ${hide === 'hidden' ? 'hidden' : 'frozen'} while reconnecting judges no probe on the new link (its keepalive pings go unanswered) until it is ${show === 'visible' ? 'visible' : 'resumed'}, then checks it at once`, async () => {
      const h = harness({ heartbeat, reconnect }, { autoPong: false });
      await h.connect();
      h.server.last!.drop();
      await h.settle();
      expect(h.connection.status).toBe('reconnecting');
      h.env.emit(hide);
      await h.advance(1_000);
      expect(h.connection.status).toBe('connected');
      const socket = h.server.last!;
      expect(h.server.sockets).toHaveLength(2);
      await h.advance(600_000);
      expect(socket.sentOfType('ping'), 'a keepalive each interval').toHaveLength(600_000 / heartbeat.intervalMs);
      expect(h.connection.status).toBe('connected');
      h.env.emit(show);
      await h.settle();
      expect(socket.sentOfType('ping')).toHaveLength(600_000 / heartbeat.intervalMs + 1);
      await h.advance(2_000);
      expect(h.connection.status).toBe('reconnecting');
      expect(socket.isLive).toBe(false);
    });
  }

  for (const [hide, show] of hideAndShow) {
    it(`a page ${hide === 'hidden' ? 'hidden and shown again' : 'frozen and resumed'} while reconnecting pings the new link on the usual schedule`, async () => {
      const h = harness({ heartbeat, reconnect });
      await h.connect();
      h.server.last!.drop();
      await h.settle();
      h.env.emit(hide);
      h.env.emit(show);
      await h.advance(1_000);
      expect(h.connection.status).toBe('connected');
      await h.advance(9_999);
      expect(h.server.last!.sentOfType('ping')).toHaveLength(0);
      await h.advance(1);
      expect(h.server.last!.sentOfType('ping')).toHaveLength(1);
    });
  }

  it('with closeWhenHidden, start() in a hidden page dials nothing until the page is visible', async () => {
    const h = harness({ closeWhenHidden: true });
    h.env.hidden = true;
    h.connection.start();
    await h.advance(3_600_000);
    expect(h.connection.status).toBe('suspended');
    expect(h.server.sockets).toHaveLength(0);
    h.env.emit('visible');
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(h.server.sockets).toHaveLength(1);
  });

  it('with closeWhenHidden, a page hidden while offline stays closed when the network comes back', async () => {
    const h = harness({ closeWhenHidden: true });
    await h.connect();
    h.env.emit('offline');
    await h.settle();
    h.env.emit('hidden');
    h.env.emit('online');
    await h.advance(3_600_000);
    expect(h.connection.status).toBe('suspended');
    expect(h.server.sockets).toHaveLength(1);
    h.env.emit('visible');
    await h.settle();
    expect(h.connection.status).toBe('connected');
  });

  it('with closeWhenHidden, a page hidden and shown again while offline dials when the network comes back', async () => {
    const h = harness({ closeWhenHidden: true });
    await h.connect();
    h.env.emit('offline');
    h.env.emit('hidden');
    h.env.emit('visible');
    h.env.emit('online');
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(h.server.sockets).toHaveLength(2);
  });

  for (const [hide] of hideAndShow) {
    it(`a page ${hide === 'hidden' ? 'hidden' : 'frozen'} while a ping is out, whose link then drops, probes nothing on the next link: keepalive pings only`, async () => {
      const h = harness({ heartbeat, reconnect });
      h.server.options.autoPong = false;
      await h.connect();
      await h.advance(10_000);
      expect(h.server.last!.sentOfType('ping')).toHaveLength(1);
      h.env.emit(hide);
      h.server.last!.drop();
      h.server.options.autoPong = true;
      await h.advance(1_000);
      expect(h.connection.status).toBe('connected');
      h.server.options.autoPong = false;
      await h.advance(600_000);
      expect(h.server.last!.sentOfType('ping')).toHaveLength(600_000 / heartbeat.intervalMs);
      expect(h.server.sockets).toHaveLength(2);
    });
  }

  for (const [hide, show] of hideAndShow) {
    it(`a page ${hide === 'hidden' ? 'hidden and shown' : 'frozen and resumed'} while connected, whose link then drops, pings the next link on schedule`, async () => {
      const h = harness({ heartbeat, reconnect });
      await h.connect();
      h.env.emit(hide);
      h.env.emit(show);
      h.server.last!.drop();
      await h.advance(1_000);
      expect(h.connection.status).toBe('connected');
      await h.advance(10_000);
      expect(h.server.last!.sentOfType('ping')).toHaveLength(1);
    });
  }

  it('with closeWhenHidden, a page resumed after it was hidden reconnects and pings on schedule', async () => {
    const h = harness({ heartbeat, reconnect, closeWhenHidden: true });
    await h.connect();
    h.env.emit('hidden');
    await h.settle();
    expect(h.connection.status).toBe('suspended');
    h.env.emit('resume');
    await h.settle();
    expect(h.connection.status).toBe('connected');
    await h.advance(10_000);
    expect(h.server.last!.sentOfType('ping')).toHaveLength(1);
  });

  for (const [fact, back, status] of [['offline', 'online', 'offline'], ['hidden', 'visible', 'suspended']] as const) {
    it(`${fact === 'offline' ? 'offline' : 'a page hidden (closeWhenHidden)'} during the closing handshake is remembered: start() then waits in ${status} until ${back}`, async () => {
      const h = harness({ closeWhenHidden: true, closeTimeoutMs: 500 });
      await h.connect();
      h.server.onClientClose = () => {};
      h.connection.stop();
      h.env.emit(fact);
      h.connection.start();
      await h.advance(3_600_000);
      expect(h.connection.status).toBe(status);
      expect(h.server.sockets).toHaveLength(1);
      h.env.emit(back);
      await h.settle();
      expect(h.connection.status).toBe('connected');
    });
  }
});

describe("a server's wait is kept across the network and the page", () => {
  const reconnect = { baseMs: 1_000, capMs: 30_000, jitter: 0, tryLaterMs: 10_000 };

  /** No dial until `ms` from now, and the second socket at `ms`. */
  async function expectDialIn(h: ReturnType<typeof harness>, ms: number) {
    await h.advance(ms - 1);
    expect(h.server.sockets, `no dial before ${ms} ms`).toHaveLength(1);
    await h.advance(1);
    expect(h.server.sockets, `a dial at ${ms} ms`).toHaveLength(2);
  }

  /** A connection the server closed with 4029 and `retry_after: 42` (seconds). */
  async function rateLimited(options: object = {}) {
    const h = harness({ reconnect, ...options });
    await h.connect();
    h.server.last!.closeFromServer(4029, '{"retry_after":42}');
    await h.settle();
    expect(h.connection.status).toBe('reconnecting');
    return h;
  }

  it('offline and online again within a retry_after: no dial before it ends, one as it ends', async () => {
    const h = await rateLimited();
    await h.advance(10_000);
    h.env.emit('offline');
    await h.advance(10_000);
    h.env.emit('online');
    await h.settle();
    expect(h.connection.status).toBe('reconnecting');
    await expectDialIn(h, 22_000);
    expect(h.connection.status).toBe('connected');
  });

  it('online again after the retry_after has passed: dials at once', async () => {
    const h = await rateLimited();
    h.env.emit('offline');
    await h.advance(60_000);
    h.env.emit('online');
    await h.advance(0);
    expect(h.server.sockets).toHaveLength(2);
    expect(h.connection.status).toBe('connected');
  });

  it('an online event while waiting out a retry_after (the network changed) does not cut it short', async () => {
    const h = await rateLimited();
    await h.advance(5_000);
    h.env.emit('online');
    await expectDialIn(h, 37_000);
  });

  it('with closeWhenHidden, a page hidden and shown again within a retry_after dials as it ends, not on visible', async () => {
    const h = await rateLimited({ closeWhenHidden: true });
    h.env.emit('hidden');
    await h.advance(20_000);
    expect(h.connection.status).toBe('suspended');
    h.env.emit('visible');
    await expectDialIn(h, 22_000);
  });

  it('1013 without a retry_after: offline and online again wait out tryLaterMs', async () => {
    const h = harness({ reconnect });
    await h.connect();
    h.server.last!.closeFromServer(1013);
    await h.settle();
    h.env.emit('offline');
    await h.advance(4_000);
    h.env.emit('online');
    await expectDialIn(h, 6_000);
  });

  it('once connected again, a later offline and online dials at once: the old wait is over', async () => {
    const h = await rateLimited();
    await h.advance(42_000);
    expect(h.connection.status).toBe('connected');
    h.env.emit('offline');
    await h.settle();
    h.env.emit('online');
    await h.settle();
    expect(h.server.sockets).toHaveLength(3);
    expect(h.connection.status).toBe('connected');
  });

  it('retry() still dials at once: the app asked for it', async () => {
    const h = await rateLimited();
    h.env.emit('offline');
    h.env.emit('online');
    h.connection.retry();
    await h.settle();
    expect(h.server.sockets).toHaveLength(2);
  });
});
