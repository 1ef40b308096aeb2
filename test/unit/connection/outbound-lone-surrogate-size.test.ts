import { expect, it } from 'vitest';
import { ErrorCode } from '../../../src/index.js';
import { harness } from '../../support/harness.js';

/**
 * `maxMessageBytes` bounds a frame in the UTF-8 bytes it goes out as. A lone high surrogate goes out as U+FFFD
 * (3 bytes, as TextEncoder, Buffer and `ws` encode it), not as the first half of a pair: '\ud800\u0800' is 6
 * bytes, not 4.
 */

it('a text frame holding a lone surrogate is bounded by the UTF-8 bytes it goes out as', async () => {
  const text = '\ud800\u0800'.repeat(2);
  const bytes = new TextEncoder().encode(text).length;
  expect(bytes).toBe(12);
  const h = harness({ heartbeat: false, maxMessageBytes: bytes - 1 });
  await h.connect();
  await expect(h.connection.send(text)).rejects.toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE });
  expect(h.server.last!.sent).toEqual([]);
});
