import { describe, expect, it } from 'vitest';
import type { HistoryRead } from '../../../src/server/history.js';
import { HistoryTurns } from '../../../src/server/history-turns.js';
import { Subscription } from '../../../src/server/subscription.js';
import { storedMessage as message, subscriberSink } from '../../support/subscriber-sink.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** One connection: its sink, its turns, and a reader whose reads wait until answered. */
function connection(slots: number) {
  const sent: { ch: string; text: string }[] = [];
  const { sink, backlog, wake } = subscriberSink<{ ch: string; type: string; seq?: number }>((frame) =>
    sent.push({ ch: frame.ch, text: frame.type === 'message' ? String(frame.seq) : `${frame.type} ${frame.seq ?? ''}`.trim() }),
  );
  const pending: { ch: string; since: number; resolve: (read: HistoryRead) => void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const reader = (ch: string, since: number) =>
    new Promise<HistoryRead>((resolve) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      pending.push({
        ch,
        since,
        resolve: (read) => {
          inFlight -= 1;
          resolve(read);
        },
      });
    });
  const turns = new HistoryTurns(slots);
  return {
    turns,
    pending,
    maxInFlight: () => maxInFlight,
    subscription: (ch: string) => new Subscription(ch, sink, reader, 1000, false, turns),
    /** Answers the oldest pending read of the channel with messages 1..current. */
    answer(ch: string, current: number) {
      const index = pending.findIndex((read) => read.ch === ch);
      const [read] = pending.splice(index, 1);
      read!.resolve({ base: 0, current, entries: Array.from({ length: current }, (_, n) => message(n + 1)) });
    },
    backlog,
    wake,
    frames: (ch: string) => sent.filter((frame) => frame.ch === ch).map((frame) => frame.text),
  };
}

describe("a connection's history reads", () => {
  it('re-subscribing while a read is in flight waits for it, without a second read meanwhile, and only the latest is answered', async () => {
    const conn = connection(4);
    const first = conn.subscription('chat:a');
    const started = first.start(0);
    expect(conn.pending).toHaveLength(1);
    first.close();
    const subs = Array.from({ length: 50 }, () => conn.subscription('chat:a'));
    const starts = subs.map((sub, n) => {
      const start = sub.start(0);
      if (n < subs.length - 1) sub.close();
      return start;
    });
    await settle();
    expect(conn.pending).toHaveLength(1);
    conn.answer('chat:a', 3);
    await started;
    await settle();
    expect(conn.pending).toHaveLength(1);
    subs.at(-1)!.offer(message(4));
    conn.answer('chat:a', 3);
    await Promise.all(starts);
    expect(conn.maxInFlight()).toBe(1);
    expect(conn.frames('chat:a')).toEqual(['subscribed 3', '1', '2', '3', '4']);
    expect(conn.turns.size).toBe(0);
  });

  it('beyond the slots, reads of other channels wait their turn in order; one closed meanwhile passes it on without reading', async () => {
    const conn = connection(2);
    const subs = ['chat:a', 'chat:b', 'chat:c', 'chat:d'].map((ch) => conn.subscription(ch));
    const starts = subs.map((sub) => sub.start(0));
    await settle();
    expect(conn.pending.map((read) => read.ch)).toEqual(['chat:a', 'chat:b']);
    subs[2]!.close();
    conn.answer('chat:a', 2);
    await settle();
    expect(conn.pending.map((read) => read.ch)).toEqual(['chat:b', 'chat:d']);
    conn.answer('chat:b', 1);
    conn.answer('chat:d', 1);
    await Promise.all(starts);
    expect(conn.maxInFlight()).toBe(2);
    expect(conn.frames('chat:a')).toEqual(['subscribed 2', '1', '2']);
    expect(conn.frames('chat:c')).toEqual([]);
    expect(conn.frames('chat:d')).toEqual(['subscribed 1', '1']);
    expect(conn.turns.size).toBe(0);
  });

  it('a turn lasts while its replay waits for the socket, so a read result is not held beside another beyond the slots', async () => {
    const conn = connection(1);
    const a = conn.subscription('chat:a');
    const b = conn.subscription('chat:b');
    conn.backlog(true);
    const startedA = a.start(0);
    const startedB = b.start(0);
    conn.answer('chat:a', 3);
    await settle();
    expect(conn.frames('chat:a')).toEqual(['subscribed 3']);
    expect(conn.pending).toHaveLength(0);
    conn.backlog(false);
    conn.wake();
    await startedA;
    await settle();
    expect(conn.pending.map((read) => read.ch)).toEqual(['chat:b']);
    conn.answer('chat:b', 1);
    await startedB;
    expect(conn.frames('chat:b')).toEqual(['subscribed 1', '1']);
  });
});

describe('HistoryTurns', () => {
  const never = () => false;

  it('keeps a third turn of a channel behind the second, though the first has ended', async () => {
    const turns = new HistoryTurns(4);
    const first = turns.take('a', never) as () => void;
    const second = turns.take('a', never);
    first();
    const secondRelease = await second;
    const third = turns.take('a', never);
    expect(typeof third).not.toBe('function');
    let thirdTaken = false;
    void (third as Promise<unknown>).then(() => (thirdTaken = true));
    await settle();
    expect(thirdTaken).toBe(false);
    secondRelease!();
    await settle();
    expect(thirdTaken).toBe(true);
    expect(turns.size).toBe(1);
  });

  it('hands a slot given back to the oldest turn waiting, and to that one only', async () => {
    const turns = new HistoryTurns(1);
    const first = turns.take('a', never) as () => void;
    const order: string[] = [];
    for (const ch of ['b', 'c']) void (turns.take(ch, never) as Promise<unknown>).then(() => order.push(ch));
    first();
    await settle();
    expect(order).toEqual(['b']);
    expect(typeof turns.take('d', never)).not.toBe('function');
  });

  it('gives a connection 4 history reads at once by default, and at least 1 whatever it is given', () => {
    const turns = new HistoryTurns();
    expect(['a', 'b', 'c', 'd', 'e'].map((ch) => typeof turns.take(ch, never))).toEqual(['function', 'function', 'function', 'function', 'object']);
    expect(typeof new HistoryTurns(0).take('a', never)).toBe('function');
  });

  it('gives a slot back once, however often its turn is released', () => {
    const turns = new HistoryTurns(1);
    const release = turns.take('a', never) as () => void;
    release();
    release();
    expect(typeof turns.take('b', never)).toBe('function');
    expect(typeof turns.take('c', never)).not.toBe('function');
  });

  it('passes on, without a slot, the place of a turn skipped by its time', async () => {
    const turns = new HistoryTurns(1);
    const first = turns.take('a', never) as () => void;
    const skipped = turns.take('a', () => true);
    first();
    expect(await skipped).toBeUndefined();
    expect(typeof turns.take('b', never)).toBe('function');
    expect(turns.size).toBe(1);
  });
});
