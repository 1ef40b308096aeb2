import type { PresenceMember } from '../protocol/wire.js';

/** Most UTF-8 bytes of one `presence_state` frame: a large room's list comes in several, each well under any client's inbound limit. */
export const PRESENCE_PAGE_BYTES = 32 * 1024;

const MORE = ',"more":true}';

/** `members` as JSON, in runs of whole members joined by commas, each run at most `room` UTF-8 bytes (or one member larger). */
function runsOf(members: readonly PresenceMember[], room: number): string[] {
  const runs: string[] = [];
  let parts: string[] = [];
  let bytes = 0;
  for (const member of members) {
    const json = JSON.stringify(member);
    const size = Buffer.byteLength(json);
    if (parts.length > 0 && bytes + 1 + size > room) {
      runs.push(parts.join(','));
      parts = [];
      bytes = 0;
    }
    bytes += (parts.length > 0 ? 1 : 0) + size;
    parts.push(json);
  }
  if (parts.length > 0) runs.push(parts.join(','));
  return runs;
}

/**
 * The `presence_state` frames that answer with `members`: one when they fit in `PRESENCE_PAGE_BYTES`, else
 * pages of whole members in order, each but the last marked `more: true`.
 */
export function presencePages(ch: string, members: readonly PresenceMember[]): string[] {
  const head = `{"type":"presence_state","ch":${JSON.stringify(ch)},"members":[`;
  const runs = runsOf(members, PRESENCE_PAGE_BYTES - Buffer.byteLength(head) - Buffer.byteLength(`]${MORE}`));
  if (runs.length === 0) runs.push('');
  // the last page has no `more`: two runs may fit in one frame
  const one = runs.length === 2 ? `${head}${runs.join(',')}]}` : undefined;
  if (one !== undefined && Buffer.byteLength(one) <= PRESENCE_PAGE_BYTES) return [one];
  return runs.map((run, i) => `${head}${run}]${i < runs.length - 1 ? MORE : '}'}`);
}

/**
 * The `presence` frames announcing `joins` and `leaves`: one when it fits in `PRESENCE_PAGE_BYTES`, else several of
 * whole members, the joins first (a dead node's members reaped at once change too many for one frame).
 */
export function presenceDiffs(ch: string, joins: readonly PresenceMember[], leaves: readonly PresenceMember[]): string[] {
  const whole = JSON.stringify({ type: 'presence', ch, joins, leaves });
  if (Buffer.byteLength(whole) <= PRESENCE_PAGE_BYTES) return [whole];
  const head = `{"type":"presence","ch":${JSON.stringify(ch)},"joins":[`;
  const room = PRESENCE_PAGE_BYTES - Buffer.byteLength(`${head}],"leaves":[]}`);
  return [...runsOf(joins, room).map((run) => `${head}${run}],"leaves":[]}`), ...runsOf(leaves, room).map((run) => `${head}],"leaves":[${run}]}`)];
}
