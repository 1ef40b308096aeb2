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

export interface TypingHold {
  start(options?: { timeoutMs?: number }): void;
  stop(): void;
  release(): void;
}

/**
 * Typing of one holder: `start()` as `presence.startTyping`, and `release()` stops the typing only when
 * this holder started it (another holder on the channel may still type).
 */
export function typingHold(presence: PresenceSession, channel: string): TypingHold {
  let started = false;
  return {
    start(options) {
      started = true;
      presence.startTyping(channel, options);
    },
    stop() {
      started = false;
      presence.stopTyping(channel);
    },
    release() {
      if (started) presence.stopTyping(channel);
      started = false;
    },
  };
}
