import type { OutgoingFrame } from './adapter.js';

/** Bytes of `text` in UTF-8, a lone surrogate counted as the 3 bytes of its replacement character. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Exact size in bytes, except that a text frame which fits `limit` however it is encoded is counted by length.
 * A Blob (from a socket that ignores `binaryType`) counts its `size`.
 */
export function frameBytes(frame: OutgoingFrame | ArrayBuffer | Blob, limit: number): number {
  if (typeof frame === 'string') return frame.length * 3 <= limit ? frame.length : utf8Length(frame);
  return 'size' in frame ? frame.size : frame.byteLength;
}

/** Size in bytes on the wire. */
export const exactBytes = (frame: OutgoingFrame): number => (typeof frame === 'string' ? utf8Length(frame) : frame.byteLength);
