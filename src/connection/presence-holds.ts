import type { PresenceSession } from './presence.js';

const noop = () => {};
const holds = new WeakMap<PresenceSession, Map<string, number>>();

/**
 * Joins `channel` for one holder among several (the components of an app that show the same room): the
 * first hold joins, a hold while not joined joins again, and the last release leaves, if still joined.
 * Returns the release (once). A refused join rejects nothing: it is the `presence` call's to report.
 */
export function holdPresence(presence: PresenceSession, channel: string, meta?: Record<string, unknown>): () => void {
  let counts = holds.get(presence);
  if (!counts) holds.set(presence, (counts = new Map()));
  const count = counts.get(channel) ?? 0;
  counts.set(channel, count + 1);
  if (count === 0 || !presence.isJoined(channel)) presence.join(channel, meta).catch(noop);
  let held = true;
  return () => {
    if (!held) return;
    held = false;
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
      if (!set) holders.set(channel, (set = new Set()));
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
