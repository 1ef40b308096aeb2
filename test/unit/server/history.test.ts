import { describe, expect, it } from 'vitest';
import { MessageRing, planReplay, type StoredMessage } from '../../../src/server/history.js';

/** A message numbered `seq` whose data is `bytes` bytes of JSON. */
const message = (seq: number, bytes = 4): StoredMessage => ({ seq, dataJson: JSON.stringify('x'.repeat(bytes - 2)), ts: 0 });
const seqs = (messages: readonly StoredMessage[]) => messages.map((m) => m.seq);

function ringOf(size: number, maxBytes: number, from: number, to: number, bytes = 4): MessageRing {
  const ring = new MessageRing(size, maxBytes);
  for (let seq = from; seq <= to; seq++) ring.push(message(seq, bytes));
  return ring;
}

describe('MessageRing', () => {
  it('keeps the last `size` messages', () => {
    const ring = ringOf(5, 1000, 1, 10);
    expect([ring.length, ring.firstSeq, ring.bytes]).toEqual([5, 6, 20]);
  });

  it('keeps the last messages within `maxBytes`, counting their data, id, event and publisher', () => {
    const ring = ringOf(100, 12, 1, 10);
    expect([ring.length, ring.firstSeq, ring.bytes]).toEqual([3, 8, 12]);
    ring.push({ seq: 11, dataJson: '"x"', ts: 0, id: 'ab', event: 'cd', from: 'e' });
    expect([ring.length, ring.firstSeq, ring.bytes]).toEqual([2, 10, 12]);
  });

  it('keeps nothing of a message larger than `maxBytes` on its own', () => {
    const ring = ringOf(100, 12, 1, 1, 13);
    expect([ring.length, ring.firstSeq, ring.bytes]).toEqual([0, undefined, 0]);
    expect(ring.after(0, 10)).toEqual([]);
  });

  it('gives the messages after `since`, at most `limit`, from whatever it still keeps', () => {
    const ring = ringOf(5, 1000, 1, 10);
    expect(seqs(ring.after(7, 100))).toEqual([8, 9, 10]);
    expect(seqs(ring.after(0, 100))).toEqual([6, 7, 8, 9, 10]);
    expect(seqs(ring.after(5, 100))).toEqual([6, 7, 8, 9, 10]);
    expect(seqs(ring.after(7, 1))).toEqual([8]);
    expect(seqs(ring.after(10, 100))).toEqual([]);
    expect(seqs(ring.after(12, 100))).toEqual([]);
  });

  it('gives the same messages after thousands have been dropped', () => {
    const ring = ringOf(3, 1000, 1, 5000);
    expect(seqs(ring.after(4997, 10))).toEqual([4998, 4999, 5000]);
    expect(seqs(ring.after(4998, 10))).toEqual([4999, 5000]);
    expect(ring.bytes).toBe(12);
  });
});

describe('planReplay', () => {
  const read = (base: number, current: number, entries: number[]) => ({ base, current, entries: entries.map((seq) => message(seq)) });
  const plan = (since: number, r: ReturnType<typeof read>, until?: number) =>
    planReplay(since, r, until).map((item) => (item.kind === 'gap' ? `gap ${item.from}-${item.to}` : item.message.seq));

  it('replays from the channel’s base for since 0, with no gap before it', () => {
    expect(plan(0, read(1000, 1002, [1001, 1002]))).toEqual([1001, 1002]);
  });

  it('skips what the subscriber already has, and announces as gaps what history no longer has', () => {
    expect(plan(5, read(0, 9, [4, 5, 6, 8]))).toEqual([6, 'gap 7-7', 8, 'gap 9-9']);
  });

  it('stops at `until`', () => {
    expect(plan(5, read(0, 9, [6, 7, 8, 9]), 7)).toEqual([6, 7]);
  });
});
