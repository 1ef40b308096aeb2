import { describe, expect, it } from 'vitest';
import { holdPresence, joinAgainWith, typingHold, type PresenceHolder } from '../../../src/connection/presence-holds.js';
import type { PresenceSession } from '../../../src/connection/presence.js';
import type { ConnectionStatus } from '../../../src/connection/types.js';
import { ErrorCode, SocketchartError, closedError } from '../../../src/protocol/errors.js';
import { harness } from '../../support/harness.js';

/** Holds shared by the components of an app on one channel: who joins, who leaves, whose typing stops. */

/**
 * A connection's presence session that records its calls and knows what it joined; while the connection is
 * closed or failed it refuses joins with CLOSED and remembers nothing of them, as `PresenceSession` does.
 * `setStatus` moves the connection on, telling its `state` listeners.
 */
function session() {
  const calls: string[] = [];
  /** The meta of each join made. */
  const metas: unknown[] = [];
  const joined = new Set<string>();
  const typing = new Set<string>();
  const listeners = new Set<(change: { status: ConnectionStatus }) => void>();
  let status: ConnectionStatus = 'connected';
  const presence = {
    join: (channel: string, meta?: Record<string, unknown>) => {
      if (status === 'closed' || status === 'failed') {
        calls.push(`join ${channel} refused`);
        return Promise.reject(closedError(status));
      }
      calls.push(`join ${channel}`);
      metas.push(meta);
      joined.add(channel);
      return Promise.resolve([]);
    },
    leave: (channel: string) => {
      calls.push(`leave ${channel}`);
      joined.delete(channel);
      return Promise.resolve([]);
    },
    isJoined: (channel: string) => joined.has(channel),
    startTyping: (channel: string) => {
      calls.push(`typing ${channel}`);
      typing.add(channel);
    },
    stopTyping: (channel: string) => {
      calls.push(`stop typing ${channel}`);
      typing.delete(channel);
    },
    isTyping: (channel: string) => typing.has(channel),
  } as unknown as PresenceSession;
  const connection = {
    presence,
    get status() {
      return status;
    },
    on: (_event: 'state', listener: (change: { status: ConnectionStatus }) => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  } as unknown as PresenceHolder;
  const setStatus = (next: ConnectionStatus) => {
    status = next;
    for (const listener of [...listeners]) listener({ status });
  };
  return { calls, metas, presence, connection, setStatus, listening: () => listeners.size, leaveNow: (channel: string) => presence.leave(channel) };
}

/** Lets the refusal of a join reach the hold. */
const refusalHeard = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('holdPresence', () => {
  it('the first hold joins, later ones share the join, and the last release leaves', () => {
    const { calls, connection } = session();
    const first = holdPresence(connection, 'room');
    const second = holdPresence(connection, 'room');
    expect(calls).toEqual(['join room']);
    first();
    expect(calls).toEqual(['join room']);
    second();
    expect(calls).toEqual(['join room', 'leave room']);
  });

  it('the first hold of a channel the app joined already joins it again, with the meta of the hold', () => {
    const { calls, metas, connection, presence } = session();
    void presence.join('room', { status: 'away' });
    holdPresence(connection, 'room', () => ({ status: 'online' }));
    expect(calls).toEqual(['join room', 'join room']);
    expect(metas).toEqual([{ status: 'away' }, { status: 'online' }]);
  });

  it('a hold while the channel is not joined (the app left it) joins again', () => {
    const { calls, connection, presence, leaveNow } = session();
    const first = holdPresence(connection, 'room');
    void leaveNow('room');
    const second = holdPresence(connection, 'room');
    expect(calls).toEqual(['join room', 'leave room', 'join room']);
    first();
    second();
    expect(calls.at(-1)).toBe('leave room');
  });

  it('a release counts once, however often it is called', () => {
    const { calls, connection } = session();
    const first = holdPresence(connection, 'room');
    const second = holdPresence(connection, 'room');
    first();
    first();
    expect(calls).toEqual(['join room']);
    second();
    expect(calls).toEqual(['join room', 'leave room']);
  });

  it('the last release does not leave a channel the app left already', () => {
    const { calls, connection, presence, leaveNow } = session();
    const hold = holdPresence(connection, 'room');
    void leaveNow('room');
    hold();
    expect(calls).toEqual(['join room', 'leave room']);
  });

  it('channels are counted apart', () => {
    const { calls, connection } = session();
    const a = holdPresence(connection, 'a');
    holdPresence(connection, 'b');
    a();
    expect(calls).toEqual(['join a', 'join b', 'leave a']);
  });

  it('a join refused because the connection is closed is made when it is started again, with the meta of then', async () => {
    const { calls, metas, connection, setStatus } = session();
    setStatus('closed');
    let meta = { status: 'online' };
    holdPresence(connection, 'room', () => meta);
    await refusalHeard();
    meta = { status: 'away' };
    setStatus('connecting');
    setStatus('connected');
    expect(calls).toEqual(['join room refused', 'join room']);
    expect(metas).toEqual([{ status: 'away' }]);
  });

  it('a connection started before the refusal is heard: the join is made at once', async () => {
    const { calls, connection, setStatus } = session();
    setStatus('closed');
    holdPresence(connection, 'room');
    setStatus('connecting');
    await refusalHeard();
    expect(calls).toEqual(['join room refused', 'join room']);
  });

  it('holds refused while the connection has failed: retry() joins once for all of them, and they listen no more', async () => {
    const { calls, connection, setStatus, listening } = session();
    setStatus('failed');
    holdPresence(connection, 'room');
    holdPresence(connection, 'room');
    await refusalHeard();
    expect(listening()).toBe(2);
    setStatus('connecting');
    setStatus('closed');
    setStatus('connecting');
    expect(calls).toEqual(['join room refused', 'join room refused', 'join room']);
    expect(listening()).toBe(0);
  });

  it('a hold released before the connection starts joins nothing then, and listens no more', async () => {
    const { calls, connection, setStatus, listening } = session();
    setStatus('closed');
    const release = holdPresence(connection, 'room');
    await refusalHeard();
    release();
    expect(listening()).toBe(0);
    setStatus('connecting');
    expect(calls).toEqual(['join room refused']);
  });

  it('after the last release, the next hold joins again and its own release leaves', () => {
    const { calls, connection } = session();
    holdPresence(connection, 'room')();
    holdPresence(connection, 'room')();
    expect(calls).toEqual(['join room', 'leave room', 'join room', 'leave room']);
  });

  it('a join refused for another reason than a closed connection is not made again when the connection starts', async () => {
    const { calls, connection, presence, setStatus, listening } = session();
    setStatus('closed');
    presence.join = (channel: string) => {
      calls.push(`join ${channel} forbidden`);
      return Promise.reject(new SocketchartError(ErrorCode.AUTHORIZATION_FAILED, { message: 'not allowed' }));
    };
    holdPresence(connection, 'room');
    await refusalHeard();
    setStatus('connecting');
    expect(calls).toEqual(['join room forbidden']);
    expect(listening()).toBe(0);
  });

  it('a hold released before its refusal is heard does not listen to the connection', async () => {
    const { calls, connection, setStatus, listening } = session();
    setStatus('closed');
    const release = holdPresence(connection, 'room');
    release();
    await refusalHeard();
    expect(listening()).toBe(0);
    setStatus('connecting');
    expect(calls).toEqual(['join room refused']);
  });

  it('a new meta of a holder joins again while the channel is joined, and joins nothing once it is left', () => {
    const { calls, connection, presence, leaveNow } = session();
    holdPresence(connection, 'room', () => ({ status: 'online' }));
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

  it("a holder whose typing ended on its own (timeoutMs) does not keep another's typing going after that one's release", async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const { presence } = h.connection;
    const composer = typingHold(presence, 'room');
    const thread = typingHold(presence, 'room');
    composer.start({ timeoutMs: 1_000 });
    await h.advance(1_000);
    thread.start({ timeoutMs: 1_000 });
    thread.release();
    expect({ typing: presence.isTyping('room'), said: h.server.last!.sentOfType('typing').map((f) => f.typing) }).toEqual({ typing: false, said: [true, false, true, false] });
  });
});
