import type { PresenceMember } from '../protocol/wire.js';

/** Most UTF-8 bytes of one `presence_state` frame: a large room's list comes in several, each well under any client's inbound limit. */
export const PRESENCE_PAGE_BYTES = 32 * 1024;

const MORE = ',"more":true}';

/**
 * The `presence_state` frames that answer with `members`: one when they fit in `PRESENCE_PAGE_BYTES`, else
 * pages of whole members in order, each but the last marked `more: true`.
 */
export function presencePages(ch: string, members: readonly PresenceMember[]): string[] {
  const head = `{"type":"presence_state","ch":${JSON.stringify(ch)},"members":[`;
  const room = PRESENCE_PAGE_BYTES - Buffer.byteLength(head) - Buffer.byteLength(`]${MORE}`);
  const pages: string[] = [];
  let parts: string[] = [];
  let bytes = 0;
  for (const member of members) {
    const json = JSON.stringify(member);
    const size = Buffer.byteLength(json);
    if (parts.length > 0 && bytes + 1 + size > room) {
      pages.push(`${head}${parts.join(',')}]${MORE}`);
      parts = [];
      bytes = 0;
    }
    bytes += (parts.length > 0 ? 1 : 0) + size;
    parts.push(json);
  }
  pages.push(`${head}${parts.join(',')}]}`);
  return pages;
}
