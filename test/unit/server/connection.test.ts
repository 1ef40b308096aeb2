import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { AuthenticationError } from '../../../src/server/auth.js';
import type { NodeParts } from '../../../src/server/node-parts.js';
import { authenticatedConnection, testNode, type SocketStandIn } from '../../support/server-connection.js';
import { until } from '../../support/until.js';

const MIB = 1024 * 1024;
const stops: (() => Promise<void>)[] = [];

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

async function connection(...args: Parameters<typeof authenticatedConnection>) {
  const made = await authenticatedConnection(...args);
  stops.push(made.stop);
  return made;
}

/** One publish a second on `chat` channels, at most one at once. */
const oneAtATime = { rateLimits: { chat: { perMinute: 60, burst: 1 } }, floodThreshold: 100_000 };

const publish = (id: string, data: unknown = id) => ({ type: 'publish', ch: 'chat:room', id, data });

/** A publish frame of exactly `bytes` bytes. */
const publishOfSize = (id: string, bytes: number): string => {
  const bare = JSON.stringify(publish(id, '')).length;
  return JSON.stringify(publish(id, 'x'.repeat(bytes - bare)));
};

/** Frames the connections of a node have read, of `type` or of every type. */
async function framesRead(parts: NodeParts, type?: string): Promise<number> {
  const { values } = await parts.metrics.registry.getSingleMetric('socketchart_messages_in_total')!.get();
  return values.filter((value) => type === undefined || value.labels.type === type).reduce((sum, { value }) => sum + value, 0);
}

const answersTo = (frames: readonly Record<string, unknown>[], prefix: string) => frames.filter((frame) => typeof frame.id === 'string' && frame.id.startsWith(prefix));
const answeredBefore = (socket: SocketStandIn, sentCount: number, prefix: string) => answersTo(socket.sent.slice(0, sentCount), prefix).length;

describe('ServerConnection: publishes that wait their turn', () => {
  it('stops reading the socket when 1,000 publishes wait, and reads it again once fewer than 1,000 do', async () => {
    const { socket } = await connection(oneAtATime);
    socket.receive(publish('spent'));
    for (let i = 0; i < 999; i++) socket.receive(publish(`w${i}`));
    expect(socket.pausedAt).toEqual([]);
    socket.receive(publish('w999'));
    expect(socket.isPaused).toBe(true);
    socket.receive(publish('w1000'));
    socket.receive(publish('w1001'));
    await until(() => answersTo(socket.sent, 'w').length === 1002);
    expect(socket.resumedAt).toHaveLength(1);
    expect(answeredBefore(socket, socket.resumedAt[0]!, 'w')).toBe(3);
    expect(socket.isPaused).toBe(false);
  });

  it('stops reading the socket when 1 MiB of publishes wait, and reads it again once less does', async () => {
    const { socket } = await connection(oneAtATime);
    socket.receive(publish('spent'));
    for (let i = 0; i < 7; i++) socket.receive(publishOfSize(`b${i}`, MIB / 8));
    expect(socket.pausedAt).toEqual([]);
    socket.receive(publishOfSize('b7', MIB / 8));
    expect(socket.isPaused).toBe(true);
    socket.receive(publishOfSize('b8', MIB / 8));
    await until(() => answersTo(socket.sent, 'b').length === 9);
    expect(socket.resumedAt).toHaveLength(1);
    expect(answeredBefore(socket, socket.resumedAt[0]!, 'b')).toBe(2);
  });

  it('neither terminates a socket it stopped reading for unanswered pings nor closes it as idle, and judges it again once it reads it', async () => {
    const { socket, connection: serverSide, clock } = await connection(oneAtATime);
    const pings = vi.spyOn(socket, 'ping');
    socket.receive(publish('spent'));
    for (let i = 0; i < 1000; i++) socket.receive(publish(`w${i}`));
    expect(socket.isPaused).toBe(true);
    for (let beat = 1; beat <= 3; beat++) {
      clock.time += 30_000;
      serverSide.ping(clock.now(), 30_000);
      serverSide.closeIfIdle(clock.now(), 60_000);
    }
    expect(socket.closedWith).toBeUndefined();
    await until(() => answersTo(socket.sent, 'w').length === 1000);
    expect(socket.isPaused).toBe(false);
    serverSide.closeIfIdle(clock.now(), 60_000);
    expect(socket.closedWith).toBeUndefined();
    const pingsBefore = pings.mock.calls.length;
    for (let beat = 1; beat <= 2; beat++) {
      clock.time += 30_000;
      serverSide.ping(clock.now(), 30_000);
    }
    expect([pings.mock.calls.length - pingsBefore, socket.closedWith?.code]).toEqual([1, 1006]);
  });

  it('never stops reading for publishes that find their token', async () => {
    const { socket } = await connection({ rateLimits: { chat: { perMinute: 60_000, burst: 2000 } } });
    for (let i = 0; i < 1500; i++) socket.receive(publish(`t${i}`));
    await until(() => socket.ofType('ack').length === 1500);
    expect([socket.pausedAt, socket.resumedAt]).toEqual([[], []]);
  });

  it('puts a publish that finds its token behind those already waiting', async () => {
    const { socket, clock } = await connection(oneAtATime);
    socket.receive(publish('spent'));
    socket.receive(publish('waits'));
    clock.time += 1000;
    socket.receive(publish('finds-a-token'));
    await until(() => answersTo(socket.sent, 'waits').length + answersTo(socket.sent, 'finds').length === 2);
    expect(socket.sent.filter((frame) => frame.id === 'waits' || frame.id === 'finds-a-token').map((frame) => frame.id)).toEqual(['waits', 'finds-a-token']);
  });

  it('answers every waiting publish in the order it arrived', async () => {
    const { socket, clock } = await connection(oneAtATime);
    socket.receive(publish('spent'));
    for (let i = 0; i < 5; i++) socket.receive(publish(`o${i}`));
    await until(() => answersTo(socket.sent, 'o').length === 5);
    expect(answersTo(socket.sent, 'o').map((frame) => frame.id)).toEqual(['o0', 'o1', 'o2', 'o3', 'o4']);
    clock.time += 1000;
    socket.receive(publish('o0'));
    await until(() => answersTo(socket.sent, 'o').length === 6);
    expect(socket.sent.at(-1)).toMatchObject({ type: 'ack', id: 'o0' });
  });

  it('acks a repeat that arrives while its first copy is being stored as a duplicate, without charging or refusing it', async () => {
    const { socket } = await connection(oneAtATime);
    socket.receive(publish('twice'));
    socket.receive(publish('twice'));
    await until(() => answersTo(socket.sent, 'twice').length === 2);
    await new Promise((resolve) => setImmediate(resolve));
    const [first, repeat] = answersTo(socket.sent, 'twice');
    expect(first).toEqual({ type: 'ack', id: 'twice', seq: expect.any(Number) });
    expect(repeat).toEqual({ type: 'ack', id: 'twice', seq: first!.seq, duplicate: true });
  });
  it('acks as a duplicate a repeat that found no token while its first copy was still being stored, once it is', async () => {
    const { socket, parts } = await connection(oneAtATime);
    const append = parts.backend.append.bind(parts.backend);
    parts.backend.append = async (...args) => {
      await new Promise((resolve) => setImmediate(resolve));
      return append(...args);
    };
    socket.receive(publish('slow'));
    socket.receive(publish('slow'));
    await until(() => answersTo(socket.sent, 'slow').length === 2);
    const [first, repeat] = answersTo(socket.sent, 'slow');
    expect(first).toEqual({ type: 'ack', id: 'slow', seq: expect.any(Number) });
    expect(repeat).toEqual({ type: 'ack', id: 'slow', seq: first!.seq, duplicate: true });
  });
  it('refuses at once a publish without an id that finds no token, though a publish before it is still being stored', async () => {
    const { socket, parts } = await connection(oneAtATime);
    const append = parts.backend.append.bind(parts.backend);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    parts.backend.append = async (...args) => {
      await held;
      return append(...args);
    };
    socket.receive(publish('stored'));
    socket.receive({ type: 'publish', ch: 'chat:room', data: 'no id' });
    expect(socket.ofType('error')).toMatchObject([{ code: 'RATE_LIMIT_EXCEEDED', details: { scope: 'chat', ch: 'chat:room', action: 'publish' } }]);
    release();
    await until(() => socket.ofType('ack').length === 1);
  });

  it('refuses at once a publish without an id that finds no token once the publishes that waited before it are answered', async () => {
    const { socket } = await connection(oneAtATime);
    socket.receive(publish('spent'));
    socket.receive(publish('waited'));
    await until(() => answersTo(socket.sent, 'waited').length === 1);
    const refusals = socket.ofType('error').length;
    socket.receive({ type: 'publish', ch: 'chat:room', data: 'no id' });
    expect(socket.ofType('error')).toHaveLength(refusals + 1);
    expect(socket.ofType('error').at(-1)).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', details: { scope: 'chat', ch: 'chat:room', action: 'publish' } });
  });
});

describe('ServerConnection: what a publish costs', () => {
  it('gives back the token of a publish stored as a repeat, and only of that one', async () => {
    const { socket } = await connection({ rateLimits: { chat: { perMinute: 60, burst: 2 } }, userRateLimits: { chat: { perMinute: 600, burst: 100 } } });
    socket.receive(publish('x'));
    await until(() => socket.ofType('ack').length === 1);
    socket.receive(publish('x'));
    await until(() => socket.ofType('ack').length === 2);
    socket.receive(publish('y'));
    socket.receive(publish('z'));
    await until(() => answersTo(socket.sent, 'z').length === 1);
    expect(socket.sent.filter((frame) => frame.id === 'y' || frame.id === 'z').map((frame) => [frame.id, frame.type])).toEqual([
      ['y', 'ack'],
      ['z', 'error'],
    ]);
  });

  it('answers a publish its user’s bucket refuses with RATE_LIMIT_EXCEEDED naming its id', async () => {
    const { socket } = await connection({ rateLimits: { chat: { perMinute: 60, burst: 10 } }, userRateLimits: { chat: { perMinute: 6, burst: 1 } } });
    socket.receive(publish('a'));
    socket.receive(publish('b'));
    await until(() => answersTo(socket.sent, 'b').length === 1);
    expect(answersTo(socket.sent, 'b')).toMatchObject([{ type: 'error', code: 'RATE_LIMIT_EXCEEDED', id: 'b', retry_after: 10 }]);
  });
});

describe('ServerConnection: refusals', () => {
  it('answers a publish over its limit with RATE_LIMIT_EXCEEDED naming its id, retry_after in seconds', async () => {
    const { socket } = await connection({ rateLimits: { chat: { perMinute: 6, burst: 1 } } });
    socket.receive(publish('first'));
    socket.receive(publish('second'));
    await until(() => socket.ofType('error').length === 1);
    expect(socket.ofType('error')[0]).toMatchObject({
      code: 'RATE_LIMIT_EXCEEDED',
      message: 'rate limit exceeded for chat',
      id: 'second',
      retry_after: 10,
      details: { scope: 'chat', retry_after_ms: 10_000 },
    });
  });

  it('announces a scope’s status on its first frame, not on every one', async () => {
    const { socket } = await connection({ rateLimits: { chat: { perMinute: 600, burst: 100 } } });
    for (const id of ['a', 'b', 'c']) socket.receive(publish(id));
    await until(() => socket.ofType('ack').length === 3);
    expect(socket.ofType('rate_limit_status')).toEqual([{ type: 'rate_limit_status', scope: 'chat', limit: 600, burst: 100, remaining: 99, reset_at: expect.any(Number), window_seconds: 60 }]);
  });

  it('charges a user’s control frames to that user alone', async () => {
    const node = await testNode({ rateLimits: { control: { perMinute: 6, burst: 2 } } });
    stops.push(node.stop);
    const [alice, bob] = [node.connect('alice').socket, node.connect('bob').socket];
    for (const socket of [alice, bob]) for (let ts = 1; ts <= 2; ts++) socket.receive({ type: 'ping', ts });
    expect([alice.ofType('pong').length, bob.ofType('pong').length]).toEqual([2, 2]);
    expect([...alice.ofType('error'), ...bob.ofType('error')]).toEqual([]);
  });

  it('answers an invalid frame that names an id with that id and what is wrong with it', async () => {
    const { socket } = await connection();
    socket.receive({ type: 'publish', id: 'no-channel', data: 1 });
    expect(socket.ofType('error')).toMatchObject([{ code: 'INVALID_MESSAGE_FORMAT', id: 'no-channel', details: { issues: [{ path: 'ch' }] } }]);
  });

  it('closes a flooder with 4029, its reason carrying retry_after in whole seconds', async () => {
    const { socket } = await connection({ rateLimits: { chat: { perMinute: 6, burst: 1 } }, floodThreshold: 1 });
    for (const id of ['a', 'b', 'c']) socket.receive(publish(id));
    await until(() => socket.closedWith !== undefined);
    expect(socket.closedWith).toEqual({ code: 4029, reason: 'rate limited; retry_after=10' });
  });

  it('rounds the retry_after in a flooder’s close reason up to whole seconds, never sooner than its limit allows', async () => {
    const { socket } = await connection({ rateLimits: { chat: { perMinute: 7, burst: 1 } }, floodThreshold: 1 });
    for (const id of ['a', 'b', 'c']) socket.receive(publish(id));
    await until(() => socket.closedWith !== undefined);
    expect(socket.closedWith).toEqual({ code: 4029, reason: 'rate limited; retry_after=9' });
  });

  it('answers invalid frames while its control budget lasts, then only with RATE_LIMIT_EXCEEDED', async () => {
    const { socket } = await connection({ rateLimits: { control: { perMinute: 6, burst: 2 } } });
    for (let i = 0; i < 3; i++) socket.receive({ type: 'no-such-frame', n: i });
    expect(socket.ofType('error').map((frame) => frame.code)).toEqual(['INVALID_MESSAGE_FORMAT', 'INVALID_MESSAGE_FORMAT', 'RATE_LIMIT_EXCEEDED']);
  });

  it('answers a publish its rules forbid with AUTHORIZATION_FAILED naming the channel, the action and the id, then only with RATE_LIMIT_EXCEEDED', async () => {
    const { socket } = await connection({ channels: [{ pattern: 'open:*', publish: true }], rateLimits: { control: { perMinute: 6, burst: 1 } } });
    socket.receive({ type: 'publish', ch: 'closed:x', id: 'p1', data: 1 });
    socket.receive({ type: 'publish', ch: 'closed:x', id: 'p2', data: 1 });
    expect(socket.ofType('error')).toMatchObject([
      { code: 'AUTHORIZATION_FAILED', id: 'p1', details: { ch: 'closed:x', action: 'publish' } },
      { code: 'RATE_LIMIT_EXCEEDED', id: 'p2', details: { scope: 'control', ch: 'closed:x', action: 'publish' } },
    ]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.ofType('ack')).toEqual([]);
  });

  it('answers a channel frame over the control limit with RATE_LIMIT_EXCEEDED naming its channel and action', async () => {
    const { socket } = await connection({ rateLimits: { control: { perMinute: 6, burst: 1 } } });
    socket.receive({ type: 'ping', ts: 1 });
    socket.receive({ type: 'subscribe', ch: 'chat:a' });
    socket.receive({ type: 'unsubscribe', ch: 'chat:b' });
    socket.receive({ type: 'presence', ch: 'chat:c', action: 'join' });
    socket.receive({ type: 'typing', ch: 'chat:d', typing: true });
    expect(socket.ofType('error')).toMatchObject([
      { code: 'RATE_LIMIT_EXCEEDED', details: { scope: 'control', ch: 'chat:a', action: 'subscribe' } },
      { code: 'RATE_LIMIT_EXCEEDED', details: { scope: 'control', ch: 'chat:b', action: 'unsubscribe' } },
      { code: 'RATE_LIMIT_EXCEEDED', details: { scope: 'control', ch: 'chat:c', action: 'join' } },
      { code: 'RATE_LIMIT_EXCEEDED', details: { scope: 'control', ch: 'chat:d', action: 'typing' } },
    ]);
  });

  it('names the channel of every subscribe the control limit refuses when three tabs of a user resubscribe 70 channels each', async () => {
    const node = await testNode();
    stops.push(node.stop);
    const tabs = [node.connect('alice').socket, node.connect('alice').socket, node.connect('alice').socket];
    tabs.forEach((socket, tab) => {
      for (let i = 0; i < 70; i++) socket.receive({ type: 'subscribe', ch: `chat:${tab}-${i}` });
    });
    // the user's control bucket (burst 200, shared by the tabs) refuses the last 10
    const refused = tabs.flatMap((socket) => socket.ofType('error')).map((frame) => [frame.code, (frame.details as { ch?: string }).ch]);
    expect(refused).toEqual(Array.from({ length: 10 }, (_, i) => ['RATE_LIMIT_EXCEEDED', `chat:2-${60 + i}`]));
  });
});

describe('ServerConnection: presence frames of a channel, one at a time', () => {
  const presence = (action: 'join' | 'leave' | 'list', ch = 'chat:room', meta?: unknown) => ({ type: 'presence', ch, action, ...(meta === undefined ? {} : { meta }) });
  const answers = (socket: SocketStandIn) => socket.sent.filter((frame) => frame.type === 'presence_state' || frame.type === 'error');
  const answered = (socket: SocketStandIn) => answers(socket).map((frame) => (frame.type === 'error' ? frame.code : (frame.members as { userId: string }[]).map((member) => member.userId).join()));

  /** The backend's next presence list answers only once `release()` is called. */
  function holdNextList(parts: NodeParts) {
    const list = parts.backend.presenceList.bind(parts.backend);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    vi.spyOn(parts.backend, 'presenceList').mockImplementationOnce(async (ch) => {
      await held;
      return list(ch);
    });
    return release;
  }

  it('answers a join again with meta over 1 KB after the join before it: the members first, then MESSAGE_TOO_LARGE', async () => {
    const { socket } = await connection();
    socket.receive(presence('join', 'chat:room', { name: 'Alice' }));
    socket.receive(presence('join', 'chat:room', { bio: 'x'.repeat(2000) }));
    await until(() => answers(socket).length === 2);
    expect(answered(socket)).toEqual(['alice', 'MESSAGE_TOO_LARGE']);
  });

  it('charges a frame behind another only in its turn: a refusal by the control limit comes after the answer to the frame before it', async () => {
    const { socket } = await connection({ rateLimits: { control: { perMinute: 6, burst: 1 } } });
    socket.receive(presence('join'));
    socket.receive(presence('leave'));
    await until(() => answers(socket).length === 2);
    expect(answered(socket)).toEqual(['alice', 'RATE_LIMIT_EXCEEDED']);
    expect(socket.ofType('error')).toMatchObject([{ details: { scope: 'control', ch: 'chat:room', action: 'leave' } }]);
  });

  it('answers a frame of another channel without waiting for one still waiting on the backend', async () => {
    const { socket, parts } = await connection();
    const release = holdNextList(parts);
    socket.receive(presence('list', 'chat:slow'));
    socket.receive(presence('join', 'chat:fast'));
    await until(() => answers(socket).length === 1);
    expect(answers(socket)).toMatchObject([{ type: 'presence_state', ch: 'chat:fast' }]);
    release();
    await until(() => answers(socket).length === 2);
  });

  it('keeps a third frame behind the second while the second waits on the backend, once the first is answered', async () => {
    const { socket, parts } = await connection();
    const list = parts.backend.presenceList.bind(parts.backend);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let lists = 0;
    vi.spyOn(parts.backend, 'presenceList').mockImplementation(async (ch) => {
      if ((lists += 1) === 2) await held;
      return list(ch);
    });
    socket.receive(presence('list'));
    socket.receive(presence('list'));
    await until(() => answers(socket).length === 1);
    socket.receive(presence('join'));
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await until(() => answers(socket).length === 3);
    expect(answered(socket)).toEqual(['', '', 'alice']);
  });

  it('stops reading the socket when 1,000 presence frames wait their turn, and reads it again once fewer do', async () => {
    const { socket, parts } = await connection({ rateLimits: { control: { perMinute: 60_000, burst: 2000 } } });
    const release = holdNextList(parts);
    socket.receive(presence('list'));
    for (let i = 0; i < 999; i++) socket.receive(presence('list'));
    expect(socket.pausedAt).toEqual([]);
    socket.receive(presence('list'));
    expect(socket.isPaused).toBe(true);
    release();
    await until(() => answers(socket).length === 1001);
    expect(socket.resumedAt).toHaveLength(1);
    expect(socket.sent.slice(0, socket.resumedAt[0]).filter((frame) => frame.type === 'presence_state')).toHaveLength(1);
    expect(socket.isPaused).toBe(false);
  });

  it('drops the frames still waiting their turn when it closes: a join behind a list never joins', async () => {
    const { socket, connection: serverSide, parts } = await connection();
    const release = holdNextList(parts);
    socket.receive(presence('list'));
    socket.receive(presence('join'));
    serverSide.closeWith(1000, 'bye');
    await serverSide.closed;
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(await parts.backend.presenceList('chat:room')).toEqual([]);
    expect(parts.hub.sizes()).toMatchObject({ pendingLeaves: 0 });
  });
});

/** A node whose token check answers only once `release()` is called (any token is its user id). */
async function nodeVerifyingOnRelease(overrides: Parameters<typeof testNode>[0] = {}) {
  let release!: () => void;
  const verified = new Promise<void>((resolve) => (release = resolve));
  const node = await testNode({
    ...overrides,
    auth: {
      verify: async (token) => {
        await verified;
        return { userId: token };
      },
    },
  });
  stops.push(node.stop);
  return { node, release };
}

describe('ServerConnection: frames held while its token is verified', () => {
  it('reads them in order once verified, and reads none after the one that closes the socket', async () => {
    const { node, release } = await nodeVerifyingOnRelease({ rateLimits: { control: { perMinute: 6, burst: 1 } }, floodThreshold: 1 });
    const { socket, connection: serverSide } = node.connectPending();
    socket.receive({ type: 'auth', token: 'alice' });
    for (let ts = 1; ts <= 4; ts++) socket.receive({ type: 'ping', ts });
    release();
    await serverSide.closed;
    expect(await framesRead(node.parts, 'ping')).toBe(3);
    expect(socket.sent.filter((frame) => frame.type === 'pong' || frame.type === 'error').map((frame) => frame.ts ?? frame.code)).toEqual([1, 'RATE_LIMIT_EXCEEDED', 'RATE_LIMIT_EXCEEDED']);
    expect(socket.closedWith?.code).toBe(4029);
  });
});

describe('ServerConnection: before authentication', () => {
  it('leaves a socket still authenticating to its authentication timeout: the idle timeout does not close it', async () => {
    const node = await testNode({ auth: { verify: () => new Promise(() => undefined) } });
    stops.push(node.stop);
    const { socket, connection: serverSide } = node.connectPending();
    socket.receive({ type: 'auth', token: 'alice' });
    node.clock.time += 60_000;
    serverSide.closeIfIdle(node.clock.now(), 1000);
    expect(socket.closedWith).toBeUndefined();
  });

  it('keeps a socket authenticated by its auth frame open once its authentication timeout has passed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const node = await testNode({ auth: { timeoutMs: 1000, verify: async (token) => ({ userId: token }) } });
    stops.push(node.stop);
    const { socket } = node.connectPending();
    socket.receive({ type: 'auth', token: 'alice' });
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.ofType('auth_ok')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1500);
    expect([socket.closedWith, socket.ofType('error')]).toEqual([undefined, []]);
  });

  it('charges its address once for a socket refused before authentication, though its authentication timeout passes while it closes', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const node = await testNode({ auth: { timeoutMs: 500 }, unauthenticatedRateLimit: { perMinute: 1, burst: 2 } });
    stops.push(node.stop);
    const { socket } = node.connectPending();
    socket.close = () => undefined;
    socket.receive({ type: 'subscribe', ch: 'chat:room' });
    await vi.advanceTimersByTimeAsync(600);
    expect(node.parts.limits.addressWait('127.0.0.1')).toBe(0);
    socket.terminate();
  });

  it('never attaches a socket that closed while its token was verified: its user keeps no connection on the node', async () => {
    const { node, release } = await nodeVerifyingOnRelease();
    const { socket, connection: serverSide } = node.connectPending();
    socket.receive({ type: 'auth', token: 'alice' });
    socket.terminate();
    await serverSide.closed;
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect([socket.ofType('auth_ok'), node.parts.hub.userConnectionCount('alice'), node.parts.hub.sizes()]).toEqual([[], 0, expect.objectContaining({ users: 0, subscriptions: 0 })]);
  });

  it('charges each refused login to its address: once its unauthenticated budget is spent, the address must wait', async () => {
    const node = await testNode({ unauthenticatedRateLimit: { perMinute: 1, burst: 2 }, auth: { verify: () => Promise.reject(new AuthenticationError('bad token')) } });
    stops.push(node.stop);
    const waits: number[] = [];
    for (let i = 0; i < 2; i++) {
      const { socket, connection: serverSide } = node.connectPending();
      socket.receive({ type: 'auth', token: 'forged' });
      await serverSide.closed;
      waits.push(node.parts.limits.addressWait('127.0.0.1'));
    }
    expect(waits[0]).toBe(0);
    expect(waits[1]).toBeGreaterThan(0);
  });

  it('charges each authentication timeout to its address: once its unauthenticated budget is spent, the address must wait', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const node = await testNode({ unauthenticatedRateLimit: { perMinute: 1, burst: 2 }, auth: { timeoutMs: 500 } });
    stops.push(node.stop);
    const waits: number[] = [];
    for (let i = 0; i < 2; i++) {
      const { socket } = node.connectPending();
      await vi.advanceTimersByTimeAsync(500);
      expect(socket.closedWith).toEqual({ code: 4001, reason: 'authentication timeout' });
      waits.push(node.parts.limits.addressWait('127.0.0.1'));
    }
    expect(waits[0]).toBe(0);
    expect(waits[1]).toBeGreaterThan(0);
  });

  for (const bytes of [123, 124]) {
    it(`closes with the refusal of its token as the reason, ${bytes === 123 ? 'in full when it fits a close frame (123 bytes)' : 'cut to 120 bytes when it does not'}`, async () => {
      const node = await testNode({ auth: { verify: () => Promise.reject(new AuthenticationError('x'.repeat(bytes))) } });
      stops.push(node.stop);
      const { socket, connection: serverSide } = node.connectPending();
      socket.receive({ type: 'auth', token: 'alice' });
      await serverSide.closed;
      expect(socket.closedWith).toEqual({ code: 4001, reason: 'x'.repeat(bytes === 123 ? 123 : 120) });
    });
  }

  for (const handshake of [
    { kind: 'failed', reason: 'bad token', mode: 'subprotocol' },
    { kind: 'timeout', mode: 'query' },
  ] as const) {
    it(`does not charge its address again for a token ${handshake.kind === 'failed' ? 'refused' : 'whose check timed out'} at the handshake, which the upgrade charged`, async () => {
      const node = await testNode({ unauthenticatedRateLimit: { perMinute: 1, burst: 1 } });
      stops.push(node.stop);
      const refused = node.open(handshake);
      await refused.connection.closed;
      expect([refused.socket.closedWith?.code, node.parts.limits.addressWait('127.0.0.1')]).toEqual([4001, 0]);
      const pending = node.connectPending();
      pending.socket.receive({ type: 'subscribe', ch: 'chat:room' });
      await pending.connection.closed;
      expect(node.parts.limits.addressWait('127.0.0.1')).toBeGreaterThan(0);
    });
  }

  it('closes with 4001 a socket whose first frame is a pong: only auth and ping are read before authentication', async () => {
    const node = await testNode();
    stops.push(node.stop);
    const { socket, connection: serverSide } = node.connectPending();
    socket.receive({ type: 'pong', ts: 1 });
    await serverSide.closed;
    expect(socket.closedWith).toEqual({ code: 4001, reason: 'authenticate first: the first frame must be auth {token}' });
  });
});

describe('ServerConnection: closing', () => {
  it('answers the publishes it accepted before closing, and reads no frame while it drains', async () => {
    const { socket, connection: serverSide } = await connection();
    socket.receive(publish('accepted'));
    serverSide.closeWith(1012, 'server restart');
    socket.receive({ type: 'ping', ts: 1 });
    socket.receive(publish('late'));
    await serverSide.closed;
    expect(socket.sent.map((frame) => [frame.type, frame.id])).toEqual([
      ['auth_ok', undefined],
      ['rate_limit_status', undefined],
      ['ack', 'accepted'],
    ]);
    expect(socket.closedWith).toEqual({ code: 1012, reason: 'server restart' });
  });

  it('answers a publish that was waiting for its token when the close began, and closes only after its ack', async () => {
    const { socket, connection: serverSide, clock, parts } = await connection(oneAtATime);
    const append = parts.backend.append.bind(parts.backend);
    let appends = 0;
    parts.backend.append = async (...args) => {
      if ((appends += 1) > 1) await new Promise((resolve) => setImmediate(resolve));
      return append(...args);
    };
    socket.receive(publish('first'));
    socket.receive(publish('waited'));
    serverSide.closeWith(1012, 'server restart');
    clock.time += 1000;
    await serverSide.closed;
    expect(socket.sent.filter((frame) => frame.type === 'ack' || frame.type === 'error').map((frame) => [frame.type, frame.id])).toEqual([
      ['ack', 'first'],
      ['ack', 'waited'],
    ]);
    expect(socket.closedWith?.code).toBe(1012);
  });

  /** The socket's close frames and whether it was terminated: the client never answers the close. */
  const unanswered = (socket: SocketStandIn) => {
    const seen = { closes: [] as number[], terminated: false };
    socket.close = (code: number) => void seen.closes.push(code);
    const terminate = socket.terminate.bind(socket);
    socket.terminate = () => {
      seen.terminated = true;
      terminate();
    };
    return seen;
  };

  for (const answeredAfterMs of [undefined, 600]) {
    it(`terminates, within a turn of graceMs after the close began, a socket that does not answer the close, a publish it accepted ${answeredAfterMs === undefined ? 'never answered by the backend' : `answered ${answeredAfterMs} ms in`}`, async () => {
      const { socket, connection: serverSide, parts } = await connection();
      const append = parts.backend.append.bind(parts.backend);
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      parts.backend.append = (...args) =>
        answeredAfterMs === undefined ? new Promise(() => undefined) : new Promise((resolve) => setTimeout(resolve, answeredAfterMs)).then(() => append(...args));
      const seen = unanswered(socket);
      socket.receive(publish('pending'));
      serverSide.closeWith(1012, 'server restart', undefined, 1000);
      await vi.advanceTimersByTimeAsync(999);
      expect(seen.closes).toEqual(answeredAfterMs === undefined ? [] : [1012]);
      expect(seen.terminated).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(seen.closes).toEqual([1012]);
      await vi.advanceTimersByTimeAsync(1);
      expect(seen.terminated).toBe(true);
    });
  }

  for (const pending of [false, true]) {
    it(`a second close with a shorter grace (the server shutting down) shortens the wait of a socket already ${pending ? 'draining its publishes' : 'closing'}`, async () => {
      const { socket, connection: serverSide, parts } = await connection();
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      if (pending) parts.backend.append = () => new Promise(() => undefined);
      const seen = unanswered(socket);
      if (pending) socket.receive(publish('pending'));
      serverSide.closeWith(1008, 'bye');
      serverSide.closeWith(1012, 'server restart', undefined, 300);
      await vi.advanceTimersByTimeAsync(299);
      expect(seen.terminated).toBe(false);
      await vi.advanceTimersByTimeAsync(2);
      expect(seen.closes).toEqual([1008]);
      expect(seen.terminated).toBe(true);
    });
  }

  it('a second close with a longer grace does not lengthen the wait', async () => {
    const { socket, connection: serverSide } = await connection();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const seen = unanswered(socket);
    serverSide.closeWith(1008, 'bye', undefined, 300);
    serverSide.closeWith(1012, 'server restart', undefined, 5000);
    await vi.advanceTimersByTimeAsync(301);
    expect(seen.terminated).toBe(true);
  });

  it('sends one close frame only, though a publish it drained is answered after its socket was terminated', async () => {
    const { socket, connection: serverSide, parts } = await connection();
    const append = parts.backend.append.bind(parts.backend);
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    parts.backend.append = async (...args) => {
      await answered;
      return append(...args);
    };
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const seen = unanswered(socket);
    socket.receive(publish('pending'));
    serverSide.closeWith(1012, 'server restart', undefined, 1000);
    await vi.advanceTimersByTimeAsync(1001);
    await serverSide.closed;
    expect(seen).toEqual({ closes: [1012], terminated: true });
    answer();
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(seen.closes).toEqual([1012]);
  });

  it('leaves no timer of its own once it is closed', async () => {
    const { connection: serverSide } = await connection();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    serverSide.closeWith(1000, 'bye');
    await serverSide.closed;
    expect(vi.getTimerCount()).toBe(0);
  });

  it('closes a slow consumer with 4008 at once, without waiting for the publishes it accepted', async () => {
    const { socket, parts } = await connection({ maxBufferedBytes: 1000 });
    parts.backend.append = () => new Promise(() => undefined);
    socket.receive(publish('pending'));
    socket.bufferedAmount = 2000;
    socket.receive({ type: 'ping', ts: 1 });
    expect(socket.closedWith).toEqual({ code: 4008, reason: 'slow consumer' });
  });

  it('terminates a slow consumer that does not answer its close within a second', async () => {
    const { socket } = await connection({ maxBufferedBytes: 1000 });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const seen = unanswered(socket);
    socket.bufferedAmount = 2000;
    socket.receive({ type: 'ping', ts: 1 });
    expect(seen).toEqual({ closes: [4008], terminated: false });
    await vi.advanceTimersByTimeAsync(999);
    expect(seen.terminated).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen.terminated).toBe(true);
  });

  it('is a slow consumer only once its socket holds more than maxBufferedBytes: holding exactly that many it still answers', async () => {
    const { socket } = await connection({ maxBufferedBytes: 1000 });
    socket.bufferedAmount = 1000;
    socket.receive({ type: 'ping', ts: 1 });
    expect([socket.closedWith, socket.ofType('pong')]).toEqual([undefined, [{ type: 'pong', ts: 1 }]]);
    socket.bufferedAmount = 1001;
    socket.receive({ type: 'ping', ts: 2 });
    expect([socket.closedWith, socket.ofType('pong')]).toEqual([{ code: 4008, reason: 'slow consumer' }, [{ type: 'pong', ts: 1 }]]);
  });

  it('counts the presence diffs held for it toward maxBufferedBytes on every write: a message that brings its send buffer and them past it closes it with 4008', async () => {
    const node = await testNode({ maxBufferedBytes: 1_000_000 });
    stops.push(node.stop);
    const { socket } = node.connect('watcher');
    for (const ch of ['chat:room', 'chat:news']) socket.receive({ type: 'subscribe', ch });
    await until(() => socket.ofType('subscribed').length === 2);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    // a list waiting on the backlog: the room's diffs are held for the socket meanwhile (about 110 KB)
    socket.bufferedAmount = 600_000;
    socket.receive({ type: 'presence', ch: 'chat:room', action: 'list' });
    await vi.advanceTimersByTimeAsync(20);
    for (let i = 0; i < 100; i++) await node.parts.backend.presenceJoin('chat:room', `guest:${i}`, { userId: `guest-${i}`, meta: { bio: 'y'.repeat(1000) } });
    expect(socket.closedWith, '600 KB buffered and 110 KB held: under the bound').toBeUndefined();
    // what the socket could not send of the other channel's messages: 950 KB buffered, and 110 KB still held
    socket.bufferedAmount = 950_000;
    await node.parts.hub.append('chat:news', 'news', undefined, undefined, undefined);
    expect(socket.closedWith).toEqual({ code: 4008, reason: 'slow consumer' });
  });

  it('counts its socket as backlogged for replays once it holds more than half of maxBufferedBytes', async () => {
    const { socket, connection: serverSide } = await connection({ maxBufferedBytes: 1000 });
    socket.bufferedAmount = 500;
    expect(serverSide.backlogged).toBe(false);
    socket.bufferedAmount = 501;
    expect(serverSide.backlogged).toBe(true);
  });

  it('times a replay waiting on its backlog from that replay’s first look, not from one it unsubscribed from long before', async () => {
    const { socket, parts, clock } = await connection({ maxBufferedBytes: 1000, heartbeatIntervalMs: 30_000 });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    /** The number before a message published on `ch`. */
    const before = async (ch: string) => {
      const { current } = await parts.backend.read(ch, 0, 0);
      await parts.hub.append(ch, 'old', undefined, undefined, undefined);
      return current;
    };
    const [sinceA, sinceB] = [await before('chat:a'), await before('chat:b')];
    socket.bufferedAmount = 600;
    socket.receive({ type: 'subscribe', ch: 'chat:a', since: sinceA });
    await vi.advanceTimersByTimeAsync(50);
    socket.receive({ type: 'unsubscribe', ch: 'chat:a' });
    await vi.advanceTimersByTimeAsync(50);
    clock.time += 30_000;
    socket.receive({ type: 'subscribe', ch: 'chat:b', since: sinceB });
    await vi.advanceTimersByTimeAsync(50);
    expect(socket.closedWith, 'this replay has waited 50 ms').toBeUndefined();
    socket.bufferedAmount = 0;
    await vi.advanceTimersByTimeAsync(10);
    expect(socket.sent.filter((frame) => frame.type === 'message').map((frame) => frame.ch)).toEqual(['chat:b']);
  });

  it('leaves nothing of itself on the node once closed: its user has no connection there, its subscriptions and presence are gone', async () => {
    const { socket, connection: serverSide, parts } = await connection();
    socket.receive({ type: 'subscribe', ch: 'chat:room' });
    socket.receive({ type: 'presence', ch: 'chat:room', action: 'join' });
    await until(() => socket.ofType('subscribed').length === 1 && socket.ofType('presence_state').length === 1);
    serverSide.closeWith(1000, 'bye');
    await serverSide.closed;
    expect([parts.hub.userConnectionCount('alice'), await parts.backend.presenceList('chat:room')]).toEqual([0, []]);
    expect(parts.hub.sizes()).toMatchObject({ users: 0, subscriptions: 0 });
  });

  it('is no slow consumer for the frames it gathers within one turn: only bytes its socket could not send count toward maxBufferedBytes', async () => {
    const { socket } = await connection({ maxBufferedBytes: 1000 });
    // a socket whose writes of a turn wait in its buffer until it is uncorked, as a net.Socket's do
    const send = socket.send.bind(socket);
    socket.send = (text: string) => {
      socket.bufferedAmount += Buffer.byteLength(text);
      send(text);
    };
    Object.assign(socket, { _socket: { cork: () => undefined, uncork: () => (socket.bufferedAmount = 0) } });
    for (let ts = 0; ts < 100; ts++) socket.receive({ type: 'ping', ts });
    expect([socket.closedWith, socket.ofType('pong')]).toEqual([undefined, expect.any(Array)]);
    expect(socket.ofType('pong')).toHaveLength(100);
  });

  it('measures how long a socket has been quiet on the node’s clock, whatever the wall clock says: closes it with 1001 only once idleTimeoutMs have passed there since its last frame', async () => {
    const { socket, connection: serverSide, clock } = await connection();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 3_600_000);
    serverSide.closeIfIdle(clock.now(), 2000);
    clock.time += 1500;
    socket.receive({ type: 'ping', ts: 1 });
    clock.time += 2000;
    serverSide.closeIfIdle(clock.now(), 2000);
    expect(socket.closedWith).toBeUndefined();
    clock.time += 1;
    serverSide.closeIfIdle(clock.now(), 2000);
    expect(socket.closedWith).toEqual({ code: 1001, reason: 'idle timeout' });
  });

  it('pings a quiet socket, and terminates it once a ping goes unanswered, by the node’s clock though the wall clock was stepped back', async () => {
    const { socket, connection: serverSide, clock } = await connection();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - 3_600_000);
    const pings = vi.spyOn(socket, 'ping');
    clock.time += 100;
    serverSide.ping(clock.now(), 100);
    expect([pings.mock.calls.length, socket.closedWith]).toEqual([1, undefined]);
    clock.time += 100;
    serverSide.ping(clock.now(), 100);
    expect(socket.closedWith?.code).toBe(1006);
  });

  it('neither pings nor terminates a socket once it is closed', async () => {
    const { socket, connection: serverSide, clock } = await connection();
    serverSide.closeWith(1000, 'bye');
    await serverSide.closed;
    const [pings, terminations] = [vi.spyOn(socket, 'ping'), vi.spyOn(socket, 'terminate')];
    for (let beat = 1; beat <= 2; beat++) serverSide.ping(clock.now() + beat * 100_000, 100);
    expect([pings.mock.calls.length, terminations.mock.calls.length]).toEqual([0, 0]);
  });

  it('leaves its node once it is closed', async () => {
    const node = await testNode();
    stops.push(node.stop);
    const { connection: serverSide } = node.connect('alice');
    expect(node.connections.has(serverSide)).toBe(true);
    serverSide.closeWith(1000, 'bye');
    await serverSide.closed;
    expect(node.connections.has(serverSide)).toBe(false);
  });

  it('closes only its own socket, with 1011 and SERVER_ERROR, when the node fails a subscribe it asked for', async () => {
    const node = await testNode();
    stops.push(node.stop);
    const [alice, bob] = [node.connect('alice'), node.connect('bob')];
    vi.spyOn(node.parts.hub, 'subscribe').mockRejectedValueOnce(new Error('backend down'));
    alice.socket.receive({ type: 'subscribe', ch: 'chat:room' });
    await alice.connection.closed;
    expect(alice.socket.closedWith).toEqual({ code: 1011, reason: 'internal error' });
    expect(alice.socket.ofType('error')).toMatchObject([{ code: 'SERVER_ERROR', message: 'internal error' }]);
    bob.socket.receive({ type: 'ping', ts: 1 });
    expect([bob.socket.closedWith, bob.socket.ofType('pong')]).toEqual([undefined, [{ type: 'pong', ts: 1 }]]);
  });

  it('reads no frame once it has begun to close, nor once it is closed', async () => {
    const { socket, connection: serverSide, parts } = await connection();
    serverSide.closeWith(1000, 'bye');
    socket.receive({ type: 'ping', ts: 1 });
    await serverSide.closed;
    socket.receive({ type: 'ping', ts: 2 });
    expect(await framesRead(parts)).toBe(0);
    expect(socket.ofType('pong')).toEqual([]);
  });
});

describe('ServerConnection: in-band refresh', () => {
  /** A session of alice whose token checks answer when the spec says: `answer(token, verdict)`. */
  async function refreshing() {
    const pending = new Map<string, { resolve: (identity: { userId: string; expiresAt: number }) => void; reject: (error: Error) => void }>();
    const node = await testNode({ auth: { verify: (token) => new Promise((resolve, reject) => pending.set(token, { resolve, reject })) } });
    stops.push(node.stop);
    const { socket, connection } = node.connectPending();
    const check = async (token: string) => {
      await until(() => pending.has(token), 3000, `the check of ${token}`);
      return pending.get(token)!;
    };
    socket.receive({ type: 'auth', token: 'first' });
    (await check('first')).resolve({ userId: 'alice', expiresAt: Date.now() + 60_000 });
    await until(() => socket.ofType('auth_ok').length === 1);
    return { socket, check, connection, parts: node.parts };
  }

  it('applies no refresh verified once the connection began to close: no auth_ok while it drains its publishes', async () => {
    const { socket, check, connection, parts } = await refreshing();
    let stored!: () => void;
    const append = parts.backend.append.bind(parts.backend);
    vi.spyOn(parts.backend, 'append').mockImplementationOnce((...args) => new Promise((resolve) => (stored = () => resolve(append(...args)))));
    socket.receive({ type: 'publish', ch: 'chat:room', id: 'p1', data: 1 });
    await until(() => stored !== undefined);
    socket.receive({ type: 'auth', token: 'later' });
    const later = await check('later');
    connection.closeWith(1000, 'bye');
    later.resolve({ userId: 'alice', expiresAt: Date.now() + 3_600_000 });
    await new Promise((resolve) => setImmediate(resolve));
    stored();
    await connection.closed;
    expect(socket.ofType('ack')).toHaveLength(1);
    expect(socket.ofType('auth_ok')).toHaveLength(1);
  });

  it('keeps the session of the refresh sent last, even when an earlier refresh is verified after it', async () => {
    const { socket, check } = await refreshing();
    socket.receive({ type: 'auth', token: 'older' });
    socket.receive({ type: 'auth', token: 'newer' });
    const [older, newer] = [await check('older'), await check('newer')];
    const newerExpiry = Date.now() + 3_600_000;
    newer.resolve({ userId: 'alice', expiresAt: newerExpiry });
    await until(() => socket.ofType('auth_ok').length === 2);
    older.resolve({ userId: 'alice', expiresAt: Date.now() + 120_000 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.ofType('auth_ok').map((frame) => frame.expiresAt)).toEqual([expect.any(Number), newerExpiry]);
  });

  it('says nothing of an earlier refresh refused after a later one was applied, and refuses a refresh in time', async () => {
    const { socket, check } = await refreshing();
    socket.receive({ type: 'auth', token: 'older' });
    socket.receive({ type: 'auth', token: 'newer' });
    const [older, newer] = [await check('older'), await check('newer')];
    newer.resolve({ userId: 'alice', expiresAt: Date.now() + 3_600_000 });
    await until(() => socket.ofType('auth_ok').length === 2);
    older.reject(new Error('token expired'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.ofType('error')).toEqual([]);
    socket.receive({ type: 'auth', token: 'bad' });
    (await check('bad')).reject(new Error('token expired'));
    await until(() => socket.ofType('error').length === 1);
    expect(socket.ofType('error')[0]).toMatchObject({ code: 'AUTHENTICATION_FAILED' });
  });

  it('charges each refused refresh to its address as a refused login, and closes with 4029 a socket whose address has no budget left for another', async () => {
    const node = await testNode({
      unauthenticatedRateLimit: { perMinute: 1, burst: 2 },
      auth: { verify: async (token) => (token === 'alice' ? { userId: 'alice' } : Promise.reject(new AuthenticationError('invalid token'))) },
    });
    stops.push(node.stop);
    const { socket } = node.connectPending();
    socket.receive({ type: 'auth', token: 'alice' });
    await until(() => socket.ofType('auth_ok').length === 1);
    for (const guess of ['guess-1', 'guess-2']) socket.receive({ type: 'auth', token: guess });
    await until(() => socket.ofType('error').length === 2);
    expect(socket.closedWith).toBeUndefined();
    expect(node.parts.limits.addressWait('127.0.0.1')).toBeGreaterThan(0);
    socket.receive({ type: 'auth', token: 'guess-3' });
    await until(() => socket.closedWith !== undefined);
    expect(socket.closedWith).toEqual({ code: 4029, reason: 'rate limited; retry_after=60' });
  });
});

describe('ServerConnection: session expiry', () => {
  /** A session of alice whose token expires `expiresInMs` from now, on fake timers and a fake wall clock. */
  async function expiring(expiresInMs: number, clockToleranceSec = 0) {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const node = await testNode({ auth: { clockToleranceSec, verify: async (token) => ({ userId: token, expiresAt: Date.now() + expiresInMs }) } });
    stops.push(node.stop);
    const { socket } = node.connectPending();
    socket.receive({ type: 'auth', token: 'alice' });
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.ofType('auth_ok')).toHaveLength(1);
    return socket;
  }

  it('closes a session with 4001 once its expiry and clockToleranceSec have passed, not before', async () => {
    const socket = await expiring(1000, 2);
    await vi.advanceTimersByTimeAsync(2999);
    expect(socket.closedWith).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(socket.closedWith).toEqual({ code: 4001, reason: 'session expired' });
    expect(socket.ofType('error')).toMatchObject([{ code: 'AUTHENTICATION_FAILED', message: 'session expired' }]);
  });

  it('keeps a session that expires in 30 days open past the longest timer (24.8 days), and closes it at its expiry', async () => {
    const day = 86_400_000;
    const socket = await expiring(30 * day);
    await vi.advanceTimersByTimeAsync(25 * day);
    expect(socket.closedWith).toBeUndefined();
    await vi.advanceTimersByTimeAsync(5 * day - 1);
    expect(socket.closedWith).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(socket.closedWith?.code).toBe(4001);
  });

  /** A session of alice expiring in a second, on fake timers, whose refresh checks answer when the spec says. */
  async function expiringWhileRefreshing() {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const checks = new Map<string, { resolve: (identity: { userId: string; expiresAt: number }) => void; reject: (error: Error) => void }>();
    const verify = (token: string) =>
      token === 'first' ? Promise.resolve({ userId: 'alice', expiresAt: Date.now() + 1000 }) : new Promise<{ userId: string; expiresAt: number }>((resolve, reject) => checks.set(token, { resolve, reject }));
    const node = await testNode({ auth: { timeoutMs: 5000, verify } });
    stops.push(node.stop);
    const { socket } = node.connectPending();
    socket.receive({ type: 'auth', token: 'first' });
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.ofType('auth_ok')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(999);
    socket.receive({ type: 'auth', token: 'refresh' });
    await vi.advanceTimersByTimeAsync(0);
    return { socket, check: checks.get('refresh')! };
  }

  it('keeps a session open past its expiry while a refresh received before it is verified, and applies the refresh', async () => {
    const { socket, check } = await expiringWhileRefreshing();
    await vi.advanceTimersByTimeAsync(2000);
    expect(socket.closedWith).toBeUndefined();
    check.resolve({ userId: 'alice', expiresAt: Date.now() + 3_600_000 });
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.ofType('auth_ok')).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(socket.closedWith).toBeUndefined();
    expect(socket.ofType('error')).toEqual([]);
  });

  it('closes an expired session with 4001 once the refresh received before its expiry is refused', async () => {
    const { socket, check } = await expiringWhileRefreshing();
    await vi.advanceTimersByTimeAsync(2000);
    expect(socket.closedWith).toBeUndefined();
    check.reject(new AuthenticationError('token expired'));
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.closedWith).toEqual({ code: 4001, reason: 'session expired' });
    expect(socket.ofType('error')).toMatchObject([{ code: 'AUTHENTICATION_FAILED', message: 'token refresh refused: token expired' }, { code: 'AUTHENTICATION_FAILED', message: 'session expired' }]);
  });

  it('closes an expired session with 4001 auth.timeoutMs after its expiry when the refresh received before it is still not verified', async () => {
    const { socket } = await expiringWhileRefreshing();
    await vi.advanceTimersByTimeAsync(1 + 4999);
    expect(socket.closedWith).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(socket.closedWith).toEqual({ code: 4001, reason: 'session expired' });
  });
});

describe('ServerConnection: what it logs', () => {
  /** A node whose logger, at `info`, keeps each line it writes. */
  async function loggingNode() {
    const lines: Record<string, unknown>[] = [];
    const node = await testNode({ logger: pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) }) });
    stops.push(node.stop);
    return { ...node, lines };
  }

  it('names itself on every line, and its user on every line once authenticated', async () => {
    const { connectPending, lines } = await loggingNode();
    const { socket, connection: serverSide } = connectPending();
    socket.receive({ type: 'auth', token: 'alice' });
    await until(() => socket.ofType('auth_ok').length === 1);
    serverSide.closeWith(1000, 'bye');
    await serverSide.closed;
    expect(lines.map(({ msg, conn, userId }) => ({ msg, conn, userId }))).toEqual([
      { msg: 'authenticated', conn: serverSide.id, userId: 'alice' },
      { msg: 'closing connection', conn: serverSide.id, userId: 'alice' },
      { msg: 'connection closed', conn: serverSide.id, userId: 'alice' },
    ]);
  });

  it('names itself, and no user, on the lines of a connection refused before authentication', async () => {
    const { connectPending, lines } = await loggingNode();
    const { socket, connection: serverSide } = connectPending();
    socket.receive({ type: 'subscribe', ch: 'chat:room' });
    await serverSide.closed;
    expect(lines.map(({ msg, conn, userId }) => ({ msg, conn, userId }))).toEqual([
      { msg: 'authentication failed', conn: serverSide.id, userId: undefined },
      { msg: 'closing connection', conn: serverSide.id, userId: undefined },
      { msg: 'connection closed', conn: serverSide.id, userId: undefined },
    ]);
  });
});

describe('ServerConnection: errors of its socket', () => {
  it('counts a text frame of invalid UTF-8 as INVALID_MESSAGE_FORMAT and a frame over maxPayload as MESSAGE_TOO_LARGE, and other socket errors as neither', async () => {
    const { socket, parts } = await connection();
    const socketError = (code: string) => socket.emit('error', Object.assign(new Error(code), { code }));
    socketError('WS_ERR_INVALID_UTF8');
    socketError('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    socketError('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    socketError('ECONNRESET');
    const { values } = await parts.metrics.registry.getSingleMetric('socketchart_errors_total')!.get();
    expect(Object.fromEntries(values.map(({ labels, value }) => [labels.code, value]))).toEqual({ INVALID_MESSAGE_FORMAT: 1, MESSAGE_TOO_LARGE: 2 });
  });
});
