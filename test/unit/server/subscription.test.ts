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
  const reader = () => new Promise<HistoryRead>((resolve) => (answer = resolve));
  const subscription = new Subscription('chat:x', sink, reader, 1000);
  const frames = () => sent.map((frame) => (frame.type === 'message' ? frame.seq : frame.type === 'gap' ? `gap ${frame.from}-${frame.to}` : `${frame.type} ${frame.seq}`));
  return { subscription, answer: (current: number) => answer({ base: 0, current, entries: [] }), frames };
}

describe('a subscription without `since` (from now on)', () => {
  it('answers subscribed with the current number and delivers what comes after it', async () => {
    const { subscription, answer, frames } = starting();
    const started = subscription.start(undefined);
    answer(4);
    await started;
    subscription.offer(message(5));
    expect(frames()).toEqual(['subscribed 4', 5]);
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
