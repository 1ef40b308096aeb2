import { expect, it } from 'vitest';
import { exactBytes, frameBytes } from '../../../src/protocol/frame-bytes.js';

const utf8 = (text: string) => new TextEncoder().encode(text).length;

it('the size of a frame on the wire is its text in UTF-8, or its bytes', () => {
  for (const text of ['plain', 'déjà vu', '€', '😀'.repeat(3), 'a\u0080\u0800😀z']) expect(exactBytes(text), text).toBe(utf8(text));
  expect(exactBytes(new ArrayBuffer(7))).toBe(7);
  expect(exactBytes(new Uint16Array(3))).toBe(6);
});

it('a Blob, from a socket that ignores binaryType, counts its size', () => {
  expect(frameBytes(new Blob(['héllo', new Uint8Array(5)]), 100)).toBe(11);
  expect(frameBytes(new Blob(['x'.repeat(200)]), 100)).toBe(200);
});
