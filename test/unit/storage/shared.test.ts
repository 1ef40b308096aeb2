import { describe, expect, it } from 'vitest';
import { renumbered, toStoredMessage } from '../../../src/storage/shared.js';
import { message } from './support.js';

/** What every store reads back from storage it does not control: each record is checked before it is trusted. */

describe('toStoredMessage', () => {
  it('takes a record with every field of its type, and drops members it does not know', () => {
    const stored = message('a', 5, { channel: 'room', expiresAt: 9 });
    expect(toStoredMessage({ ...stored, injected: '<script>' })).toEqual(stored);
    expect(toStoredMessage({ ...message('b'), channel: null, expiresAt: null })).toEqual(message('b'));
  });

  it('refuses a record whose field has the wrong type, one field at a time', () => {
    const good = message('a', 5, { channel: 'room', expiresAt: 9 });
    const broken: Array<[string, unknown]> = [
      ['key', 7],
      ['frame', { type: 'publish' }],
      ['ack', 'true'],
      ['sentAt', '5'],
      ['sentAt', Number.NaN],
      ['sentAt', Infinity],
      ['priority', 'urgent'],
      ['priority', 1],
      ['channel', 42],
      ['expiresAt', '9'],
    ];
    for (const [field, value] of broken) expect(toStoredMessage({ ...good, [field]: value }), `${field}: ${String(value)}`).toBeUndefined();
  });

  it('refuses what is not a record', () => {
    for (const value of [null, undefined, 'a', 3, true]) expect(toStoredMessage(value)).toBeUndefined();
  });
});

describe('renumbered', () => {
  it('numbers the messages again, oldest first, once a put order reaches 2^52, and leaves lower ones as they are', () => {
    const entries = (top: number) => [
      { seq: top, message: message('late', 2) },
      { seq: 3, message: message('early', 1) },
    ];
    expect(renumbered(entries(2 ** 52 - 1))).toBeUndefined();
    expect(renumbered(entries(2 ** 52))?.map((entry) => [entry.seq, entry.message.key])).toEqual([
      [0, 'early'],
      [1, 'late'],
    ]);
  });
});
