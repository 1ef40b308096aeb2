import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HistoryRead } from '../../../src/server/history.js';
import { Subscription } from '../../../src/server/subscription.js';
import { storedMessage as message, subscriberSink } from '../../support/subscriber-sink.js';

type Sent = { type: string; seq?: number; from?: number; to?: number };

/**
 * A subscription whose history reads wait until `answer(current)` or `fail()`; what it sends, as `frames()`.
 * Its socket is backlogged while `backlog(true)`; a waiting replay looks again on `wake()`.
 */
function starting(implicit = false) {
  const sent: Sent[] = [];
  const { sink, backlog, wake } = subscriberSink<Sent>((frame) => sent.push(frame));
  const socketClosed = () => ((sink as { open: boolean }).open = false);
  let settle!: { resolve: (read: HistoryRead) => void; reject: (error: Error) => void };
  const reads: Array<[string, number, number]> = [];
  const reader = (ch: string, since: number, limit: number) => {
    reads.push([ch, since, limit]);
    return new Promise<HistoryRead>((resolve, reject) => (settle = { resolve, reject }));
  };
  const subscription = new Subscription('chat:x', sink, reader, 1000, implicit);
  const frames = () => sent.map((frame) => (frame.type === 'message' ? frame.seq : frame.type === 'gap' ? `gap ${frame.from}-${frame.to}` : `${frame.type} ${frame.seq}`));
  return {
    subscription,
    reads,
    answer: (current: number, entries: number[] = []) => settle.resolve({ base: 0, current, entries: entries.map(message) }),
    fail: () => settle.reject(new Error('history unreachable')),
    backlog,
    wake,
    socketClosed,
    frames,
  };
}

/** A subscription started without `since` at `current`, now live, with the parts of `starting()`. */
async function liveAt(current: number) {
  const started = starting();
  const starts = started.subscription.start(undefined);
  started.answer(current);
  await starts;
  return started;
}

describe('a subscription without `since` (from now on)', () => {
  it('answers subscribed with the current number and delivers what comes after it, reading no history', async () => {
    const { subscription, reads, answer, frames } = await liveAt(4);
    subscription.offer(message(5));
    expect(frames()).toEqual(['subscribed 4', 5]);
    expect(reads).toEqual([['chat:x', 0, 0]]);
  });

  it('delivers a message published while it starts, even when the history read already counts it', async () => {
    const { subscription, answer, frames } = starting();
    const started = subscription.start(undefined);
    subscription.offer(message(5));
    answer(5);
    await started;
    subscription.offer(message(6));
    expect(frames()).toEqual(['subscribed 4', 5, 6]);
  });

  it('delivers every message held while it starts once, in order, whether or not the read counts them', async () => {
    const { subscription, answer, frames } = starting();
    const started = subscription.start(undefined);
    subscription.offer(message(7));
    subscription.offer(message(6));
    subscription.offer(message(8));
    answer(7);
    await started;
    subscription.offer(message(8));
    subscription.offer(message(9));
    expect(frames()).toEqual(['subscribed 5', 6, 7, 8, 9]);
  });
});

describe('an implicit subscription that read the number it starts after', () => {
  it('catches up from that number on resync: what fan-out lost is delivered once, in order, without subscribed', async () => {
    const { subscription, reads, answer, frames } = starting(true);
    const started = subscription.startAtCurrent();
    answer(4);
    await started;
    subscription.resync();
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads).toEqual([
      ['chat:x', 0, 0],
      ['chat:x', 4, 1000],
    ]);
    answer(6, [5, 6]);
    await new Promise((resolve) => setImmediate(resolve));
    subscription.offer(message(6));
    subscription.offer(message(7));
    expect(frames()).toEqual([5, 6, 7]);
  });

  it('keeps the number of a message delivered before its read answered, not the older one the read counts', async () => {
    const { subscription, answer, frames } = starting(true);
    const started = subscription.startAtCurrent();
    subscription.offer(message(5));
    answer(4);
    await started;
    subscription.offer(message(5));
    subscription.offer(message(6));
    expect(frames()).toEqual([5, 6]);
  });
});

describe('a hole among the messages held while a subscription starts', () => {
  it('is filled from history, not announced as a gap', async () => {
    const { subscription, reads, answer, frames } = starting();
    const started = subscription.start(undefined);
    subscription.offer(message(7));
    answer(4);
    await started;
    expect(reads.at(-1)).toEqual(['chat:x', 4, 1000]);
    answer(7, [5, 6, 7]);
    await new Promise((resolve) => setImmediate(resolve));
    subscription.offer(message(8));
    expect(frames()).toEqual(['subscribed 4', 5, 6, 7, 8]);
  });

  it('is announced as a gap for what history does not have up to the next message held', async () => {
    const { subscription, reads, answer, frames } = starting();
    const started = subscription.start(undefined);
    subscription.offer(message(9));
    answer(4);
    await started;
    answer(9, [5, 6]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(frames()).toEqual(['subscribed 4', 5, 6, 'gap 7-8', 9]);
    expect(reads).toHaveLength(2);
  });

  it('costs one history read each, messages held between them delivered from the buffer', async () => {
    const { subscription, reads, answer, frames } = starting();
    const started = subscription.start(undefined);
    for (const seq of [6, 7, 9]) subscription.offer(message(seq));
    answer(4);
    await started;
    answer(9, [5, 6, 7, 8, 9]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads.at(-1)).toEqual(['chat:x', 7, 1000]);
    answer(9, [8, 9]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(frames()).toEqual(['subscribed 4', 5, 6, 7, 8, 9]);
    expect(reads).toHaveLength(3);
  });
});

describe('a subscription that resumes (`since`)', () => {
  it('answers with the current number, replays what came after `since`, and delivers a message held meanwhile once', async () => {
    const { subscription, reads, answer, frames } = starting();
    const started = subscription.start(3);
    subscription.offer(message(5));
    answer(5, [4, 5]);
    await started;
    subscription.offer(message(6));
    expect(frames()).toEqual(['subscribed 5', 4, 5, 6]);
    expect(reads).toEqual([['chat:x', 3, 1000]]);
  });
});

describe('a closed subscription', () => {
  it('closed while it starts sends nothing, not even subscribed, and takes no more messages', async () => {
    const { subscription, answer, frames } = starting();
    const started = subscription.start(undefined);
    subscription.offer(message(5));
    subscription.close();
    answer(5);
    await started;
    subscription.offer(message(6));
    expect(frames()).toEqual([]);
    expect(subscription.closed).toBe(true);
  });
});

describe('a subscription catching up', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds what arrives when the history read of a repair fails, announces no gap, and reads again 1 s later', async () => {
    vi.useFakeTimers();
    const { subscription, reads, answer, fail, frames } = await liveAt(4);
    subscription.offer(message(5));
    subscription.offer(message(8));
    fail();
    await vi.advanceTimersByTimeAsync(0);
    subscription.offer(message(9));
    await vi.advanceTimersByTimeAsync(999);
    expect({ frames: frames(), reads: reads.length }).toEqual({ frames: ['subscribed 4', 5], reads: 2 });
    await vi.advanceTimersByTimeAsync(1);
    expect(reads.at(-1)).toEqual(['chat:x', 5, 1000]);
    answer(9, [6, 7, 8, 9]);
    await vi.advanceTimersByTimeAsync(0);
    subscription.offer(message(10));
    expect(frames()).toEqual(['subscribed 4', 5, 6, 7, 8, 9, 10]);
  });

  it('reads again at once on resync() after a failed read, and goes live once history has filled the hole', async () => {
    const { subscription, reads, answer, fail, frames } = await liveAt(4);
    subscription.offer(message(7));
    fail();
    await new Promise((resolve) => setImmediate(resolve));
    subscription.resync();
    expect(reads.length).toBe(3);
    answer(7, [5, 6, 7]);
    await new Promise((resolve) => setImmediate(resolve));
    subscription.offer(message(8));
    expect(frames()).toEqual(['subscribed 4', 5, 6, 7, 8]);
  });

  it('stops a replay waiting for its socket when the socket closes, or when it is closed', async () => {
    for (const end of ['socket', 'subscription'] as const) {
      const { subscription, answer, backlog, wake, socketClosed, frames } = starting();
      const started = subscription.start(0);
      backlog(true);
      answer(3, [1, 2, 3]);
      await new Promise((resolve) => setImmediate(resolve));
      if (end === 'socket') socketClosed();
      else subscription.close();
      backlog(false);
      wake();
      await started;
      subscription.offer(message(4));
      expect(frames(), end).toEqual(['subscribed 3']);
    }
  });

  it('delivers none of the messages it held once it is closed while they wait for a backlogged socket', async () => {
    const { subscription, answer, backlog, wake, frames } = starting();
    const started = subscription.start(undefined);
    subscription.offer(message(5));
    subscription.offer(message(6));
    backlog(true);
    answer(4);
    await new Promise((resolve) => setImmediate(resolve));
    subscription.close();
    backlog(false);
    wake();
    await started;
    expect(frames()).toEqual(['subscribed 4']);
  });

  it('hands a failure while it catches up to its socket, which contains it', async () => {
    const failures: unknown[] = [];
    const broken = new Error('write failed');
    const sink = {
      open: true,
      backlogged: false,
      writable: async () => undefined,
      sendText: (text: string) => {
        if (text.includes('"seq":5')) throw broken;
      },
      fail: (error: unknown) => failures.push(error),
    };
    let answer!: (read: HistoryRead) => void;
    const reader = () => new Promise<HistoryRead>((resolve) => (answer = resolve));
    const subscription = new Subscription('chat:x', sink, reader, 1000);
    const started = subscription.start(undefined);
    answer({ base: 0, current: 4, entries: [] });
    await started;
    subscription.offer(message(6));
    answer({ base: 0, current: 6, entries: [message(5), message(6)] });
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toEqual([broken]);
  });

  it('writes a replay only while the socket is not backlogged, holding live messages meanwhile', async () => {
    const { subscription, answer, backlog, wake, frames } = starting();
    const started = subscription.start(0);
    backlog(true);
    answer(3, [1, 2, 3]);
    await new Promise((resolve) => setImmediate(resolve));
    subscription.offer(message(4));
    expect(frames()).toEqual(['subscribed 3']);
    wake();
    await new Promise((resolve) => setImmediate(resolve));
    expect(frames()).toEqual(['subscribed 3']);
    backlog(false);
    wake();
    await started;
    expect(frames()).toEqual(['subscribed 3', 1, 2, 3, 4]);
  });
});

describe('a subscription’s bounds and retries', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds 10,000 messages while it starts, in full', async () => {
    const { subscription, answer, frames } = starting();
    const started = subscription.start(undefined);
    for (let seq = 5; seq < 10_005; seq++) subscription.offer(message(seq));
    answer(4);
    await started;
    expect(frames().slice(0, 3)).toEqual(['subscribed 4', 5, 6]);
    expect(frames()).toHaveLength(1 + 10_000);
  });

  it('holds at most 10,000 messages while it starts: past that the oldest goes, and is read again from history, whether or not the start’s read counts it', async () => {
    for (const current of [4, 10_005]) {
      const { subscription, reads, answer, frames } = starting();
      const started = subscription.start(undefined);
      for (let seq = 5; seq <= 10_005; seq++) subscription.offer(message(seq));
      answer(current);
      await started;
      expect(reads.at(-1), `read counting ${current}`).toEqual(['chat:x', 4, 1000]);
      answer(10_005, [5]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(frames().slice(0, 3)).toEqual(['subscribed 4', 5, 6]);
      expect(frames()).toHaveLength(1 + 10_001);
    }
  });

  it('announces as a gap a message it dropped that history no longer has, and delivers every one it held', async () => {
    const { subscription, answer, frames } = starting();
    const started = subscription.start(undefined);
    for (let seq = 5; seq <= 10_005; seq++) subscription.offer(message(seq));
    answer(4);
    await started;
    answer(10_005, Array.from({ length: 1000 }, (_, i) => 9006 + i));
    await new Promise((resolve) => setImmediate(resolve));
    expect(frames().slice(0, 3)).toEqual(['subscribed 4', 'gap 5-5', 6]);
    expect(frames()).toHaveLength(2 + 10_000);
  });

  it('after failed reads, reads again 1 s later, then 2, 4, 8 and 16 s, then every 30 s', async () => {
    vi.useFakeTimers();
    const { subscription, reads, answer, fail } = await liveAt(4);
    subscription.offer(message(6));
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      const before = reads.length;
      fail();
      await vi.advanceTimersByTimeAsync(0);
      let waited = 0;
      while (reads.length === before && waited < 60_000) {
        await vi.advanceTimersByTimeAsync(250);
        waited += 250;
      }
      waits.push(waited);
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });

  it('closed while a repair reads, sets no timer when that read fails and reads no more', async () => {
    vi.useFakeTimers();
    const { subscription, reads, answer, fail } = await liveAt(4);
    subscription.offer(message(6));
    subscription.close();
    fail();
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(reads).toHaveLength(2);
  });

  it('closed while it waits to read again after a failed read, leaves no timer and reads no more', async () => {
    vi.useFakeTimers();
    const { subscription, reads, fail } = await liveAt(4);
    subscription.offer(message(6));
    fail();
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBe(1);
    subscription.close();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(reads).toHaveLength(2);
  });

  it('reads again 1 s after a failed read once a read has succeeded since the earlier failures', async () => {
    vi.useFakeTimers();
    const { subscription, reads, answer, fail } = await liveAt(4);
    subscription.offer(message(6));
    fail();
    await vi.advanceTimersByTimeAsync(1000);
    fail();
    await vi.advanceTimersByTimeAsync(2000);
    expect(reads).toHaveLength(4);
    answer(6, [5, 6]);
    await vi.advanceTimersByTimeAsync(0);
    subscription.offer(message(8));
    expect(reads).toHaveLength(5);
    fail();
    await vi.advanceTimersByTimeAsync(999);
    expect(reads).toHaveLength(5);
    await vi.advanceTimersByTimeAsync(1);
    expect(reads).toHaveLength(6);
  });

  it('announces what history no longer has as a gap, then replays the rest', async () => {
    const { subscription, answer, frames } = starting();
    const started = subscription.start(2);
    answer(7, [6, 7]);
    await started;
    expect(frames()).toEqual(['subscribed 7', 'gap 3-5', 6, 7]);
  });

  it('announces no gap for messages published after its read that fan-out lost meanwhile: reads history again for them', async () => {
    const { subscription, reads, answer, frames } = await liveAt(4);
    subscription.resync();
    subscription.offer(message(9));
    answer(6, [5, 6]);
    await new Promise((resolve) => setImmediate(resolve));
    expect({ frames: frames(), read: reads.at(-1) }).toEqual({ frames: ['subscribed 4', 5, 6], read: ['chat:x', 6, 1000] });
    answer(9, [7, 8, 9]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(frames()).toEqual(['subscribed 4', 5, 6, 7, 8, 9]);
  });

  it('asked to resync while it waits to read again, delivers what fan-out lost after the messages it held without waiting for a later message', async () => {
    const { subscription, reads, answer, fail, frames } = await liveAt(4);
    subscription.offer(message(6));
    fail();
    await new Promise((resolve) => setImmediate(resolve));
    subscription.resync();
    answer(7, [5, 6, 7]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads.at(-1)).toEqual(['chat:x', 6, 1000]);
    answer(7, [7]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(frames()).toEqual(['subscribed 4', 5, 6, 7]);
  });

  it('asked to resync during a catch-up, reads again once that catch-up is done', async () => {
    const { subscription, reads, answer, frames } = await liveAt(4);
    subscription.offer(message(7));
    subscription.resync();
    expect(reads).toHaveLength(2);
    answer(7, [5, 6, 7]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads.at(-1)).toEqual(['chat:x', 7, 1000]);
    answer(9, [8, 9]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(frames()).toEqual(['subscribed 4', 5, 6, 7, 8, 9]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads).toHaveLength(3);
  });

  it('asked to resync while it starts, reads again once it has started: what fan-out lost meanwhile is delivered without waiting for a later message', async () => {
    const { subscription, reads, answer, frames } = starting();
    const started = subscription.start(undefined);
    subscription.resync();
    answer(4);
    await started;
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads.at(-1)).toEqual(['chat:x', 4, 1000]);
    answer(6, [5, 6]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(frames()).toEqual(['subscribed 4', 5, 6]);
  });

  it('reads no history on resync while it is implicit and has delivered nothing', () => {
    const reads: number[] = [];
    const { sink } = subscriberSink(() => undefined);
    const subscription = new Subscription('user:alice', sink, async (_ch, since) => (reads.push(since), { base: 0, current: 0, entries: [] }), 1000, true);
    subscription.resync();
    expect(reads).toEqual([]);
  });
});
