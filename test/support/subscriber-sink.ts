import type { StoredMessage } from '../../src/server/history.js';
import type { SubscriberSink } from '../../src/server/subscription.js';

/** A stored message numbered `seq`, whose data is its number. */
export const storedMessage = (seq: number): StoredMessage => ({ seq, dataJson: String(seq), ts: 0 });

/**
 * A subscriber's socket for specs: every frame it is given goes to `received` (parsed), it is backlogged
 * while `backlog(true)`, and a replay waiting for it looks again on `wake()`. A failure is thrown.
 */
export function subscriberSink<T>(received: (frame: T) => void) {
  let backlogged = false;
  let wake = () => {};
  const sink: SubscriberSink = {
    open: true,
    get backlogged() {
      return backlogged;
    },
    writable: () => new Promise<void>((resolve) => (wake = resolve)),
    sendText: (text: string) => received(JSON.parse(text) as T),
    fail: (error: unknown) => {
      throw error;
    },
  };
  return { sink, backlog: (value: boolean) => (backlogged = value), wake: () => wake() };
}
