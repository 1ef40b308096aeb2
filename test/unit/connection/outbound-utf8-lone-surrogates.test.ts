import { expect, it } from 'vitest';
import { ErrorCode } from '../../../src/index.js';
import { harness } from '../../support/harness.js';

/**
 * `maxMessageBytes` ("larger sends reject with MESSAGE_TOO_LARGE") is meant to bound the frame in the
 * UTF-8 bytes it goes out as. A lone surrogate is sent as U+FFFD (3 bytes, as TextEncoder, Buffer and `ws`
 * encode it); the byte count must not take a lone high surrogate for the first half of a pair (4 bytes) and
 * skip the code unit after it ('\ud800\u0800' goes out as 6 bytes, not 4), nor pair a lone low surrogate with
 * what precedes it. Each sample: exactly its UTF-8 size is written, one byte less is refused.
 */

const samples: Array<[string, string]> = [
  ['a lone high surrogate before a 3-byte character', '\ud800\u0800'],
  ['a lone high surrogate before an ASCII character', '\ud800a'],
  ['a lone low surrogate after a 3-byte character', '\u0800\udc00'],
  ['a low surrogate before a high one (two lone halves)', '\udc00\ud800'],
  ['two lone low surrogates', '\udc00\udc00'],
  ['a private-use character before a lone low surrogate', '\ue000\udc00'],
  ['a lone high surrogate at the end', 'ab\ud800'],
  ['a pair after a lone high surrogate', '\ud800\ud800\udc00'],
];

const utf8 = (text: string) => new TextEncoder().encode(text).length;

for (const [name, unit] of samples) {
  it(`${name}: the frame is bounded by the UTF-8 bytes it goes out as`, async () => {
    const text = unit.repeat(3);
    const bytes = utf8(text);
    const fits = harness({ heartbeat: false, maxMessageBytes: bytes });
    await fits.connect();
    await expect(fits.connection.send(text)).resolves.toBeUndefined();

    const over = harness({ heartbeat: false, maxMessageBytes: bytes - 1 });
    await over.connect();
    await expect(over.connection.send(text)).rejects.toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE });
    expect(over.server.last!.sent).toEqual([]);
  });
}
