import { describe, expect, it } from 'vitest';
import { ErrorCode, plainProtocol, type InboundMessage, type SocketchartError } from '../../../src/index.js';
import { SimulatedClock, type MockSocket } from '../../../src/testing/index.js';
import { bytesSentBeforeBufferReused, harness, settle, type Harness } from '../../support/harness.js';
import { track, type Settled } from '../../support/settled.js';

/** Records every inspection event of the connection (and its children) by type. */
function inspection() {
  const types: string[] = [];
  return {
    types,
    inspect: (event: unknown) => {
      types.push((event as { type: string }).type);
    },
    /** Inspection events recorded since `mark`. */
    since: (mark: number) => types.slice(mark),
  };
}

const socketOf = (h: Harness): MockSocket => {
  const socket = h.server.last;
  if (!socket) throw new Error('no socket was dialed');
  return socket;
};

/** Raw frames a socket received from the client, in order. */
const raws = (socket: MockSocket) => socket.sent.map((frame) => frame.raw);

/** Drops the socket of a harness whose reconnect waits 100 ms; returns the subscribe frames of the next one. */
async function resubscribed(h: Harness): Promise<unknown[]> {
  h.server.last!.drop();
  await h.settle();
  await h.advance(100);
  return h.server.last!.sentOfType('subscribe');
}

/**
 * A SimulatedClock that fails loudly instead of spinning forever when a timer keeps re-arming itself
 * at the same instant (SimulatedClock.advance would otherwise never return).
 */
class StormGuardClock extends SimulatedClock {
  private lastFiredAt = Number.NaN;
  private burst = 0;
  override setTimeout(fn: () => void, ms: number) {
    return super.setTimeout(() => {
      const now = this.now();
      if (now === this.lastFiredAt) {
        if (++this.burst > 1_000) throw new Error(`timer storm: more than 1000 timers fired at t=${now} without time advancing`);
      } else {
        this.lastFiredAt = now;
        this.burst = 0;
      }
      fn();
    }, ms);
  }
}

describe('data plane', () => {
  // Fast path

  it('send() while connected writes straight to the socket with no machine event and no new snapshot', async () => {
    const spy = inspection();
    const h = harness({ inspect: spy.inspect });
    await h.connect();
    const socket = socketOf(h);
    const before = h.connection.snapshot;
    const mark = spy.types.length;
    const sent = h.connection.send({ hello: 'world' }, { channel: 'chat:1' });
    expect(raws(socket).at(-1)).toBe('{"type":"publish","ch":"chat:1","data":{"hello":"world"}}');
    expect(spy.since(mark).filter((type) => type === '@xstate.event')).toEqual([]);
    expect(spy.since(mark)).toEqual([]);
    expect(h.connection.snapshot).toBe(before);
    await expect(sent).resolves.toBeUndefined();
  });

  it('a burst of fast-path sends costs no state transition at all and each is counted in the metrics', async () => {
    const spy = inspection();
    const h = harness({ inspect: spy.inspect });
    await h.connect();
    const before = h.connection.snapshot;
    const mark = spy.types.length;
    for (let i = 0; i < 1_000; i++) void h.connection.send(`m${i}`);
    expect(spy.since(mark)).toEqual([]);
    expect(h.connection.snapshot).toBe(before);
    expect(raws(socketOf(h)).slice(-3)).toEqual(['m997', 'm998', 'm999']);
    expect(h.connection.metrics().messagesOut).toBe(1_000);
    expect(h.connection.queued).toBe(0);
  });

  it('inbound message frames reach channel subscribers and on(message) listeners with no machine event', async () => {
    const spy = inspection();
    const h = harness({ inspect: spy.inspect });
    const onRoom: Array<[unknown, InboundMessage]> = [];
    const onAny: InboundMessage[] = [];
    h.connection.subscribe('room', (data, message) => onRoom.push([data, message]));
    h.connection.on('message', (message) => onAny.push(message));
    await h.connect();
    const before = h.connection.snapshot;
    const mark = spy.types.length;
    socketOf(h).push({ type: 'message', ch: 'room', seq: 1, id: 'x1', event: 'chat', data: { text: 'hi' } });
    socketOf(h).push({ type: 'message', ch: 'elsewhere', seq: 1, data: 'other' });
    expect(onRoom).toEqual([[{ text: 'hi' }, expect.objectContaining({ ch: 'room', seq: 1, id: 'x1', event: 'chat', data: { text: 'hi' } })]]);
    expect(onAny.map((message) => [message.ch, message.data])).toEqual([
      ['room', { text: 'hi' }],
      ['elsewhere', 'other'],
    ]);
    expect(spy.since(mark).filter((type) => type === '@xstate.event')).toEqual([]);
    expect(spy.since(mark)).toEqual([]);
    expect(h.connection.snapshot).toBe(before);
    expect(h.connection.metrics().messagesIn).toBeGreaterThanOrEqual(2);
  });

  // Queueing and flushing

  it('send() before start() queues, and on connect the queue is flushed by priority, FIFO within a priority', async () => {
    const h = harness();
    const sends = (
      [
        ['low-1', 'low'],
        ['normal-1', 'normal'],
        ['critical-1', 'critical'],
        ['high-1', 'high'],
        ['normal-2', 'normal'],
        ['low-2', 'low'],
        ['critical-2', 'critical'],
        ['high-2', 'high'],
      ] as const
    ).map(([data, priority]) => track(h.connection.send(data, { priority })));
    expect(h.connection.queued).toBe(8);
    await h.connect();
    expect(h.connection.status).toBe('connected');
    expect(raws(socketOf(h))).toEqual(['critical-1', 'critical-2', 'high-1', 'high-2', 'normal-1', 'normal-2', 'low-1', 'low-2']);
    expect(sends.map((box) => box.status)).toEqual(Array(8).fill('resolved'));
    expect(h.connection.queued).toBe(0);
  });

  it('the queued messages go out before any message sent after the connect', async () => {
    const h = harness();
    void h.connection.send('queued-normal');
    void h.connection.send('queued-low', { priority: 'low' });
    await h.connect();
    void h.connection.send('later', { priority: 'critical' });
    expect(raws(socketOf(h))).toEqual(['queued-normal', 'queued-low', 'later']);
  });

  it('send() while reconnecting queues, and the new socket receives the queue in priority order first', async () => {
    const h = harness();
    await h.connect();
    const first = socketOf(h);
    h.server.dropAll();
    await h.settle();
    expect(h.connection.status).toBe('reconnecting');
    const boxes = [
      track(h.connection.send('n1')),
      track(h.connection.send('h1', { priority: 'high' })),
      track(h.connection.send('n2')),
      track(h.connection.send('c1', { priority: 'critical' })),
    ];
    expect(h.connection.queued).toBe(4);
    expect(boxes.map((box) => box.status)).toEqual(Array(4).fill('pending'));
    await h.advance(1_250);
    await h.settle();
    expect(h.connection.status).toBe('connected');
    const second = socketOf(h);
    expect(second).not.toBe(first);
    void h.connection.send('after');
    expect(raws(second)).toEqual(['c1', 'h1', 'n1', 'n2', 'after']);
    await h.settle();
    expect(boxes.map((box) => box.status)).toEqual(Array(4).fill('resolved'));
  });

  it('a send while the socket is closing (its close event not yet fired) is queued for the next socket, not resolved as written', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const first = socketOf(h);
    first.readyState = 2;
    expect(h.connection.status).toBe('connected');
    const box = track(h.connection.send('during-close'));
    await h.settle();
    expect(box.status).toBe('pending');
    expect(raws(first)).toEqual([]);
    first.closeFromServer(1012, 'restart');
    await h.advance(5_000);
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(raws(socketOf(h))).toEqual(['during-close']);
    expect(box.status).toBe('resolved');
  });

  it('messages sent while the queue is still draining go after the queue (order preserved)', async () => {
    const h = harness({ queue: { highWaterMark: 1_000 } }, { autoOpen: false });
    void h.connection.send('q-normal');
    void h.connection.send('q-high', { priority: 'high' });
    h.connection.start();
    await h.settle();
    const socket = socketOf(h);
    socket.bufferedAmount = 5_000;
    socket.accept();
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(h.connection.snapshot.children.flusher).toBeDefined();
    void h.connection.send('during-1');
    void h.connection.send('during-2');
    expect(raws(socket)).toEqual([]);
    socket.bufferedAmount = 0;
    await h.advance(10);
    expect(raws(socket)).toEqual(['q-high', 'q-normal', 'during-1', 'during-2']);
    expect(h.connection.snapshot.children.flusher).toBeUndefined();
  });

  it('bufferedAmount at the high-water mark queues send() and starts the flusher, which drains once the buffer falls', async () => {
    const spy = inspection();
    const h = harness({ inspect: spy.inspect, queue: { highWaterMark: 1_000 } });
    await h.connect();
    const socket = socketOf(h);
    expect(h.connection.snapshot.children.flusher).toBeUndefined();

    socket.bufferedAmount = 1_000;
    const box = track(h.connection.send('backed-up'));
    expect(h.connection.queued).toBe(1);
    expect(raws(socket)).not.toContain('backed-up');
    expect(h.connection.snapshot.children.flusher).toBeDefined();

    await h.advance(100);
    expect(box.status).toBe('pending');
    expect(h.connection.queued).toBe(1);
    expect(h.connection.snapshot.children.flusher).toBeDefined();

    socket.bufferedAmount = 999;
    await h.advance(10);
    expect(raws(socket)).toContain('backed-up');
    expect(box.status).toBe('resolved');
    expect(h.connection.queued).toBe(0);
    expect(h.connection.snapshot.children.flusher).toBeUndefined();

    const mark = spy.types.length;
    const before = h.connection.snapshot;
    void h.connection.send('fast-again');
    expect(raws(socket).at(-1)).toBe('fast-again');
    expect(spy.since(mark)).toEqual([]);
    expect(h.connection.snapshot).toBe(before);
  });

  it('bufferedAmount above the high-water mark also queues', async () => {
    const h = harness({ queue: { highWaterMark: 1_000 } });
    await h.connect();
    socketOf(h).bufferedAmount = 50_000;
    void h.connection.send('x');
    expect(h.connection.queued).toBe(1);
    expect(h.connection.snapshot.children.flusher).toBeDefined();
  });

  // TTL, overflow, close

  it('a queued message expires with MESSAGE_EXPIRED at its ttl, not before', async () => {
    const clock = new StormGuardClock(1_700_000_000_000);
    const h = harness({ clock });
    const box = track(h.connection.send('stale', { ttl: 1_000 }));
    const fresh = track(h.connection.send('fresh'));
    clock.advance(999);
    await settle();
    expect(box.status).toBe('pending');
    clock.advance(1);
    await settle();
    expect(box.status).toBe('rejected');
    expect(box.error?.code).toBe(ErrorCode.MESSAGE_EXPIRED);
    expect(h.connection.queued).toBe(1);
    expect(fresh.status).toBe('pending');
    h.connection.stop();
    await settle();
  });

  it('queue.defaultTtlMs applies to sends without a ttl', async () => {
    const clock = new StormGuardClock(1_700_000_000_000);
    const h = harness({ clock, queue: { defaultTtlMs: 500 } });
    const box = track(h.connection.send('x'));
    clock.advance(499);
    await settle();
    expect(box.status).toBe('pending');
    clock.advance(1);
    await settle();
    expect(box.error?.code).toBe(ErrorCode.MESSAGE_EXPIRED);
    h.connection.stop();
    await settle();
  });

  it('overflow "reject": a send that does not fit rejects with QUEUE_OVERFLOW and the queued ones survive', async () => {
    const h = harness({ queue: { maxMessages: 2, overflow: 'reject' } });
    const a = track(h.connection.send('a', { priority: 'low' }));
    const b = track(h.connection.send('b'));
    const c = track(h.connection.send('c', { priority: 'critical' }));
    await h.settle();
    expect(c.status).toBe('rejected');
    expect(c.error?.code).toBe(ErrorCode.QUEUE_OVERFLOW);
    expect(h.connection.queued).toBe(2);
    await h.connect();
    expect(raws(socketOf(h))).toEqual(['b', 'a']);
    expect([a.status, b.status]).toEqual(['resolved', 'resolved']);
  });

  it('overflow "evict-lowest": a higher-priority send evicts the lowest, oldest queued message with QUEUE_OVERFLOW', async () => {
    const h = harness({ queue: { maxMessages: 2, overflow: 'evict-lowest' } });
    const low = track(h.connection.send('low', { priority: 'low' }));
    const normal = track(h.connection.send('normal'));
    const high = track(h.connection.send('high', { priority: 'high' }));
    await h.settle();
    expect(low.status).toBe('rejected');
    expect(low.error?.code).toBe(ErrorCode.QUEUE_OVERFLOW);
    const lower = track(h.connection.send('too-low', { priority: 'low' }));
    await h.settle();
    expect(lower.error?.code).toBe(ErrorCode.QUEUE_OVERFLOW);
    await h.connect();
    expect(raws(socketOf(h))).toEqual(['high', 'normal']);
    expect([normal.status, high.status]).toEqual(['resolved', 'resolved']);
  });

  it('metrics().drops counts a send the full queue refuses (overflow "reject")', async () => {
    const h = harness({ heartbeat: false, queue: { maxMessages: 1, overflow: 'reject' } });
    void h.connection.send('kept', { channel: 'c' }).catch(() => {});
    await expect(h.connection.send('refused', { channel: 'c' })).rejects.toMatchObject({ code: ErrorCode.QUEUE_OVERFLOW });
    expect(h.connection.metrics().drops).toBe(1);
  });

  it('metrics().drops counts a queued send evicted for a higher priority', async () => {
    const h = harness({ heartbeat: false, queue: { maxMessages: 1 } });
    const low = h.connection.send('low', { channel: 'c', priority: 'low' });
    void h.connection.send('high', { channel: 'c', priority: 'high' }).catch(() => {});
    await expect(low).rejects.toMatchObject({ code: ErrorCode.QUEUE_OVERFLOW });
    expect(h.connection.metrics().drops).toBe(1);
  });

  it('metrics().drops counts a queued send that expires, and its drop rate lowers the health score', async () => {
    const h = harness({ heartbeat: false });
    const sent = h.connection.send('stale', { channel: 'c', ttl: 1_000 });
    sent.catch(() => {});
    await h.advance(1_000);
    await expect(sent).rejects.toMatchObject({ code: ErrorCode.MESSAGE_EXPIRED });
    expect(h.connection.metrics().drops).toBe(1);
    await h.connect();
    expect(h.connection.metrics().healthScore).toBeLessThan(1);
  });

  it('the queue bound queue.maxBytes counts UTF-8 bytes, not UTF-16 code units', async () => {
    const h = harness({ queue: { maxBytes: 100, overflow: 'reject' } });
    const box = track(h.connection.send('é'.repeat(60)));
    await h.settle();
    expect(box.status).toBe('rejected');
    expect(box.error?.code).toBe(ErrorCode.QUEUE_OVERFLOW);
  });

  it('stop() rejects every queued send with CLOSED', async () => {
    const h = harness();
    const boxes = [track(h.connection.send('a')), track(h.connection.send('b', { priority: 'high' }))];
    h.connection.stop();
    await h.settle();
    expect(h.connection.status).toBe('closed');
    expect(boxes.map((box) => box.error?.code)).toEqual([ErrorCode.CLOSED, ErrorCode.CLOSED]);
    expect(h.connection.queued).toBe(0);
  });

  it('stop() while reconnecting rejects the sends queued during the backoff with CLOSED', async () => {
    const h = harness();
    await h.connect();
    h.server.dropAll();
    await h.settle();
    const box = track(h.connection.send('a'));
    h.connection.stop();
    await h.settle();
    expect(box.error?.code).toBe(ErrorCode.CLOSED);
  });

  it('send() after stop rejects with CLOSED and writes nothing', async () => {
    const h = harness();
    await h.connect();
    h.connection.stop();
    await h.settle();
    expect(h.connection.status).toBe('closed');
    const written = socketOf(h).sent.length;
    await expect(h.connection.send('late')).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    expect(socketOf(h).sent.length).toBe(written);
  });

  it('failed rejects queued sends with CLOSED carrying the fatal error as its cause', async () => {
    const h = harness({ auth: { token: 't' } }, { autoAuth: false });
    h.connection.start();
    await h.settle();
    expect(h.connection.status).toBe('authenticating');
    const box = track(h.connection.send('a'));
    socketOf(h).closeFromServer(4003, 'forbidden');
    await h.settle();
    expect(h.connection.status).toBe('failed');
    expect(box.error?.code).toBe(ErrorCode.CLOSED);
    const cause = box.error?.cause as SocketchartError | undefined;
    expect(cause?.code).toBe(ErrorCode.AUTHORIZATION_FAILED);
    expect(cause).toBe(h.connection.lastError);
    await expect(h.connection.send('after')).rejects.toMatchObject({ code: ErrorCode.CLOSED });
  });

  // Size and format

  it('rejects a message above maxMessageBytes with MESSAGE_TOO_LARGE and writes nothing; exactly the limit passes', async () => {
    const h = harness({ maxMessageBytes: 100 });
    await h.connect();
    const socket = socketOf(h);
    await expect(h.connection.send('x'.repeat(101))).rejects.toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE });
    await expect(h.connection.send({ text: 'x'.repeat(70) }, { channel: 'chat:1' })).rejects.toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE });
    await expect(h.connection.send(new Uint8Array(101))).rejects.toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE });
    expect(socket.sent).toEqual([]);
    await expect(h.connection.send('x'.repeat(100))).resolves.toBeUndefined();
    expect(h.connection.status).toBe('connected');
  });

  it.each([
    ['jsonProtocol', undefined],
    ['plainProtocol', plainProtocol()],
  ])('with %s, a Blob is refused with INVALID_MESSAGE_FORMAT, never written as the JSON "{}"', async (_, protocol) => {
    const h = harness(protocol ? { protocol, heartbeat: false } : {});
    await h.connect();
    const blob = new Blob([new Uint8Array([1, 2, 3])]);
    await expect(h.connection.send(blob)).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT, recovery: 'fail' });
    await expect(h.connection.send(blob, { channel: 'chat:1' })).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT });
    expect(socketOf(h).sent).toEqual([]);
  });

  it('a priority that is not one rejects with INVALID_OPTION on the fast path as when queued, and writes nothing', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    for (const priority of ['urgent', 'toString', 3]) {
      await expect(h.connection.send('x', { priority: priority as 'high' })).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION });
    }
    expect(socketOf(h).sent).toEqual([]);
    await expect(h.connection.send('ok', { priority: 'high' })).resolves.toBeUndefined();
  });

  it('counts UTF-8 bytes: a multi-byte string under the limit in UTF-16 length but over it in bytes is MESSAGE_TOO_LARGE', async () => {
    const h = harness({ maxMessageBytes: 100 });
    await h.connect();
    const accented = 'é'.repeat(60); // 60 code units, 120 bytes
    const emoji = '😀'.repeat(30); // 60 code units, 120 bytes
    await expect(h.connection.send(accented)).rejects.toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE });
    await expect(h.connection.send(emoji)).rejects.toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE });
    await expect(h.connection.send('é'.repeat(50))).resolves.toBeUndefined(); // exactly 100 bytes
    expect(raws(socketOf(h))).toEqual(['é'.repeat(50)]);
  });

  it('MESSAGE_TOO_LARGE applies while queued too (before start)', async () => {
    const h = harness({ maxMessageBytes: 100 });
    await expect(h.connection.send('é'.repeat(60))).rejects.toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE });
    expect(h.connection.queued).toBe(0);
  });

  it('data that is neither text nor binary, sent without a channel, rejects with INVALID_MESSAGE_FORMAT (the server would refuse it) and writes nothing', async () => {
    const h = harness();
    await h.connect();
    await expect(h.connection.send({ ping: true })).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT, recovery: 'fail' });
    await expect(h.connection.send(42)).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT });
    expect(socketOf(h).sent).toEqual([]);
    expect(h.connection.status).toBe('connected');
  });

  it('data that cannot be encoded (circular object) rejects with INVALID_MESSAGE_FORMAT and the connection carries on', async () => {
    const h = harness();
    await h.connect();
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    await expect(h.connection.send(circular, { channel: 'chat:1' })).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT, message: 'The message cannot be encoded' });
    await expect(h.connection.send({ big: 1n }, { channel: 'chat:1' })).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT, message: 'The message cannot be encoded' });
    expect(socketOf(h).sent).toEqual([]);
    expect(h.connection.status).toBe('connected');
    await expect(h.connection.send({ ok: true }, { channel: 'chat:1' })).resolves.toBeUndefined();
  });

  it('binary frames (ArrayBuffer, Uint8Array) pass through send() unchanged', async () => {
    const h = harness();
    await h.connect();
    const buffer = new Uint8Array([1, 2, 3]).buffer;
    const view = new Uint8Array([4, 5, 6, 7]);
    await h.connection.send(buffer);
    await h.connection.send(view);
    const [first, second] = socketOf(h).sent;
    expect(first?.raw).toEqual(buffer);
    expect(second?.raw).toEqual(view);
    expect(h.connection.metrics().bytesOut).toBe(7);
  });

  it('binary frames queued before start go out unchanged on connect', async () => {
    const h = harness();
    const view = new Uint8Array([9, 8, 7]);
    void h.connection.send(view);
    await h.connect();
    expect(socketOf(h).sent[0]?.raw).toEqual(view);
  });

  it('binary queued while the link is down goes as it was when sent: an app that reuses its buffer changes nothing queued, as a browser copies at send()', async () => {
    const h = harness();
    expect(await bytesSentBeforeBufferReused(h)).toEqual([
      [1, 2],
      [0, 1, 2, 0],
    ]);
  });

  // Subscriptions

  it('subscribe() sends a subscribe frame when connected; only unsubscribing the last listener sends unsubscribe', async () => {
    const h = harness();
    await h.connect();
    const socket = socketOf(h);
    const off1 = h.connection.subscribe('room', () => {});
    expect(socket.sentOfType('subscribe')).toEqual([{ type: 'subscribe', ch: 'room' }]);
    const off2 = h.connection.subscribe('room', () => {});
    expect(socket.sentOfType('subscribe')).toHaveLength(1);
    off1();
    off1();
    expect(socket.sentOfType('unsubscribe')).toEqual([]);
    off2();
    expect(socket.sentOfType('unsubscribe')).toEqual([{ type: 'unsubscribe', ch: 'room' }]);
    off2();
    expect(socket.sentOfType('unsubscribe')).toHaveLength(1);
  });

  it('subscribe() before connecting sends nothing until connected, then subscribes without since', async () => {
    const h = harness();
    h.connection.subscribe('room', () => {});
    h.connection.subscribe('news', () => {});
    await h.connect();
    expect(socketOf(h).sentOfType('subscribe')).toEqual([
      { type: 'subscribe', ch: 'room' },
      { type: 'subscribe', ch: 'news' },
    ]);
  });

  it('subscribe() and unsubscribe while authenticating write nothing before the auth answer; the channels still held are subscribed once it comes', async () => {
    const h = harness({ auth: { token: 't' } }, { autoAuth: false });
    await h.connect();
    expect(h.connection.status).toBe('authenticating');
    h.connection.subscribe('room', () => {});
    h.connection.subscribe('news', () => {})();
    const socket = socketOf(h);
    expect(socket.sentOfType('subscribe')).toEqual([]);
    expect(socket.sentOfType('unsubscribe')).toEqual([]);
    socket.push({ type: 'auth_ok', userId: 'u', sessionId: 's' });
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(socket.sentOfType('subscribe')).toEqual([{ type: 'subscribe', ch: 'room' }]);
    expect(socket.sentOfType('unsubscribe')).toEqual([]);
  });

  it('after a reconnect every channel is resubscribed with since = the last seq seen', async () => {
    const h = harness();
    h.connection.subscribe('a', () => {});
    h.connection.subscribe('b', () => {});
    h.connection.subscribe('quiet', () => {});
    await h.connect();
    const first = socketOf(h);
    first.push({ type: 'message', ch: 'a', seq: 1, data: 1 });
    first.push({ type: 'message', ch: 'a', seq: 2, data: 2 });
    first.push({ type: 'message', ch: 'a', seq: 3, data: 3 });
    first.push({ type: 'message', ch: 'b', seq: 7, data: 7 });
    h.server.dropAll();
    await h.settle();
    expect(h.connection.status).toBe('reconnecting');
    await h.advance(1_250);
    await h.settle();
    expect(h.connection.status).toBe('connected');
    const second = socketOf(h);
    expect(second).not.toBe(first);
    expect(second.sentOfType('subscribe')).toEqual([
      { type: 'subscribe', ch: 'a', since: 3 },
      { type: 'subscribe', ch: 'b', since: 7 },
      { type: 'subscribe', ch: 'quiet' },
    ]);
  });

  it('subscribed tells a channel that has seen nothing where it starts: a reconnect resumes from there, or from the last message after it', async () => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    h.connection.subscribe('quiet', () => {});
    h.connection.subscribe('busy', () => {});
    await h.connect();
    h.server.last!.push({ type: 'subscribed', ch: 'quiet', seq: 12 });
    h.server.last!.push({ type: 'subscribed', ch: 'busy', seq: 30 });
    h.server.last!.push({ type: 'message', ch: 'busy', seq: 31, data: 31 });
    h.server.last!.push({ type: 'subscribed', ch: 'nobody', seq: 7 });
    expect(await resubscribed(h)).toEqual([
      { type: 'subscribe', ch: 'quiet', since: 12 },
      { type: 'subscribe', ch: 'busy', since: 31 },
    ]);
  });

  it('a resume answered with a subscribed seq below the one sent (the server numbers anew, behind it) delivers the messages numbered after that seq', async () => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    const got: unknown[] = [];
    h.connection.subscribe('feed', (data) => got.push(data));
    await h.connect();
    h.server.last!.push({ type: 'message', ch: 'feed', seq: 500, data: 'old' });
    expect(await resubscribed(h)).toEqual([{ type: 'subscribe', ch: 'feed', since: 500 }]);
    h.server.last!.push({ type: 'subscribed', ch: 'feed', seq: 7 });
    h.server.last!.push({ type: 'message', ch: 'feed', seq: 8, data: 'new' });
    expect(got).toEqual(['old', 'new']);
    expect(await resubscribed(h)).toEqual([{ type: 'subscribe', ch: 'feed', since: 8 }]);
  });

  it.each(['1e400', '-3', '2.5'])('a message whose seq is %s is not taken as the resume point: the channel resumes as if it had seen none', async (seq) => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    h.connection.subscribe('feed', () => {});
    await h.connect();
    h.server.last!.push(`{"type":"message","ch":"feed","seq":${seq},"data":"odd"}`);
    expect(await resubscribed(h)).toEqual([{ type: 'subscribe', ch: 'feed' }]);
  });

  it.each(['-1', '2.5', '1e400'])('a subscribed frame whose seq is %s is not taken as the resume point', async (seq) => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    h.connection.subscribe('feed', () => {});
    await h.connect();
    h.server.last!.push(`{"type":"subscribed","ch":"feed","seq":${seq}}`);
    expect(await resubscribed(h)).toEqual([{ type: 'subscribe', ch: 'feed' }]);
  });

  it('a channel unsubscribed before the reconnect is not resubscribed', async () => {
    const h = harness();
    const off = h.connection.subscribe('gone', () => {});
    h.connection.subscribe('kept', () => {});
    await h.connect();
    off();
    h.server.dropAll();
    await h.settle();
    await h.advance(1_250);
    await h.settle();
    expect(socketOf(h).sentOfType('subscribe')).toEqual([{ type: 'subscribe', ch: 'kept' }]);
  });

  it('an inbound message whose seq was already seen is dropped and counted in metrics().duplicates: each is delivered once, also across a reconnect replay', async () => {
    const h = harness();
    const got: unknown[] = [];
    const any: unknown[] = [];
    h.connection.subscribe('a', (data) => got.push(data));
    h.connection.on('message', (message) => any.push(message.data));
    await h.connect();
    const first = socketOf(h);
    for (const seq of [1, 2, 2, 1, 3]) first.push({ type: 'message', ch: 'a', seq, data: `m${seq}` });
    expect(got).toEqual(['m1', 'm2', 'm3']);
    expect(any).toEqual(['m1', 'm2', 'm3']);

    h.server.dropAll();
    await h.settle();
    await h.advance(1_250);
    await h.settle();
    const second = socketOf(h);
    expect(second.sentOfType('subscribe')).toEqual([{ type: 'subscribe', ch: 'a', since: 3 }]);
    for (const seq of [2, 3, 4, 5]) second.push({ type: 'message', ch: 'a', seq, data: `m${seq}` });
    expect(got).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(any).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(h.connection.metrics().duplicates).toBe(4);
  });
});

describe('gaps', () => {
  it('tells listeners of a gap in a subscribed channel, with its range, and resumes after it', async () => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    const got: unknown[] = [];
    const gaps: Array<{ ch: string; from: number; to: number }> = [];
    h.connection.subscribe('feed', (data) => got.push(data));
    h.connection.on('gap', (gap) => gaps.push(gap));
    await h.connect();
    h.server.last!.push({ type: 'message', ch: 'feed', seq: 1, data: 'a' });
    h.server.last!.push({ type: 'gap', ch: 'feed', from: 2, to: 40 });
    h.server.last!.push({ type: 'message', ch: 'feed', seq: 41, data: 'b' });
    expect(gaps).toEqual([{ ch: 'feed', from: 2, to: 40 }]);
    expect(got).toEqual(['a', 'b']);
    expect(await resubscribed(h)).toEqual([{ type: 'subscribe', ch: 'feed', since: 41 }]);
  });

  it('a gap before any message of the channel moves its resume point past the gap', async () => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    h.connection.subscribe('feed', () => {});
    await h.connect();
    h.server.last!.push({ type: 'gap', ch: 'feed', from: 1, to: 9 });
    expect(await resubscribed(h)).toEqual([{ type: 'subscribe', ch: 'feed', since: 9 }]);
  });

  it('a gap for numbers already delivered does not move the resume point back', async () => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    h.connection.subscribe('feed', () => {});
    await h.connect();
    for (let seq = 1; seq <= 5; seq++) h.server.last!.push({ type: 'message', ch: 'feed', seq, data: seq });
    h.server.last!.push({ type: 'gap', ch: 'feed', from: 2, to: 5 });
    h.server.last!.push({ type: 'gap', ch: 'feed', from: 2, to: 3 });
    expect(await resubscribed(h)).toEqual([{ type: 'subscribe', ch: 'feed', since: 5 }]);
  });

  it('a gap frame whose to is 1e400 (Infinity once parsed) is ignored: later messages of its channel are delivered, and the resume point stays', async () => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    const got: unknown[] = [];
    const gaps: unknown[] = [];
    h.connection.subscribe('feed', (data) => got.push(data));
    h.connection.on('gap', (gap) => gaps.push(gap));
    await h.connect();
    h.server.last!.push({ type: 'message', ch: 'feed', seq: 1, data: 'a' });
    h.server.last!.push('{"type":"gap","ch":"feed","from":2,"to":1e400}');
    h.server.last!.push({ type: 'gap', ch: 'feed', from: -1, to: 2.5 });
    h.server.last!.push({ type: 'message', ch: 'feed', seq: 5, data: 'b' });
    expect({ got, gaps }).toEqual({ got: ['a', 'b'], gaps: [] });
    expect(await resubscribed(h)).toEqual([{ type: 'subscribe', ch: 'feed', since: 5 }]);
  });

  it('only a gap frame announces a gap: subscribed, ack and message frames with numbers do not', async () => {
    const h = harness();
    const gaps: unknown[] = [];
    h.connection.subscribe('feed', () => {});
    h.connection.on('gap', (gap) => gaps.push(gap));
    await h.connect();
    h.server.last!.push({ type: 'subscribed', ch: 'feed', seq: 3 });
    h.server.last!.push({ type: 'ack', id: 'x', ch: 'feed', seq: 4, from: 1, to: 2 });
    h.server.last!.push({ type: 'message', ch: 'feed', seq: 5, data: 5, from: 1, to: 2 });
    expect(gaps).toEqual([]);
  });

  it('ignores a gap announced for a channel nobody listens to', async () => {
    const h = harness();
    const gaps: unknown[] = [];
    h.connection.on('gap', (gap) => gaps.push(gap));
    await h.connect();
    h.server.last!.push({ type: 'gap', ch: 'other', from: 1, to: 2 });
    expect(gaps).toEqual([]);
  });

  it('ignores a gap announced for a channel not subscribed while other channels are', async () => {
    const h = harness();
    const gaps: unknown[] = [];
    h.connection.subscribe('feed', () => {});
    h.connection.on('gap', (gap) => gaps.push(gap));
    await h.connect();
    h.server.last!.push({ type: 'gap', ch: 'other', from: 1, to: 2 });
    expect(gaps).toEqual([]);
  });
});

describe('channels the server refuses', () => {
  const refusal = { type: 'error', code: 'AUTHORIZATION_FAILED', message: 'not allowed', details: { ch: 'admin:x', action: 'subscribe' } };

  it('a refused channel is dropped: its listeners hear a refused event, it is not subscribed again after a reconnect, and its unsubscribe sends nothing', async () => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    const refused: Array<{ ch: string; error: SocketchartError }> = [];
    h.connection.on('refused', (event) => refused.push(event));
    const off = h.connection.subscribe('admin:x', () => {});
    h.connection.subscribe('feed', () => {});
    await h.connect();
    h.server.last!.push(refusal);
    expect(refused).toEqual([{ ch: 'admin:x', error: expect.objectContaining({ code: ErrorCode.AUTHORIZATION_FAILED, details: refusal.details }) }]);
    expect(h.errors.map((error) => [error.code, error.recovery]), 'reported as an error frame nothing waited for').toEqual([[ErrorCode.AUTHORIZATION_FAILED, 'none']]);
    off();
    expect(h.server.last!.sentOfType('unsubscribe')).toEqual([]);
    expect(await resubscribed(h)).toEqual([{ type: 'subscribe', ch: 'feed' }]);
  });

  it('subscribing again to a refused channel asks the server again', async () => {
    const h = harness();
    h.connection.subscribe('admin:x', () => {});
    await h.connect();
    h.server.last!.push(refusal);
    const got: unknown[] = [];
    h.connection.subscribe('admin:x', (data) => got.push(data));
    expect(h.server.last!.sentOfType('subscribe')).toEqual([
      { type: 'subscribe', ch: 'admin:x' },
      { type: 'subscribe', ch: 'admin:x' },
    ]);
    h.server.last!.push({ type: 'message', ch: 'admin:x', seq: 1, data: 'granted now' });
    expect(got).toEqual(['granted now']);
  });

  it('a subscription the server ends after a token refresh (unsubscribed, forbidden) is dropped as a refusal', async () => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    const refused: Array<{ ch: string; error: SocketchartError }> = [];
    h.connection.on('refused', (event) => refused.push(event));
    h.connection.subscribe('admin:x', () => {});
    await h.connect();
    h.server.last!.push({ type: 'unsubscribed', ch: 'admin:x', reason: 'forbidden' });
    expect(refused).toEqual([{ ch: 'admin:x', error: expect.objectContaining({ code: ErrorCode.AUTHORIZATION_FAILED, details: { ch: 'admin:x', action: 'subscribe' } }) }]);
    expect(await resubscribed(h)).toEqual([]);
  });

  it("refuses nothing on other error frames, on a refusal of a channel nobody listens to, or on the answer to the app's own unsubscribe", async () => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    const refused: unknown[] = [];
    h.connection.on('refused', (event) => refused.push(event));
    h.connection.subscribe('feed', () => {});
    await h.connect();
    h.server.last!.push({ ...refusal, details: { ch: 'other', action: 'subscribe' } });
    h.server.last!.push({ type: 'error', code: 'AUTHORIZATION_FAILED', message: 'not allowed', details: { ch: 'feed', action: 'publish' } });
    h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: 'subscribe failed: history unavailable, retry', details: { ch: 'feed' } });
    h.server.last!.push({ type: 'unsubscribed', ch: 'feed' });
    expect(refused).toEqual([]);
    expect(await resubscribed(h)).toEqual([{ type: 'subscribe', ch: 'feed' }]);
  });

  /** A connection whose server has answered a subscribe (of `feed`), where `admin:x` is subscribed, unsubscribed and subscribed again before any answer. */
  async function askedAgain(answers = true) {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    const refused: Array<{ ch: string; error: SocketchartError }> = [];
    const got: unknown[] = [];
    h.connection.on('refused', (event) => refused.push(event));
    h.connection.subscribe('feed', () => {});
    await h.connect();
    if (answers) h.server.last!.push({ type: 'subscribed', ch: 'feed', seq: 0 });
    h.connection.subscribe('admin:x', () => {})();
    h.connection.subscribe('admin:x', (data) => got.push(data));
    return { h, refused, got, socket: h.server.last! };
  }

  it('a refusal of a subscribe the app withdrew before its answer, then asked again, concerns the old subscribe: the new one is kept and gets its messages', async () => {
    const { h, refused, got, socket } = await askedAgain();
    socket.push(refusal);
    socket.push({ type: 'unsubscribed', ch: 'admin:x' });
    socket.push({ type: 'subscribed', ch: 'admin:x', seq: 3 });
    socket.push({ type: 'message', ch: 'admin:x', seq: 4, data: 'granted now' });
    expect(refused).toEqual([]);
    expect(got).toEqual(['granted now']);
    expect(h.errors.map((error) => error.code), 'the refusal is still reported').toEqual([ErrorCode.AUTHORIZATION_FAILED]);
    expect(await resubscribed(h)).toEqual([
      { type: 'subscribe', ch: 'feed', since: 0 },
      { type: 'subscribe', ch: 'admin:x', since: 4 },
    ]);
  });

  it.each([
    ['refused', 'refused'],
    ['granted', 'refused'],
  ])('answers to two subscribes the app withdrew before any answer (%s, then %s) concern those: the subscribe asked third is kept and gets its messages', async (...answers) => {
    const h = harness();
    const refused: unknown[] = [];
    const got: unknown[] = [];
    h.connection.on('refused', (event) => refused.push(event));
    h.connection.subscribe('feed', () => {});
    await h.connect();
    const socket = h.server.last!;
    socket.push({ type: 'subscribed', ch: 'feed', seq: 0 });
    h.connection.subscribe('admin:x', () => {})();
    h.connection.subscribe('admin:x', () => {})();
    h.connection.subscribe('admin:x', (data) => got.push(data));
    for (const answer of answers) {
      socket.push(answer === 'refused' ? refusal : { type: 'subscribed', ch: 'admin:x', seq: 3 });
      socket.push({ type: 'unsubscribed', ch: 'admin:x' });
    }
    socket.push({ type: 'subscribed', ch: 'admin:x', seq: 3 });
    socket.push({ type: 'message', ch: 'admin:x', seq: 4, data: 'granted now' });
    expect(refused).toEqual([]);
    expect(got).toEqual(['granted now']);
  });

  it('the subscribed answer to a subscribe the app withdrew is not where the new one resumes: a reconnect asks from the new one’s answer', async () => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    h.connection.subscribe('feed', () => {});
    await h.connect();
    const socket = h.server.last!;
    socket.push({ type: 'subscribed', ch: 'feed', seq: 0 });
    h.connection.subscribe('admin:x', () => {})();
    h.connection.subscribe('admin:x', () => {});
    socket.push({ type: 'subscribed', ch: 'admin:x', seq: 1 });
    socket.push({ type: 'unsubscribed', ch: 'admin:x' });
    socket.push({ type: 'subscribed', ch: 'admin:x', seq: 3 });
    expect(await resubscribed(h)).toContainEqual({ type: 'subscribe', ch: 'admin:x', since: 3 });
  });

  it('a refusal after the answer to the unsubscribe, or after the answer to the old subscribe, concerns the new subscribe: the channel is dropped', async () => {
    for (const answer of [{ type: 'unsubscribed', ch: 'admin:x' }, { type: 'subscribed', ch: 'admin:x', seq: 3 }]) {
      const { refused, socket } = await askedAgain();
      socket.push(answer);
      socket.push(refusal);
      expect(refused.map(({ ch }) => ch), answer.type).toEqual(['admin:x']);
    }
  });

  it('a refusal after the old subscribe was confirmed, before the unsubscribe, concerns the new subscribe even when the server does not answer unsubscribes', async () => {
    const h = harness();
    const refused: Array<{ ch: string; error: SocketchartError }> = [];
    h.connection.on('refused', (event) => refused.push(event));
    h.connection.subscribe('feed', () => {});
    await h.connect();
    h.server.last!.push({ type: 'subscribed', ch: 'feed', seq: 0 });
    const off = h.connection.subscribe('admin:x', () => {});
    h.server.last!.push({ type: 'subscribed', ch: 'admin:x', seq: 3 });
    off();
    h.connection.subscribe('admin:x', () => {});
    h.server.last!.push(refusal);
    expect(refused.map(({ ch }) => ch)).toEqual(['admin:x']);
  });

  it('a refusal is taken for the subscribe asked last when the server was never heard answering one, or on a new socket', async () => {
    const silent = await askedAgain(false);
    silent.socket.push(refusal);
    expect(silent.refused.map(({ ch }) => ch)).toEqual(['admin:x']);
    const { h, refused } = await askedAgain();
    await resubscribed(h);
    h.server.last!.push({ type: 'subscribed', ch: 'feed', seq: 0 });
    h.server.last!.push(refusal);
    expect(refused.map(({ ch }) => ch)).toEqual(['admin:x']);
  });
});

describe('subscribes refused by the server\'s control rate limit', () => {
  /** The reference server's refusal of a control frame over the per-user `control` limit. */
  const limited = (ch: string, retryAfterMs = 2_000) => ({
    type: 'error',
    code: 'RATE_LIMIT_EXCEEDED',
    message: 'rate limit exceeded for control',
    retry_after: retryAfterMs / 1000,
    details: { scope: 'control', limit: 60, remaining: 0, ch, action: 'subscribe', retry_after_ms: retryAfterMs },
  });

  it('a subscribe refused over the control limit is sent again, with its since, after retry_after; one timer for every channel refused', async () => {
    const h = harness({ heartbeat: false });
    const got: unknown[] = [];
    h.connection.subscribe('a', (data) => got.push(data));
    h.connection.subscribe('b', () => {});
    h.connection.subscribe('c', () => {});
    await h.connect();
    const socket = h.server.last!;
    socket.push({ type: 'message', ch: 'a', seq: 4, data: 'four' });
    const timers = h.clock.pending;
    socket.push(limited('a'));
    socket.push(limited('b', 1_500));
    expect(h.clock.pending).toBe(timers + 1);
    await h.advance(1_999);
    expect(socket.sentOfType('subscribe')).toHaveLength(3);
    await h.advance(1);
    expect(socket.sentOfType('subscribe').slice(3)).toEqual([
      { type: 'subscribe', ch: 'a', since: 4 },
      { type: 'subscribe', ch: 'b' },
    ]);
    expect(h.clock.pending).toBe(timers);
    expect(h.connection.status).toBe('connected');
  });

  it('asking a limited channel again leaves what is known of another channel’s withdrawn subscribe: its late refusal does not drop the new one', async () => {
    const h = harness({ heartbeat: false });
    const refused: unknown[] = [];
    const got: unknown[] = [];
    h.connection.on('refused', (event) => refused.push(event));
    h.connection.subscribe('a', () => {});
    h.connection.subscribe('b', () => {});
    await h.connect();
    const socket = h.server.last!;
    socket.push(limited('a'));
    socket.push({ type: 'subscribed', ch: 'b', seq: 0 });
    h.connection.subscribe('admin:x', () => {})();
    h.connection.subscribe('admin:x', (data) => got.push(data));
    await h.advance(2_000);
    expect(socket.sentOfType('subscribe').at(-1), 'a asked again').toEqual({ type: 'subscribe', ch: 'a' });
    socket.push({ type: 'error', code: 'AUTHORIZATION_FAILED', message: 'not allowed', details: { ch: 'admin:x', action: 'subscribe' } });
    socket.push({ type: 'unsubscribed', ch: 'admin:x' });
    socket.push({ type: 'subscribed', ch: 'admin:x', seq: 3 });
    socket.push({ type: 'message', ch: 'admin:x', seq: 4, data: 'granted now' });
    expect(refused).toEqual([]);
    expect(got).toEqual(['granted now']);
  });

  it('a subscribe the server could not serve (SERVER_ERROR: its history unavailable) is sent again after reconnect.baseMs, with its since', async () => {
    const h = harness({ heartbeat: false, reconnect: { baseMs: 500 } });
    h.connection.subscribe('a', () => {});
    await h.connect();
    const socket = h.server.last!;
    socket.push({ type: 'message', ch: 'a', seq: 7, data: 'seven' });
    socket.push({ type: 'error', code: 'SERVER_ERROR', message: 'subscribe failed: history unavailable', details: { ch: 'a', action: 'subscribe' } });
    await h.advance(499);
    expect(socket.sentOfType('subscribe')).toHaveLength(1);
    await h.advance(1);
    expect(socket.sentOfType('subscribe').slice(1)).toEqual([{ type: 'subscribe', ch: 'a', since: 7 }]);
    expect(h.connection.status).toBe('connected');
  });

  it('a channel unsubscribed meanwhile is not subscribed again, and a drop cancels the retry (the reconnect resubscribes)', async () => {
    const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    const off = h.connection.subscribe('a', () => {});
    h.connection.subscribe('b', () => {});
    await h.connect();
    h.server.last!.push(limited('a'));
    off();
    await h.advance(2_000);
    expect(h.server.last!.sentOfType('subscribe')).toEqual([
      { type: 'subscribe', ch: 'a' },
      { type: 'subscribe', ch: 'b' },
    ]);
    h.server.last!.push(limited('b'));
    const timers = h.clock.pending;
    h.server.last!.drop();
    await h.settle();
    expect(h.clock.pending).toBeLessThan(timers + 1);
    await h.advance(100);
    await h.settle();
    expect(h.connection.status).toBe('connected');
    await h.advance(5_000);
    expect(h.server.last!.sentOfType('subscribe')).toEqual([{ type: 'subscribe', ch: 'b' }]);
  });
});
