import { expect, it } from 'vitest';
import type { PresenceMember } from '../../../src/protocol/wire.js';
import { PRESENCE_PAGE_BYTES, presencePages } from '../../../src/server/presence-pages.js';

const member = (i: number, metaBytes = 0): PresenceMember => (metaBytes === 0 ? { userId: `user-${i}` } : { userId: `user-${i}`, meta: { bio: 'é'.repeat(metaBytes / 2) } });
const parsed = (pages: string[]) => pages.map((text) => JSON.parse(text) as Record<string, unknown> & { members: PresenceMember[] });

it('answers a list that fits one page with one presence_state frame holding every member, without `more`', () => {
  const members = [member(1), member(2, 100)];
  const pages = presencePages('chat:a', members);
  expect(pages).toEqual([JSON.stringify({ type: 'presence_state', ch: 'chat:a', members })]);
});

it('answers an empty list with one frame without members', () => {
  expect(parsed(presencePages('chat:a', []))).toEqual([{ type: 'presence_state', ch: 'chat:a', members: [] }]);
});

it('cuts a larger list into frames of at most 32 KiB of UTF-8, every one but the last with `more: true`, holding every member once in order', () => {
  const members = Array.from({ length: 300 }, (_, i) => member(i, 1_000));
  const pages = presencePages('chat:"a"', members);
  expect(pages.length).toBeGreaterThanOrEqual(Math.ceil((300 * 1_000) / PRESENCE_PAGE_BYTES));
  for (const text of pages) expect(Buffer.byteLength(text)).toBeLessThanOrEqual(PRESENCE_PAGE_BYTES);
  const frames = parsed(pages);
  expect(frames.map((frame) => frame.more)).toEqual([...Array(pages.length - 1).fill(true), undefined]);
  expect(frames.every((frame) => frame.type === 'presence_state' && frame.ch === 'chat:"a"')).toBe(true);
  expect(frames.flatMap((frame) => frame.members)).toEqual(members);
});

it('fills each page: the next member would not have fitted in it', () => {
  const members = Array.from({ length: 120 }, (_, i) => member(i, 700));
  const pages = presencePages('chat:a', members);
  const frames = parsed(pages);
  for (let i = 0; i < pages.length - 1; i++) {
    const next = frames[i + 1]!.members[0]!;
    expect(Buffer.byteLength(pages[i]!) + Buffer.byteLength(JSON.stringify(next)) + 1).toBeGreaterThan(PRESENCE_PAGE_BYTES);
  }
});

it('keeps every page within 32 KiB and fills it, whatever the sizes of the members', () => {
  for (let variant = 1; variant <= 150; variant++) {
    const members = Array.from({ length: 400 }, (_, i) => ({ userId: `u${i}`, meta: { s: 'x'.repeat(((i * 37 + variant * 11) % 180) + variant) } }));
    const pages = presencePages('chat:a', members);
    const frames = parsed(pages);
    for (const [i, text] of pages.entries()) {
      expect(Buffer.byteLength(text), `variant ${variant}, page ${i}`).toBeLessThanOrEqual(PRESENCE_PAGE_BYTES);
      const next = frames[i + 1]?.members[0];
      if (next) expect(Buffer.byteLength(text) + Buffer.byteLength(JSON.stringify(next)) + 1, `variant ${variant}, page ${i} is full`).toBeGreaterThan(PRESENCE_PAGE_BYTES);
    }
    expect(frames.flatMap((frame) => frame.members)).toEqual(members);
  }
});

it('answers with one frame a list whose frame fills 32 KiB exactly, without `more`', () => {
  const head = Buffer.byteLength(JSON.stringify({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'a' }, { userId: 'b', meta: { s: '' } }] }));
  const members = [{ userId: 'a' }, { userId: 'b', meta: { s: 'x'.repeat(PRESENCE_PAGE_BYTES - head) } }];
  const whole = JSON.stringify({ type: 'presence_state', ch: 'chat:a', members });
  expect(Buffer.byteLength(whole)).toBe(PRESENCE_PAGE_BYTES);
  const pages = presencePages('chat:a', members);
  expect(pages.length).toBe(1);
  expect(pages[0] === whole).toBe(true);
});
