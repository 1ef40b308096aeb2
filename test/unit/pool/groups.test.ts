import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, SocketchartError, type BalancingStrategy, type EndpointOptions, type PoolOptions } from '../../../src/index.js';
import type { MockSocket } from '../../../src/testing/index.js';
import { poolHarness } from '../../support/pool-harness.js';
import { collectRethrown } from '../../support/rethrown.js';

/**
 * Groups and load balancing: send(group, data) picks among the healthy members by round-robin,
 * least-pending or random; a member whose heartbeat round trip is too slow is out of rotation until it
 * is fast again. Then send and subscribe errors and listeners.
 */

/** The channel the specs' jobs are published on. */
const JOBS = { channel: 'jobs:all' };

const members = (group: string, names: string[]): EndpointOptions[] => names.map((name) => ({ name, group, url: `ws://mock.test/${name}` }));

function groupPool(balancing: BalancingStrategy, overrides: Partial<PoolOptions> = {}, endpoints = members('workers', ['a', 'b', 'c'])) {
  const h = poolHarness({ staggerMs: 0, balancing, ...overrides }, { endpoints });
  /** Application messages each member's socket received (frames carrying `n`), by member. */
  const received = () =>
    Object.fromEntries(
      endpoints.map(({ name }) => [name, h.dialsOf(name).flatMap((dial) => dial.socket.sent.flatMap((frame) => (frame.json?.type === 'publish' ? [(frame.json.data as { n: number }).n] : [])))]),
    );
  return { ...h, received };
}

const rejection = async (promise: Promise<unknown>): Promise<SocketchartError> => {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SocketchartError);
    return error as SocketchartError;
  }
  throw new Error('expected the promise to reject');
};

describe('send(group, data): load balancing', () => {
  it('round-robin: takes the members in turn', async () => {
    const h = groupPool('round-robin');
    h.pool.start();
    await h.settle();
    for (let n = 1; n <= 6; n++) await h.pool.send('workers', { n }, JOBS);
    expect(h.received()).toEqual({ a: [1, 4], b: [2, 5], c: [3, 6] });
  });

  it('round-robin: skips a member that is not connected, and takes it back once it is', async () => {
    const h = groupPool('round-robin', { defaults: { reconnect: { baseMs: 1_000, capMs: 1_000, jitter: 0 } } });
    h.pool.start();
    await h.settle();
    h.socketOf('b').drop();
    await h.settle();
    for (let n = 1; n <= 4; n++) await h.pool.send('workers', { n }, JOBS);
    expect(h.received().b, 'b is reconnecting').toEqual([]);
    expect(h.received().a!.length + h.received().c!.length).toBe(4);
    expect(h.received().a!.length).toBe(2);
    await h.advance(1_000);
    expect(h.connection('b').status).toBe('connected');
    for (let n = 5; n <= 10; n++) await h.pool.send('workers', { n }, JOBS);
    expect(h.received().b).toHaveLength(2);
  });

  it('round-robin: each group keeps its own turn, even when sends to two groups interleave', async () => {
    const h = groupPool('round-robin', {}, [...members('left', ['l1', 'l2']), ...members('right', ['r1', 'r2', 'r3'])]);
    h.pool.start();
    await h.settle();
    for (let n = 1; n <= 4; n++) {
      await h.pool.send('left', { n }, JOBS);
      await h.pool.send('right', { n: 10 + n }, JOBS);
    }
    expect(h.received()).toEqual({ l1: [1, 3], l2: [2, 4], r1: [11, 14], r2: [12], r3: [13] });
  });

  it('least-pending: sends to the member with the fewest messages waiting in its queue, taking turns among ties', async () => {
    const h = groupPool('least-pending', { defaults: { queue: { highWaterMark: 100 } } });
    h.pool.start();
    await h.settle();
    // a and b push back (their socket buffers are full): what is sent to them waits in their queue.
    h.socketOf('a').bufferedAmount = 1_000;
    h.socketOf('b').bufferedAmount = 1_000;
    const sends: Array<Promise<void>> = [];
    const picks: string[] = [];
    for (let n = 1; n <= 5; n++) {
      const before = h.pool.connections.map((connection) => connection.queued);
      sends.push(h.pool.send('workers', { n }, JOBS));
      const grew = h.pool.connections.findIndex((connection, i) => connection.queued > before[i]!);
      const min = Math.min(...before);
      const picked = grew >= 0 ? h.pool.connections[grew]!.name : 'c';
      picks.push(picked);
      expect(before[h.pool.connections.findIndex((connection) => connection.name === picked)], `send ${n} went to a member with the fewest pending`).toBe(min);
    }
    expect(picks).toEqual(['a', 'c', 'b', 'c', 'c']);
    expect(h.pool.connections.map((connection) => connection.queued)).toEqual([1, 1, 0]);
    // Once the buffers drain, the queued messages go out.
    h.socketOf('a').bufferedAmount = 0;
    h.socketOf('b').bufferedAmount = 0;
    await h.advance(10);
    await Promise.all(sends);
    expect(h.received()).toEqual({ a: [1], b: [3], c: [2, 4, 5] });
  });

  it('random: picks the member the pool\'s random source points at', async () => {
    const draws = [0.1, 0.5, 0.9, 0, 0.99];
    const h = groupPool('random', { random: () => draws.shift() ?? 0.5 });
    h.pool.start();
    await h.settle();
    for (let n = 1; n <= 5; n++) await h.pool.send('workers', { n }, JOBS);
    expect(h.received()).toEqual({ a: [1, 4], b: [2], c: [3, 5] });
  });

  it('random: only among the connected members', async () => {
    const h = groupPool('random', { random: () => 0.99, defaults: { reconnect: { baseMs: 1_000, capMs: 1_000, jitter: 0 } } });
    h.pool.start();
    await h.settle();
    h.socketOf('c').drop();
    await h.settle();
    for (let n = 1; n <= 3; n++) await h.pool.send('workers', { n }, JOBS);
    expect(h.received()).toEqual({ a: [], b: [1, 2, 3], c: [] });
  });

  it('random: a random source outside [0, 1) (1, NaN, negative) picks the middle member, not a CLOSED rejection', async () => {
    for (const r of [1, Number.NaN, -0.5]) {
      const h = groupPool('random', { random: () => r });
      h.pool.start();
      await h.settle();
      await expect(h.pool.send('workers', { n: 1 }, JOBS), `random() = ${r}`).resolves.toBeUndefined();
      expect(h.received(), `random() = ${r}`).toEqual({ a: [], b: [1], c: [] });
      h.pool.dispose();
    }
  });
});

describe('health checks: heartbeat round trips take slow members out of rotation', () => {
  /** A group whose server answers pings after `latency[name]` ms of simulated time. */
  function timedGroup(maxRttMs: number) {
    const latency: Record<string, number> = { a: 0, b: 0 };
    const h = groupPool(
      'round-robin',
      { health: { maxRttMs }, defaults: { heartbeat: { intervalMs: 1_000, timeoutMs: 5_000 } } },
      members('workers', ['a', 'b']),
    );
    h.server.options.autoPong = false;
    h.server.onFrame = (socket: MockSocket, frame) => {
      if (frame.json?.type !== 'ping') return;
      const name = socket.url.split('/').pop()!;
      const pong = () => socket.push({ type: 'pong', ts: frame.json!.ts });
      if (latency[name] === 0) pong();
      else h.clock.setTimeout(pong, latency[name]!);
    };
    /** Starts the pool, then runs one heartbeat round with these latencies: each member's RTT is then its latency. */
    async function startWithLatency(latencies: Partial<Record<'a' | 'b', number>>): Promise<void> {
      h.pool.start();
      await h.settle();
      Object.assign(latency, latencies);
      await h.advance(1_000);
      await h.advance(Math.max(...Object.values(latencies)));
    }
    return { ...h, latency, startWithLatency };
  }

  it('a member whose last RTT is above health.maxRttMs is out of rotation, and back once it is fast again', async () => {
    const h = timedGroup(200);
    await h.startWithLatency({ a: 500 });
    expect(h.connection('a').rttMs).toBe(500);
    expect(h.connection('b').rttMs).toBe(0);
    for (let n = 1; n <= 4; n++) await h.pool.send('workers', { n }, JOBS);
    expect(h.received()).toEqual({ a: [], b: [1, 2, 3, 4] });
    expect(h.connection('a').status, 'a slow member stays connected').toBe('connected');

    h.latency.a = 0;
    await h.advanceBy(1_000, 100);
    expect(h.connection('a').rttMs).toBe(0);
    for (let n = 5; n <= 8; n++) await h.pool.send('workers', { n }, JOBS);
    expect(h.received().a).toHaveLength(2);
    expect(h.received().b).toHaveLength(6);
  });

  it('when every member is slow, sends still go to the connected ones rather than nowhere', async () => {
    const h = timedGroup(200);
    await h.startWithLatency({ a: 500, b: 700 });
    expect([h.connection('a').rttMs, h.connection('b').rttMs]).toEqual([500, 700]);
    for (let n = 1; n <= 4; n++) await h.pool.send('workers', { n }, JOBS);
    expect(h.received().a!.length + h.received().b!.length).toBe(4);
  });

  it('when every connected member is slow, sends go to a connected one, not to a member that is reconnecting', async () => {
    const h = timedGroup(200);
    await h.startWithLatency({ a: 500 });
    expect(h.connection('a').rttMs).toBe(500);
    h.server.sockets.find((socket) => socket.url.endsWith('/b') && socket.isLive)!.drop();
    await h.settle();
    expect(h.connection('b').isConnected).toBe(false);
    for (let n = 1; n <= 4; n++) await h.pool.send('workers', { n }, JOBS);
    expect(h.received().a).toEqual([1, 2, 3, 4]);
    expect(h.connection('b').queued).toBe(0);
  });

  it('a member whose RTT is exactly health.maxRttMs stays in rotation', async () => {
    const h = timedGroup(200);
    await h.startWithLatency({ a: 200 });
    expect(h.connection('a').rttMs).toBe(200);
    for (let n = 1; n <= 4; n++) await h.pool.send('workers', { n }, JOBS);
    expect(h.received().a).toHaveLength(2);
  });

  it('reports each member\'s RTT in its metrics and a lower health score for the slow one', async () => {
    const h = timedGroup(200);
    await h.startWithLatency({ a: 500 });
    const metrics = h.pool.metrics();
    expect(metrics.connections.a!.rtt.last).toBe(500);
    expect(metrics.connections.a!.healthScore).toBeLessThan(metrics.connections.b!.healthScore);
    expect(metrics.healthScore).toBeCloseTo((metrics.connections.a!.healthScore + metrics.connections.b!.healthScore) / 2, 9);
  });
});

describe('send errors and targets', () => {
  it('send(endpoint, data) goes to that endpoint', async () => {
    const h = groupPool('round-robin');
    h.pool.start();
    await h.settle();
    await h.pool.send('b', { n: 1 }, JOBS);
    await h.pool.send('b', { n: 2 }, JOBS);
    expect(h.received()).toEqual({ a: [], b: [1, 2], c: [] });
  });

  it('rejects a group send of data without a channel (the server would refuse it) and writes nothing', async () => {
    const h = groupPool('round-robin');
    h.pool.start();
    await h.settle();
    const before = h.dialsOf('a').flatMap((dial) => dial.socket.sent).length;
    const error = await rejection(h.pool.send('workers', { ping: true }));
    expect(error.code).toBe(ErrorCode.INVALID_MESSAGE_FORMAT);
    expect(error.message).toContain('send(data, { channel })');
    expect(h.dialsOf('a').flatMap((dial) => dial.socket.sent).length).toBe(before);
  });

  it('rejects a send to an unknown target with a typed INVALID_OPTION error naming it', async () => {
    const h = groupPool('round-robin');
    h.pool.start();
    await h.settle();
    const error = await rejection(h.pool.send('nobody', { n: 1 }, JOBS));
    expect(error.code).toBe(ErrorCode.INVALID_OPTION);
    expect(error.message).toContain('"nobody"');
  });

  it('rejects a send to a group whose members are all closed with a typed CLOSED error', async () => {
    const h = groupPool('round-robin');
    h.pool.start();
    await h.settle();
    for (const name of ['a', 'b', 'c']) h.connection(name).stop();
    await h.settle();
    const error = await rejection(h.pool.send('workers', { n: 1 }, JOBS));
    expect(error.code).toBe(ErrorCode.CLOSED);
    expect(error.message).toContain('"workers"');
    h.pool.stop();
    await h.settle();
    expect((await rejection(h.pool.send('workers', { n: 2 }, JOBS))).code).toBe(ErrorCode.CLOSED);
    expect((await rejection(h.pool.send('a', { n: 3 }, JOBS))).code, 'and a send to a closed endpoint').toBe(ErrorCode.CLOSED);
  });

  it('rejects with CLOSED when every member failed (fatal close)', async () => {
    const h = groupPool('least-pending');
    h.pool.start();
    await h.settle();
    for (const name of ['a', 'b', 'c']) h.socketOf(name).closeFromServer(4003, 'forbidden');
    await h.settle();
    expect(Object.values(h.pool.status().connections)).toEqual(['failed', 'failed', 'failed']);
    expect((await rejection(h.pool.send('workers', { n: 1 }, JOBS))).code).toBe(ErrorCode.CLOSED);
  });

  it('with no member connected, queues on one that will reconnect, never on one that failed', async () => {
    const h = groupPool('round-robin', { defaults: { reconnect: { baseMs: 1_000, capMs: 1_000, jitter: 0 } } });
    h.pool.start();
    await h.settle();
    h.socketOf('a').closeFromServer(4003, 'forbidden');
    h.socketOf('b').drop();
    h.socketOf('c').closeFromServer(4003, 'forbidden');
    await h.settle();
    expect(h.pool.status().connections).toEqual({ a: 'failed', b: 'reconnecting', c: 'failed' });
    const sends = [1, 2, 3].map((n) => h.pool.send('workers', { n }, JOBS));
    await h.advance(1_000);
    await Promise.all(sends);
    expect(h.received()).toEqual({ a: [], b: [1, 2, 3], c: [] });
  });

  it('queues a group send on a member that will reconnect when none is connected, and delivers it then', async () => {
    const h = groupPool('round-robin');
    h.pool.start();
    await h.settle();
    h.server.dropAll();
    await h.settle();
    const sent = h.pool.send('workers', { n: 1 }, JOBS);
    expect(h.pool.connections.reduce((sum, connection) => sum + connection.queued, 0)).toBe(1);
    await h.advance(100);
    await sent;
    expect(Object.values(h.received()).flat()).toEqual([1]);
  });
});

describe('subscribe', () => {
  const message = (ch: string, seq: number, data: unknown) => ({ type: 'message', ch, seq, data });

  it('subscribe(endpoint, channel, listener) asks that endpoint\'s server for the channel and hears only it, until unsubscribed', async () => {
    const h = poolHarness({ staggerMs: 0 });
    const heard: unknown[] = [];
    const unsubscribe = h.pool.subscribe('workflows', 'wf:1', (data) => heard.push(data));
    h.pool.start();
    await h.settle();
    const socket = h.socketOf('workflows');
    expect(socket.sentOfType('subscribe')).toEqual([{ type: 'subscribe', ch: 'wf:1' }]);
    expect(h.socketOf('routes').sentOfType('subscribe'), 'other endpoints are not asked').toEqual([]);
    socket.push(message('wf:1', 1, 'one'));
    socket.push(message('wf:2', 1, 'other channel'));
    h.socketOf('routes').push(message('wf:1', 1, 'other endpoint'));
    expect(heard).toEqual(['one']);
    unsubscribe();
    expect(socket.sentOfType('unsubscribe')).toEqual([{ type: 'unsubscribe', ch: 'wf:1' }]);
    socket.push(message('wf:1', 2, 'two'));
    expect(heard).toEqual(['one']);
    unsubscribe();
    expect(socket.sentOfType('unsubscribe'), 'unsubscribing twice is harmless').toHaveLength(1);
  });

  it('resubscribes on every reconnect, from the last sequence seen', async () => {
    const h = poolHarness({ staggerMs: 0 });
    const heard: unknown[] = [];
    h.pool.subscribe('queue', 'jobs', (data) => heard.push(data));
    h.pool.start();
    await h.settle();
    h.socketOf('queue').push(message('jobs', 7, 'job 7'));
    h.socketOf('queue').drop();
    await h.advance(100);
    expect(h.socketOf('queue').sentOfType('subscribe')).toEqual([{ type: 'subscribe', ch: 'jobs', since: 7 }]);
    h.socketOf('queue').push(message('jobs', 7, 'job 7 again'));
    h.socketOf('queue').push(message('jobs', 8, 'job 8'));
    expect(heard).toEqual(['job 7', 'job 8']);
  });

  it('subscribe(endpoint, listener) hears every message of that endpoint, whatever the channel, until unsubscribed', async () => {
    const h = poolHarness({ staggerMs: 0 });
    const heard: unknown[] = [];
    const unsubscribe = h.pool.subscribe('system-status', (data) => heard.push(data));
    h.pool.start();
    await h.settle();
    const socket = h.socketOf('system-status');
    socket.push(message('cpu', 1, 'cpu 1'));
    socket.push(message('disk', 1, 'disk 1'));
    h.socketOf('webhook-status').push(message('cpu', 1, 'not this endpoint'));
    expect(heard).toEqual(['cpu 1', 'disk 1']);
    unsubscribe();
    socket.push(message('cpu', 2, 'cpu 2'));
    expect(heard).toEqual(['cpu 1', 'disk 1']);
  });

  it('throws a typed error for an unknown endpoint, or a channel without a listener', () => {
    const h = poolHarness();
    const attempt = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const unknown = attempt(() => h.pool.subscribe('nobody', 'ch', () => {}));
    expect(unknown).toBeInstanceOf(SocketchartError);
    expect((unknown as SocketchartError).code).toBe(ErrorCode.INVALID_OPTION);
    expect((unknown as SocketchartError).message).toContain('"nobody"');
    const subscribeWithoutListener = h.pool.subscribe as unknown as (endpoint: string, channel: string) => unknown;
    const missing = attempt(() => subscribeWithoutListener.call(h.pool, 'queue', 'ch'));
    expect(missing).toBeInstanceOf(SocketchartError);
    expect((missing as SocketchartError).code).toBe(ErrorCode.INVALID_OPTION);
  });
});

describe('pool.on()', () => {
  it('refuses a listener that is not a function at the call, naming it: nothing throws later when a connection moves', async () => {
    const h = poolHarness({ staggerMs: 0 });
    for (const listener of [undefined, 'handler']) {
      expect(() => h.pool.on('state', listener as never)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION, option: 'listener' }));
    }
    const rethrown = collectRethrown();
    h.pool.start();
    await h.advance(1_000);
    vi.restoreAllMocks();
    expect(h.pool.status().health).toBe('up');
    expect(rethrown).toEqual([]);
    h.pool.dispose();
  });
});

describe('send(group) with no connected member', () => {
  it('does not route to a member that is closing', async () => {
    const h = poolHarness(
      { staggerMs: 0, balancing: 'round-robin', defaults: { reconnect: { baseMs: 1_000, capMs: 1_000, jitter: 0 } } },
      { endpoints: members('w', ['a', 'b']) },
    );
    h.server.onClientClose = () => {}; // the server is slow to answer the close handshake
    h.pool.start();
    await h.settle();
    h.connection('a').stop(); // the app stops a
    h.socketOf('b').drop(); // b loses its link and will reconnect
    await h.settle();
    expect([h.connection('a').status, h.connection('b').status]).toEqual(['closing', 'reconnecting']);

    const sends = Promise.allSettled([1, 2].map((n) => h.pool.send('w', { n }, { channel: 'jobs' })));
    await h.advance(3_000);
    const results = await sends;
    expect(results.map((result) => (result.status === 'rejected' ? String(result.reason) : 'delivered'))).toEqual(['delivered', 'delivered']);
  });
});

describe('group health after a reconnect', () => {
  it("a member back on a new socket is not judged by the round trip of the one it lost: it is back in rotation, its rttMs null until its first pong", async () => {
    const endpoints: EndpointOptions[] = ['a', 'b'].map((name) => ({ name, group: 'w', url: `ws://mock.test/${name}` }));
    const h = poolHarness(
      { staggerMs: 0, dialBudget: false, health: { maxRttMs: 200 }, defaults: { heartbeat: { intervalMs: 10_000, timeoutMs: 5_000 } } },
      { endpoints },
    );
    const latency: Record<string, number> = { a: 0, b: 0 };
    h.server.options.autoPong = false;
    h.server.onFrame = (socket: MockSocket, frame) => {
      if (frame.json?.type !== 'ping') return;
      const pong = () => socket.push({ type: 'pong', ts: frame.json!.ts });
      const ms = latency[socket.url.split('/').pop()!]!;
      if (ms === 0) pong();
      else h.clock.setTimeout(pong, ms);
    };
    h.pool.start();
    await h.settle();
    latency.a = 500;
    await h.advance(10_000);
    await h.advance(500);
    expect(h.connection('a').rttMs).toBe(500);

    latency.a = 0;
    h.socketOf('a').drop();
    await h.advance(200);
    expect(h.connection('a').status).toBe('connected');

    expect(h.connection('a').rttMs).toBeNull();
    const published = () => h.dialsOf('a').flatMap((dial) => dial.socket.sent.filter((frame) => frame.json?.type === 'publish')).length;
    for (let n = 0; n < 4; n++) await h.pool.send('w', { n }, { channel: 'jobs' });
    expect(published(), 'a back in rotation').toBe(2);
  });
});
