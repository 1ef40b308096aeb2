import { expect, it } from 'vitest';
import { ErrorCode, type SocketchartError } from '../../../src/index.js';
import type { MockSocket } from '../../../src/testing/index.js';
import { harness, type Harness } from '../../support/harness.js';
import { track, type Settled } from '../../support/settled.js';
import { failWrites } from '../../support/writing-sockets.js';

/**
 * Acknowledged sends (`ack: true`): each message is written again `acks.timeoutMs` after its last write
 * until the server acknowledges it, at most `acks.maxAttempts` writes (then TIMEOUT); again, in the original
 * order, after a reconnect; and after the `retry_after` of a rate-limit refusal, never before a message
 * held earlier. Only real writes count as attempts.
 */

const publishes = (socket: MockSocket | undefined) => (socket?.sentOfType('publish') ?? []).map((frame) => frame.data);
const idsOf = (socket: MockSocket | undefined) => (socket?.sentOfType('publish') ?? []).map((frame) => frame.id as string);

/** The server answers nothing to publishes until `ack()`ed by the test. */
function silent(h: Harness) {
  h.server.onFrame = () => undefined;
}

/** The server acknowledges every publish. */
function acking(h: Harness) {
  h.server.onFrame = (socket, frame) => {
    if (frame.json?.type === 'publish') socket.push({ type: 'ack', id: frame.json.id, seq: 1 });
  };
}

/** Fails the test instead of spinning forever when timers keep firing at one instant. */
function guardTimerStorm(h: Harness): void {
  const clock = h.clock;
  const original = clock.setTimeout.bind(clock);
  let lastAt = Number.NaN;
  let burst = 0;
  clock.setTimeout = ((fn: () => void, ms: number) =>
    original(() => {
      const now = clock.now();
      if (now === lastAt) {
        if (++burst > 1_000) throw new Error(`timer storm at t=${now}`);
      } else {
        lastAt = now;
        burst = 0;
      }
      fn();
    }, ms)) as typeof clock.setTimeout;
}

it('an ack for one message leaves the others waiting on their own timeout: an unacknowledged one is written again after acks.timeoutMs', async () => {
  const h = harness({ heartbeat: false, acks: { timeoutMs: 1_000, maxAttempts: 3 } });
  silent(h);
  await h.connect();
  const first = track(h.connection.send('first', { channel: 'c', ack: true }));
  const second = track(h.connection.send('second', { channel: 'c', ack: true }));
  await h.settle();
  const socket = h.server.last!;
  socket.push({ type: 'ack', id: idsOf(socket)[0], seq: 1 });
  await h.advance(999);
  expect(first.status).toBe('resolved');
  expect(publishes(socket)).toEqual(['first', 'second']);
  await h.advance(1);
  expect(publishes(socket)).toEqual(['first', 'second', 'second']);
  expect(second.status).toBe('pending');
});

it('each message in flight is written again at its own deadline, whatever was written before or after it', async () => {
  const h = harness({ heartbeat: false, acks: { timeoutMs: 1_000, maxAttempts: 5 } });
  silent(h);
  await h.connect();
  void h.connection.send('m1', { channel: 'c', ack: true }).catch(() => {});
  await h.settle();
  await h.advance(100);
  void h.connection.send('m2', { channel: 'c', ack: true }).catch(() => {});
  await h.settle();
  await h.advance(800);
  void h.connection.send('m3', { channel: 'c', ack: true }).catch(() => {});
  await h.settle();
  await h.advance(100);
  const socket = h.server.last!;
  expect(publishes(socket), 't=1000: m1 is due').toEqual(['m1', 'm2', 'm3', 'm1']);
  await h.advance(99);
  expect(publishes(socket)).toHaveLength(4);
  await h.advance(1);
  expect(publishes(socket), 't=1100: m2 is due').toEqual(['m1', 'm2', 'm3', 'm1', 'm2']);
  await h.advance(800);
  expect(publishes(socket), 't=1900: m3 is due').toEqual(['m1', 'm2', 'm3', 'm1', 'm2', 'm3']);
  await h.advance(100);
  expect(publishes(socket), 't=2000: m1 again').toEqual(['m1', 'm2', 'm3', 'm1', 'm2', 'm3', 'm1']);
});

it('an ack timeout that passes while the link is down writes nothing and costs no attempt: the message goes again on the next socket and resolves', async () => {
  const h = harness({ heartbeat: false, acks: { timeoutMs: 1_000, maxAttempts: 2 }, reconnect: { baseMs: 5_000, capMs: 5_000, jitter: 0 } });
  guardTimerStorm(h);
  silent(h);
  await h.connect();
  const box = track(h.connection.send('m', { channel: 'c', ack: true }));
  await h.settle();
  h.server.last!.drop();
  await h.settle();
  expect(h.connection.status).toBe('reconnecting');
  await h.advance(3_000);
  expect(box.status).toBe('pending');
  h.server.onFrame = (socket, frame) => {
    if (frame.json?.type === 'publish') socket.push({ type: 'ack', id: frame.json.id, seq: 1 });
  };
  await h.advance(2_000);
  await h.settle();
  expect(h.connection.status).toBe('connected');
  expect(publishes(h.server.last)).toEqual(['m']);
  expect(box.status).toBe('resolved');
});

it('an acknowledged message whose first write throws is not held in flight for good: it goes on a later write and resolves, and its id is free again', async () => {
  const h = harness({ heartbeat: false, acks: { timeoutMs: 1_000, maxAttempts: 3 } });
  acking(h);
  await h.connect();
  failWrites(h.server.last!);
  const box = track(h.connection.send('first', { channel: 'c', ack: true, id: 'order-1' }));
  await h.advance(1_000);
  expect(publishes(h.server.last)).toEqual(['first']);
  expect(box.status).toBe('resolved');
  const again = track(h.connection.send('again', { channel: 'c', ack: true, id: 'order-1' }));
  await h.settle();
  expect(again.status).toBe('resolved');
});

it('an ack-timeout write that throws does not throw out of the timer nor cost an attempt: the message goes after acks.timeoutMs, and the others in flight still go again', async () => {
  const h = harness({ heartbeat: false, acks: { timeoutMs: 1_000, maxAttempts: 2 } });
  guardTimerStorm(h);
  silent(h);
  await h.connect();
  const first = track(h.connection.send('a', { channel: 'a', ack: true }));
  const second = track(h.connection.send('b', { channel: 'b', ack: true }));
  await h.settle();
  const socket = h.server.last!;
  failWrites(socket);
  acking(h);
  expect(() => h.clock.advance(1_000)).not.toThrow();
  await h.settle();
  expect(publishes(socket)).toEqual(['a', 'b', 'b']);
  expect(second.status).toBe('resolved');
  await h.advance(1_000);
  expect(publishes(socket)).toEqual(['a', 'b', 'b', 'a']);
  expect(first.status).toBe('resolved');
});

it('after a reconnect, a resend whose write throws waits acks.timeoutMs and goes then, ahead of the messages after it', async () => {
  const h = harness({ heartbeat: false, acks: { timeoutMs: 1_000, maxAttempts: 2 }, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
  guardTimerStorm(h);
  silent(h);
  await h.connect();
  const sends = [track(h.connection.send('a', { channel: 'c', ack: true })), track(h.connection.send('b', { channel: 'c', ack: true }))];
  await h.settle();
  h.server.last!.drop();
  await h.settle();
  acking(h);
  h.clock.advance(100); // the reconnect dials: the new socket opens on a later turn
  const socket = h.server.last!;
  failWrites(socket);
  await h.settle();
  expect(h.connection.status).toBe('connected');
  expect(publishes(socket)).toEqual([]);
  await h.advance(1_000);
  expect(publishes(socket)).toEqual(['a', 'b']);
  expect(sends.map((box) => box.status)).toEqual(['resolved', 'resolved']);
});

it('once every acknowledged message is acknowledged, no ack timer is left behind', async () => {
  const h = harness({ heartbeat: false, acks: { timeoutMs: 10_000 } });
  silent(h);
  await h.connect();
  await h.advance(0);
  const baseline = h.clock.pending;
  const sends = [track(h.connection.send(1, { channel: 'c', ack: true })), track(h.connection.send(2, { channel: 'c', ack: true }))];
  await h.settle();
  expect(h.clock.pending).toBe(baseline + 1);
  for (const id of idsOf(h.server.last)) h.server.last!.push({ type: 'ack', id, seq: 1 });
  await h.settle();
  expect(sends.map((box) => box.status)).toEqual(['resolved', 'resolved']);
  expect(h.clock.pending).toBe(baseline);
});

it('a message written again when its rate-limit hold ends waits acks.timeoutMs for its ack before the next write', async () => {
  const h = harness({ heartbeat: false, acks: { timeoutMs: 1_000, maxAttempts: 3 } });
  let refused = false;
  h.server.onFrame = (socket, frame) => {
    if (frame.json?.type !== 'publish' || refused) return;
    refused = true;
    socket.push({ type: 'error', id: frame.json.id, code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', retry_after: 2, details: { scope: 'chat' } });
  };
  await h.connect();
  void h.connection.send('m', { channel: 'chat:1', ack: true }).catch(() => {});
  await h.settle();
  await h.advance(2_000);
  expect(publishes(h.server.last), 'written again when the hold ends').toEqual(['m', 'm']);
  await h.advance(999);
  expect(publishes(h.server.last)).toEqual(['m', 'm']);
  await h.advance(1);
  expect(publishes(h.server.last)).toEqual(['m', 'm', 'm']);
});

it('messages refused for rate limits in different scopes go again in the order they were sent, however short the later one’s retry_after', async () => {
  const h = harness({ heartbeat: false, acks: { timeoutMs: 60_000, maxAttempts: 1 } });
  const refusals: Record<string, { retry: number; scope: string }> = { first: { retry: 2, scope: 'chat' }, second: { retry: 1, scope: 'news' } };
  h.server.onFrame = (socket, frame) => {
    const json = frame.json;
    if (json?.type !== 'publish') return;
    const refusal = refusals[json.data as string];
    if (refusal) {
      delete refusals[json.data as string];
      socket.push({ type: 'error', id: json.id, code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', retry_after: refusal.retry, details: { scope: refusal.scope } });
    } else socket.push({ type: 'ack', id: json.id, seq: 1 });
  };
  await h.connect();
  const sends = [h.connection.send('first', { channel: 'chat:1', ack: true }), h.connection.send('second', { channel: 'news:1', ack: true })];
  await h.settle();
  expect(publishes(h.server.last)).toEqual(['first', 'second']);
  await h.advance(1_000);
  expect(publishes(h.server.last), 'the second waits for the first').toEqual(['first', 'second']);
  await h.advance(1_000);
  await Promise.all(sends);
  expect(publishes(h.server.last)).toEqual(['first', 'second', 'first', 'second']);
});

it('after a reconnect, unacknowledged messages go again in their original order, even when the first waits for a token and the next one would have one', async () => {
  const h = harness({
    heartbeat: false,
    acks: { timeoutMs: 60_000, maxAttempts: 3 },
    reconnect: { baseMs: 100, capMs: 100, jitter: 0 },
    rateLimit: { channels: { chat: { perMinute: 60, burst: 1 } } },
  });
  silent(h);
  await h.connect();
  const sends = [track(h.connection.send('chat', { channel: 'chat:1', ack: true })), track(h.connection.send('news', { channel: 'news:1', ack: true }))];
  await h.settle();
  expect(publishes(h.server.last)).toEqual(['chat', 'news']);
  h.server.last!.drop();
  await h.settle();
  await h.advance(100);
  await h.settle();
  expect(h.connection.status).toBe('connected');
  expect(publishes(h.server.last), 'chat has no token yet, and news goes after it').toEqual([]);
  await h.advance(900);
  expect(publishes(h.server.last)).toEqual(['chat', 'news']);
  expect(sends.map((box) => box.status)).toEqual(['pending', 'pending']);
});

it('after a reconnect, a message out of attempts fails without holding back the next one', async () => {
  const h = harness({ heartbeat: false, acks: { timeoutMs: 1_000, maxAttempts: 2 }, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
  silent(h);
  await h.connect();
  const spent = track(h.connection.send('spent', { channel: 'c', ack: true }));
  await h.settle();
  await h.advance(1_000);
  const fresh = track(h.connection.send('fresh', { channel: 'c', ack: true }));
  await h.settle();
  await h.advance(100);
  expect(publishes(h.server.last)).toEqual(['spent', 'spent', 'fresh']);
  h.server.last!.drop();
  await h.settle();
  await h.advance(100);
  await h.settle();
  expect(h.connection.status).toBe('connected');
  expect(spent.error).toMatchObject({ code: ErrorCode.TIMEOUT });
  expect(publishes(h.server.last)).toEqual(['fresh']);
  expect(fresh.status).toBe('pending');
});

it('a message out of attempts rejects with TIMEOUT carrying its id, the message given up', async () => {
  const h = harness({ heartbeat: false, acks: { timeoutMs: 1_000, maxAttempts: 2 } });
  silent(h);
  await h.connect();
  const box = track(h.connection.send('x', { channel: 'c', ack: true, id: 'm-7' }));
  await h.settle();
  await h.advance(1_000);
  expect(box.status).toBe('pending');
  await h.advance(1_000);
  expect(box.error).toMatchObject({ code: ErrorCode.TIMEOUT, messageId: 'm-7', recovery: 'fail' });
});

it('ids given to acknowledged messages are unique, also between two connections', async () => {
  const a = harness({ heartbeat: false });
  const b = harness({ heartbeat: false });
  silent(a);
  silent(b);
  await a.connect();
  await b.connect();
  for (const h of [a, b]) for (const n of [1, 2]) void h.connection.send(n, { channel: 'c', ack: true }).catch(() => {});
  await a.settle();
  const ids = [...idsOf(a.server.last), ...idsOf(b.server.last)];
  expect(ids).toHaveLength(4);
  for (const id of ids) expect(typeof id === 'string' && id.length > 0).toBe(true);
  expect(new Set(ids).size).toBe(4);
  a.connection.dispose();
  b.connection.dispose();
});

it('an ack or an error frame for an id that is not in flight changes nothing else: the ack is ignored, the error reaches on(error)', async () => {
  const h = harness({ heartbeat: false });
  h.server.onFrame = (socket, frame) => {
    if (frame.json?.type === 'publish' && frame.json.id !== undefined) socket.push({ type: 'ack', id: frame.json.id, seq: 1 });
  };
  await h.connect();
  await h.connection.send('tracked', { channel: 'c', ack: true });
  h.server.onFrame = undefined;
  const pending = track(h.connection.send('pending', { channel: 'c', ack: true, id: 'kept' }));
  await h.settle();
  const socket = h.server.last!;
  socket.push({ type: 'ack', id: 'stray', seq: 9 });
  socket.push({ type: 'error', id: 'stray', code: 'AUTHORIZATION_FAILED', message: 'not yours' });
  socket.push({ type: 'error', id: 'stray-2', code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', retry_after: 1 });
  await h.settle();
  expect(h.connection.status).toBe('connected');
  expect(h.errors.map((error) => error.code)).toEqual([ErrorCode.AUTHORIZATION_FAILED, ErrorCode.RATE_LIMIT_EXCEEDED]);
  expect(pending.status).toBe('pending');
  socket.push({ type: 'ack', id: 'kept', seq: 2 });
  await h.settle();
  expect(pending.status).toBe('resolved');
});

it('a 1009 close fails the largest acknowledged message written, whichever order they were sent in, with recovery fail and its id', async () => {
  const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
  silent(h);
  await h.connect();
  const big = track(h.connection.send('x'.repeat(2_000), { channel: 'c', ack: true, id: 'big' }));
  const small = track(h.connection.send('small', { channel: 'c', ack: true, id: 'small' }));
  await h.settle();
  h.server.last!.closeFromServer(1009, 'message too big');
  await h.advance(100);
  await h.settle();
  expect(big.error).toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE, messageId: 'big', recovery: 'fail' });
  expect(small.status).toBe('pending');
  expect(publishes(h.server.last)).toEqual(['small']);
});

it('a 1009 close fails the message of the most bytes, not of the most characters', async () => {
  const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
  silent(h);
  await h.connect();
  const ascii = track(h.connection.send('a'.repeat(1_000), { channel: 'c', ack: true, id: 'ascii' }));
  const euros = track(h.connection.send('€'.repeat(700), { channel: 'c', ack: true, id: 'euros' }));
  await h.settle();
  h.server.last!.closeFromServer(1009, 'message too big');
  await h.settle();
  expect(euros.error).toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE, messageId: 'euros' });
  expect(ascii.status).toBe('pending');
});

it('a 1009 close fails a message that was written, not a larger one still waiting in the queue', async () => {
  const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 }, rateLimit: { channels: { c: { perMinute: 6, burst: 1 } } } });
  silent(h);
  await h.connect();
  const written = track(h.connection.send('small', { channel: 'c', ack: true, id: 'written' }));
  const waiting = track(h.connection.send('y'.repeat(2_000), { channel: 'c', ack: true, id: 'waiting' }));
  await h.settle();
  expect(publishes(h.server.last)).toEqual(['small']);
  expect(h.connection.queued).toBe(1);
  h.server.last!.closeFromServer(1009, 'message too big');
  await h.settle();
  expect(written.error).toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE, messageId: 'written' });
  expect(waiting.status).toBe('pending');
});

it('a connection that never sent an acknowledged message ignores an ack frame and survives a 1009 close', async () => {
  const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
  await h.connect();
  h.server.last!.push({ type: 'ack', id: 'nothing', seq: 1 });
  await h.settle();
  expect(h.connection.status).toBe('connected');
  expect(h.errors, 'an ack nothing waits for is not an error').toEqual([]);
  h.server.last!.closeFromServer(1009, 'message too big');
  await h.advance(100);
  await h.settle();
  expect(h.connection.status).toBe('connected');
  await h.connection.send('after');
  expect(h.server.last!.sent.map((frame) => frame.raw)).toContain('after');
});

it('a message given up by its signal right after its write, and sent again at once under the same id, gets all its own attempts', async () => {
  const h = harness({ heartbeat: false, acks: { timeoutMs: 1_000, maxAttempts: 2 } });
  silent(h);
  await h.connect();
  // e.g. an autosave that replaces the save still in flight for the same document
  const controller = new AbortController();
  const replaced = track(h.connection.send('old', { channel: 'c', id: 'doc-1', ack: true, signal: controller.signal }));
  controller.abort();
  const replacing = track(h.connection.send('new', { channel: 'c', id: 'doc-1', ack: true }));
  await h.settle();
  expect(replaced.status).toBe('rejected');
  await h.advance(1_000);
  expect(publishes(h.server.last), 'written again after acks.timeoutMs').toEqual(['old', 'new', 'new']);
  expect(replacing.status).toBe('pending');
  await h.advance(1_000);
  expect(replacing.error).toMatchObject({ code: ErrorCode.TIMEOUT, message: 'No ack after 2 writes' });
});
