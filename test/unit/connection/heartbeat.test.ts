import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/index.js';
import { harness } from '../../support/harness.js';

const heartbeat = { intervalMs: 10_000, timeoutMs: 2_000 };
const reconnect = { minUptimeMs: 3_600_000 };

describe('heartbeat', () => {
  it('pings after intervalMs of quiet and records the round-trip time', async () => {
    const h = harness({ heartbeat });
    await h.connect();
    await h.advance(9_999);
    expect(h.server.last!.sentOfType('ping')).toHaveLength(0);
    await h.advance(1);
    expect(h.server.last!.sentOfType('ping')).toHaveLength(1);
    expect(h.connection.metrics().rtt.count).toBe(1);
  });

  it('declares a socket that stops answering dead after timeoutMs and reconnects (half-open detection)', async () => {
    const h = harness({ heartbeat, reconnect }, { autoPong: false });
    await h.connect();
    await h.advance(10_000 + 1_999);
    expect(h.connection.status).toBe('connected');
    await h.advance(1);
    expect(h.connection.status).toBe('reconnecting');
    expect(h.errors.at(-1)?.code).toBe(ErrorCode.NETWORK_ERROR);
    expect(h.server.sockets[0]!.isLive).toBe(false);
  });

  it('counts any inbound traffic after the ping as proof of life', async () => {
    const h = harness({ heartbeat, reconnect }, { autoPong: false });
    await h.connect();
    await h.advance(10_000);
    h.server.last!.push({ type: 'message', ch: 'x', data: 1 });
    await h.advance(2_000);
    expect(h.connection.status).toBe('connected');
  });

  it('counts inbound traffic as proof of life in every probe, not only the first', async () => {
    const h = harness({ heartbeat, reconnect }, { autoPong: false });
    await h.connect();
    const socket = h.server.last!;
    for (let probe = 1; probe <= 3; probe++) {
      await h.advance(10_000);
      expect(socket.sentOfType('ping')).toHaveLength(probe);
      socket.push({ type: 'message', ch: 'x', data: probe });
      await h.advance(2_000);
      expect(h.connection.status).toBe('connected');
    }
    expect(h.server.sockets).toHaveLength(1);
  });

  it('suspends timeouts while the page is hidden: no false positive from throttled timers', async () => {
    const h = harness({ heartbeat, reconnect }, { autoPong: false });
    await h.connect();
    await h.advance(10_000);
    h.env.emit('hidden');
    await h.advance(10 * 60_000);
    expect(h.connection.status).toBe('connected');
    expect(h.server.sockets).toHaveLength(1);
  });

  it('keeps pinging each intervalMs while the page is hidden, so that a server\'s idle timeout does not close it', async () => {
    const h = harness({ heartbeat, reconnect }, { autoPong: false });
    await h.connect();
    h.env.emit('hidden');
    for (let interval = 1; interval <= 6; interval++) {
      await h.advance(9_999);
      expect(h.server.last!.sentOfType('ping')).toHaveLength(interval - 1);
      await h.advance(1);
      expect(h.server.last!.sentOfType('ping')).toHaveLength(interval);
    }
    expect(h.connection.status).toBe('connected');
  });

  it('verifies the link with an immediate ping when the page becomes visible, and reconnects a zombie', async () => {
    const h = harness({ heartbeat, reconnect }, { autoPong: false });
    await h.connect();
    h.env.emit('hidden');
    await h.advance(60_000);
    const keptAlive = h.server.last!.sentOfType('ping').length;
    h.env.emit('visible');
    await h.settle();
    expect(h.server.last!.sentOfType('ping')).toHaveLength(keptAlive + 1);
    await h.advance(1_999);
    expect(h.connection.status).toBe('connected');
    await h.advance(1);
    expect(h.connection.status).toBe('reconnecting');
  });

  it('keeps a healthy link on resume when the pong comes back', async () => {
    const h = harness({ heartbeat });
    await h.connect();
    h.env.emit('freeze');
    await h.advance(60_000);
    h.env.emit('resume');
    await h.settle(); // the pong comes back
    await h.advance(2_000);
    expect(h.connection.status).toBe('connected');
    expect(h.server.sockets).toHaveLength(1);
  });

  it('does not trust a pong timeout that fired far later than scheduled: it pings again against a fresh deadline', async () => {
    const h = harness({ heartbeat, reconnect }, { autoPong: false });
    await h.connect();
    await h.advance(10_000);
    h.clock.jump(60_000);
    await h.advance(0);
    expect(h.connection.status).toBe('connected');
    expect(h.server.last!.sentOfType('ping')).toHaveLength(2);
    await h.advance(2_000);
    expect(h.connection.status).toBe('reconnecting');
  });

  it('trusts a pong timeout that fired at most twice as late as scheduled: the socket is dead', async () => {
    const h = harness({ heartbeat, reconnect }, { autoPong: false });
    await h.connect();
    await h.advance(10_000);
    h.clock.jump(4_000);
    await h.advance(0);
    expect(h.server.last!.sentOfType('ping')).toHaveLength(1);
    expect(h.connection.status).toBe('reconnecting');
    expect(h.errors.at(-1)).toMatchObject({ code: ErrorCode.NETWORK_ERROR, message: 'No pong: the socket is dead (half-open)', recovery: 'retry' });
  });

  it('can be turned off', async () => {
    const h = harness({ heartbeat: false }, { autoPong: false });
    await h.connect();
    await h.advance(3_600_000);
    expect(h.server.last!.sentOfType('ping')).toHaveLength(0);
    expect(h.connection.status).toBe('connected');
  });

  it('stops with the connected state: no ping after the connection leaves connected', async () => {
    const h = harness({ heartbeat });
    await h.connect();
    h.server.last!.drop();
    await h.settle();
    expect(h.connection.snapshot.children.heartbeat).toBeUndefined();
  });
  it('a late pong that echoes an earlier ping neither ends the current probe nor skews the RTT', async () => {
    const h = harness({ heartbeat, reconnect }, { autoPong: false });
    await h.connect();
    await h.advance(10_000);
    const first = h.server.last!.sentOfType('ping')[0]!.ts as number;
    h.server.last!.push({ type: 'message', ch: 'x', data: 'traffic' });
    await h.advance(2_000);
    await h.advance(10_000);
    const second = h.server.last!.sentOfType('ping')[1]!.ts as number;
    await h.advance(300);
    h.server.last!.push({ type: 'pong', ts: first });
    await h.settle();
    expect(h.connection.metrics().rtt.count).toBe(0);
    expect(Object.keys(h.connection.snapshot.children)).toContain('heartbeat');
    h.server.last!.push({ type: 'pong', ts: second });
    await h.settle();
    expect(h.connection.metrics().rtt.last).toBe(300);
  });
});

describe('no round trip is timed across a frozen page', () => {
  it('the answer to a ping sent before a freeze, handled on wake before anything else, is no RTT sample of the time frozen', async () => {
    const h = harness({ heartbeat, reconnect }, { autoPong: false });
    await h.connect();
    await h.advance(10_000);
    const socket = h.server.last!;
    const ping = socket.sentOfType('ping')[0]!.ts as number;
    h.env.emit('freeze');
    // frozen: no timer runs for a minute; on wake the queued pong is handled first
    h.clock.jump(60_000);
    socket.push({ type: 'pong', ts: ping });
    await h.settle();
    h.env.emit('resume');
    await h.settle();
    expect(h.connection.metrics().rtt.count).toBe(0);
    const check = socket.sentOfType('ping').at(-1)!.ts as number;
    expect(check).toBeGreaterThan(ping);
    await h.advance(40);
    socket.push({ type: 'pong', ts: check });
    await h.settle();
    expect(h.connection.metrics().rtt).toMatchObject({ count: 1, last: 40 });
  });

  it('a ping answered before the page froze is timed as usual', async () => {
    const h = harness({ heartbeat, reconnect }, { autoPong: false });
    await h.connect();
    await h.advance(10_000);
    const socket = h.server.last!;
    await h.advance(25);
    socket.push({ type: 'pong', ts: socket.sentOfType('ping')[0]!.ts as number });
    await h.settle();
    h.env.emit('freeze');
    h.clock.jump(60_000);
    h.env.emit('resume');
    await h.settle();
    expect(h.connection.metrics().rtt).toMatchObject({ count: 1, last: 25 });
  });
});

describe('a stale pong is not proof of life', () => {
  it('wake probe: the answer to the pre-freeze ping does not keep a zombie socket', async () => {
    const h = harness({ heartbeat, reconnect }, { autoPong: false });
    await h.connect();
    await h.advance(10_000); // probe 1: ping #1
    const socket = h.server.last!;
    const first = socket.sentOfType('ping')[0]!.ts as number;
    await h.advance(500);
    h.env.emit('freeze'); // page frozen mid-probe; the network dies meanwhile
    await h.advance(60_000);
    const keptAlive = socket.sentOfType('ping').length; // ping #1 and a keepalive each interval
    h.env.emit('resume'); // wake: the verification ping
    await h.settle();
    expect(socket.sentOfType('ping')).toHaveLength(keptAlive + 1);
    socket.push({ type: 'pong', ts: first }); // the queued answer to ping #1, delivered after resume
    await h.settle();
    await h.advance(2_000); // the verification ping is never answered: the socket is a zombie
    expect(h.connection.status).toBe('reconnecting');
  });

  it('without page lifecycle: a late echo of an earlier ping does not end the probe', async () => {
    const h = harness({ heartbeat, reconnect }, { autoPong: false });
    await h.connect();
    await h.advance(10_000);
    const socket = h.server.last!;
    const first = socket.sentOfType('ping')[0]!.ts as number;
    socket.push({ type: 'message', ch: 'x', data: 'traffic' }); // probe 1 ends alive on traffic
    await h.advance(2_000);
    await h.advance(10_000); // probe 2: ping #2
    expect(socket.sentOfType('ping')).toHaveLength(2);
    socket.push({ type: 'pong', ts: first }); // stale
    await h.advance(2_000);
    expect(h.connection.status).toBe('reconnecting');
  });
});
