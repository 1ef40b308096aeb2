import { expect, it } from 'vitest';
import { ErrorCode } from '../../../src/index.js';
import { harness } from '../../support/harness.js';

/**
 * `maxMessageBytes` bounds a text frame by its size in UTF-8, the encoding it goes out in: a frame of
 * exactly the limit is written, one byte more is refused with MESSAGE_TOO_LARGE. The sizes here come
 * from TextEncoder, at each boundary of the UTF-8 encoding (1, 2, 3 and 4 bytes per code point).
 */

const samples: Array<[string, string]> = [
  ['U+007F (1 byte)', '\u007f'],
  ['U+0080 (2 bytes)', '\u0080'],
  ['U+07FF (2 bytes)', '\u07ff'],
  ['U+0800 (3 bytes)', '\u0800'],
  ['U+D7FF (3 bytes)', '\ud7ff'],
  ['U+E000 (3 bytes)', '\ue000'],
  ['U+FFFF (3 bytes)', '\uffff'],
  ['U+10000, surrogates D800 DC00 (4 bytes)', '\ud800\udc00'],
  ['U+10FFFF, surrogates DBFF DFFF (4 bytes)', '\udbff\udfff'],
  ['an emoji (4 bytes)', '😀'],
  ['a mix', 'a\u0080\u0800😀z'],
];

const utf8 = (text: string) => new TextEncoder().encode(text).length;

for (const [name, unit] of samples) {
  it(`${name}: a text frame of exactly maxMessageBytes in UTF-8 is written, one byte over is refused`, async () => {
    const text = unit.repeat(4);
    const bytes = utf8(text);
    const fits = harness({ heartbeat: false, maxMessageBytes: bytes });
    await fits.connect();
    await expect(fits.connection.send(text)).resolves.toBeUndefined();
    expect(fits.server.last!.sent.map((frame) => frame.raw)).toEqual([text]);

    const over = harness({ heartbeat: false, maxMessageBytes: bytes - 1 });
    await over.connect();
    await expect(over.connection.send(text)).rejects.toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE });
    expect(over.server.last!.sent).toEqual([]);
  });
}
