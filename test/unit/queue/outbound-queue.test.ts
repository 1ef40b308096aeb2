import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, SocketchartError } from '../../../src/protocol/errors.js';
import {
  OutboundQueue,
  type OutboundQueueOptions,
  type Priority,
  type QueuedMessage,
} from '../../../src/queue/outbound-queue.js';
import { SimulatedClock } from '../../../src/testing/simulated-clock.js';
import { connectionDefaults } from '../../../src/connection/defaults.js';

type Outcome = { status: 'pending' } | { status: 'resolved' } | { status: 'rejected'; error: unknown };

function track(promise: Promise<void>): Outcome[] {
  const box: Outcome[] = [{ status: 'pending' }];
  promise.then(
    () => box.push({ status: 'resolved' }),
    (error: unknown) => box.push({ status: 'rejected', error }),
  );
  return box;
}

function outcome(box: Outcome[]): Outcome {
  return box[box.length - 1]!;
}

function codeOf(box: Outcome[]): string | undefined {
  const last = outcome(box);
  return last.status === 'rejected' && last.error instanceof SocketchartError ? last.error.code : undefined;
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function makeQueue(options: Partial<OutboundQueueOptions> = {}): { queue: OutboundQueue; clock: SimulatedClock } {
  const clock = new SimulatedClock();
  return { queue: new OutboundQueue({ ...connectionDefaults.queue, ...options }, clock), clock };
}

function send(queue: OutboundQueue, priority: Priority, payload: string, extra: { ttlMs?: number; bytes?: number } = {}) {
  return track(queue.enqueue({ payload, bytes: extra.bytes ?? payload.length, priority, ttlMs: extra.ttlMs }));
}

function drain(queue: OutboundQueue): QueuedMessage[] {
  const out: QueuedMessage[] = [];
  for (let m = queue.shift(); m !== undefined; m = queue.shift()) out.push(m);
  return out;
}

const RANK: Record<Priority, number> = { low: 0, normal: 1, high: 2, critical: 3 };

describe('OutboundQueue', () => {
  it('hands out messages highest priority first', () => {
    const { queue } = makeQueue();
    send(queue, 'low', 'l');
    send(queue, 'normal', 'n');
    send(queue, 'critical', 'c');
    send(queue, 'high', 'h');
    expect(drain(queue).map((m) => m.payload)).toEqual(['c', 'h', 'n', 'l']);
  });

  it('keeps FIFO order within a priority', () => {
    const { queue } = makeQueue();
    for (const p of ['a', 'b', 'c', 'd']) send(queue, 'normal', p);
    send(queue, 'high', 'x');
    expect(drain(queue).map((m) => m.payload)).toEqual(['x', 'a', 'b', 'c', 'd']);
  });

  it('peek returns the next message without removing it', () => {
    const { queue } = makeQueue();
    send(queue, 'normal', 'a');
    send(queue, 'high', 'b');
    expect(queue.peek()?.payload).toBe('b');
    expect(queue.size).toBe(2);
    expect(queue.shift()?.payload).toBe('b');
  });

  it('resolves the enqueue promise when the owner settles the shifted message', async () => {
    const { queue } = makeQueue();
    const box = send(queue, 'normal', 'hello');
    const message = queue.shift()!;
    expect(message).toMatchObject({ payload: 'hello', bytes: 5, priority: 'normal', seq: 0, expiresAt: Infinity });
    await flush();
    expect(outcome(box).status).toBe('pending');
    message.resolve();
    await flush();
    expect(outcome(box).status).toBe('resolved');
  });

  it('keeps the message id on the queued message', () => {
    const { queue } = makeQueue();
    void queue.enqueue({ payload: 'x', bytes: 1, priority: 'normal', id: 'm-1' });
    expect(queue.shift()?.id).toBe('m-1');
  });

  it('tracks size, bytes and depth per priority', () => {
    const { queue } = makeQueue();
    send(queue, 'high', 'abc');
    send(queue, 'low', 'de');
    send(queue, 'low', 'f');
    expect(queue.size).toBe(3);
    expect(queue.bytes).toBe(6);
    expect(queue.depthByPriority()).toEqual({ critical: 0, high: 1, normal: 0, low: 2 });
    queue.shift();
    expect(queue.size).toBe(2);
    expect(queue.bytes).toBe(3);
  });

  it("'reject' refuses a message beyond maxMessages with QUEUE_OVERFLOW and keeps the queued ones", async () => {
    const { queue } = makeQueue({ maxMessages: 2, overflow: 'reject' });
    const a = send(queue, 'low', 'a');
    const b = send(queue, 'low', 'b');
    const c = send(queue, 'critical', 'c');
    await flush();
    expect(codeOf(c)).toBe(ErrorCode.QUEUE_OVERFLOW);
    expect(outcome(a).status).toBe('pending');
    expect(outcome(b).status).toBe('pending');
    expect(queue.size).toBe(2);
    expect(queue.dropped).toBe(1);
    expect(queue.evicted).toBe(0);
  });

  it("'reject' refuses a message beyond maxBytes", async () => {
    const { queue } = makeQueue({ maxBytes: 10, overflow: 'reject' });
    send(queue, 'normal', 'x', { bytes: 8 });
    const big = send(queue, 'normal', 'y', { bytes: 3 });
    const small = send(queue, 'normal', 'z', { bytes: 2 });
    await flush();
    expect(codeOf(big)).toBe(ErrorCode.QUEUE_OVERFLOW);
    expect(outcome(small).status).toBe('pending');
    expect(queue.bytes).toBe(10);
  });

  it("'evict-lowest' evicts the oldest lowest-priority message for a higher-priority one", async () => {
    const { queue } = makeQueue({ maxMessages: 3, overflow: 'evict-lowest' });
    const low1 = send(queue, 'low', 'l1');
    const low2 = send(queue, 'low', 'l2');
    const normal = send(queue, 'normal', 'n');
    const high = send(queue, 'high', 'h');
    await flush();
    expect(codeOf(low1)).toBe(ErrorCode.QUEUE_OVERFLOW);
    expect(outcome(low2).status).toBe('pending');
    expect(outcome(normal).status).toBe('pending');
    expect(outcome(high).status).toBe('pending');
    expect(drain(queue).map((m) => m.payload)).toEqual(['h', 'n', 'l2']);
    expect(queue.evicted).toBe(1);
    expect(queue.dropped).toBe(1);
  });

  it("'evict-lowest' rejects the new message when it is itself the lowest priority", async () => {
    const { queue } = makeQueue({ maxMessages: 2, overflow: 'evict-lowest' });
    send(queue, 'high', 'h');
    send(queue, 'normal', 'n');
    const low = send(queue, 'low', 'l');
    await flush();
    expect(codeOf(low)).toBe(ErrorCode.QUEUE_OVERFLOW);
    expect(queue.evicted).toBe(0);
    expect(queue.dropped).toBe(1);
    expect(drain(queue).map((m) => m.payload)).toEqual(['h', 'n']);
  });

  it("'evict-lowest' drops the oldest of the same priority for a newer one", async () => {
    const { queue } = makeQueue({ maxMessages: 2, overflow: 'evict-lowest' });
    const first = send(queue, 'normal', 'a');
    send(queue, 'normal', 'b');
    send(queue, 'normal', 'c');
    await flush();
    expect(codeOf(first)).toBe(ErrorCode.QUEUE_OVERFLOW);
    expect(drain(queue).map((m) => m.payload)).toEqual(['b', 'c']);
  });

  it("'evict-lowest' evicts as many messages as the bytes require, and none when it cannot make room", async () => {
    const { queue } = makeQueue({ maxBytes: 10, overflow: 'evict-lowest' });
    const a = send(queue, 'low', 'a', { bytes: 3 });
    const b = send(queue, 'low', 'b', { bytes: 3 });
    const h = send(queue, 'high', 'h', { bytes: 4 });
    const n = send(queue, 'normal', 'n', { bytes: 5 });
    await flush();
    expect([codeOf(a), codeOf(b)]).toEqual([ErrorCode.QUEUE_OVERFLOW, ErrorCode.QUEUE_OVERFLOW]);
    expect(outcome(n).status).toBe('pending');
    const tooBig = send(queue, 'normal', 'x', { bytes: 7 });
    await flush();
    expect(codeOf(tooBig)).toBe(ErrorCode.QUEUE_OVERFLOW);
    expect(outcome(h).status).toBe('pending');
    expect(outcome(n).status).toBe('pending');
    expect(queue.bytes).toBe(9);
  });

  it('rejects a message larger than maxBytes without evicting anything', async () => {
    const { queue } = makeQueue({ maxBytes: 10 });
    const small = send(queue, 'low', 'a', { bytes: 2 });
    const huge = send(queue, 'critical', 'b', { bytes: 11 });
    await flush();
    expect(codeOf(huge)).toBe(ErrorCode.QUEUE_OVERFLOW);
    expect(outcome(small).status).toBe('pending');
  });

  it('rejects an expired message with MESSAGE_EXPIRED at its expiry time, not later', async () => {
    const { queue, clock } = makeQueue();
    const box = send(queue, 'normal', 'a', { ttlMs: 1_000 });
    clock.advance(999);
    await flush();
    expect(outcome(box).status).toBe('pending');
    clock.advance(1);
    await flush();
    expect(codeOf(box)).toBe(ErrorCode.MESSAGE_EXPIRED);
    expect(queue.size).toBe(0);
    expect(queue.expired).toBe(1);
    expect(queue.dropped).toBe(1);
  });

  it('expires messages with different TTLs each at its own time', async () => {
    const { queue, clock } = makeQueue();
    const late = send(queue, 'high', 'late', { ttlMs: 500 });
    const early = send(queue, 'low', 'early', { ttlMs: 100 });
    const forever = send(queue, 'normal', 'forever');
    clock.advance(100);
    await flush();
    expect(codeOf(early)).toBe(ErrorCode.MESSAGE_EXPIRED);
    expect(outcome(late).status).toBe('pending');
    clock.advance(400);
    await flush();
    expect(codeOf(late)).toBe(ErrorCode.MESSAGE_EXPIRED);
    expect(outcome(forever).status).toBe('pending');
    expect(drain(queue).map((m) => m.payload)).toEqual(['forever']);
  });

  it('rejects a message with a TTL of 0 at once', async () => {
    const { queue } = makeQueue();
    const box = send(queue, 'normal', 'a', { ttlMs: 0 });
    await flush();
    expect(codeOf(box)).toBe(ErrorCode.MESSAGE_EXPIRED);
    expect(queue.size).toBe(0);
  });

  it('never hands out an expired message, even when the clock jumped without firing timers', async () => {
    const { queue, clock } = makeQueue();
    const stale = send(queue, 'high', 'stale', { ttlMs: 100 });
    send(queue, 'normal', 'fresh');
    clock.jump(5_000);
    expect(queue.peek()?.payload).toBe('fresh');
    await flush();
    expect(codeOf(stale)).toBe(ErrorCode.MESSAGE_EXPIRED);
  });

  it('uses one timer for the whole queue however many messages have a TTL', () => {
    const { queue, clock } = makeQueue();
    for (let i = 0; i < 500; i++) send(queue, 'normal', `m${i}`, { ttlMs: 1_000 + ((i * 7919) % 5_000) });
    expect(clock.pending).toBe(1);
    expect(clock.nextAt()).toBe(1_000);
    clock.advance(2_000);
    expect(clock.pending).toBe(1);
  });

  it('arms no timer for messages without a TTL, and clears it once nothing can expire', () => {
    const { queue, clock } = makeQueue();
    send(queue, 'normal', 'a');
    expect(clock.pending).toBe(0);
    send(queue, 'normal', 'b', { ttlMs: 1_000 });
    expect(clock.pending).toBe(1);
    drain(queue);
    expect(clock.pending).toBe(0);
  });

  it('re-arms the timer earlier when a message expiring sooner arrives', async () => {
    const { queue, clock } = makeQueue();
    send(queue, 'normal', 'a', { ttlMs: 10_000 });
    const soon = send(queue, 'normal', 'b', { ttlMs: 50 });
    expect(clock.pending).toBe(1);
    expect(clock.nextAt()).toBe(50);
    clock.advance(50);
    await flush();
    expect(codeOf(soon)).toBe(ErrorCode.MESSAGE_EXPIRED);
    expect(clock.nextAt()).toBe(10_000);
  });

  it('messages aborted out of the middle leave the rest in order, with size, bytes and depth right (across a compaction)', async () => {
    const { queue } = makeQueue();
    const controllers = Array.from({ length: 300 }, (_, i) => {
      const controller = new AbortController();
      queue.enqueue({ payload: `m${i}`, bytes: 10, priority: 'normal', signal: controller.signal }).catch(() => {});
      return controller;
    });
    send(queue, 'low', 'last');
    controllers.forEach((controller, i) => {
      if (i % 3 !== 0) controller.abort(new Error('cancelled'));
    });
    await flush();
    expect(queue.size).toBe(101);
    expect(queue.bytes).toBe(100 * 10 + 4);
    expect(queue.depthByPriority()).toEqual({ critical: 0, high: 0, normal: 100, low: 1 });
    expect(queue.peek()?.payload).toBe('m0');
    expect(drain(queue).map((m) => m.payload)).toEqual([...Array.from({ length: 100 }, (_, i) => `m${i * 3}`), 'last']);
  });

  it('messages expiring out of the middle leave the rest in order; an expired one at the head is never handed out', async () => {
    const { queue, clock } = makeQueue();
    for (let i = 0; i < 200; i++) send(queue, 'high', `m${i}`, i % 2 === 0 ? { ttlMs: 1_000 } : {});
    clock.advance(1_000);
    await flush();
    expect(queue.size).toBe(100);
    expect(queue.depthByPriority().high).toBe(100);
    send(queue, 'high', 'after');
    expect(drain(queue).map((m) => m.payload)).toEqual([...Array.from({ length: 100 }, (_, i) => `m${i * 2 + 1}`), 'after']);
    expect(queue.size).toBe(0);
    expect(queue.bytes).toBe(0);
  });

  it('rejectAll after removals out of the middle rejects only the messages still queued, once each', async () => {
    const { queue } = makeQueue();
    const controller = new AbortController();
    const aborted = track(queue.enqueue({ payload: 'gone', bytes: 4, priority: 'normal', signal: controller.signal }));
    const kept = [send(queue, 'normal', 'a'), send(queue, 'normal', 'b')];
    controller.abort(new Error('cancelled'));
    expect(queue.rejectAll(new SocketchartError(ErrorCode.CLOSED, { message: 'stop' }))).toBe(2);
    await flush();
    expect(kept.map(codeOf)).toEqual([ErrorCode.CLOSED, ErrorCode.CLOSED]);
    expect(aborted.length).toBe(2);
  });

  it('unshift puts a message back at the head of its priority', () => {
    const { queue } = makeQueue();
    send(queue, 'normal', 'a');
    send(queue, 'normal', 'b');
    send(queue, 'low', 'c');
    const first = queue.shift()!;
    queue.unshift(first);
    expect(queue.size).toBe(3);
    expect(drain(queue).map((m) => m.payload)).toEqual(['a', 'b', 'c']);
  });

  it('messages queued first go ahead of the others of their priority, each after those queued first before it', () => {
    const { queue } = makeQueue();
    send(queue, 'normal', 'mine-1');
    send(queue, 'normal', 'mine-2');
    for (const payload of ['left-1', 'left-2']) queue.enqueue({ payload, bytes: 1, priority: 'normal', first: true });
    queue.enqueue({ payload: 'left-high', bytes: 1, priority: 'high', first: true });
    expect(drain(queue).map((m) => m.payload)).toEqual(['left-high', 'left-1', 'left-2', 'mine-1', 'mine-2']);
  });

  it('messages queued first into a queue too small for them: the oldest are kept, the newest refused', async () => {
    for (const overflow of ['reject', 'evict-lowest'] as const) {
      const { queue } = makeQueue({ maxMessages: 3, overflow });
      const mine = send(queue, 'normal', 'mine');
      const left = ['left-1', 'left-2', 'left-3'].map((payload) => track(queue.enqueue({ payload, bytes: 1, priority: 'normal', first: true })));
      await flush();
      expect(left.map(codeOf)).toEqual([undefined, undefined, ErrorCode.QUEUE_OVERFLOW]);
      expect(outcome(mine).status).toBe('pending');
      expect(drain(queue).map((m) => m.payload)).toEqual(['left-1', 'left-2', 'mine']);
    }
  });

  it('a message queued first, put back after a shift, stays ahead of the later ones queued first', () => {
    const { queue } = makeQueue();
    send(queue, 'normal', 'mine');
    queue.enqueue({ payload: 'left-1', bytes: 1, priority: 'normal', first: true });
    queue.unshift(queue.shift()!);
    queue.enqueue({ payload: 'left-2', bytes: 1, priority: 'normal', first: true });
    expect(drain(queue).map((m) => m.payload)).toEqual(['left-1', 'left-2', 'mine']);
  });

  it('unshift keeps the TTL of a message put back', async () => {
    const { queue, clock } = makeQueue();
    const box = send(queue, 'normal', 'a', { ttlMs: 100 });
    const message = queue.shift()!;
    expect(clock.pending).toBe(0);
    queue.unshift(message);
    expect(clock.pending).toBe(1);
    clock.advance(100);
    await flush();
    expect(codeOf(box)).toBe(ErrorCode.MESSAGE_EXPIRED);
  });

  it('unshift ignores a message that is still queued', () => {
    const { queue } = makeQueue();
    send(queue, 'normal', 'a');
    queue.unshift(queue.peek()!);
    expect(queue.size).toBe(1);
  });

  it('unshift into a queue that filled up meanwhile applies the overflow policy to the returned message', async () => {
    const { queue } = makeQueue({ maxMessages: 1, overflow: 'reject' });
    const a = send(queue, 'normal', 'a');
    const message = queue.shift()!;
    send(queue, 'normal', 'b');
    queue.unshift(message);
    await flush();
    expect(codeOf(a)).toBe(ErrorCode.QUEUE_OVERFLOW);
    expect(queue.size).toBe(1);
  });

  it('rejectAll rejects every queued message with the given error, empties the queue and clears the timer', async () => {
    const { queue, clock } = makeQueue();
    const boxes = [send(queue, 'high', 'a', { ttlMs: 1_000 }), send(queue, 'low', 'b'), send(queue, 'normal', 'c')];
    const closed = new SocketchartError(ErrorCode.CLOSED);
    expect(queue.rejectAll(closed)).toBe(3);
    await flush();
    expect(boxes.map(codeOf)).toEqual([ErrorCode.CLOSED, ErrorCode.CLOSED, ErrorCode.CLOSED]);
    expect(queue.size).toBe(0);
    expect(queue.bytes).toBe(0);
    expect(clock.pending).toBe(0);
    expect(queue.dropped).toBe(0);
  });

  it('dispose leaves zero timers and rejects queued and later messages with CLOSED', async () => {
    const { queue, clock } = makeQueue();
    const before = send(queue, 'normal', 'a', { ttlMs: 1_000 });
    queue.dispose();
    expect(clock.pending).toBe(0);
    const after = send(queue, 'normal', 'b', { ttlMs: 1_000 });
    await flush();
    expect(codeOf(before)).toBe(ErrorCode.CLOSED);
    expect(codeOf(after)).toBe(ErrorCode.CLOSED);
    expect(clock.pending).toBe(0);
  });

  it('rejects a message with an invalid priority, byte size or TTL with INVALID_OPTION and does not queue it', async () => {
    const { queue, clock } = makeQueue();
    const boxes = [
      track(queue.enqueue({ payload: 'x', bytes: 1, priority: 'urgent' as Priority })),
      track(queue.enqueue({ payload: 'x', bytes: 1, priority: 'toString' as Priority })),
      track(queue.enqueue({ payload: 'x', bytes: Number.NaN, priority: 'normal' })),
      track(queue.enqueue({ payload: 'x', bytes: 1, priority: 'normal', ttlMs: Number.NaN })),
    ];
    await flush();
    expect(boxes.map(codeOf)).toEqual(Array(4).fill(ErrorCode.INVALID_OPTION));
    expect(queue.size).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('defaults to 1000 messages, 1 MiB and evict-lowest', async () => {
    const { queue } = makeQueue();
    const first = send(queue, 'low', 'first');
    for (let i = 0; i < 999; i++) send(queue, 'low', 'x');
    expect(queue.size).toBe(1_000);
    send(queue, 'normal', 'y');
    await flush();
    expect(codeOf(first)).toBe(ErrorCode.QUEUE_OVERFLOW);
    expect(queue.size).toBe(1_000);
    const huge = send(queue, 'critical', 'z', { bytes: 1024 * 1024 + 1 });
    await flush();
    expect(codeOf(huge)).toBe(ErrorCode.QUEUE_OVERFLOW);
  });

  describe('properties', () => {
    const priorityArb = fc.constantFrom<Priority>('critical', 'high', 'normal', 'low');
    const opArb = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({
          kind: fc.constant('enqueue' as const),
          priority: priorityArb,
          bytes: fc.integer({ min: 0, max: 400 }),
          ttlMs: fc.option(fc.integer({ min: 0, max: 2_000 }), { nil: undefined }),
        }),
      },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('shift' as const) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('unshift' as const) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 800 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('jump' as const), ms: fc.integer({ min: 0, max: 800 }) }) },
    );
    const optionsArb = fc.record({
      maxMessages: fc.integer({ min: 1, max: 12 }),
      maxBytes: fc.integer({ min: 1, max: 2_000 }),
      overflow: fc.constantFrom<'reject' | 'evict-lowest'>('reject', 'evict-lowest'),
    });

    it('stays within maxMessages and maxBytes, settles every promise exactly once, and shifts in priority then FIFO order', async () => {
      await fc.assert(
        fc.asyncProperty(optionsArb, fc.array(opArb, { maxLength: 120 }), async (options, ops) => {
          const clock = new SimulatedClock();
          const queue = new OutboundQueue(options, clock);
          const boxes: Outcome[][] = [];
          const written = new Set<number>();
          const lastSeqByPriority: Record<Priority, number> = { critical: -1, high: -1, normal: -1, low: -1 };
          let held: QueuedMessage | undefined;

          for (const op of ops) {
            if (op.kind === 'enqueue') {
              boxes.push(track(queue.enqueue({ payload: 'x', bytes: op.bytes, priority: op.priority, ttlMs: op.ttlMs })));
            } else if (op.kind === 'shift') {
              if (held !== undefined) {
                written.add(held.seq);
                held.resolve();
                held = undefined;
              }
              const message = queue.shift();
              if (message !== undefined) {
                expect(message.expiresAt).toBeGreaterThan(clock.now());
                expect(message.seq).toBeGreaterThan(lastSeqByPriority[message.priority]);
                lastSeqByPriority[message.priority] = message.seq;
                const next = queue.peek();
                if (next !== undefined) {
                  expect(RANK[next.priority]).toBeLessThanOrEqual(RANK[message.priority]);
                  if (next.priority === message.priority) expect(next.seq).toBeGreaterThan(message.seq);
                }
                held = message;
              }
            } else if (op.kind === 'unshift') {
              if (held !== undefined) {
                queue.unshift(held);
                lastSeqByPriority[held.priority] = held.seq - 1;
                held = undefined;
              }
            } else if (op.kind === 'advance') {
              clock.advance(op.ms);
            } else {
              clock.jump(op.ms);
            }
            expect(queue.size).toBeLessThanOrEqual(options.maxMessages);
            expect(queue.bytes).toBeLessThanOrEqual(options.maxBytes);
            const depth = queue.depthByPriority();
            expect(depth.critical + depth.high + depth.normal + depth.low).toBe(queue.size);
            expect(clock.pending).toBeLessThanOrEqual(1);
          }

          if (held !== undefined) {
            written.add(held.seq);
            held.resolve();
          }
          const remaining = queue.size;
          expect(queue.rejectAll(new SocketchartError(ErrorCode.CLOSED))).toBe(remaining);
          expect(clock.pending).toBe(0);
          await flush();

          const count = { resolved: 0, overflow: 0, expired: 0, closed: 0 };
          boxes.forEach((box, seq) => {
            expect(box).toHaveLength(2);
            const last = outcome(box);
            if (last.status === 'resolved') {
              expect(written.has(seq)).toBe(true);
              count.resolved++;
            } else {
              expect(written.has(seq)).toBe(false);
              const code = codeOf(box);
              expect([ErrorCode.QUEUE_OVERFLOW, ErrorCode.MESSAGE_EXPIRED, ErrorCode.CLOSED]).toContain(code);
              if (code === ErrorCode.QUEUE_OVERFLOW) count.overflow++;
              else if (code === ErrorCode.MESSAGE_EXPIRED) count.expired++;
              else count.closed++;
            }
          });
          expect(count.resolved).toBe(written.size);
          expect(count.closed).toBe(remaining);
          expect(count.expired).toBe(queue.expired);
          expect(count.overflow + count.expired).toBe(queue.dropped);
          expect(queue.evicted).toBeLessThanOrEqual(count.overflow);
        }),
        { numRuns: 300 },
      );
    });

    it('expires every queued message exactly at its own expiry time, whatever the mix of TTLs and removals', () => {
      fc.assert(
        fc.property(
          fc.array(fc.record({ priority: priorityArb, ttlMs: fc.integer({ min: 1, max: 300 }) }), {
            minLength: 1,
            maxLength: 80,
          }),
          fc.nat({ max: 80 }),
          (messages, shifts) => {
            const { queue, clock } = makeQueue();
            for (const { priority, ttlMs } of messages) {
              queue.enqueue({ payload: 'x', bytes: 1, priority, ttlMs }).catch(() => undefined);
            }
            const taken = new Set<number>();
            for (let i = 0; i < shifts; i++) {
              const message = queue.shift();
              if (message !== undefined) taken.add(message.seq);
            }
            const expiries = messages.flatMap((m, seq) => (taken.has(seq) ? [] : [m.ttlMs]));
            const due = (t: number): number => expiries.filter((at) => at <= t).length;
            for (const at of [...new Set(expiries)].sort((a, b) => a - b)) {
              clock.advance(at - 1 - clock.now());
              expect(queue.expired).toBe(due(at - 1));
              clock.advance(1);
              expect(queue.expired).toBe(due(at));
              expect(queue.size).toBe(expiries.length - due(at));
            }
            expect(clock.pending).toBe(0);
          },
        ),
      );
    });

    it('when full, evicts the lowest-priority oldest message for one that ranks as high or higher, and refuses the rest with QUEUE_OVERFLOW', async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.array(priorityArb, { maxLength: 60 }), async (maxMessages, priorities) => {
          const { queue } = makeQueue({ maxMessages, maxBytes: 1_000_000, overflow: 'evict-lowest' });
          const model: { i: number; rank: number }[] = [];
          const dropped = new Set<number>();
          const boxes = priorities.map((priority, i) => {
            const rank = RANK[priority];
            if (model.length === maxMessages) {
              const lowest = Math.min(...model.map((m) => m.rank));
              if (lowest > rank) dropped.add(i);
              else {
                const victim = model.findIndex((m) => m.rank === lowest);
                dropped.add(model[victim]!.i);
                model.splice(victim, 1);
              }
            }
            if (!dropped.has(i)) model.push({ i, rank });
            return send(queue, priority, String(i), { bytes: 1 });
          });
          await flush();
          const expected = [...model].sort((a, b) => b.rank - a.rank || a.i - b.i).map((m) => String(m.i));
          expect(drain(queue).map((m) => m.payload)).toEqual(expected);
          boxes.forEach((box, i) => {
            if (dropped.has(i)) expect(codeOf(box), `message ${i}`).toBe(ErrorCode.QUEUE_OVERFLOW);
            else expect(outcome(box).status, `message ${i}`).toBe('pending');
          });
        }),
      );
    });

    it('drains a batch in non-increasing priority and FIFO within each priority', () => {
      fc.assert(
        fc.property(fc.array(priorityArb, { maxLength: 200 }), (priorities) => {
          const { queue } = makeQueue();
          priorities.forEach((priority, i) => void queue.enqueue({ payload: String(i), bytes: 1, priority }));
          const out = drain(queue);
          expect(out).toHaveLength(priorities.length);
          for (let i = 1; i < out.length; i++) {
            const a = out[i - 1]!;
            const b = out[i]!;
            expect(RANK[a.priority]).toBeGreaterThanOrEqual(RANK[b.priority]);
            if (a.priority === b.priority) expect(a.seq).toBeLessThan(b.seq);
          }
        }),
      );
    });
  });

  it('a message whose TTL passed while its timer had not yet fired (a throttled tab) makes room for a new one', async () => {
    let now = 0;
    const timers: Array<() => void> = [];
    /** A clock whose timers fire only when told, as a background tab's timers lag behind its clock. */
    const lagging = { now: () => now, setTimeout: (fn: () => void) => timers.push(fn), clearTimeout: () => {} };
    const queue = new OutboundQueue({ ...connectionDefaults.queue, maxMessages: 1, overflow: 'reject' }, lagging);
    const old = track(queue.enqueue({ payload: 'old', bytes: 3, priority: 'normal', ttlMs: 100 }));
    now = 200;
    const fresh = track(queue.enqueue({ payload: 'new', bytes: 3, priority: 'normal' }));
    await flush();
    expect(codeOf(old)).toBe(ErrorCode.MESSAGE_EXPIRED);
    expect(outcome(fresh).status).toBe('pending');
    expect(queue.shift()?.payload).toBe('new');
  });

  it('a message aborted among others with TTLs leaves each of the others to expire exactly at its own TTL', async () => {
    const { queue, clock } = makeQueue({ maxMessages: 1_000, maxBytes: 1_000_000 });
    const ttls = [10, 70, 60, 50, 40, 30, 20];
    const controllers = ttls.map(() => new AbortController());
    const boxes = ttls.map((ttlMs, i) => track(queue.enqueue({ payload: `m${i}`, bytes: 1, priority: 'normal', ttlMs, signal: controllers[i]!.signal })));
    controllers[1]!.abort(new Error('aborted'));
    for (let now = 10; now <= 70; now += 10) {
      clock.advance(10);
      await flush();
      const expired = ttls.filter((_, i) => codeOf(boxes[i]!) === ErrorCode.MESSAGE_EXPIRED);
      expect(expired.sort((a, b) => a - b)).toEqual(ttls.filter((ttl, i) => i !== 1 && ttl <= now).sort((a, b) => a - b));
    }
  });

  it('a message queued first goes after those queued first before it, even behind a put-back message aborted since', async () => {
    const { queue } = makeQueue();
    const controller = new AbortController();
    const putBack = track(queue.enqueue({ payload: 'put-back', bytes: 1, priority: 'normal', signal: controller.signal }));
    const taken = queue.shift()!;
    queue.enqueue({ payload: 'left-1', bytes: 1, priority: 'normal', first: true });
    queue.unshift(taken); // its write could not happen
    controller.abort(new Error('aborted'));
    queue.enqueue({ payload: 'left-2', bytes: 1, priority: 'normal', first: true });
    const order: unknown[] = [];
    for (let message = queue.shift(); message; message = queue.shift()) order.push(message.payload);
    expect(order).toEqual(['left-1', 'left-2']);
    await flush();
    expect(outcome(putBack).status).toBe('rejected');
  });
});
