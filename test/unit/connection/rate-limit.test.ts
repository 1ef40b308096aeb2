import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, InvalidOptionError, createConnection } from '../../../src/index.js';
import type { MockSocket } from '../../../src/testing/index.js';
import { RateLimiter, SERVER_RATE_SHARE, Take } from '../../../src/policy/rate-limiter.js';
import { SimulatedClock } from '../../../src/testing/index.js';
import { harness, URL, type Harness } from '../../support/harness.js';

const publishes = (socket: MockSocket | undefined) => (socket?.sentOfType('publish') ?? []).map((frame) => frame.data);
const outbound = (h: Harness) => (h.connection.snapshot.value as { link?: { connected?: { outbound?: string } } }).link?.connected?.outbound;

function acking(h: Harness) {
  let seq = 0;
  h.server.onFrame = (socket, frame) => {
    if (frame.json?.type === 'publish' && frame.json.id !== undefined) socket.push({ type: 'ack', id: frame.json.id, seq: ++seq });
  };
}

describe('client-side rate limits', () => {
  it('sends a burst at once, then holds the rest in outbound.throttled and lets one through per refill', async () => {
    const h = harness({ heartbeat: false, rateLimit: { connection: { perMinute: 60, burst: 3 } } });
    await h.connect();
    for (let n = 1; n <= 6; n++) void h.connection.send({ n }, { channel: 'chat:1' });
    await h.settle();
    expect(publishes(h.server.last)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(outbound(h)).toBe('throttled');
    expect(h.connection.throttled).toBe(true);
    expect(h.connection.queued).toBe(3);
    await h.advance(999);
    expect(publishes(h.server.last)).toHaveLength(3);
    await h.advance(1);
    expect(publishes(h.server.last)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    await h.advance(2_000);
    expect(publishes(h.server.last)).toHaveLength(6);
    expect(outbound(h)).toBe('streaming');
    expect(h.connection.throttled).toBe(false);
    const metrics = h.connection.metrics();
    expect(metrics.throttles).toBe(1);
    expect(metrics.throttledMs).toBe(3_000);
  });

  it('tells the app when messages start waiting, with the scope and the wait', async () => {
    const h = harness({ heartbeat: false, rateLimit: { channels: { chat: { perMinute: 30, burst: 1 } } } });
    const seen: unknown[] = [];
    h.connection.on('throttled', (event) => seen.push(event));
    await h.connect();
    void h.connection.send('a', { channel: 'chat:1' });
    void h.connection.send('b', { channel: 'chat:1' });
    await h.settle();
    expect(seen).toEqual([{ scope: 'chat', waitMs: 2_000, queued: 1 }]);
  });

  it('holds a channel type out of tokens without holding other channels, and keeps each channel in order', async () => {
    const h = harness({ heartbeat: false, rateLimit: { channels: { chat: { perMinute: 60, burst: 1 } } } });
    await h.connect();
    void h.connection.send('c1', { channel: 'chat:1' });
    void h.connection.send('c2', { channel: 'chat:2' });
    void h.connection.send('o1', { channel: 'orders:1' });
    void h.connection.send('c3', { channel: 'chat:1' });
    void h.connection.send('o2', { channel: 'orders:1' });
    await h.settle();
    expect(publishes(h.server.last)).toEqual(['c1', 'o1', 'o2']);
    await h.advance(1_000);
    expect(publishes(h.server.last)).toEqual(['c1', 'o1', 'o2', 'c2']);
    await h.advance(1_000);
    expect(publishes(h.server.last)).toEqual(['c1', 'o1', 'o2', 'c2', 'c3']);
  });

  it('keeps priority order among messages that waited', async () => {
    const h = harness({ heartbeat: false, rateLimit: { connection: { perMinute: 60, burst: 1 } } });
    await h.connect();
    void h.connection.send('first', { channel: 'c' });
    void h.connection.send('low', { channel: 'c', priority: 'low' });
    void h.connection.send('critical', { channel: 'c', priority: 'critical' });
    await h.settle();
    await h.advance(2_000);
    expect(publishes(h.server.last)).toEqual(['first', 'critical', 'low']);
  });

  it('adopts the limit the server announces in rate_limit_status, a little under its rate, and never exceeds what it says remains', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    h.server.last!.push({ type: 'rate_limit_status', scope: 'chat', limit: 60, burst: 10, remaining: 2, reset_at: 0, window_seconds: 60 });
    await h.settle();
    for (let n = 1; n <= 5; n++) void h.connection.send(n, { channel: 'chat:9' });
    void h.connection.send('other', { channel: 'news:1' });
    await h.settle();
    expect(publishes(h.server.last)).toEqual([1, 2, 'other']);
    expect(h.connection.throttled).toBe(true);
    const perToken = Math.ceil(1_000 / SERVER_RATE_SHARE);
    await h.advance(perToken - 1);
    expect(publishes(h.server.last)).toEqual([1, 2, 'other']);
    await h.advance(1);
    expect(publishes(h.server.last)).toEqual([1, 2, 'other', 3]);
    await h.advance(2 * perToken);
    expect(publishes(h.server.last)).toEqual([1, 2, 'other', 3, 4, 5]);
  });

  it('a configured limit stays a cap: a looser limit the server announces for its scope does not let more through', async () => {
    const h = harness({ heartbeat: false, rateLimit: { channels: { chat: { perMinute: 6, burst: 1 } }, connection: { perMinute: 60, burst: 2 } } });
    await h.connect();
    h.server.last!.push({ type: 'rate_limit_status', scope: 'chat', limit: 600, burst: 100, remaining: 100, reset_at: 0, window_seconds: 60 });
    h.server.last!.push({ type: 'rate_limit_status', limit: 6_000, burst: 1_000, remaining: 1_000, reset_at: 0, window_seconds: 60 });
    await h.settle();
    for (let n = 1; n <= 5; n++) void h.connection.send(n, { channel: 'chat:9' });
    await h.settle();
    expect(publishes(h.server.last)).toEqual([1]);
    await h.advance(9_999);
    expect(publishes(h.server.last)).toEqual([1]);
    await h.advance(1);
    expect(publishes(h.server.last)).toEqual([1, 2]);
    for (let n = 1; n <= 3; n++) void h.connection.send(`n${n}`, { channel: 'news:1' });
    await h.settle();
    expect(publishes(h.server.last)).toEqual([1, 2, 'n1']);
  });

  it('a stricter limit the server announces for a configured scope holds it', async () => {
    const h = harness({ heartbeat: false, rateLimit: { channels: { chat: { perMinute: 600, burst: 10 } } } });
    await h.connect();
    h.server.last!.push({ type: 'rate_limit_status', scope: 'chat', limit: 60, burst: 1, remaining: 1, reset_at: 0, window_seconds: 60 });
    await h.settle();
    for (let n = 1; n <= 3; n++) void h.connection.send(n, { channel: 'chat:9' });
    await h.settle();
    expect(publishes(h.server.last)).toEqual([1]);
  });

  it('a limit the server announces for `default` holds every channel type that has no limit of its own, sharing one bucket', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    h.server.last!.push({ type: 'rate_limit_status', scope: 'chat', limit: 600, burst: 100, remaining: 100, reset_at: 0, window_seconds: 60 });
    h.server.last!.push({ type: 'rate_limit_status', scope: 'default', limit: 60, burst: 2, remaining: 2, reset_at: 0, window_seconds: 60 });
    await h.settle();
    void h.connection.send('n1', { channel: 'news:1' });
    void h.connection.send('w1', { channel: 'weather:1' });
    void h.connection.send('n2', { channel: 'news:2' });
    void h.connection.send('c1', { channel: 'chat:1' });
    await h.settle();
    expect(publishes(h.server.last), 'news and weather share the default bucket; chat has its own').toEqual(['n1', 'w1', 'c1']);
    expect(h.connection.throttled).toBe(true);
    await h.advance(Math.ceil(1_000 / SERVER_RATE_SHARE));
    expect(publishes(h.server.last)).toEqual(['n1', 'w1', 'c1', 'n2']);
  });

  it('reads a status without a scope as the connection-wide limit over its window', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    h.server.last!.push({ type: 'rate_limit_status', limit: 120, remaining: 0, reset_at: 0, window_seconds: 60 });
    await h.settle();
    void h.connection.send('x', { channel: 'anything:1' });
    await h.settle();
    expect(publishes(h.server.last)).toEqual([]);
    await h.advance(Math.ceil(500 / SERVER_RATE_SHARE));
    expect(publishes(h.server.last)).toEqual(['x']);
  });

  it('ignores the server when followServer is false', async () => {
    const h = harness({ heartbeat: false, rateLimit: { followServer: false } });
    await h.connect();
    h.server.last!.push({ type: 'rate_limit_status', scope: 'chat', limit: 60, burst: 1, remaining: 0, reset_at: 0, window_seconds: 60 });
    await h.settle();
    void h.connection.send(1, { channel: 'chat:1' });
    await h.settle();
    expect(publishes(h.server.last)).toEqual([1]);
  });

  it('an acknowledged message the server refuses for its rate limit is written again after retry_after, and resolves', async () => {
    const h = harness({ heartbeat: false, acks: { timeoutMs: 60_000, maxAttempts: 1 } });
    let refuse = true;
    let seq = 0;
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type !== 'publish') return;
      if (refuse) {
        refuse = false;
        socket.push({ type: 'error', id: frame.json.id, code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', retry_after: 2, details: { scope: 'chat' } });
      } else socket.push({ type: 'ack', id: frame.json.id, seq: ++seq });
    };
    await h.connect();
    let acked = false;
    const sent = h.connection.send('m', { channel: 'chat:1', ack: true }).then(() => (acked = true));
    await h.settle();
    expect(h.errors.map((error) => [error.code, error.retryAfterMs])).toEqual([[ErrorCode.RATE_LIMIT_EXCEEDED, 2_000]]);
    void h.connection.send('later', { channel: 'chat:1' });
    await h.settle();
    expect(publishes(h.server.last)).toEqual(['m']);
    expect(h.connection.throttled).toBe(true);
    await h.advance(1_999);
    expect(acked).toBe(false);
    await h.advance(1);
    await sent;
    expect(publishes(h.server.last), 'the held message goes again first, then what queued behind it').toEqual(['m', 'm', 'later']);
  });

  it('acknowledged messages refused one after the other go again in the order they were sent, whatever retry_after each got', async () => {
    const h = harness({ heartbeat: false, acks: { timeoutMs: 60_000, maxAttempts: 1 } });
    acking(h);
    await h.connect();
    const ids: string[] = [];
    h.server.onFrame = (_socket, frame) => {
      if (frame.json?.type === 'publish') ids.push(frame.json.id as string);
    };
    const sends = [h.connection.send('first', { channel: 'c', ack: true }), h.connection.send('second', { channel: 'c', ack: true })];
    await h.settle();
    expect(publishes(h.server.last)).toEqual(['first', 'second']);
    acking(h);
    h.server.last!.push({ type: 'error', id: ids[0], code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', retry_after: 2 });
    h.server.last!.push({ type: 'error', id: ids[1], code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', retry_after: 1 });
    await h.settle();
    await h.advance(1_000);
    expect(publishes(h.server.last), 'the second waits for the first').toEqual(['first', 'second']);
    await h.advance(1_000);
    await Promise.all(sends);
    expect(publishes(h.server.last)).toEqual(['first', 'second', 'first', 'second']);
  });

  it("a new socket starts without the server's holds", async () => {
    const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    await h.connect();
    h.server.last!.push({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', retry_after: 60 });
    await h.settle();
    void h.connection.send('held', { channel: 'c' });
    await h.settle();
    expect(h.connection.throttled).toBe(true);
    h.server.last!.drop();
    await h.settle();
    await h.advance(100);
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(publishes(h.server.last)).toEqual(['held']);
  });

  it('acknowledged sends wait for tokens like any other and resolve in order', async () => {
    const h = harness({ heartbeat: false, rateLimit: { connection: { perMinute: 600, burst: 2 } } });
    acking(h);
    await h.connect();
    const done: number[] = [];
    const sends = [1, 2, 3, 4, 5].map((n) => h.connection.send(n, { channel: 'c', ack: true }).then(() => done.push(n)));
    await h.settle();
    await h.advance(300);
    await Promise.all(sends);
    expect(done).toEqual([1, 2, 3, 4, 5]);
  });

  it('validates its options, naming the one at fault', () => {
    const { server } = harness();
    const make = (rateLimit: unknown) => () => createConnection({ url: URL, WebSocket: server.WebSocket, rateLimit } as never);
    expect(make({ connection: { burst: 1 } })).toThrow(/`rateLimit\.connection\.perMinute`/);
    expect(make({ connection: { perMinute: 0, burst: 1 } })).toThrow(/`rateLimit\.connection\.perMinute`/);
    expect(make({ connection: { perMinute: 10, burst: 0 } })).toThrow(/`rateLimit\.connection\.burst`/);
    expect(make({ channels: { 'chat:1': { perMinute: 10, burst: 1 } } })).toThrow(/`rateLimit\.channels\.chat:1`/);
    expect(make({ followServer: 'yes' })).toThrow(/`rateLimit\.followServer`/);
    expect(make({ perSecond: 3 })).toThrow(InvalidOptionError);
  });
});

describe('RateLimiter bounds', () => {
  it('never grants more than burst + rate × window over any window, whatever the timing of the takes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: 5_000 }),
        (perMinute, burst, gaps, window) => {
          const clock = new SimulatedClock(0);
          const limiter = new RateLimiter(clock, { connection: { perMinute, burst }, channels: {} });
          const granted: number[] = [];
          for (const gap of gaps) {
            clock.advance(gap);
            if (limiter.take(undefined) === Take.ok) granted.push(clock.now());
          }
          const allowed = burst + (perMinute / 60_000) * window;
          for (let i = 0, j = 0; i < granted.length; i++) {
            while (granted[i]! - granted[j]! > window) j++;
            expect(i - j + 1).toBeLessThanOrEqual(Math.floor(allowed + 1e-9));
          }
        },
      ),
    );
  });

  it('asked at every millisecond, grants the burst and then one token per refill period: never more than the refills allow, never less', () => {
    fc.assert(
      fc.property(fc.integer({ min: 6, max: 600 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 3_000 }), (perMinute, burst, span) => {
        const clock = new SimulatedClock(0);
        const limiter = new RateLimiter(clock, { connection: undefined, channels: { chat: { perMinute, burst } } });
        let granted = 0;
        for (let t = 0; t <= span; t++) {
          if (t > 0) clock.advance(1);
          while (limiter.take('chat:1') === Take.ok) granted++;
          expect(limiter.take('news:1')).toBe(Take.ok);
        }
        expect(granted, 'at most the burst plus what the rate refills').toBeLessThanOrEqual(burst + Math.floor((perMinute / 60_000) * span + 1e-9));
        expect(granted, 'at least one token each whole refill period').toBeGreaterThanOrEqual(burst + Math.floor(span / Math.ceil(60_000 / perMinute)));
      }),
      { numRuns: 100 },
    );
  });
});

describe('acknowledged messages written again take tokens like any write', () => {
  it('resends after acks.timeoutMs stay within burst + rate × W, and each still goes once a token is there', async () => {
    const h = harness({ heartbeat: false, acks: { timeoutMs: 1_000, maxAttempts: 5 }, rateLimit: { connection: { perMinute: 60, burst: 2 } } });
    await h.connect();
    const writes: Array<[number, unknown]> = [];
    const start = h.clock.now();
    h.server.onFrame = (_socket, frame) => {
      if (frame.json?.type === 'publish') writes.push([h.clock.now() - start, frame.json.data]);
    };
    void h.connection.send('a1', { channel: 'c', ack: true }).catch(() => {});
    void h.connection.send('a2', { channel: 'c', ack: true }).catch(() => {});
    await h.settle();
    await h.advance(1_000);
    void h.connection.send('b', { channel: 'c' });
    await h.settle();
    expect(writes.filter(([at]) => at <= 1_000)).toHaveLength(3);
    await h.advance(2_000);
    expect(writes.filter(([, data]) => data === 'a1' || data === 'a2').length).toBeGreaterThanOrEqual(4);
    for (let i = 3; i < writes.length; i++) expect(writes[i]![0] - writes[i - 1]![0]).toBeGreaterThanOrEqual(1_000);
  });

  it('after a reconnect, unacknowledged messages go again within the limit and in their order', async () => {
    const h = harness({
      heartbeat: false,
      reconnect: { baseMs: 100, capMs: 100, jitter: 0 },
      acks: { timeoutMs: 60_000, maxAttempts: 5 },
      rateLimit: { connection: { perMinute: 60, burst: 2 } },
    });
    await h.connect();
    for (let n = 1; n <= 6; n++) {
      void h.connection.send(`m${n}`, { channel: 'c', ack: true }).catch(() => {});
      await h.advance(1_000);
    }
    expect(publishes(h.server.last)).toHaveLength(6);
    h.server.last!.drop();
    await h.settle();
    await h.advance(100);
    expect(h.connection.status).toBe('connected');
    expect(publishes(h.server.last)).toEqual(['m1', 'm2']);
    await h.advance(1_000);
    expect(publishes(h.server.last)).toEqual(['m1', 'm2', 'm3']);
    await h.advance(3_000);
    expect(publishes(h.server.last)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
  });
});
