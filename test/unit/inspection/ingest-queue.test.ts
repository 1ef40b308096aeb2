import { describe, expect, it } from 'vitest';
import { IngestQueue } from '../../../inspector/src/ingest-queue.js';

/** A clock that moves `msPerRecord` for every record handed over: the cost of ingesting one. */
function costly(msPerRecord: number) {
  let t = 0;
  const seen: number[] = [];
  return {
    seen,
    now: () => t,
    ingest: (record: number) => {
      seen.push(record);
      t += msPerRecord;
      return true;
    },
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('the inspector page’s ingest queue', () => {
  it('stops a frame’s slice once the budget has passed, at the next step, and leaves the rest for the next frame', () => {
    const queue = new IngestQueue<number>(10);
    queue.push(range(0, 1_000));
    const clock = costly(0.25);
    expect(queue.drain(clock.ingest, clock.now, 5)).toBe(20);
    expect(queue.isEmpty).toBe(false);
    expect(queue.drain(clock.ingest, clock.now, 5)).toBe(20);
    expect(clock.seen).toEqual(range(0, 40));
  });

  it('reads the clock every step, so one large batch cannot hold a frame past its budget by more than a step', () => {
    const queue = new IngestQueue<number>(100);
    queue.push(range(0, 5_000));
    const clock = costly(0.25);
    queue.drain(clock.ingest, clock.now, 10);
    expect(clock.now()).toBeLessThanOrEqual(10 + 100 * 0.25);
    expect(clock.seen).toEqual(range(0, 100));
  });

  it('hands every record over once, in arrival order, across batches and frames', () => {
    const queue = new IngestQueue<number>(7);
    queue.push(range(0, 25));
    queue.push([]);
    queue.push(range(25, 26));
    queue.push(range(26, 60));
    const clock = costly(1);
    let frames = 0;
    while (!queue.isEmpty) {
      queue.drain(clock.ingest, clock.now, 10);
      frames++;
    }
    expect(clock.seen).toEqual(range(0, 60));
    expect(frames).toBe(5);
  });

  it('takes at least one step even when the budget is already spent, so a slow frame still makes progress', () => {
    const queue = new IngestQueue<number>(4);
    queue.push(range(0, 10));
    const clock = costly(50);
    expect(queue.drain(clock.ingest, clock.now, 0)).toBe(4);
  });

  it('counts only the records that were ingested', () => {
    const queue = new IngestQueue<number>();
    queue.push(range(0, 10));
    expect(queue.drain((n) => n % 2 === 0, () => 0, 10)).toBe(5);
    expect(queue.isEmpty).toBe(true);
  });

  it('goes on past a record whose ingest throws, counts it rejected, and hands every record over once', () => {
    const queue = new IngestQueue<number>(4);
    queue.push(range(0, 10));
    const seen: number[] = [];
    const ingest = (n: number) => {
      seen.push(n);
      if (n === 2 || n === 9) throw new Error(`cannot read ${n}`);
      return true;
    };
    let frames = 0;
    while (!queue.isEmpty && frames++ < 5) queue.drain(ingest, () => 0, 10);
    expect({ seen, rejected: queue.rejected }).toEqual({ seen: range(0, 10), rejected: 2 });
  });

  it('returns nothing for an empty queue, and forgets what it held when cleared', () => {
    const queue = new IngestQueue<number>(3);
    expect(queue.drain(() => true, () => 0, 10)).toBe(0);
    queue.push(range(0, 10));
    queue.drain(costly(1).ingest, costly(1).now, 0);
    queue.clear();
    expect(queue.isEmpty).toBe(true);
    const clock = costly(0);
    queue.push([42]);
    queue.drain(clock.ingest, clock.now, 10);
    expect(clock.seen).toEqual([42]);
  });
});
