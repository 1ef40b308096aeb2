import { expect, it } from 'vitest';
import { messageBytes, RetentionRules } from '../../../src/server/retention.js';

const defaults = { size: 1000, maxBytes: 1_000_000 };

it('gives a channel the first history limit whose pattern matches, the defaults filling what it leaves out', () => {
  const rules = new RetentionRules(
    [
      { pattern: 'log:*', maxBytes: 500 },
      { pattern: 'log:*', size: 5, maxBytes: 50 },
      { pattern: 'small:*', size: 2 },
    ],
    defaults,
  );
  expect(['log:a', 'small:a', 'chat:a'].map((ch) => rules.forChannel(ch))).toEqual([{ size: 1000, maxBytes: 500 }, { size: 2, maxBytes: 1_000_000 }, defaults]);
});

it('weighs a message by the UTF-8 bytes of its encoded data, and its id, event and publisher', () => {
  expect(messageBytes({ dataJson: '"é"' })).toBe(4);
  expect(messageBytes({ dataJson: '1', id: 'id-1', event: 'said', from: 'alice' })).toBe(1 + 4 + 4 + 5);
});

it('weighs the id, event and publisher of a message in UTF-8 bytes too', () => {
  expect(messageBytes({ dataJson: '1', id: 'é-1', event: 'dit', from: 'zoë' })).toBe(1 + 4 + 3 + 4);
  expect(messageBytes({ dataJson: '1', id: '1', event: '说', from: '🦊' })).toBe(1 + 1 + 3 + 4);
});
