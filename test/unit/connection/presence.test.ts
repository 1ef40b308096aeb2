import { describe, expect, it } from 'vitest';
import { ErrorCode, plainProtocol, type SocketchartError } from '../../../src/index.js';
import { harness } from '../../support/harness.js';

/** Presence and typing on a mock server and a simulated clock: timers, reconnects, answers that never come. */

const frames = (h: ReturnType<typeof harness>, type: string) => h.server.sockets.flatMap((socket) => socket.sentOfType(type));

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
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'presence') socket.push({ type: 'presence_state', ch: frame.json.ch, members: [{ userId: 'me' }] });
    };
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

describe('presence.join() on a closed connection', () => {
  it('rejects with CLOSED and is not remembered: nothing is joined when the connection starts again', async () => {
    const h = harness({ heartbeat: false });
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'presence') socket.push({ type: 'presence_state', ch: frame.json.ch, members: [{ userId: 'me' }] });
    };
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
