import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, createConnection, plainProtocol, type ConnectionOptions, type SocketchartError, type WebSocketConstructor, type WebSocketLike } from '../../../src/index.js';
import { holdPresence } from '../../../src/connection/presence-holds.js';
import { harness, presenceServer } from '../../support/harness.js';
import { collectRethrown } from '../../support/rethrown.js';

/** Presence and typing on a mock server and a simulated clock: timers, reconnects, answers that never come. */

const frames = (h: ReturnType<typeof harness>, type: string) => h.server.sockets.flatMap((socket) => socket.sentOfType(type));

/** The mock server answers every presence frame of the client with the channel's members, as `members` gives them. */
function answerPresence(h: ReturnType<typeof harness>, members: (ch: string) => unknown[] = () => [{ userId: 'me' }]) {
  h.server.onFrame = (socket, frame) => {
    if (frame.json?.type === 'presence') socket.push({ type: 'presence_state', ch: frame.json.ch, members: members(String(frame.json.ch)) });
  };
}

describe('typing', () => {
  it('says typing once, again before the timeout while typing goes on, and stops timeoutMs after the last call', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const timers = h.clock.pending;
    h.connection.presence.startTyping('chat:a', { timeoutMs: 1_000 });
    expect(frames(h, 'typing')).toEqual([{ type: 'typing', ch: 'chat:a', typing: true }]);
    await h.advance(300);
    h.connection.presence.startTyping('chat:a', { timeoutMs: 1_000 });
    expect(frames(h, 'typing')).toHaveLength(1); // under half the timeout: nothing new to say
    await h.advance(300);
    h.connection.presence.startTyping('chat:a', { timeoutMs: 1_000 }); // 600 ms after the frame: refreshed
    expect(frames(h, 'typing')).toHaveLength(2);
    await h.advance(999);
    expect(h.connection.presence.isTyping('chat:a')).toBe(true);
    await h.advance(1);
    expect(h.connection.presence.isTyping('chat:a')).toBe(false);
    expect(frames(h, 'typing').map((f) => f.typing)).toEqual([true, true, false]);
    expect(h.clock.pending).toBe(timers);
  });

  it('tracks who else types from typing frames, and forgets them when the link drops', async () => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    await h.connect();
    const seen: string[] = [];
    h.connection.on('typing', ({ userId, typing, users }) => seen.push(`${userId}:${typing}:${users.join(',')}`));
    h.connection.presence.watch('chat:a');
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'bob', typing: true });
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'carol', typing: true });
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'bob', typing: false });
    expect(h.connection.presence.typingUsers('chat:a')).toEqual(['carol']);
    h.server.last!.drop();
    await h.settle();
    expect(h.connection.presence.typingUsers('chat:a')).toEqual([]);
    expect(seen).toEqual(['bob:true:bob', 'carol:true:bob,carol', 'bob:false:carol', 'carol:false:']);
  });

  it('a long timeoutMs still says typing again every 2.5 s while typing goes on, under the server\'s 6 s timeout', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    for (let at = 0; at <= 7_000; at += 200) {
      h.connection.presence.startTyping('chat:a', { timeoutMs: 15_000 });
      await h.advance(200);
    }
    expect(frames(h, 'typing')).toHaveLength(3);
    expect(frames(h, 'typing').every((frame) => frame.typing === true)).toBe(true);
  });

  it('another user not heard typing for 10 s is taken as stopped; one whose typing is said again stays typing', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const seen: string[] = [];
    h.connection.on('typing', ({ userId, typing }) => seen.push(`${userId}:${typing}`));
    h.connection.presence.watch('chat:a');
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'bob', typing: true });
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'carol', typing: true });
    for (let n = 0; n < 4; n++) {
      await h.advance(2_500);
      h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'carol', typing: true });
    }
    expect(h.connection.presence.typingUsers('chat:a')).toEqual(['carol']);
    expect(seen).toEqual(['bob:true', 'carol:true', 'bob:false']);
    await h.advance(10_000);
    expect(h.connection.presence.typingUsers('chat:a')).toEqual([]);
    expect(seen).toEqual(['bob:true', 'carol:true', 'bob:false', 'carol:false']);
  });

  it('dispose() and unwatching leave no timer for others typing', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const unwatch = h.connection.presence.watch('chat:a');
    h.connection.presence.watch('chat:b');
    for (const ch of ['chat:a', 'chat:b']) h.server.last!.push({ type: 'presence_state', ch, members: [] });
    await h.settle();
    const timers = h.clock.pending;
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'bob', typing: true });
    h.server.last!.push({ type: 'typing', ch: 'chat:b', userId: 'bob', typing: true });
    expect(h.clock.pending).toBe(timers + 2);
    unwatch();
    expect(h.clock.pending).toBe(timers + 1);
    h.connection.dispose();
    expect(h.clock.pending).toBe(0);
  });

  /** Bob typing on chat:a, which stays subscribed after its last watch() stopped; `seen` holds who types, after each change. */
  async function bobTypingAfterTheLastWatch() {
    const h = harness({ heartbeat: false });
    await h.connect();
    const unsubscribe = h.connection.subscribe('chat:a', () => {});
    const unwatch = h.connection.presence.watch('chat:a');
    const seen: string[][] = [];
    h.connection.on('typing', ({ users }) => seen.push(users));
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'bob', typing: true });
    unwatch();
    return { h, seen, unsubscribe };
  }

  it("the last watch() stop keeps others typing while the channel stays subscribed: their stop is told later", async () => {
    const { h, seen, unsubscribe } = await bobTypingAfterTheLastWatch();
    expect(h.connection.presence.typingUsers('chat:a')).toEqual(['bob']);
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'bob', typing: false });
    expect(seen).toEqual([['bob'], []]);
    unsubscribe();
  });

  it('the last watch() stop keeps the 10 s silence of others typing while the channel stays subscribed', async () => {
    const { h, seen, unsubscribe } = await bobTypingAfterTheLastWatch();
    await h.advance(10_000);
    expect(seen).toEqual([['bob'], []]);
    unsubscribe();
  });

  it('others typing on a channel subscribed no more are told stopped (typing: false) when the last watch() stops', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const unwatch = h.connection.presence.watch('chat:a');
    const seen: unknown[] = [];
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'bob', typing: true });
    h.connection.on('typing', (change) => seen.push(change));
    unwatch();
    expect(seen).toEqual([{ ch: 'chat:a', userId: 'bob', typing: false, users: [] }]);
    expect(h.connection.presence.typingUsers('chat:a')).toEqual([]);
  });

  it('others typing on a channel are told stopped (typing: false) when its last subscribe() is unsubscribed', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const unsubscribe = h.connection.subscribe('chat:a', () => {});
    const { presence } = h.connection;
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'bob', typing: true });
    expect(presence.typingUsers('chat:a')).toEqual(['bob']);
    const seen: unknown[] = [];
    h.connection.on('typing', (change) => seen.push(change));
    unsubscribe();
    expect(seen).toEqual([{ ch: 'chat:a', userId: 'bob', typing: false, users: [] }]);
    expect(presence.typingUsers('chat:a')).toEqual([]);
  });

  it('dispose() tells the others typing stopped (typing: false), as a dropped link does', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    h.connection.presence.watch('chat:a');
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'bob', typing: true });
    const seen: unknown[] = [];
    h.connection.on('typing', (change) => seen.push(change));
    h.connection.dispose();
    expect(seen).toEqual([{ ch: 'chat:a', userId: 'bob', typing: false, users: [] }]);
  });

  it('this user typing in another tab is not among the others typing', async () => {
    const h = harness({ heartbeat: false, auth: { token: 't' } });
    await h.connect();
    expect(h.connection.session?.userId).toBe('user-1');
    const seen: string[] = [];
    h.connection.on('typing', ({ userId, typing }) => seen.push(`${userId}:${typing}`));
    h.connection.presence.watch('chat:a');
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'user-1', typing: true });
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'bob', typing: true });
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'user-1', typing: false });
    expect(h.connection.presence.typingUsers('chat:a')).toEqual(['bob']);
    expect(seen).toEqual(['bob:true']);
  });

  it('startTyping() on a stopped or disposed connection says nothing and arms no timer', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    h.connection.stop();
    await h.advance(5_000);
    const timers = h.clock.pending;
    h.connection.presence.startTyping('chat:a');
    expect(h.connection.presence.isTyping('chat:a')).toBe(false);
    expect(h.clock.pending).toBe(timers);
    h.connection.dispose();
    h.connection.presence.startTyping('chat:a');
    expect(h.clock.pending).toBe(0);
    expect(frames(h, 'typing')).toEqual([]);
  });

  it('stop() ends the typing timers with the connection', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    h.connection.presence.startTyping('chat:a');
    h.connection.stop();
    await h.settle();
    expect(h.connection.presence.isTyping('chat:a')).toBe(false);
    expect(h.clock.pending).toBe(0);
  });
});

describe('presence requests', () => {
  it('a join made while disconnected goes when the link is up, and is made again after every reconnect', async () => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    answerPresence(h);
    const joined = h.connection.presence.join('chat:a', { name: 'Me' });
    await h.connect();
    await expect(joined).resolves.toEqual([{ userId: 'me' }]);
    h.server.last!.drop();
    await h.advance(100);
    await h.settle();
    expect(h.server.last!.sentOfType('presence')).toEqual([{ type: 'presence', ch: 'chat:a', action: 'join', meta: { name: 'Me' } }]);
    await h.connection.presence.leave('chat:a');
    h.server.last!.drop();
    await h.advance(100);
    await h.settle();
    expect(h.server.last!.sentOfType('presence')).toEqual([]);
  });

  it('rejects with TIMEOUT when the server never answers within acks.timeoutMs', async () => {
    const h = harness({ acks: { timeoutMs: 2_000 }, heartbeat: false });
    await h.connect();
    const timers = h.clock.pending;
    const listed = h.connection.presence.list('chat:a');
    const outcome = expect(listed).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    await h.advance(1_999);
    expect(h.clock.pending).toBe(timers + 1);
    await h.advance(1);
    await outcome;
    expect(h.clock.pending).toBe(timers);
  });

  it('the late answer to a call that timed out answers no other call: the next call on the channel resolves with its own answer', async () => {
    const h = harness({ acks: { timeoutMs: 2_000 }, heartbeat: false });
    await h.connect();
    const joined = expect(h.connection.presence.join('chat:a')).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    await h.advance(2_000);
    await joined;
    const listed = h.connection.presence.list('chat:a');
    // the server, slow, answers the join at last, then the list (bob left in between)
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'user-1' }, { userId: 'bob' }] });
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'user-1' }] });
    await expect(listed).resolves.toEqual([{ userId: 'user-1' }]);
  });

  it('the late refusal of a call that timed out rejects no other call and reaches no on(\'error\')', async () => {
    const h = harness({ acks: { timeoutMs: 2_000 }, heartbeat: false });
    await h.connect();
    const first = expect(h.connection.presence.list('chat:a')).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    await h.advance(2_000);
    await first;
    const listed = h.connection.presence.list('chat:a');
    h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: 'presence failed', details: { ch: 'chat:a', action: 'list' } });
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'ann' }] });
    await expect(listed).resolves.toEqual([{ userId: 'ann' }]);
    expect(h.errors).toEqual([]);
  });

  it('a call that timed out is owed nothing on the next link: the first answer there is the next call\'s', async () => {
    const h = harness({ acks: { timeoutMs: 2_000 }, heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    await h.connect();
    const first = expect(h.connection.presence.list('chat:a')).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    await h.advance(2_000);
    await first;
    h.server.last!.drop();
    await h.advance(100);
    await h.settle();
    const listed = h.connection.presence.list('chat:a');
    expect(h.server.last!.sentOfType('presence')).toEqual([{ type: 'presence', ch: 'chat:a', action: 'list' }]);
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'ann' }] });
    await expect(listed).resolves.toEqual([{ userId: 'ann' }]);
  });

  it('rejects waiting calls with CLOSED when the connection is stopped', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const listed = h.connection.presence.list('chat:a');
    h.connection.stop();
    await expect(listed).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    expect(h.clock.pending).toBe(0);
  });

  it('is refused at the call for a protocol without presence', () => {
    const h = harness({ protocol: plainProtocol() });
    expect(() => h.connection.presence.join('chat:a')).toThrow(/presence/);
    expect(() => h.connection.presence.startTyping('chat:a')).toThrow(/presence/);
  });
});

describe('presence: rejoin after reconnect', () => {
  it('a list() pending at reconnect does not stand in for the rejoin of a joined channel', async () => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 }, heartbeat: false });
    let answer = true;
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'presence' && answer) socket.push({ type: 'presence_state', ch: frame.json.ch, members: [{ userId: 'me' }] });
    };
    await h.connect();
    await h.connection.presence.join('chat:a', { name: 'Me' });
    // the link drops; while it is down the app asks who is there
    h.server.last!.drop();
    await h.settle();
    expect(h.connection.status).toBe('reconnecting');
    const listed = h.connection.presence.list('chat:a');
    await h.advance(100);
    await h.settle();
    expect(h.connection.status).toBe('connected');
    await listed;
    // the new socket learns that this connection is present
    expect(h.connection.presence.isJoined('chat:a')).toBe(true);
    expect(h.server.last!.sentOfType('presence').map((f) => f.action)).toContain('join');
  });
});

describe('presence: a list() made while the link is down, on a channel joined', () => {
  it('is answered after the rejoin: it lists this user, and members() never loses them meanwhile', async () => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 }, heartbeat: false });
    // as the reference server: a socket's presence goes with it; a new socket is a member once it joins
    const joinedOn = new Set<unknown>();
    h.server.onFrame = (socket, frame) => {
      const json = frame.json;
      if (json?.type !== 'presence') return;
      if (json.action === 'join') joinedOn.add(socket);
      if (json.action === 'leave') joinedOn.delete(socket);
      socket.push({ type: 'presence_state', ch: json.ch, members: [{ userId: 'bob' }, ...(joinedOn.has(socket) ? [{ userId: 'me' }] : [])] });
    };
    await h.connect();
    await h.connection.presence.join('chat:a');
    const leaves: string[] = [];
    h.connection.on('presence', (change) => leaves.push(...change.leaves.map((m) => m.userId)));
    h.server.last!.drop();
    await h.settle();
    const listed = h.connection.presence.list('chat:a');
    await h.advance(100);
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect((await listed).map((m) => m.userId)).toEqual(['bob', 'me']);
    expect(h.connection.presence.members('chat:a').map((m) => m.userId)).toEqual(['bob', 'me']);
    expect(leaves).toEqual([]);
  });
});

describe('presence.join() on a closed connection', () => {
  it('rejects with CLOSED and is not remembered: nothing is joined when the connection starts again', async () => {
    const h = harness({ heartbeat: false });
    answerPresence(h);
    await h.connect();
    h.connection.stop();
    await h.settle();
    expect(h.connection.status).toBe('closed');
    await expect(h.connection.presence.join('chat:a', { name: 'Me' })).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    expect(h.connection.presence.isJoined('chat:a')).toBe(false);
    await h.connect();
    expect(h.server.last!.sentOfType('presence')).toEqual([]);
  });
});

describe('presence.leave() and list() on a closed connection', () => {
  /** A connection that joined chat:a, then was stopped. */
  const joinedThenStopped = async () => {
    const h = harness({ heartbeat: false });
    answerPresence(h);
    await h.connect();
    await h.connection.presence.join('chat:a', { name: 'Me' });
    h.connection.stop();
    await h.settle();
    return h;
  };

  it('list() rejects with CLOSED and changes nothing: the channel is joined again when the connection starts', async () => {
    const h = await joinedThenStopped();
    await expect(h.connection.presence.list('chat:a')).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    expect(h.connection.presence.isJoined('chat:a')).toBe(true);
    await h.connect();
    expect(h.server.last!.sentOfType('presence')).toEqual([{ type: 'presence', ch: 'chat:a', action: 'join', meta: { name: 'Me' } }]);
  });

  it('leave() rejects with CLOSED (the server has nothing to leave) and forgets the join: the channel is not joined again when the connection starts', async () => {
    const h = await joinedThenStopped();
    await expect(h.connection.presence.leave('chat:a')).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    expect(h.connection.presence.isJoined('chat:a')).toBe(false);
    await h.connect();
    expect(h.server.last!.sentOfType('presence')).toEqual([]);
  });
});

describe('presence: an error frame about another frame on the same channel', () => {
  it("a refused publish (details { ch, action: 'publish' }) does not reject a presence join in flight", async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const socket = h.server.last!;
    let joinOutcome: unknown = 'pending';
    h.connection.presence.join('chat:a', { name: 'Me' }).then(
      (members) => (joinOutcome = members),
      (error: SocketchartError) => (joinOutcome = `${error.code}: ${error.message}`),
    );
    const published = h.connection.send({ text: 'hi' }, { channel: 'chat:a' });
    await published;
    await h.settle();
    // the reference server refuses the publish (no publish grant) and accepts the join
    socket.push({ type: 'error', code: 'AUTHORIZATION_FAILED', message: 'publish not allowed', details: { ch: 'chat:a', action: 'publish' } });
    socket.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'me' }] });
    await h.settle();
    expect(joinOutcome).toEqual([{ userId: 'me' }]);
    expect(h.connection.presence.isJoined('chat:a')).toBe(true);
    // the publish refusal is an error of the connection: it reaches on('error')
    expect(h.errors.map((e) => e.code)).toContain(ErrorCode.AUTHORIZATION_FAILED);
  });
});

describe('presence diffs of a channel that is neither watched nor joined', () => {
  it('are not kept: members() stays empty, no event, nothing accumulates', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const { presence } = h.connection;
    const events: string[] = [];
    h.connection.on('presence', ({ ch }) => events.push(ch));
    const off = h.connection.subscribe('chat:r1', () => {});
    h.server.last!.push({ type: 'presence', ch: 'chat:r1', joins: [{ userId: 'u1' }], leaves: [] });
    off();
    expect(presence.members('chat:r1')).toEqual([]);
    expect(events).toEqual([]);
    presence.watch('chat:r2');
    h.server.last!.push({ type: 'presence', ch: 'chat:r2', joins: [{ userId: 'u2' }], leaves: [] });
    expect(h.connection.presence.members('chat:r2')).toEqual([{ userId: 'u2' }]);
    expect(events).toEqual(['chat:r2']);
  });
});

describe('presence of a channel once joined or listed, but neither joined nor watched now', () => {
  /** A connected harness whose server keeps bob present on every channel. */
  async function connectedToPresenceServer() {
    const h = harness({ heartbeat: false });
    presenceServer(h);
    await h.connect();
    return { h, presence: h.connection.presence };
  }

  it('leave() forgets the members of a channel not watched: members() is empty and its diffs are not kept (the channel still subscribed for its messages)', async () => {
    const { h, presence } = await connectedToPresenceServer();
    h.connection.subscribe('chat:a', () => {});
    await presence.join('chat:a');
    await presence.leave('chat:a');
    const events: string[] = [];
    h.connection.on('presence', ({ ch }) => events.push(ch));
    h.server.last!.push({ type: 'presence', ch: 'chat:a', joins: [{ userId: 'carol' }], leaves: [] });
    expect(presence.members('chat:a')).toEqual([]);
    expect(events).toEqual([]);
  });

  it('a list() of a channel neither watched nor joined resolves with its members but keeps none: no event, and its diffs are not kept', async () => {
    const { h, presence } = await connectedToPresenceServer();
    h.connection.subscribe('chat:b', () => {});
    const events: string[] = [];
    h.connection.on('presence', ({ ch }) => events.push(ch));
    await expect(presence.list('chat:b')).resolves.toEqual([{ userId: 'bob' }]);
    h.server.last!.push({ type: 'presence', ch: 'chat:b', joins: [{ userId: 'carol' }], leaves: [] });
    expect(presence.members('chat:b')).toEqual([]);
    expect(events).toEqual([]);
  });

  it('a watched channel left keeps its members and their diffs while it is watched', async () => {
    const { h, presence } = await connectedToPresenceServer();
    presence.watch('chat:a');
    await presence.join('chat:a');
    await presence.leave('chat:a');
    h.server.last!.push({ type: 'presence', ch: 'chat:a', joins: [{ userId: 'carol' }], leaves: [] });
    expect(presence.members('chat:a')).toEqual([{ userId: 'bob' }, { userId: 'carol' }]);
  });
});

describe('presence: what the app passes and what the server sends is checked', () => {
  it('a channel that is not a non-empty string is refused at the call with InvalidOptionError, and nothing is sent', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const { presence } = h.connection;
    for (const channel of ['', 42, undefined] as unknown as string[]) {
      for (const call of [() => presence.join(channel), () => presence.leave(channel), () => presence.list(channel), () => presence.watch(channel), () => presence.startTyping(channel)]) {
        expect(call).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION, option: 'channel' }));
      }
    }
    expect(h.server.last!.sentOfType('presence')).toEqual([]);
    expect(h.server.last!.sentOfType('typing')).toEqual([]);
  });

  it('members that are not { userId: string } are left out of answers, diffs and members()', async () => {
    const h = harness({ heartbeat: false });
    const junk = [null, 'bob', 7, { userId: 5 }, { name: 'no id' }, []];
    answerPresence(h, () => [...junk, { userId: 'ann' }]);
    await h.connect();
    const { presence } = h.connection;
    const changes: unknown[] = [];
    h.connection.on('presence', (change) => changes.push(change));
    await expect(presence.join('chat:a')).resolves.toEqual([{ userId: 'ann' }]);
    h.server.last!.push({ type: 'presence', ch: 'chat:a', joins: [...junk, { userId: 'cy' }], leaves: 'everyone' });
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: { userId: 'not a list' } });
    expect(changes).toEqual([
      { ch: 'chat:a', joins: [{ userId: 'ann' }], leaves: [], members: [{ userId: 'ann' }] },
      { ch: 'chat:a', joins: [{ userId: 'cy' }], leaves: [], members: [{ userId: 'ann' }, { userId: 'cy' }] },
      { ch: 'chat:a', joins: [], leaves: [{ userId: 'ann' }, { userId: 'cy' }], members: [] },
    ]);
    expect(presence.members('chat:a')).toEqual([]);
    expect(h.connection.status).toBe('connected');
  });

  /** A presence_state of `room` whose member bob has a `meta` nested 20,000 levels deep: a 40 KB frame. */
  const deeplyNested = `{"type":"presence_state","ch":"room","members":[{"userId":"bob","meta":${'['.repeat(20_000)}${']'.repeat(20_000)}}]}`;

  afterEach(() => vi.restoreAllMocks());

  /** A connected harness whose `ask` (a join) the server answers with the deeply nested frame. */
  const answeredDeeply = async (ask: (h: ReturnType<typeof harness>) => void) => {
    const h = harness({ heartbeat: false });
    await h.connect();
    ask(h);
    await h.settle();
    h.server.last!.push(deeplyNested);
    await h.settle();
    return h;
  };

  it('a presence_state whose member meta nests deeply throws nothing out of the library', async () => {
    const rethrown = collectRethrown();
    const h = await answeredDeeply((h) => void h.connection.presence.join('room'));
    expect(rethrown).toEqual([]);
    expect(h.connection.status).toBe('connected');
  });

  it('the join a presence_state answers settles even when a member meta nests deeply', async () => {
    collectRethrown();
    const answers: unknown[] = [];
    const h = await answeredDeeply((h) => {
      h.connection.presence.join('room').then((members) => answers.push(members.map((m) => m.userId)), (error: SocketchartError) => answers.push(error.code));
    });
    await h.advance(60_000); // well past acks.timeoutMs: not even a TIMEOUT came before
    expect(answers).toEqual([['bob']]);
  });

  it('after a member meta that nests deeply, a presence_state still answers list() and updates members()', async () => {
    const rethrown = collectRethrown();
    const h = await answeredDeeply((h) => void h.connection.presence.join('room'));
    let listed: unknown;
    void h.connection.presence.list('room').then((members) => (listed = members));
    await h.settle();
    h.server.last!.push({ type: 'presence_state', ch: 'room', members: [{ userId: 'bob' }, { userId: 'user-1' }] });
    await h.settle();
    expect(listed).toEqual([{ userId: 'bob' }, { userId: 'user-1' }]);
    expect(h.connection.presence.members('room')).toEqual([{ userId: 'bob' }, { userId: 'user-1' }]);
    expect(rethrown).toEqual([]);
  });
});

describe('presence.watch()', () => {
  /** A connected harness whose server answers every presence frame with the members it is given. */
  async function watching(members: Record<string, Array<{ userId: string }>> = {}) {
    const h = harness({ heartbeat: false });
    answerPresence(h, (ch) => members[ch] ?? []);
    await h.connect();
    const diff = (ch: string, joins: string[], leaves: string[] = []) =>
      h.server.last!.push({ type: 'presence', ch, joins: joins.map((userId) => ({ userId })), leaves: leaves.map((userId) => ({ userId })) });
    const sent = (type: string) => h.server.last!.sentOfType(type).map((frame) => `${frame.action ?? type} ${frame.ch}`);
    return { h, presence: h.connection.presence, diff, sent };
  }

  it('calls each listener with the changes of its own channel only', async () => {
    const { h, presence, diff } = await watching();
    const seen: string[] = [];
    presence.watch('chat:a', ({ ch, joins }) => seen.push(`a heard ${ch} +${joins.map((m) => m.userId).join(',')}`));
    presence.watch('chat:b', ({ ch, joins }) => seen.push(`b heard ${ch} +${joins.map((m) => m.userId).join(',')}`));
    diff('chat:a', ['ann']);
    diff('chat:b', ['bob']);
    await h.settle(); // the diffs come after the server's answers to the watches
    expect(seen).toEqual(['a heard chat:a +ann', 'b heard chat:b +bob']);
  });

  it('a leave of a user who is not among the members (a leave heard twice) changes nothing and calls no listener; a diff is told with only what it changed', async () => {
    const { h, presence, diff } = await watching({ 'chat:a': [{ userId: 'ann' }, { userId: 'bob' }] });
    const seen: string[] = [];
    presence.watch('chat:a', ({ joins, leaves, members }) => seen.push(`+${joins.map((m) => m.userId)} -${leaves.map((m) => m.userId)} = ${members.map((m) => m.userId)}`));
    await h.settle();
    diff('chat:a', [], ['ann']);
    diff('chat:a', [], ['ann']);
    diff('chat:a', ['cy'], ['ann', 'bob']);
    expect(seen).toEqual(['+ann,bob - = ann,bob', '+ -ann = bob', '+cy -bob = cy']);
  });

  it('the first watcher of a channel subscribes and lists it; a second watcher sends nothing more', async () => {
    const { h, presence, sent } = await watching({ 'chat:a': [{ userId: 'ann' }] });
    presence.watch('chat:a');
    await h.settle();
    presence.watch('chat:a');
    await h.settle();
    expect([...sent('subscribe'), ...sent('presence')]).toEqual(['subscribe chat:a', 'list chat:a']);
    expect(presence.members('chat:a')).toEqual([{ userId: 'ann' }]);
  });

  it('the channel is followed until its last watcher stops: then it is unsubscribed and its members forgotten', async () => {
    const { h, presence, diff, sent } = await watching();
    const events: string[] = [];
    h.connection.on('presence', ({ ch }) => events.push(ch));
    const stopFirst = presence.watch('chat:a');
    const stopSecond = presence.watch('chat:a');
    await h.settle();
    stopFirst();
    stopFirst(); // a stop called twice counts once
    diff('chat:a', ['ann']);
    expect(presence.members('chat:a')).toEqual([{ userId: 'ann' }]);
    expect(sent('unsubscribe')).toEqual([]);
    stopSecond();
    expect(presence.members('chat:a')).toEqual([]);
    expect(sent('unsubscribe')).toEqual(['unsubscribe chat:a']);
    diff('chat:a', ['bob']);
    expect(presence.members('chat:a')).toEqual([]);
    expect(events).toEqual(['chat:a']);
  });

  it('a channel joined as well as watched keeps its members when the watching stops', async () => {
    const { h, presence, diff } = await watching({ 'chat:a': [{ userId: 'me' }] });
    await presence.join('chat:a');
    const stop = presence.watch('chat:a');
    await h.settle();
    stop();
    diff('chat:a', ['ann']);
    expect(presence.members('chat:a')).toEqual([{ userId: 'me' }, { userId: 'ann' }]);
  });
});

describe('typing: timers and the link', () => {
  it('a single startTyping() says it stopped timeoutMs later', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    h.connection.presence.startTyping('chat:a', { timeoutMs: 1_000 });
    await h.advance(999);
    expect(frames(h, 'typing').map((f) => f.typing)).toEqual([true]);
    await h.advance(1);
    expect(frames(h, 'typing').map((f) => f.typing)).toEqual([true, false]);
    expect(h.connection.presence.isTyping('chat:a')).toBe(false);
  });

  it('typing goes on: it is said again exactly half the timeout after the last frame', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    h.connection.presence.startTyping('chat:a', { timeoutMs: 1_000 });
    await h.advance(499);
    h.connection.presence.startTyping('chat:a', { timeoutMs: 1_000 });
    expect(frames(h, 'typing')).toHaveLength(1);
    await h.advance(1);
    h.connection.presence.startTyping('chat:a', { timeoutMs: 1_000 });
    expect(frames(h, 'typing')).toHaveLength(2);
  });

  it('a timeoutMs that is not a number of ms above 0 is refused with InvalidOptionError', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    for (const timeoutMs of [0, -1, Number.NaN, '500'] as unknown as number[]) {
      expect(() => h.connection.presence.startTyping('chat:a', { timeoutMs })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION, option: 'timeoutMs' }));
    }
    h.connection.presence.startTyping('chat:a', { timeoutMs: 1 });
    expect(frames(h, 'typing')).toHaveLength(1);
  });

  it('typing started and stopped before the session is confirmed says nothing on the unauthenticated socket; typing still on is said once connected', async () => {
    const h = harness({ heartbeat: false, auth: { token: 't' } }, { autoAuth: false });
    h.connection.start();
    await h.settle();
    expect(h.connection.status).toBe('authenticating');
    h.connection.presence.startTyping('chat:a');
    h.connection.presence.stopTyping('chat:a');
    h.connection.presence.startTyping('chat:b');
    expect(frames(h, 'typing')).toEqual([]);
    h.server.last!.push({ type: 'auth_ok', userId: 'user-1', sessionId: 's1' });
    await h.settle();
    expect(frames(h, 'typing')).toEqual([{ type: 'typing', ch: 'chat:b', typing: true }]);
  });

  it('typing kept up while the session is not confirmed yet says nothing on the unauthenticated socket until it is', async () => {
    const h = harness({ heartbeat: false, auth: { token: 't' } }, { autoAuth: false });
    h.connection.start();
    await h.settle();
    expect(h.connection.status).toBe('authenticating');
    h.connection.presence.startTyping('chat:a');
    await h.advance(3_000);
    h.connection.presence.startTyping('chat:a');
    expect(h.connection.status).toBe('authenticating');
    expect(frames(h, 'typing')).toEqual([]);
    h.server.last!.push({ type: 'auth_ok', userId: 'user-1', sessionId: 's1' });
    await h.settle();
    expect(frames(h, 'typing')).toEqual([{ type: 'typing', ch: 'chat:a', typing: true }]);
  });

  it('stopTyping() on a channel this user is not typing on says nothing', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    expect(() => h.connection.presence.stopTyping('chat:a')).not.toThrow();
    expect(frames(h, 'typing')).toEqual([]);
  });

  it('typing frames without a string userId are ignored', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const seen: unknown[] = [];
    h.connection.on('typing', (change) => seen.push(change));
    h.connection.presence.watch('chat:a');
    for (const userId of [undefined, 7, null, { id: 'x' }]) h.server.last!.push({ type: 'typing', ch: 'chat:a', userId, typing: true });
    expect(h.connection.presence.typingUsers('chat:a')).toEqual([]);
    expect(seen).toEqual([]);
  });
});

describe('presence requests: answers', () => {
  it('a request answered before its write returns leaves no timer behind', async () => {
    const h = harness({ heartbeat: false });
    answerPresence(h, () => []);
    await h.connect();
    const timers = h.clock.pending;
    await expect(h.connection.presence.list('chat:a')).resolves.toEqual([]);
    expect(h.clock.pending).toBe(timers);
  });

  it('a presence_state nobody asked for, of a channel neither joined nor watched, is not kept', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const { presence } = h.connection;
    const events: unknown[] = [];
    h.connection.on('presence', (change) => events.push(change));
    h.server.last!.push({ type: 'presence_state', ch: 'chat:x', members: [{ userId: 'ann' }] });
    expect(presence.members('chat:x')).toEqual([]);
    expect(events).toEqual([]);
  });
});

describe('presence: a list answered in pages (a large room)', () => {
  const pages = [
    { members: [{ userId: 'ann' }, { userId: 'bob' }], more: true },
    { members: [{ userId: 'cy' }], more: true },
    { members: [{ userId: 'di', meta: { n: 1 } }] },
  ];
  const everyone = pages.flatMap((page) => page.members);

  it('a call resolves once, with the members of every page; a watcher hears one change with them all', async () => {
    const h = harness({ heartbeat: false });
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'presence') for (const page of pages) socket.push({ type: 'presence_state', ch: frame.json.ch, ...page });
    };
    await h.connect();
    const { presence } = h.connection;
    const changes: unknown[] = [];
    presence.watch('chat:a', ({ joins, leaves }) => changes.push({ joins, leaves }));
    await h.settle();
    expect(changes).toEqual([{ joins: everyone, leaves: [] }]);
    await expect(presence.list('chat:a')).resolves.toEqual(everyone);
    expect(presence.members('chat:a')).toEqual(everyone);
    expect(changes).toHaveLength(1);
  });

  it('a join diff after the last page of a member the list holds with the same meta (announced while the list was sent) changes nothing: no second event', async () => {
    const h = harness({ heartbeat: false });
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type !== 'presence') return;
      for (const page of pages) socket.push({ type: 'presence_state', ch: frame.json.ch, ...page });
      socket.push({ type: 'presence', ch: frame.json.ch, joins: [{ userId: 'di', meta: { n: 1 } }, { userId: 'eve' }], leaves: [] });
      socket.push({ type: 'presence', ch: frame.json.ch, joins: [{ userId: 'ann' }], leaves: [] });
    };
    await h.connect();
    const changes: unknown[] = [];
    h.connection.presence.watch('chat:a', ({ joins, leaves }) => changes.push({ joins, leaves }));
    await h.settle();
    expect(changes).toEqual([{ joins: everyone, leaves: [] }, { joins: [{ userId: 'eve' }], leaves: [] }]);
    expect(h.connection.presence.members('chat:a')).toEqual([...everyone, { userId: 'eve' }]);
  });

  it('the pages of one call are not mixed with those of the next: a second call gets only its own answer (`more: false` ends a list too)', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const { presence } = h.connection;
    const first = presence.list('chat:a');
    const second = presence.list('chat:a');
    await h.settle();
    for (const page of pages) h.server.last!.push({ type: 'presence_state', ch: 'chat:a', ...page });
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'ann' }], more: false });
    await expect(first).resolves.toEqual(everyone);
    await expect(second).resolves.toEqual([{ userId: 'ann' }]);
  });

  it('pages nobody asked for, of a channel neither joined nor watched, are not held: a later list of the channel gets only its own answer', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const { presence } = h.connection;
    for (let i = 0; i < 3; i++) h.server.last!.push({ type: 'presence_state', ch: 'chat:x', members: [{ userId: `ghost-${i}` }], more: true });
    await h.settle();
    const list = presence.list('chat:x');
    await h.settle();
    h.server.last!.push({ type: 'presence_state', ch: 'chat:x', members: [{ userId: 'ann' }] });
    await expect(list).resolves.toEqual([{ userId: 'ann' }]);
  });

  it('each page gives the list another acks.timeoutMs: a large list arriving slowly resolves; one stalled after a page times out', async () => {
    const h = harness({ acks: { timeoutMs: 2_000 }, heartbeat: false });
    await h.connect();
    const { presence } = h.connection;
    const slow = presence.list('chat:a');
    await h.settle();
    for (const page of pages) {
      await h.advance(1_500);
      h.server.last!.push({ type: 'presence_state', ch: 'chat:a', ...page });
    }
    await expect(slow).resolves.toEqual(everyone);
    const stalled = presence.list('chat:a');
    const outcome = stalled.catch((error: SocketchartError) => error.code);
    await h.settle();
    await h.advance(1_500);
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', ...pages[0] });
    await h.advance(1_999);
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', ...pages[1] });
    await h.advance(2_000);
    await expect(outcome).resolves.toBe(ErrorCode.TIMEOUT);
  });

  it('pages cut short by a dropped link are forgotten: the answer on the next link stands alone', async () => {
    const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    let answering = false;
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type !== 'presence') return;
      if (answering) return socket.push({ type: 'presence_state', ch: frame.json.ch, members: [{ userId: 'eve' }] });
      answering = true;
      socket.push({ type: 'presence_state', ch: frame.json.ch, ...pages[0] });
      socket.drop();
    };
    await h.connect();
    const { presence } = h.connection;
    const listed = presence.list('chat:a');
    await h.settle();
    await h.advance(1_000);
    await h.settle();
    await expect(listed).resolves.toEqual([{ userId: 'eve' }]);
  });
});

describe('presence: refusals by the server', () => {
  /** A connected harness whose server answers nothing: each test says what comes back. */
  async function silent() {
    const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    await h.connect();
    const outcome = (call: Promise<unknown>) => {
      const seen = { value: 'pending' as unknown };
      call.then(
        (members) => (seen.value = members),
        (error: SocketchartError) => (seen.value = `${error.code} ${error.recovery}`),
      );
      return seen;
    };
    const refuse = (action: string, extra: Record<string, unknown> = {}) =>
      h.server.last!.push({ type: 'error', code: 'AUTHORIZATION_FAILED', message: `no ${action}`, details: { ch: 'chat:a', action }, ...extra });
    /** Joins chat:a (with `meta`), then drops the link: the reconnect's rejoin waits for its answer. */
    const rejoining = async (meta?: Record<string, unknown>) => {
      const joined = h.connection.presence.join('chat:a', meta);
      h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'me' }] });
      await joined;
      h.server.last!.drop();
      await h.advance(100);
      await h.settle();
    };
    return { h, presence: h.connection.presence, outcome, refuse, rejoining };
  }

  it('a refused list() rejects that list, and a join in flight on the channel waits on for its own answer', async () => {
    const { h, presence, outcome, refuse } = await silent();
    const joined = outcome(presence.join('chat:a'));
    const listed = outcome(presence.list('chat:a'));
    refuse('list');
    await h.settle();
    expect({ joined: joined.value, listed: listed.value }).toEqual({ joined: 'pending', listed: 'AUTHORIZATION_FAILED fail' });
    expect(h.errors).toEqual([]);
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'me' }] });
    await h.settle();
    expect(joined.value).toEqual([{ userId: 'me' }]);
  });

  it('a join refused over the server\'s channel limit (RATE_LIMIT_EXCEEDED, as earlier servers refuse it) rejects as final: the call will not be retried', async () => {
    const { h, presence, outcome, refuse } = await silent();
    const joined = outcome(presence.join('chat:a'));
    refuse('join', { code: 'RATE_LIMIT_EXCEEDED' });
    await h.settle();
    expect(joined.value).toBe('RATE_LIMIT_EXCEEDED fail');
    expect(presence.isJoined('chat:a')).toBe(false);
  });

  it('an error frame naming a message id concerns that message, not a presence call on its channel', async () => {
    const { h, presence, outcome, refuse } = await silent();
    const joined = outcome(presence.join('chat:a'));
    refuse('join', { id: 'm-1' });
    await h.settle();
    expect(joined.value).toBe('pending');
    expect(h.errors.map((e) => e.code)).toEqual([ErrorCode.AUTHORIZATION_FAILED]);
  });

  it('a refused rejoin after a reconnect, which no call waits on, reaches on(\'error\') and the channel is joined no more', async () => {
    const { h, presence, refuse, rejoining } = await silent();
    await rejoining();
    expect(h.server.last!.sentOfType('presence').map((f) => f.action)).toEqual(['join']);
    refuse('join');
    await h.settle();
    expect(h.errors.map((e) => `${e.code} ${e.recovery}`)).toContain('AUTHORIZATION_FAILED none');
    expect(presence.isJoined('chat:a')).toBe(false);
  });

  it('a join again with other meta that the server refuses rejects that call only: the channel stays joined with the meta in force, and is joined again with it after a reconnect', async () => {
    const { h, presence, outcome, refuse } = await silent();
    const first = presence.join('chat:a', { name: 'Ann' });
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'me', meta: { name: 'Ann' } }] });
    await first;
    const again = outcome(presence.join('chat:a', { bio: 'x'.repeat(2_000) }));
    refuse('join', { code: 'MESSAGE_TOO_LARGE' });
    await h.settle();
    expect(again.value).toBe('MESSAGE_TOO_LARGE fail');
    expect(presence.isJoined('chat:a')).toBe(true);
    h.server.last!.drop();
    await h.advance(100);
    await h.settle();
    expect(h.server.last!.sentOfType('presence')).toEqual([{ type: 'presence', ch: 'chat:a', action: 'join', meta: { name: 'Ann' } }]);
  });

  it('a join again with other meta made while the link was down and refused on the next link: the channel is joined again with the meta in force', async () => {
    const { h, presence, outcome, refuse } = await silent();
    const first = presence.join('chat:a', { name: 'Ann' });
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'me', meta: { name: 'Ann' } }] });
    await first;
    h.server.last!.drop();
    await h.settle();
    const again = outcome(presence.join('chat:a', { bio: 'x'.repeat(2_000) }));
    await h.advance(100);
    await h.settle();
    refuse('join', { code: 'MESSAGE_TOO_LARGE' });
    await h.settle();
    expect(again.value).toBe('MESSAGE_TOO_LARGE fail');
    expect(presence.isJoined('chat:a')).toBe(true);
    expect(h.server.last!.sentOfType('presence').map((f) => `${f.action} ${Object.keys(f.meta as object)}`)).toEqual(['join bio', 'join name']);
    expect(h.server.last!.sentOfType('presence').at(-1)).toEqual({ type: 'presence', ch: 'chat:a', action: 'join', meta: { name: 'Ann' } });
  });

  it('a join again with other meta that the server answers makes that meta the one joined again after a reconnect', async () => {
    const { h, presence } = await silent();
    for (const meta of [{ name: 'Ann' }, { name: 'Ann', status: 'away' }]) {
      const joined = presence.join('chat:a', meta);
      h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'me', meta }] });
      await joined;
    }
    h.server.last!.drop();
    await h.advance(100);
    await h.settle();
    expect(h.server.last!.sentOfType('presence')).toEqual([{ type: 'presence', ch: 'chat:a', action: 'join', meta: { name: 'Ann', status: 'away' } }]);
  });

  it('the last release of a hold leaves the channel even when a join again was refused meanwhile', async () => {
    const { h, presence, refuse } = await silent();
    const release = holdPresence(h.connection, 'chat:a', () => ({ name: 'Ann' }));
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'me', meta: { name: 'Ann' } }] });
    await h.settle();
    presence.join('chat:a', { bio: 'x'.repeat(2_000) }).catch(() => {});
    refuse('join', { code: 'MESSAGE_TOO_LARGE' });
    await h.settle();
    release();
    expect(h.server.last!.sentOfType('presence').map((f) => f.action)).toEqual(['join', 'join', 'leave']);
  });

  it('a rejoin after a reconnect refused for now (SERVER_ERROR, to retry) reaches on(\'error\') and keeps the channel joined: the next reconnect joins it again', async () => {
    const { h, presence, refuse, rejoining } = await silent();
    await rejoining({ name: 'Ann' });
    refuse('join', { code: 'SERVER_ERROR', message: 'presence failed, retry' });
    await h.settle();
    expect(h.errors.map((e) => `${e.code} ${e.recovery}`)).toContain('SERVER_ERROR none');
    expect(presence.isJoined('chat:a')).toBe(true);
    h.server.last!.drop();
    await h.advance(100);
    await h.settle();
    expect(h.server.last!.sentOfType('presence')).toEqual([{ type: 'presence', ch: 'chat:a', action: 'join', meta: { name: 'Ann' } }]);
  });

  it('a rejoin after a reconnect refused over the server\'s channel limit (RATE_LIMIT_EXCEEDED, as earlier servers refuse it) is final: the channel is joined no more', async () => {
    const { h, presence, refuse, rejoining } = await silent();
    await rejoining();
    refuse('join', { code: 'RATE_LIMIT_EXCEEDED' });
    await h.settle();
    expect(presence.isJoined('chat:a')).toBe(false);
  });

  it('a rejoin after a reconnect refused over the server\'s channel limit (AUTHORIZATION_FAILED) is final: the channel is joined no more', async () => {
    const { h, presence, refuse, rejoining } = await silent();
    await rejoining();
    refuse('join', { code: 'AUTHORIZATION_FAILED', details: { ch: 'chat:a', action: 'join', limit: 1 } });
    await h.settle();
    expect(presence.isJoined('chat:a')).toBe(false);
  });

  it('a rejoin after a reconnect refused over the per-user control rate limit is sent again after retry_after, not forgotten', async () => {
    const { h, presence, refuse, rejoining } = await silent();
    await rejoining({ name: 'Ann' });
    refuse('join', { code: 'RATE_LIMIT_EXCEEDED', retry_after: 2, details: { scope: 'control', ch: 'chat:a', action: 'join', retry_after_ms: 2_000 } });
    await h.settle();
    expect(presence.isJoined('chat:a')).toBe(true);
    await h.advance(1_999);
    expect(h.server.last!.sentOfType('presence')).toHaveLength(1);
    await h.advance(1);
    expect(h.server.last!.sentOfType('presence')).toEqual([
      { type: 'presence', ch: 'chat:a', action: 'join', meta: { name: 'Ann' } },
      { type: 'presence', ch: 'chat:a', action: 'join', meta: { name: 'Ann' } },
    ]);
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'me' }] });
    expect(presence.members('chat:a')).toEqual([{ userId: 'me' }]);
  });

  it('a rejoin refused over the control limit and left meanwhile is not sent again', async () => {
    const { h, presence, refuse, rejoining } = await silent();
    await rejoining();
    refuse('join', { code: 'RATE_LIMIT_EXCEEDED', retry_after: 2, details: { scope: 'control', ch: 'chat:a', action: 'join', retry_after_ms: 2_000 } });
    void presence.leave('chat:a').catch(() => {});
    await h.advance(2_000);
    expect(h.server.last!.sentOfType('presence').map((f) => f.action)).toEqual(['join', 'leave']);
  });

  it('the first list of a watch() refused over the per-user control rate limit is sent again after retry_after', async () => {
    const { h, presence, refuse } = await silent();
    presence.watch('chat:a');
    refuse('list', { code: 'RATE_LIMIT_EXCEEDED', retry_after: 2, details: { scope: 'control', ch: 'chat:a', action: 'list', retry_after_ms: 2_000 } });
    await h.advance(1_999);
    expect(h.server.last!.sentOfType('presence').map((f) => f.action)).toEqual(['list']);
    await h.advance(1);
    expect(h.server.last!.sentOfType('presence').map((f) => f.action)).toEqual(['list', 'list']);
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'ann' }] });
    expect(presence.members('chat:a')).toEqual([{ userId: 'ann' }]);
  });

  it('a list refused over the control limit of a channel watched no more is not sent again', async () => {
    const { h, presence, refuse } = await silent();
    const stop = presence.watch('chat:a');
    refuse('list', { code: 'RATE_LIMIT_EXCEEDED', retry_after: 2, details: { scope: 'control', ch: 'chat:a', action: 'list', retry_after_ms: 2_000 } });
    stop();
    await h.advance(2_000);
    expect(h.server.last!.sentOfType('presence').map((f) => f.action)).toEqual(['list']);
  });

  it('a presence refusal that echoes the token rejects its call, and reaches on(\'error\'), with the token redacted', async () => {
    const token = 'presence-secret-token-42';
    const h = harness({ auth: { token }, heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    await h.connect();
    const refuse = (action: string) =>
      h.server.last!.push({ type: 'error', code: 'AUTHORIZATION_FAILED', message: `token ${token} may not ${action}`, details: { ch: 'chat:a', action, token } });
    const listed = h.connection.presence.list('chat:a').then(
      () => undefined,
      (error: SocketchartError) => error,
    );
    refuse('list');
    const refusal = await listed;
    expect(refusal).toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED, message: 'token [redacted] may not list' });
    const joined = h.connection.presence.join('chat:a');
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'me' }] });
    await joined;
    h.server.last!.drop();
    await h.advance(100);
    await h.settle();
    refuse('join');
    await h.settle();
    const refusals = h.errors.filter((error) => error.code === ErrorCode.AUTHORIZATION_FAILED);
    expect(refusals.map((error) => error.message)).toEqual(['token [redacted] may not join']);
    expect(JSON.stringify([refusal?.details, refusals.map((error) => error.details)])).not.toContain(token);
  });

  it('a join() waiting at reconnect stands in for the rejoin: one join frame goes, with the meta last given', async () => {
    const { h, presence } = await silent();
    const first = presence.join('chat:a', { mood: 'calm' });
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'me' }] });
    await first;
    h.server.last!.drop();
    await h.settle();
    const again = presence.join('chat:a', { mood: 'busy' });
    await h.advance(100);
    await h.settle();
    expect(h.server.last!.sentOfType('presence')).toEqual([{ type: 'presence', ch: 'chat:a', action: 'join', meta: { mood: 'busy' } }]);
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'me' }] });
    await expect(again).resolves.toEqual([{ userId: 'me' }]);
  });
});

describe('presence across a dropped link', () => {
  it('a watched channel is listed again on the next link, so members() catches up with leaves missed while down', async () => {
    const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    let members = [{ userId: 'ann' }, { userId: 'bob' }];
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'presence') socket.push({ type: 'presence_state', ch: frame.json.ch, members });
    };
    await h.connect();
    const { presence } = h.connection;
    const changes: unknown[] = [];
    presence.watch('chat:a', ({ joins, leaves }) => changes.push({ joins, leaves }));
    await h.settle();
    h.server.last!.drop();
    members = [{ userId: 'ann' }];
    await h.advance(100);
    await h.settle();
    expect(h.server.last!.sentOfType('presence')).toEqual([{ type: 'presence', ch: 'chat:a', action: 'list' }]);
    expect(presence.members('chat:a')).toEqual([{ userId: 'ann' }]);
    expect(changes).toEqual([
      { joins: [{ userId: 'ann' }, { userId: 'bob' }], leaves: [] },
      { joins: [], leaves: [{ userId: 'bob' }] },
    ]);
  });

  it('a relist of a watched channel refused over the per-user control rate limit is sent again after retry_after, and members() catches up', async () => {
    const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    let members = [{ userId: 'ann' }, { userId: 'bob' }];
    let refuseLists = false;
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type !== 'presence') return;
      if (!refuseLists) return socket.push({ type: 'presence_state', ch: frame.json.ch, members });
      refuseLists = false;
      const details = { scope: 'control', ch: frame.json.ch, action: 'list', retry_after_ms: 2_000 };
      socket.push({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'rate limit exceeded', retry_after: 2, details });
    };
    await h.connect();
    const { presence } = h.connection;
    presence.watch('chat:a');
    await h.settle();
    h.server.last!.drop();
    members = [{ userId: 'ann' }]; // bob left while the link was down
    refuseLists = true; // the restarted server's control limit refuses the relist once
    await h.advance(100);
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(presence.members('chat:a').map((m) => m.userId)).toEqual(['ann', 'bob']);
    await h.advance(2_000);
    await h.settle();
    expect(h.server.last!.sentOfType('presence').map((f) => f.action)).toEqual(['list', 'list']);
    expect(presence.members('chat:a').map((m) => m.userId)).toEqual(['ann']);
  });

  it('a relist in which only the meta of a member changed tells watchers of a join of that user, with the new meta', async () => {
    const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    let members = [{ userId: 'ann', meta: { status: 'online' } }, { userId: 'bob' }];
    answerPresence(h, () => members);
    await h.connect();
    const changes: unknown[] = [];
    h.connection.presence.watch('chat:a', ({ joins, leaves }) => changes.push({ joins, leaves }));
    await h.settle();
    h.server.last!.drop();
    members = [{ userId: 'ann', meta: { status: 'away' } }, { userId: 'bob' }];
    await h.advance(100);
    await h.settle();
    expect(changes).toEqual([
      { joins: [{ userId: 'ann', meta: { status: 'online' } }, { userId: 'bob' }], leaves: [] },
      { joins: [{ userId: 'ann', meta: { status: 'away' } }], leaves: [] },
    ]);
  });

  it('a list() waiting at reconnect on a watched channel stands in for the relist: one list frame goes', async () => {
    const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    await h.connect();
    const { presence } = h.connection;
    presence.watch('chat:a');
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [] });
    h.server.last!.drop();
    await h.settle();
    const listed = presence.list('chat:a');
    await h.advance(100);
    await h.settle();
    expect(h.server.last!.sentOfType('presence')).toEqual([{ type: 'presence', ch: 'chat:a', action: 'list' }]);
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [] });
    await expect(listed).resolves.toEqual([]);
  });

  it('a call written on a link that dropped before its answer is written again on the next link, and resolves', async () => {
    const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    await h.connect();
    const listed = h.connection.presence.list('chat:a');
    expect(h.server.last!.sentOfType('presence')).toHaveLength(1);
    h.server.last!.drop();
    await h.advance(100);
    await h.settle();
    expect(h.server.last!.sentOfType('presence')).toEqual([{ type: 'presence', ch: 'chat:a', action: 'list' }]);
    h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'ann' }] });
    await expect(listed).resolves.toEqual([{ userId: 'ann' }]);
  });

  it('a call waiting when the connection fails (a close that is not retried) rejects at once and leaves no timer', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const listed = h.connection.presence.list('chat:a');
    const outcome = expect(listed).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    h.server.last!.closeFromServer(4003, 'forbidden');
    await h.settle();
    expect(h.connection.status).toBe('failed');
    await outcome;
    expect(h.clock.pending).toBe(0);
  });

  it('dispose() while a call waits rejects it and leaves no timer', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const listed = h.connection.presence.list('chat:a');
    const outcome = expect(listed).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    h.connection.dispose();
    await outcome;
    expect(h.clock.pending).toBe(0);
  });
});

describe('presence: what each call and answer leaves behind', () => {
  /** A connected harness whose server answers nothing, reconnecting 100 ms after a drop; `redial` drops the link and waits for the next. */
  async function quiet() {
    const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    await h.connect();
    const answer = (members: unknown[] = [{ userId: 'me' }]) => h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members });
    const refuse = (action: string, extra: Record<string, unknown> = {}) =>
      h.server.last!.push({ type: 'error', code: 'AUTHORIZATION_FAILED', message: `no ${action}`, details: { ch: 'chat:a', action }, ...extra });
    const controlLimit = (action: string) =>
      h.server.last!.push({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', retry_after: 2, details: { scope: 'control', ch: 'chat:a', action, retry_after_ms: 2_000 } });
    const redial = async () => {
      h.server.last!.drop();
      await h.advance(100);
      await h.settle();
    };
    const sent = () => h.server.last!.sentOfType('presence').map((f) => f.action);
    return { h, presence: h.connection.presence, answer, refuse, controlLimit, redial, sent };
  }

  it('typing started again after a stop lasts its own timeoutMs: the stop ends the first typing\'s timer', async () => {
    const { h, presence } = await quiet();
    const timers = h.clock.pending;
    presence.startTyping('chat:a', { timeoutMs: 5_000 });
    await h.advance(1_000);
    presence.stopTyping('chat:a');
    expect(h.clock.pending).toBe(timers);
    await h.advance(1_000);
    presence.startTyping('chat:a', { timeoutMs: 5_000 });
    await h.advance(3_500); // past the end the first typing would have had
    expect(presence.isTyping('chat:a')).toBe(true);
  });

  it('typing said again on the next link counts as said: startTyping() right after sends nothing more', async () => {
    const { h, presence, redial } = await quiet();
    presence.startTyping('chat:a', { timeoutMs: 60_000 });
    await h.advance(2_000);
    await redial();
    expect(h.server.last!.sentOfType('typing')).toEqual([{ type: 'typing', ch: 'chat:a', typing: true }]);
    await h.advance(1_000);
    presence.startTyping('chat:a', { timeoutMs: 60_000 });
    expect(h.server.last!.sentOfType('typing')).toHaveLength(1);
  });

  it('a request the server answers from inside its write leaves no timer behind', async () => {
    const answering = (options: ConnectionOptions) => {
      const Base = options.WebSocket as unknown as new (url: string, protocols?: string | string[]) => WebSocketLike;
      /** Each socket answers a presence frame from inside `send()`, before it returns. */
      const Answering = function (url: string, protocols?: string | string[]) {
        const socket = new Base(url, protocols);
        const send = socket.send.bind(socket);
        socket.send = (data) => {
          send(data);
          const frame = typeof data === 'string' ? (JSON.parse(data) as { type?: string; ch?: string }) : {};
          if (frame.type === 'presence') socket.onmessage?.({ data: JSON.stringify({ type: 'presence_state', ch: frame.ch, members: [] }) });
        };
        return socket;
      };
      return createConnection({ ...options, WebSocket: Answering as unknown as WebSocketConstructor });
    };
    const h = harness({ heartbeat: false }, {}, answering);
    await h.connect();
    const timers = h.clock.pending;
    await expect(h.connection.presence.list('chat:a')).resolves.toEqual([]);
    expect(h.clock.pending).toBe(timers);
  });

  it('a watch listener hears nothing after its stop, while another watcher keeps the channel', async () => {
    const { h, presence } = await quiet();
    const seen: string[] = [];
    const stop = presence.watch('chat:a', () => seen.push('first'));
    presence.watch('chat:a', () => seen.push('second'));
    stop();
    h.server.last!.push({ type: 'presence', ch: 'chat:a', joins: [{ userId: 'ann' }], leaves: [] });
    expect(seen).toEqual(['second']);
  });

  it('a channel watched and unwatched while the link is down is not listed when it comes up', async () => {
    const h = harness({ heartbeat: false });
    h.connection.presence.watch('chat:a')();
    await h.connect();
    expect(h.server.last!.sentOfType('presence')).toEqual([]);
  });

  it('a channel joined and watched is joined again after a reconnect, and not listed as well: the join\'s answer lists it', async () => {
    const { h, presence, answer, redial, sent } = await quiet();
    const joined = presence.join('chat:a');
    answer();
    await joined;
    presence.watch('chat:a');
    answer();
    await redial();
    expect(sent()).toEqual(['join']);
  });

  it('a leave() waiting at reconnect on a watched channel does not stand in for the relist', async () => {
    const { h, presence, answer, sent } = await quiet();
    const joined = presence.join('chat:a');
    answer();
    await joined;
    presence.watch('chat:a');
    answer();
    h.server.last!.drop();
    await h.settle();
    void presence.leave('chat:a').catch(() => {});
    await h.advance(100);
    await h.settle();
    expect(sent()).toEqual(['leave', 'list']);
  });

  it('a rejoin unanswered when the link drops again is not sent on the next link for a channel left meanwhile', async () => {
    const { h, presence, answer, redial, sent } = await quiet();
    const joined = presence.join('chat:a');
    answer();
    await joined;
    await redial();
    expect(sent()).toEqual(['join']);
    h.server.last!.drop();
    await h.settle();
    void presence.leave('chat:a').catch(() => {});
    await h.advance(100);
    await h.settle();
    expect(sent()).toEqual(['leave']);
  });

  it('a channel left while a join again with other meta waits is not joined again when that join is answered', async () => {
    const { presence, answer, redial, sent } = await quiet();
    const first = presence.join('chat:a', { name: 'Ann' });
    answer();
    await first;
    const again = presence.join('chat:a', { name: 'Ann', status: 'away' });
    const left = presence.leave('chat:a');
    answer();
    answer([]);
    await again;
    await left;
    expect(presence.isJoined('chat:a')).toBe(false);
    await redial();
    expect(sent()).toEqual([]);
  });

  it('an answer while a refused rejoin waits for retry_after answers the call that was written, and the rejoin still goes after retry_after', async () => {
    const { h, presence, answer, controlLimit, redial, sent } = await quiet();
    const joined = presence.join('chat:a');
    answer();
    await joined;
    await redial();
    controlLimit('join');
    await h.settle();
    const listed = presence.list('chat:a');
    answer([{ userId: 'ann' }]);
    await expect(listed).resolves.toEqual([{ userId: 'ann' }]);
    await h.advance(2_000);
    expect(sent()).toEqual(['join', 'list', 'join']);
  });

  it('a refusal while the first list of a watch() waits for retry_after rejects the call that was written', async () => {
    const { h, presence, refuse, controlLimit } = await quiet();
    presence.watch('chat:a');
    controlLimit('list');
    await h.settle();
    const listed = presence.list('chat:a').then(
      () => 'resolved',
      (error: SocketchartError) => error.code,
    );
    refuse('list');
    await h.settle();
    expect(await Promise.race([listed, Promise.resolve('pending')])).toBe(ErrorCode.AUTHORIZATION_FAILED);
  });

  it('the first list of a watch() refused over another rate limit than the control limit is not sent again', async () => {
    const { h, presence, sent } = await quiet();
    presence.watch('chat:a');
    h.server.last!.push({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'too many', retry_after: 2, details: { ch: 'chat:a', action: 'list', retry_after_ms: 2_000 } });
    await h.advance(5_000);
    expect(sent()).toEqual(['list']);
  });

  it("a refusal of the channel's presence by its rules (action 'presence') forgets the join, whichever call it answers", async () => {
    const { h, presence, answer, refuse, redial, sent } = await quiet();
    const joined = presence.join('chat:a');
    answer();
    await joined;
    const listed = presence.list('chat:a').catch((error: SocketchartError) => error.code);
    refuse('presence');
    await h.settle();
    expect(await listed).toBe(ErrorCode.AUTHORIZATION_FAILED);
    expect(presence.isJoined('chat:a')).toBe(false);
    await redial();
    expect(sent()).toEqual([]);
  });

  it('a join and a leave of a channel made while the link is down send no join on the next link (watchers see no come and go): both resolve with the leave\'s answer', async () => {
    const { h, presence, answer, sent } = await quiet();
    h.server.last!.drop();
    await h.settle();
    const joined = presence.join('chat:a', { name: 'Me' });
    const left = presence.leave('chat:a');
    await h.advance(100);
    await h.settle();
    expect(sent()).toEqual(['leave']);
    answer([{ userId: 'ann' }]);
    await expect(joined).resolves.toEqual([{ userId: 'ann' }]);
    await expect(left).resolves.toEqual([{ userId: 'ann' }]);
    expect(presence.isJoined('chat:a')).toBe(false);
  });

  it('a join again and a leave of a channel joined before the link dropped send only the leave on the next link', async () => {
    const { h, presence, answer, sent } = await quiet();
    const first = presence.join('chat:a', { name: 'Me' });
    answer();
    await first;
    h.server.last!.drop();
    await h.settle();
    const again = presence.join('chat:a', { name: 'Me', away: true });
    const left = presence.leave('chat:a');
    await h.advance(100);
    await h.settle();
    expect(sent()).toEqual(['leave']);
    answer([]);
    await expect(again).resolves.toEqual([]);
    await expect(left).resolves.toEqual([]);
  });

  it('a join again answered after a leave and a new join does not bring back its meta: the reconnect joins with the meta joined last', async () => {
    const { h, presence, answer, redial } = await quiet();
    const first = presence.join('chat:a', { name: 'Ann' });
    answer();
    await first;
    const calls = [presence.join('chat:a', { name: 'Ann', away: true }), presence.leave('chat:a'), presence.join('chat:a', { name: 'Annie' })];
    for (const _ of calls) answer();
    await Promise.all(calls);
    await redial();
    expect(h.server.last!.sentOfType('presence')).toEqual([{ type: 'presence', ch: 'chat:a', action: 'join', meta: { name: 'Annie' } }]);
  });

  it('a join refused after a leave and a new join were made leaves the new join in force: still joined, and joined again after a reconnect', async () => {
    const { h, presence, answer, redial, sent } = await quiet();
    const calls = [presence.join('chat:a'), presence.leave('chat:a'), presence.join('chat:a')];
    h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: 'presence failed, retry', details: { ch: 'chat:a', action: 'join' } });
    answer([]);
    answer();
    await expect(Promise.allSettled(calls)).resolves.toMatchObject([{ status: 'rejected' }, { status: 'fulfilled' }, { status: 'fulfilled' }]);
    expect(presence.isJoined('chat:a')).toBe(true);
    await redial();
    expect(sent()).toEqual(['join']);
  });
});
