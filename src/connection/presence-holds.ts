import { ErrorCode, SocketchartError } from '../protocol/errors.js';
import type { Connection } from './connection.js';
import type { PresenceSession } from './presence.js';

const noop = () => {};
const holds = new WeakMap<PresenceSession, Map<string, number>>();

/** What a hold needs of its connection: the presence, and the status, to join once a closed or failed connection is started again. */
export type PresenceHolder = Pick<Connection, 'presence' | 'status' | 'on'>;

const settled = ({ status }: { status: string }) => status === 'closed' || status === 'failed';

/**
 * Joins `channel` for one holder among several (the components of an app that show the same room): the
 * first hold joins, a hold while not joined joins again, and the last release leaves, if still joined.
 * A join refused because the connection is closed or failed (which remembers nothing of it) is made again
 * when the connection is started or retried, while held, unless the channel is joined by then; `meta` is
 * read at each join. Returns the release (once). A refused join rejects nothing: it is the `presence` call's to report.
 */
export function holdPresence(connection: PresenceHolder, channel: string, meta?: () => Record<string, unknown> | undefined): () => void {
  const { presence } = connection;
  let counts = holds.get(presence);
  if (!counts) holds.set(presence, (counts = new Map()));
  const count = counts.get(channel) ?? 0;
  counts.set(channel, count + 1);
  let held = true;
  let offState = noop;
  const join = () =>
    presence.join(channel, meta?.()).catch((error: unknown) => {
      if (!held || !(error instanceof SocketchartError) || error.code !== ErrorCode.CLOSED) return;
      const again = () => {
        if (settled(connection)) return;
        offState();
        offState = noop;
        if (held && !presence.isJoined(channel)) join();
      };
      offState = connection.on('state', again);
      again();
    });
  if (count === 0 || !presence.isJoined(channel)) join();
  return () => {
    if (!held) return;
    held = false;
    offState();
    const left = counts.get(channel)! - 1;
    if (left > 0) {
      counts.set(channel, left);
      return;
    }
    counts.delete(channel);
    if (presence.isJoined(channel)) presence.leave(channel).catch(noop);
  };
}

/** A holder's meta changed: the channel, while joined, is joined again with it (the server replaces the member's meta). */
export function joinAgainWith(presence: PresenceSession, channel: string, meta?: Record<string, unknown>): void {
  if (presence.isJoined(channel)) presence.join(channel, meta).catch(noop);
}

export interface TypingHold {
  start(options?: { timeoutMs?: number }): void;
  stop(): void;
  release(): void;
}

/** The holders that started typing, by session and channel. */
const typists = new WeakMap<PresenceSession, Map<string, Set<TypingHold>>>();

/**
 * Typing of one holder: `start()` as `presence.startTyping`, `stop()` as `presence.stopTyping` (for every
 * holder of the channel), and `release()` stops the typing only when this holder started it and no other
 * holder on the channel still types.
 */
export function typingHold(presence: PresenceSession, channel: string): TypingHold {
  let channels = typists.get(presence);
  if (!channels) typists.set(presence, (channels = new Map()));
  const holders = channels;
  const started = () => holders.get(channel);
  const hold: TypingHold = {
    start(options) {
      let set = started();
      // typing that ended on its own (timeoutMs, a stopped connection) ended for the holders that started it
      if (!set || !presence.isTyping(channel)) holders.set(channel, (set = new Set()));
      set.add(hold);
      presence.startTyping(channel, options);
    },
    stop() {
      holders.delete(channel);
      presence.stopTyping(channel);
    },
    release() {
      const set = started();
      if (!set?.delete(hold)) return;
      if (set.size > 0) return;
      holders.delete(channel);
      presence.stopTyping(channel);
    },
  };
  return hold;
}
