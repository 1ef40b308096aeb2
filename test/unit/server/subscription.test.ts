import { describe, expect, it } from 'vitest';
import type { HistoryRead, StoredMessage } from '../../../src/server/history.js';
import { Subscription } from '../../../src/server/subscription.js';

const message = (seq: number): StoredMessage => ({ seq, dataJson: String(seq), ts: 0 });
type Sent = { type: string; seq?: number; from?: number; to?: number };

/** A subscription whose history read waits until `answer(current)`; what it sends, as `frames()`. */
function starting() {
  const sent: Sent[] = [];
  const sink = { open: true, sendText: (text: string) => sent.push(JSON.parse(text) as Sent), fail: (error: unknown) => { throw error; } };
  let answer!: (read: HistoryRead) => void;
  const reads: Array<[string, number, number]> = [];
  const reader = (ch: string, since: number, limit: number) => {
    reads.push([ch, since, limit]);
    return new Promise<HistoryRead>((resolve) => (answer = resolve));
  };
  const subscription = new Subscription('chat:x', sink, reader, 1000);
  const frames = () => sent.map((frame) => (frame.type === 'message' ? frame.seq : frame.type === 'gap' ? `gap ${frame.from}-${frame.to}` : `${frame.type} ${frame.seq}`));
  return { subscription, reads, answer: (current: number, entries: number[] = []) => answer({ base: 0, current, entries: entries.map(message) }), frames };
}

describe('a subscription without `since` (from now on)', () => {
  it('answers subscribed with the current number and delivers what comes after it, reading no history', async () => {
    const { subscription, reads, answer, frames } = starting();
    const started = subscription.start(undefined);
    answer(4);
    await started;
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
