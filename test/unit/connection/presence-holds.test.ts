import { describe, expect, it } from 'vitest';
import { holdPresence, joinAgainWith, typingHold } from '../../../src/connection/presence-holds.js';
import type { PresenceSession } from '../../../src/connection/presence.js';

/** Holds shared by the components of an app on one channel: who joins, who leaves, whose typing stops. */

/** A presence session that records its calls and knows what it joined. */
function session() {
  const calls: string[] = [];
  const joined = new Set<string>();
  const presence = {
    join: (channel: string) => {
      calls.push(`join ${channel}`);
      joined.add(channel);
      return Promise.resolve([]);
    },
    leave: (channel: string) => {
      calls.push(`leave ${channel}`);
      joined.delete(channel);
      return Promise.resolve([]);
    },
    isJoined: (channel: string) => joined.has(channel),
    startTyping: (channel: string) => calls.push(`typing ${channel}`),
    stopTyping: (channel: string) => calls.push(`stop typing ${channel}`),
  };
  return { calls, presence: presence as unknown as PresenceSession, leaveNow: (channel: string) => presence.leave(channel) };
}

describe('holdPresence', () => {
  it('the first hold joins, later ones share the join, and the last release leaves', () => {
    const { calls, presence } = session();
    const first = holdPresence(presence, 'room');
    const second = holdPresence(presence, 'room');
    expect(calls).toEqual(['join room']);
    first();
    expect(calls).toEqual(['join room']);
    second();
    expect(calls).toEqual(['join room', 'leave room']);
  });

  it('a hold while the channel is not joined (the app left it) joins again', () => {
    const { calls, presence, leaveNow } = session();
    const first = holdPresence(presence, 'room');
    void leaveNow('room');
    const second = holdPresence(presence, 'room');
    expect(calls).toEqual(['join room', 'leave room', 'join room']);
    first();
    second();
    expect(calls.at(-1)).toBe('leave room');
  });

  it('a release counts once, however often it is called', () => {
    const { calls, presence } = session();
    const first = holdPresence(presence, 'room');
    const second = holdPresence(presence, 'room');
    first();
    first();
    expect(calls).toEqual(['join room']);
    second();
    expect(calls).toEqual(['join room', 'leave room']);
  });

  it('the last release does not leave a channel the app left already', () => {
    const { calls, presence, leaveNow } = session();
    const hold = holdPresence(presence, 'room');
    void leaveNow('room');
    hold();
    expect(calls).toEqual(['join room', 'leave room']);
  });

  it('channels are counted apart', () => {
    const { calls, presence } = session();
    const a = holdPresence(presence, 'a');
    holdPresence(presence, 'b');
    a();
    expect(calls).toEqual(['join a', 'join b', 'leave a']);
  });

  it('a new meta of a holder joins again while the channel is joined, and joins nothing once it is left', () => {
    const { calls, presence, leaveNow } = session();
    holdPresence(presence, 'room', { status: 'online' });
    joinAgainWith(presence, 'room', { status: 'away' });
    void leaveNow('room');
    joinAgainWith(presence, 'room', { status: 'busy' });
    expect(calls).toEqual(['join room', 'join room', 'leave room']);
  });
});

describe('typingHold', () => {
  it('the release stops typing this holder started, once', () => {
    const { calls, presence } = session();
    const hold = typingHold(presence, 'room');
    hold.start();
    hold.release();
    hold.release();
    expect(calls).toEqual(['typing room', 'stop typing room']);
  });

  it('the release stops nothing when this holder never typed, or stopped already', () => {
    const { calls, presence } = session();
    typingHold(presence, 'room').release();
    const hold = typingHold(presence, 'room');
    hold.start();
    hold.stop();
    hold.release();
    expect(calls).toEqual(['typing room', 'stop typing room']);
  });

  it('a release keeps the typing another holder of the channel started; the last one to release stops it', () => {
    const { calls, presence } = session();
    const composer = typingHold(presence, 'room');
    const sidebar = typingHold(presence, 'room');
    const other = typingHold(presence, 'lobby');
    composer.start();
    sidebar.start();
    other.start();
    composer.release();
    expect(calls).toEqual(['typing room', 'typing room', 'typing lobby']);
    sidebar.release();
    expect(calls).toEqual(['typing room', 'typing room', 'typing lobby', 'stop typing room']);
    other.release();
    expect(calls.at(-1)).toBe('stop typing lobby');
  });

  it('a stop by one holder stops the typing for all: a later release of another stops nothing more', () => {
    const { calls, presence } = session();
    const a = typingHold(presence, 'room');
    const b = typingHold(presence, 'room');
    a.start();
    b.start();
    a.stop();
    b.release();
    expect(calls).toEqual(['typing room', 'typing room', 'stop typing room']);
  });
});
