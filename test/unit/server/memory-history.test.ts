import { describe, expect, it } from 'vitest';
import { MemoryHistory } from '../../../src/server/backend/memory-history.js';
import { RetentionRules } from '../../../src/server/retention.js';

const message = (text: string) => ({ dataJson: JSON.stringify(text), ts: 0 });
/** The documented weight of kept history: each message its bytes plus 150, each channel 800. */
const weight = (channels: number, messages: number, bytes: number) => channels * 800 + messages * 150 + bytes;
const texts = (history: MemoryHistory, ch: string) => history.read(ch, 0, 100, 0).entries.map((entry) => JSON.parse(entry.dataJson) as string);

function historyOf(maxBytes: number, watched: readonly string[] = []) {
  return new MemoryHistory({
    retention: new RetentionRules([{ pattern: 'small:*', size: 2 }], { size: 100, maxBytes: 1000 }),
    maxBytes,
    ttlMs: 60_000,
    isWatched: (ch) => watched.includes(ch),
  });
}

describe('MemoryHistory', () => {
  it('drops the oldest message of all channels first once the total passes maxBytes', () => {
    const history = historyOf(weight(2, 5, 5 * 12));
    for (const [ch, text] of [['a:1', 'aaaaaaaaaa'], ['b:1', 'bbbbbbbbbb'], ['a:1', 'cccccccccc'], ['b:1', 'dddddddddd'], ['a:1', 'eeeeeeeeee'], ['b:1', 'ffffffffff']] as const) {
      history.append(ch, message(text), 0);
    }
    expect(texts(history, 'a:1')).toEqual(['cccccccccc', 'eeeeeeeeee']);
    expect(texts(history, 'b:1')).toEqual(['bbbbbbbbbb', 'dddddddddd', 'ffffffffff']);
    expect(history.sizes()).toMatchObject({ retainedMessages: 5, retainedBytes: 60 });
  });

  it('keeps each channel within its own retention, and counts only what it keeps', () => {
    const history = historyOf(1_000_000);
    for (let i = 0; i < 10; i++) history.append('small:x', message(`m${i}`), 0);
    expect(texts(history, 'small:x')).toEqual(['m8', 'm9']);
    expect(history.sizes()).toMatchObject({ historyChannels: 1, retainedMessages: 2, retainedBytes: 8 });
  });

  it('forgets a channel the total bound emptied when nobody watches it; created again in the same millisecond, it numbers above its old numbers', () => {
    const history = historyOf(weight(1, 1, 12), ['watched:1']);
    const first = history.append('quiet:1', message('aaaaaaaaaa'), 5);
    history.append('watched:1', message('bbbbbbbbbb'), 5);
    history.append('watched:1', message('cccccccccc'), 5);
    expect(history.sizes().historyChannels).toBe(1);
    const again = history.append('quiet:1', message('dddddddddd'), 5);
    expect(again.seq).toBeGreaterThan(first.seq);
    const watched = history.read('watched:1', 0, 10, 5);
    expect(watched.current - watched.base).toBe(2);
  });

  it('forgets the least recently used channel without messages that nobody watches before it drops any message, once the total passes maxBytes', () => {
    const history = historyOf(weight(3, 1, 12));
    history.append('busy:1', message('aaaaaaaaaa'), 0);
    history.read('read:1', 0, 0, 1);
    history.read('read:2', 0, 0, 2);
    history.read('read:1', 0, 0, 3);
    history.read('read:3', 0, 0, 4);
    expect(history.sizes()).toMatchObject({ historyChannels: 3, retainedMessages: 1, retainedBytes: 12 });
    expect(texts(history, 'busy:1')).toEqual(['aaaaaaaaaa']);
    expect(history.read('read:1', 0, 0, 5).base).toBe(1000);
    expect(history.read('read:2', 0, 0, 6).base).toBe(6000);
  });

  it('keeps a watched channel without messages while the bound forgets others, and forgets it like them once nobody watches it', () => {
    const watched = ['watched:1'];
    const history = historyOf(weight(2, 0, 0), watched);
    history.read('watched:1', 0, 0, 1);
    for (let t = 2; t <= 5; t++) history.read(`other:${t}`, 0, 0, t);
    expect(history.sizes().historyChannels).toBe(2);
    expect(history.read('watched:1', 0, 0, 6).base).toBe(1000);
    watched.pop();
    history.unwatched('watched:1', 6);
    history.read('other:7', 0, 0, 7);
    history.read('other:8', 0, 0, 8);
    expect(history.sizes().historyChannels).toBe(2);
    expect(history.read('watched:1', 0, 0, 9).base).toBe(9000);
  });

  it('forgets channels idle past the TTL that nobody watches', () => {
    const history = historyOf(1_000_000, ['kept:1']);
    history.append('idle:1', message('x'), 1000);
    history.append('kept:1', message('y'), 1000);
    history.sweep(61_000);
    expect(history.sizes()).toMatchObject({ historyChannels: 2, retainedMessages: 2 });
    history.sweep(61_001);
    expect(history.sizes()).toMatchObject({ historyChannels: 1, retainedMessages: 1, retainedBytes: 3 });
  });

  it('counts the idle time of a channel from its last append or read', () => {
    const history = historyOf(1_000_000);
    history.append('busy:1', message('x'), 1000);
    history.append('busy:1', message('y'), 50_000);
    history.sweep(61_001);
    expect(history.sizes()).toMatchObject({ historyChannels: 1, retainedMessages: 2 });
    history.read('busy:1', 0, 0, 100_000);
    history.sweep(110_001);
    expect(history.sizes()).toMatchObject({ historyChannels: 1 });
    history.sweep(160_001);
    expect(history.sizes()).toMatchObject({ historyChannels: 0 });
  });

  it('forgets a channel without messages as soon as nobody watches it, when watched channels kept the total past the bound', () => {
    const watched = ['watched:1', 'watched:2'];
    const history = historyOf(weight(1, 0, 0), watched);
    history.read('watched:1', 0, 0, 1);
    history.read('watched:2', 0, 0, 2);
    expect(history.sizes().historyChannels).toBe(2);
    watched.shift();
    history.unwatched('watched:1', 2);
    expect(history.sizes().historyChannels).toBe(1);
    expect(history.read('watched:2', 0, 0, 3).base).toBe(2000);
  });

  it('drops the oldest message kept, never one of a channel forgotten before it was created again', () => {
    const history = historyOf(weight(2, 4, 4 * 12));
    history.append('a:1', message('old-1-xxxx'), 0);
    history.append('a:1', message('old-2-xxxx'), 0);
    history.append('k:1', message('k-1-xxxxxx'), 59_000);
    history.sweep(60_001);
    for (const text of ['new-1-xxxx', 'new-2-xxxx', 'new-3-xxxx']) history.append('a:1', message(text), 60_002);
    history.append('k:1', message('k-2-xxxxxx'), 60_003);
    expect(texts(history, 'k:1')).toEqual(['k-2-xxxxxx']);
    expect(texts(history, 'a:1')).toEqual(['new-1-xxxx', 'new-2-xxxx', 'new-3-xxxx']);
    expect(history.sizes()).toMatchObject({ historyChannels: 2, retainedMessages: 4, retainedBytes: 48 });
  });

  it('keeps its publish-order index within a bound of what it retains, and empty once it retains nothing', () => {
    const byRetention = historyOf(1_000_000);
    for (let i = 0; i < 5000; i++) byRetention.append('small:1', message('x'), 0);
    const small = byRetention.sizes();
    expect(small.historyOrder).toBeLessThanOrEqual(4 * small.retainedMessages + 2048);
    const byTotal = historyOf(weight(1, 10, 10 * 3));
    for (let i = 0; i < 5000; i++) byTotal.append('a:1', message('x'), 0);
    const total = byTotal.sizes();
    expect(total.retainedMessages).toBe(10);
    expect(total.historyOrder).toBeLessThanOrEqual(4 * total.retainedMessages + 2048);
    byTotal.sweep(60_001);
    expect(byTotal.sizes()).toEqual({ historyChannels: 0, retainedMessages: 0, retainedBytes: 0, historyOrder: 0 });
  });
});
