import { describe, expect, it } from 'vitest';
import { ErrorCode, SocketchartError } from '../../../src/protocol/errors.js';
import { AckTracker, type AckWrite } from '../../../src/queue/ack-tracker.js';
import { SimulatedClock } from '../../../src/testing/simulated-clock.js';

/**
 * The messages sent with `ack: true` between their first write and the server's answer. The outbound
 * side relies on what each call returns: an error or a hold for an id the tracker does not know is not
 * about one of its messages, and goes on to the connection.
 */

function tracker(write: AckWrite = () => true, options = { timeoutMs: 1_000, maxAttempts: 3 }) {
  const clock = new SimulatedClock();
  return { clock, acks: new AckTracker(clock, options, write) };
}

const settle = <T>(promise: Promise<T>) => {
  const box: { value?: T; error?: unknown } = {};
  promise.then(
    (value) => (box.value = value),
    (error: unknown) => (box.error = error),
  );
  return box;
};
const flush = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Messages written once, then held or put off by a stand-in for the client's own limiter: no token before
 * `limiter.nextToken` (150 at first), then one each 50 ms. `writes` records each write and its time.
 */
function limitedTracker(messages: ReadonlyArray<readonly [id: string, channel: string]>) {
  const writes: Array<[unknown, number]> = [];
  const clock = new SimulatedClock();
  const limiter = { nextToken: 150 };
  const acks = new AckTracker(clock, { timeoutMs: 5_000, maxAttempts: 3 }, (frame) => {
    if (clock.now() < limiter.nextToken) return limiter.nextToken - clock.now();
    limiter.nextToken = clock.now() + 50;
    writes.push([frame, clock.now()]);
    return true;
  });
  for (const [id, channel] of messages) {
    void acks.track(id, id, channel).catch(() => undefined);
    acks.written(id);
  }
  return { clock, acks, writes, limiter };
}

describe('AckTracker', () => {
  it('answers false to an ack, an error or a hold for an id it does not track, and true for one it does', async () => {
    const { acks } = tracker();
    expect([acks.ack({ id: 'nobody' }), acks.fail('nobody', new SocketchartError(ErrorCode.AUTHORIZATION_FAILED)), acks.holdUntil('nobody', 5_000)]).toEqual([false, false, false]);
    const [a, b, c] = ['a', 'b', 'c'].map((id) => settle(acks.track(id, `{"id":"${id}"}`, 'ch')));
    for (const id of ['a', 'b', 'c']) acks.written(id);
    expect(acks.holdUntil('c', 5_000)).toBe(true);
    expect(acks.ack({ id: 'a', seq: 4 })).toBe(true);
    expect(acks.fail('b', new SocketchartError(ErrorCode.AUTHORIZATION_FAILED))).toBe(true);
    expect([acks.ack({ id: 'a' }), acks.fail('b', new SocketchartError(ErrorCode.AUTHORIZATION_FAILED))]).toEqual([false, false]);
    await flush();
    expect(a!.value).toEqual({ id: 'a', seq: 4 });
    expect((b!.error as SocketchartError).code).toBe(ErrorCode.AUTHORIZATION_FAILED);
    expect(c).toEqual({});
    expect(acks.size).toBe(1);
  });

  it('names the largest message written and not acknowledged, text or binary, leaving out those never written', () => {
    const { acks } = tracker();
    void acks.track('text', 'x'.repeat(300), 'ch').catch(() => undefined);
    void acks.track('binary', new Uint8Array(500).buffer, 'ch').catch(() => undefined);
    void acks.track('unwritten', 'y'.repeat(10_000), 'ch').catch(() => undefined);
    expect(acks.largestWritten()).toBeUndefined();
    acks.written('text');
    expect(acks.largestWritten()).toBe('text');
    acks.written('binary');
    expect(acks.largestWritten()).toBe('binary');
    acks.ack({ id: 'binary' });
    expect(acks.largestWritten()).toBe('text');
  });

  it('measures a text message in the bytes it takes on the wire, not in its characters', () => {
    const { acks } = tracker();
    void acks.track('ascii', 'a'.repeat(1_000), 'ch').catch(() => undefined);
    void acks.track('euros', '€'.repeat(700), 'ch').catch(() => undefined);
    void acks.track('emoji', '😀'.repeat(600), 'ch').catch(() => undefined);
    acks.written('ascii');
    acks.written('euros');
    expect(acks.largestWritten()).toBe('euros');
    acks.written('emoji');
    expect(acks.largestWritten()).toBe('emoji');
  });

  it('rejects with TIMEOUT after maxAttempts writes without an ack, saying how many and naming the message', async () => {
    const writes: unknown[] = [];
    const { clock, acks } = tracker((frame) => writes.push(frame) > 0);
    const outcome = settle(acks.track('m-1', 'frame', 'ch'));
    acks.written('m-1');
    clock.advance(1_000);
    clock.advance(1_000);
    expect(writes).toEqual(['frame', 'frame']);
    clock.advance(1_000);
    await flush();
    expect(outcome.error).toMatchObject({ code: ErrorCode.TIMEOUT, message: 'No ack after 3 writes', recovery: 'fail', messageId: 'm-1' });
    expect(acks.size).toBe(0);
  });

  it('writes each unacknowledged message again at its own deadline, timeoutMs after its last write', () => {
    const writes: Array<[unknown, number]> = [];
    const clock = new SimulatedClock();
    const acks = new AckTracker(clock, { timeoutMs: 1_000, maxAttempts: 5 }, (frame) => writes.push([frame, clock.now()]) > 0);
    void acks.track('a', 'a', 'ch').catch(() => undefined);
    acks.written('a');
    clock.advance(500);
    void acks.track('b', 'b', 'ch').catch(() => undefined);
    acks.written('b');
    clock.advance(2_000);
    expect(writes).toEqual([
      ['a', 1_000],
      ['b', 1_500],
      ['a', 2_000],
      ['b', 2_500],
    ]);
  });

  it('never writes a message again before an earlier one of its channel still waiting for the rate limit, though the limit frees up meanwhile', () => {
    const { clock, acks, writes, limiter } = limitedTracker([['a', 'chat:1'], ['b', 'chat:1'], ['other', 'news:1']]);
    acks.holdUntil('a', 100);
    acks.holdUntil('b', 120);
    clock.advance(100);
    expect(writes).toEqual([]);
    limiter.nextToken = 110; // the server's status arrived: the client's limit is looser than it thought
    acks.holdUntil('other', 120);
    clock.advance(300);
    expect(writes.map(([frame]) => frame)).toEqual(['other', 'a', 'b']);
    expect(writes[0]).toEqual(['other', 120]);
  });

  it('holds back a later message of the channel refused after an earlier one was deferred by the client’s own limit', () => {
    const { clock, acks, writes, limiter } = limitedTracker([['a', 'chat:1'], ['b', 'chat:1']]);
    acks.holdUntil('a', 100);
    clock.advance(100);
    clock.advance(5);
    acks.holdUntil('b', 120);
    limiter.nextToken = 110;
    clock.advance(300);
    expect(writes.map(([frame]) => frame)).toEqual(['a', 'b']);
  });

  it('settles every acknowledged message (ack, write again or TIMEOUT) on the same socket, though an earlier one of its channel waited for a limit that granted nothing', async () => {
    const writes: Array<[unknown, number]> = [];
    const clock = new SimulatedClock();
    const limit = { zeroRate: false };
    const acks = new AckTracker(clock, { timeoutMs: 1_000, maxAttempts: 2 }, (frame) => {
      if (limit.zeroRate) return Infinity;
      writes.push([frame, clock.now()]);
      return true;
    });
    void acks.track('a', 'a', 'chat:1').catch(() => undefined);
    acks.written('a');
    limit.zeroRate = true; // the server announced a limit per window of unbounded length
    clock.advance(1_000);
    limit.zeroRate = false; // and a usable one later, on the same socket
    clock.advance(500);
    const b = settle(acks.track('b', 'b', 'chat:1'));
    acks.written('b');
    clock.advance(1_400);
    acks.ack({ id: 'a' });
    clock.advance(10_000);
    await flush();
    expect(b.error).toMatchObject({ code: ErrorCode.TIMEOUT, messageId: 'b' });
    expect(writes).toEqual([
      ['a', 2_000],
      ['b', 2_500],
    ]);
    expect(acks.size).toBe(0);
  });

  it('writes messages again after a reconnect in the order they were first written, not the order they were tracked in', () => {
    const writes: unknown[] = [];
    const { acks } = tracker((frame) => {
      writes.push(frame);
      return true;
    });
    for (const id of ['normal', 'high']) void acks.track(id, id, 'c').catch(() => undefined);
    // the queue wrote the high-priority message first
    acks.written('high');
    acks.written('normal');
    acks.resendWritten();
    expect(writes).toEqual(['high', 'normal']);
  });

  it('keeps one timer at most, for the earliest deadline, and none once nothing is in flight', () => {
    const { clock, acks } = tracker();
    for (const id of ['a', 'b', 'c']) {
      void acks.track(id, id, 'ch').catch(() => undefined);
      acks.written(id);
      clock.advance(100);
    }
    expect(clock.pending).toBe(1);
    expect(clock.nextAt()).toBe(1_000);
    acks.ack({ id: 'a' });
    acks.ack({ id: 'b' });
    expect(clock.pending).toBe(1);
    acks.fail('c', new SocketchartError(ErrorCode.CLOSED));
    expect(clock.pending).toBe(0);
  });

  it('holds on the old socket do not delay a hold given after a reconnect', async () => {
    const writes: Array<[unknown, number]> = [];
    const clock = new SimulatedClock();
    const acks = new AckTracker(clock, { timeoutMs: 60_000, maxAttempts: 3 }, (frame) => {
      writes.push([frame, clock.now()]);
      return true;
    });
    void acks.track('a', 'a', 'ch').catch(() => undefined);
    acks.written('a');
    acks.holdUntil('a', 10_000);
    clock.advance(100);
    acks.resendWritten();
    acks.holdUntil('a', 1_000);
    clock.advance(900);
    expect(writes).toEqual([
      ['a', 100],
      ['a', 1_000],
    ]);
  });

  it('leaves no timer once everything is settled, however often its deadline moved earlier', () => {
    const { clock, acks } = tracker();
    const idle = clock.pending;
    for (const id of ['a', 'b']) void acks.track(id, id, 'ch').catch(() => undefined);
    acks.written('a');
    acks.written('b');
    acks.holdUntil('b', 500);
    acks.holdUntil('a', 200);
    acks.rejectAll(new SocketchartError(ErrorCode.CLOSED));
    expect(clock.pending).toBe(idle);
    expect([acks.size, acks.has('a'), acks.has('b')]).toEqual([0, false, false]);
  });
});
