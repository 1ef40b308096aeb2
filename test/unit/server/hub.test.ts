import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ServerConnection } from '../../../src/server/connection.js';
import type { NodeParts } from '../../../src/server/node-parts.js';
import type { ServerOptions } from '../../../src/server/options.js';
import { PRESENCE_PAGE_BYTES } from '../../../src/server/presence-pages.js';
import { testNode, type SocketStandIn } from '../../support/server-connection.js';
import { until } from '../../support/until.js';

const stops: (() => Promise<void>)[] = [];

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

async function node(overrides: Partial<ServerOptions> = {}) {
  const made = await testNode({ rateLimits: { chat: { perMinute: 6000, burst: 1000 } }, ...overrides });
  stops.push(made.stop);
  return made;
}

const messages = (socket: SocketStandIn, ch = 'chat:room') => socket.sent.filter((frame) => frame.type === 'message' && frame.ch === ch);
const dataOf = (socket: SocketStandIn, ch = 'chat:room') => messages(socket, ch).map((frame) => frame.data);
const lastOfType = (socket: SocketStandIn, type: string) => socket.ofType(type).at(-1);

/** The backend's next history read answers only once `release()` is called; `reads` spies on every read. */
function holdFirstRead(parts: NodeParts) {
  const read = parts.backend.read.bind(parts.backend);
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const reads = vi.spyOn(parts.backend, 'read').mockImplementationOnce(async (...args) => {
    const answer = await read(...args);
    await held;
    return answer;
  });
  return { reads, release };
}

async function subscribed(socket: SocketStandIn, ch = 'chat:room', since?: number) {
  const before = socket.ofType('subscribed').length;
  socket.receive({ type: 'subscribe', ch, ...(since === undefined ? {} : { since }) });
  await until(() => socket.ofType('subscribed').length > before, 3000, `subscribed to ${ch}`);
  return lastOfType(socket, 'subscribed')!;
}

/** Publishes and waits for the ack this publish gets (not one an earlier publish of the same id got). */
async function published(socket: SocketStandIn, id: string, data: unknown = id, ch = 'chat:room', event?: string) {
  const acks = () => socket.sent.filter((frame) => frame.type === 'ack' && frame.id === id);
  const before = acks().length;
  socket.receive({ type: 'publish', ch, id, data, ...(event === undefined ? {} : { event }) });
  await until(() => acks().length > before, 3000, `ack of ${id}`);
  return acks().at(-1)!;
}

describe('Hub: subscriptions', () => {
  it('answers a subscribe with the current number, then delivers what is published after it, from its publisher, with its event', async () => {
    const { connect } = await node();
    const [reader, writer] = [connect('reader').socket, connect('writer').socket];
    await published(writer, 'before');
    const start = await subscribed(reader);
    const ack = await published(writer, 'after', { n: 1 }, 'chat:room', 'said');
    await until(() => messages(reader).length === 1);
    expect(start).toEqual({ type: 'subscribed', ch: 'chat:room', seq: (ack.seq as number) - 1 });
    expect(messages(reader)).toEqual([{ type: 'message', ch: 'chat:room', seq: ack.seq, id: 'after', event: 'said', from: 'writer', data: { n: 1 }, ts: expect.any(Number) }]);
  });

  it('replays what came after `since`, then goes on live', async () => {
    const { connect } = await node();
    const [reader, writer] = [connect('reader').socket, connect('writer').socket];
    const first = await published(writer, 'one');
    await published(writer, 'two');
    await subscribed(reader, 'chat:room', first.seq as number);
    await published(writer, 'three');
    await until(() => messages(reader).length === 2);
    expect(dataOf(reader)).toEqual(['two', 'three']);
  });

  it('acks a publish with its number, and a repeat of it as a duplicate of that number, delivered once', async () => {
    const { connect } = await node();
    const [reader, writer] = [connect('reader').socket, connect('writer').socket];
    await subscribed(reader);
    const ack = await published(writer, 'once');
    writer.receive({ type: 'publish', ch: 'chat:room', id: 'once', data: 'once' });
    await until(() => writer.ofType('ack').length === 2);
    expect(writer.ofType('ack')[1]).toEqual({ type: 'ack', id: 'once', seq: ack.seq, duplicate: true });
    expect(dataOf(reader)).toEqual(['once']);
  });

  it('stores each id once per publisher and channel: another id, another publisher or another channel is a new message', async () => {
    const { connect } = await node();
    const [alice, bob] = [connect('alice').socket, connect('bob').socket];
    const seqs = [await published(alice, 'a'), await published(alice, 'b'), await published(bob, 'a'), await published(alice, 'a', 'a', 'chat:other')].map((ack) => ack.seq);
    expect(new Set(seqs.slice(0, 3)).size).toBe(3);
    expect(alice.sent.concat(bob.sent).filter((frame) => frame.duplicate)).toEqual([]);
  });

  it('stores and delivers every publish without an id, and acks none', async () => {
    const { connect } = await node();
    const [reader, writer] = [connect('reader').socket, connect('writer').socket];
    await subscribed(reader);
    for (const data of ['x', 'x', 'y']) writer.receive({ type: 'publish', ch: 'chat:room', data });
    await until(() => messages(reader).length === 3);
    expect(dataOf(reader)).toEqual(['x', 'x', 'y']);
    expect(writer.ofType('ack')).toEqual([]);
  });

  it('counts how long a message took from its publish to its delivery, in seconds', async () => {
    const { connect, parts } = await node();
    const reader = connect('reader').socket;
    await subscribed(reader);
    parts.hub.message('chat:room', { seq: 1, dataJson: '1', ts: Date.now() - 2000 });
    const { values } = await parts.metrics.deliveryLatency.get();
    const sum = values.find((value) => value.metricName?.endsWith('_sum'))!.value;
    expect(sum).toBeGreaterThanOrEqual(2);
    expect(sum).toBeLessThan(3);
  });

  it('says the backend is up once it has started', async () => {
    const { parts } = await node();
    expect((await parts.metrics.backendUp.get()).values[0]!.value).toBe(1);
  });

  it('refuses a subscription past maxSubscriptionsPerConnection for good (AUTHORIZATION_FAILED, not a rate limit to wait out), naming the channel, the action and the limit; a subscribe again to one it has does not count', async () => {
    const { connect } = await node({ maxSubscriptionsPerConnection: 2 });
    const { socket } = connect('reader');
    await subscribed(socket, 'chat:a');
    await subscribed(socket, 'chat:b');
    await subscribed(socket, 'chat:a');
    socket.receive({ type: 'subscribe', ch: 'chat:c' });
    await until(() => socket.ofType('error').length === 1);
    expect(socket.ofType('error')).toEqual([{ type: 'error', code: 'AUTHORIZATION_FAILED', message: 'too many subscriptions', details: { ch: 'chat:c', action: 'subscribe', limit: 2 } }]);
  });

  it('counts a channel unsubscribed no more toward maxSubscriptionsPerConnection', async () => {
    const { connect } = await node({ maxSubscriptionsPerConnection: 1 });
    const { socket } = connect('reader');
    await subscribed(socket, 'chat:a');
    socket.receive({ type: 'unsubscribe', ch: 'chat:a' });
    await subscribed(socket, 'chat:b');
    expect(socket.ofType('error')).toEqual([]);
  });

  it('counts no subscribe to the connection’s own user channel or broadcast:all toward maxSubscriptionsPerConnection, as it holds them already', async () => {
    const { connect } = await node({ maxSubscriptionsPerConnection: 1 });
    const { socket, connection } = connect('alice');
    await subscribed(socket, 'user:alice');
    await subscribed(socket, 'broadcast:all');
    await subscribed(socket, 'chat:a');
    socket.receive({ type: 'subscribe', ch: 'chat:b' });
    await until(() => socket.ofType('error').length === 1);
    expect(socket.ofType('error')).toEqual([expect.objectContaining({ message: 'too many subscriptions', details: { ch: 'chat:b', action: 'subscribe', limit: 1 } })]);
    expect([...connection.subscriptions.keys()].sort()).toEqual(['broadcast:all', 'chat:a', 'user:alice']);
  });

  it('answers an unsubscribe from a channel it never subscribed to', async () => {
    const { connect } = await node();
    const { socket, connection } = connect('reader');
    socket.receive({ type: 'unsubscribe', ch: 'chat:never' });
    expect(socket.ofType('unsubscribed')).toEqual([{ type: 'unsubscribed', ch: 'chat:never' }]);
    expect(connection.open).toBe(true);
  });

  it('delivers each message once to a connection that subscribed to a channel twice', async () => {
    const { connect } = await node();
    const [reader, writer] = [connect('reader').socket, connect('writer').socket];
    await subscribed(reader);
    await subscribed(reader);
    await published(writer, 'm1');
    await published(writer, 'm2');
    await until(() => messages(reader).length >= 2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(dataOf(reader)).toEqual(['m1', 'm2']);
  });

  it('answers an unsubscribe, delivers nothing more, and forgets a channel nobody subscribes to', async () => {
    const { connect, parts } = await node({ implicitChannels: false });
    const [reader, writer] = [connect('reader').socket, connect('writer').socket];
    await subscribed(reader);
    expect(parts.hub.sizes()).toMatchObject({ hubChannels: 1, subscriptions: 1 });
    reader.receive({ type: 'unsubscribe', ch: 'chat:room' });
    expect(lastOfType(reader, 'unsubscribed')).toEqual({ type: 'unsubscribed', ch: 'chat:room' });
    expect(parts.hub.sizes()).toMatchObject({ hubChannels: 0, subscriptions: 0 });
    await published(writer, 'unseen');
    expect(messages(reader)).toEqual([]);
  });

  it('gives every connection its user channel and broadcast:all without a subscribe, unless implicitChannels is off', async () => {
    for (const implicitChannels of [true, false]) {
      const { connect, parts } = await node({ implicitChannels });
      const { socket } = connect('alice');
      await parts.hub.append('user:alice', 'for alice', undefined, undefined, undefined);
      await parts.hub.append('user:bob', 'for bob', undefined, undefined, undefined);
      await parts.hub.append('broadcast:all', 'for all', undefined, undefined, undefined);
      await new Promise((resolve) => setImmediate(resolve));
      const got = socket.ofType('message').map((frame) => frame.data);
      expect(got).toEqual(implicitChannels ? ['for alice', 'for all'] : []);
    }
  });

  it('keeps delivering a connection’s user channel and broadcast:all after it subscribed to them and unsubscribed again', async () => {
    const { connect, parts } = await node();
    const { socket } = connect('alice');
    for (const ch of ['user:alice', 'broadcast:all']) {
      await subscribed(socket, ch);
      await parts.hub.append(ch, `subscribed to ${ch}`, undefined, undefined, undefined);
      socket.receive({ type: 'unsubscribe', ch });
      await parts.hub.append(ch, `after unsubscribing from ${ch}`, undefined, undefined, undefined);
    }
    await until(() => socket.ofType('message').length === 4);
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.ofType('message').map((frame) => frame.data)).toEqual([
      'subscribed to user:alice',
      'after unsubscribing from user:alice',
      'subscribed to broadcast:all',
      'after unsubscribing from broadcast:all',
    ]);
    expect(parts.hub.sizes()).toMatchObject({ hubChannels: 2, subscriptions: 2 });
  });

  it('answers an unsubscribe from broadcast:all without a subscribe, and keeps delivering it', async () => {
    const { connect, parts } = await node();
    const { socket } = connect('alice');
    socket.receive({ type: 'unsubscribe', ch: 'broadcast:all' });
    expect(lastOfType(socket, 'unsubscribed')).toEqual({ type: 'unsubscribed', ch: 'broadcast:all' });
    await parts.hub.append('broadcast:all', 'for all', undefined, undefined, undefined);
    await until(() => socket.ofType('message').length === 1);
    expect(socket.ofType('message')[0]).toMatchObject({ ch: 'broadcast:all', data: 'for all' });
  });

  it('keeps delivering a connection’s user channel when its subscribe to it fails', async () => {
    const { connect, parts } = await node();
    const { socket } = connect('alice');
    vi.spyOn(parts.backend, 'read').mockImplementationOnce(() => Promise.reject(new Error('backend down')));
    socket.receive({ type: 'subscribe', ch: 'user:alice' });
    await until(() => socket.ofType('error').length === 1);
    await parts.hub.append('user:alice', 'for alice', undefined, undefined, undefined);
    await until(() => socket.ofType('message').length === 1);
    expect(socket.ofType('message')[0]).toMatchObject({ ch: 'user:alice', data: 'for alice' });
  });

  it('refuses data JSON cannot encode, naming why', async () => {
    const { parts } = await node();
    expect(() => parts.hub.append('chat:room', () => 1, undefined, undefined, undefined)).toThrow(new TypeError('data cannot be encoded as JSON (undefined, a function or a symbol)'));
    expect(() => parts.hub.append('chat:room', { n: 1n }, undefined, undefined, undefined)).toThrow(/^data cannot be encoded as JSON \(.*BigInt/);
  });

  it('still counts the other connections of a user when one closes, and ends the typing of the one that closed', async () => {
    const { connect, parts } = await node({ typingTimeoutMs: 60_000 });
    const watcher = connect('watcher').socket;
    const first = connect('alice');
    connect('alice');
    await subscribed(watcher);
    first.socket.receive({ type: 'typing', ch: 'chat:room', typing: true });
    await until(() => watcher.ofType('typing').length === 1);
    first.connection.closeWith(1000, 'bye');
    await first.connection.closed;
    await until(() => watcher.ofType('typing').length === 2);
    expect(watcher.ofType('typing')[1]).toMatchObject({ userId: 'alice', typing: false });
    expect(parts.hub.userConnectionCount('alice')).toBe(1);
  });

  it('forgets a connection that closed: its user, subscriptions and presence', async () => {
    const { connect, parts } = await node();
    const { socket, connection } = connect('alice');
    await subscribed(socket);
    socket.receive({ type: 'presence', ch: 'chat:room', action: 'join' });
    await until(() => socket.ofType('presence_state').length === 1);
    expect(parts.hub.userConnectionCount('alice')).toBe(1);
    connection.closeWith(1000, 'bye');
    await connection.closed;
    expect(parts.hub.userConnectionCount('alice')).toBe(0);
    expect(parts.hub.sizes()).toEqual({ users: 0, hubChannels: 0, subscriptions: 0, pendingLeaves: 0, unnumbered: 0, rejoins: 0, heldPresence: 0, typingChecks: 0, tokenChecks: 0 });
    expect(parts.backend.sizes()).toMatchObject({ presenceMembers: 0 });
  });
});

describe('Hub: history reads shared', () => {
  it('after a recovery, the subscribers of a channel at the same number share one history read, and each gets what it missed once', async () => {
    const { connect, parts } = await node({ implicitChannels: false });
    const readers = Array.from({ length: 20 }, (_, n) => connect(`reader${n}`).socket);
    for (const reader of readers) await subscribed(reader);
    const writer = connect('writer').socket;
    await published(writer, 'seen');
    await until(() => readers.every((reader) => messages(reader).length === 1));
    const watch = vi.spyOn(parts.backend, 'watch');
    vi.spyOn(parts.hub, 'message').mockImplementationOnce(() => undefined);
    await parts.backend.append('chat:room', { dataJson: '"missed"', ts: 1, id: 'missed' });
    expect(readers.every((reader) => messages(reader).length === 1), 'fan-out was down for it').toBe(true);
    const read = vi.spyOn(parts.backend, 'read');
    parts.hub.recovered();
    await until(() => readers.every((reader) => messages(reader).length === 2));
    expect(read).toHaveBeenCalledTimes(1);
    expect(watch).not.toHaveBeenCalled();
    await published(writer, 'after');
    await until(() => readers.every((reader) => messages(reader).length === 3));
    expect(readers.map((reader) => dataOf(reader).join())).toEqual(readers.map(() => 'seen,missed,after'));
  });

  it('subscribers resuming from the same number share one read; another number or a start from now reads on its own', async () => {
    const { connect, parts } = await node({ implicitChannels: false });
    const writer = connect('writer').socket;
    const first = await published(writer, 'one');
    await published(writer, 'two');
    const read = vi.spyOn(parts.backend, 'read');
    const same = Array.from({ length: 5 }, (_, n) => connect(`same${n}`).socket);
    const [other, fresh] = [connect('other').socket, connect('fresh').socket];
    for (const socket of same) socket.receive({ type: 'subscribe', ch: 'chat:room', since: first.seq });
    other.receive({ type: 'subscribe', ch: 'chat:room', since: (first.seq as number) - 1 });
    fresh.receive({ type: 'subscribe', ch: 'chat:room' });
    await until(() => [...same, other, fresh].every((socket) => socket.ofType('subscribed').length === 1));
    await until(() => [...same, other].every((socket) => messages(socket).length > 0));
    expect(read).toHaveBeenCalledTimes(3);
    expect(same.map((socket) => dataOf(socket).join())).toEqual(same.map(() => 'two'));
    expect(dataOf(other)).toEqual(['one', 'two']);
    expect(dataOf(fresh)).toEqual([]);
  });

  it('a subscribe from now reads on its own: it never gets a message published before it arrived, though another start from now was reading then', async () => {
    const { connect, parts } = await node({ implicitChannels: false });
    const writer = connect('writer').socket;
    await published(writer, 'old');
    const { reads, release } = holdFirstRead(parts);
    const [early, late] = [connect('early').socket, connect('late').socket];
    early.receive({ type: 'subscribe', ch: 'chat:room' });
    await until(() => reads.mock.calls.length === 1, 3000, 'the early read');
    await published(writer, 'before late');
    late.receive({ type: 'subscribe', ch: 'chat:room' });
    release();
    await until(() => [early, late].every((socket) => socket.ofType('subscribed').length === 1));
    await published(writer, 'after both');
    await until(() => [early, late].every((socket) => dataOf(socket).includes('after both')));
    expect(dataOf(late)).toEqual(['after both']);
  });

  it('a subscribe from now gets a message stored while its history read ran, though that message’s fan-out lags behind the read', async () => {
    const { connect, parts } = await node({ implicitChannels: false });
    const reader = connect('reader').socket;
    const fanOut = parts.hub.message.bind(parts.hub);
    const lagging: (() => void)[] = [];
    const arrive = () => {
      for (const deliver of lagging.splice(0)) deliver();
    };
    vi.spyOn(parts.hub, 'message').mockImplementation((ch, message) => void lagging.push(() => fanOut(ch, message)));
    vi.spyOn(parts.backend, 'caughtUp').mockImplementation(async () => arrive());
    const read = parts.backend.read.bind(parts.backend);
    vi.spyOn(parts.backend, 'read').mockImplementationOnce(async (...args) => {
      await parts.backend.append('chat:room', { dataJson: '"racing"', ts: Date.now() });
      return read(...args);
    });
    await subscribed(reader);
    arrive();
    await new Promise((resolve) => setImmediate(resolve));
    expect(dataOf(reader)).toEqual(['racing']);
  });

  it('a subscriber resuming after a message was published reads on its own: a read in flight since before it would miss that message', async () => {
    const { connect, parts } = await node({ implicitChannels: false });
    const writer = connect('writer').socket;
    const first = await published(writer, 'one');
    await published(writer, 'two');
    const { reads, release } = holdFirstRead(parts);
    const [early, late] = [connect('early').socket, connect('late').socket];
    early.receive({ type: 'subscribe', ch: 'chat:room', since: first.seq });
    await until(() => reads.mock.calls.length === 1, 3000, 'the early read');
    await published(writer, 'three');
    late.receive({ type: 'subscribe', ch: 'chat:room', since: first.seq });
    release();
    await until(() => [early, late].every((socket) => dataOf(socket).includes('three')), 3000, 'three delivered to both');
    expect([dataOf(early), dataOf(late)]).toEqual([['two', 'three'], ['two', 'three']]);
  });

  it('after a recovery, a live subscriber gets what fan-out lost, though a read from its number made before the loss is still in flight', async () => {
    const { connect, parts } = await node({ implicitChannels: false });
    const writer = connect('writer').socket;
    const live = connect('live').socket;
    await subscribed(live);
    const seen = await published(writer, 'seen');
    await until(() => messages(live).length === 1);
    const { reads, release } = holdFirstRead(parts);
    connect('resuming').socket.receive({ type: 'subscribe', ch: 'chat:room', since: seen.seq });
    await until(() => reads.mock.calls.length === 1, 3000, 'the resuming read');
    vi.spyOn(parts.hub, 'message').mockImplementationOnce(() => undefined);
    await parts.backend.append('chat:room', { dataJson: '"missed"', ts: 1 });
    parts.hub.recovered();
    release();
    await until(() => dataOf(live).includes('missed'), 1000, 'the message fan-out lost delivered to the live subscriber');
    expect(dataOf(live)).toEqual(['seen', 'missed']);
  });

  it('a shared read that fails fails each subscriber that waited on it, and the next read is a new one', async () => {
    const { connect, parts } = await node({ implicitChannels: false });
    const writer = connect('writer').socket;
    const first = await published(writer, 'one');
    const read = vi.spyOn(parts.backend, 'read').mockImplementationOnce(() => Promise.reject(new Error('backend down')));
    const sockets = Array.from({ length: 3 }, (_, n) => connect(`r${n}`).socket);
    for (const socket of sockets) socket.receive({ type: 'subscribe', ch: 'chat:room', since: first.seq });
    await until(() => sockets.every((socket) => socket.ofType('error').length === 1));
    expect(read).toHaveBeenCalledTimes(1);
    const again = await subscribed(sockets[0]!, 'chat:room', first.seq as number);
    expect(again).toMatchObject({ type: 'subscribed', seq: first.seq });
    expect(read).toHaveBeenCalledTimes(2);
  });
});

describe('Hub: presence', () => {
  const join = (socket: SocketStandIn, meta?: unknown, ch = 'chat:room') => socket.receive({ type: 'presence', ch, action: 'join', ...(meta === undefined ? {} : { meta }) });
  const presenceEvents = (socket: SocketStandIn) => socket.ofType('presence').map(({ joins, leaves }) => ({ joins, leaves }));

  it('answers a join with the members, and announces it to the channel’s subscribers', async () => {
    const { connect } = await node();
    const [watcher, alice] = [connect('watcher').socket, connect('alice').socket];
    await subscribed(watcher);
    join(alice, { status: 'here' });
    await until(() => alice.ofType('presence_state').length === 1 && watcher.ofType('presence').length === 1);
    expect(alice.ofType('presence_state')).toEqual([{ type: 'presence_state', ch: 'chat:room', members: [{ userId: 'alice', meta: { status: 'here' } }] }]);
    expect(presenceEvents(watcher)).toEqual([{ joins: [{ userId: 'alice', meta: { status: 'here' } }], leaves: [] }]);
  });

  it('tells a watcher a change announced while its list is read after the list, which may not hold it: its members end up right', async () => {
    const { connect, parts } = await node();
    const [watcher, alice] = [connect('watcher').socket, connect('alice').socket];
    await subscribed(watcher);
    const list = parts.backend.presenceList.bind(parts.backend);
    let release!: () => void;
    vi.spyOn(parts.backend, 'presenceList').mockImplementationOnce(async (ch) => {
      const members = await list(ch);
      await new Promise<void>((resolve) => (release = resolve));
      return members;
    });
    watcher.receive({ type: 'presence', ch: 'chat:room', action: 'list' });
    await until(() => release !== undefined);
    join(alice);
    await until(() => alice.ofType('presence_state').length === 1);
    release();
    await until(() => watcher.ofType('presence').length === 1 && watcher.ofType('presence_state').length === 1);
    expect(watcher.sent.filter((frame) => frame.type.startsWith('presence')).map(({ type }) => type)).toEqual(['presence_state', 'presence']);
    expect(parts.hub.sizes()).toMatchObject({ heldPresence: 0 });
  });

  it('answers with a list too large for one frame in pages, each sent once the socket is no longer backlogged; the diffs announced meanwhile follow the last', async () => {
    const { connect, parts } = await node();
    const members = Array.from({ length: 120 }, (_, i) => ({ userId: `user-${i}`, meta: { bio: 'x'.repeat(700) } }));
    for (const [i, member] of members.entries()) await parts.backend.presenceJoin('chat:room', `elsewhere:${i}`, member);
    const [watcher, alice] = [connect('watcher'), connect('alice').socket];
    await subscribed(watcher.socket);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    watcher.socket.bufferedAmount = 800_000;
    watcher.socket.receive({ type: 'presence', ch: 'chat:room', action: 'list' });
    await vi.advanceTimersByTimeAsync(20);
    join(alice);
    await vi.advanceTimersByTimeAsync(100);
    expect(alice.ofType('presence_state').map((frame) => frame.more)).toEqual([true, true, undefined]);
    expect([watcher.socket.ofType('presence_state'), watcher.socket.closedWith]).toEqual([[], undefined]);
    watcher.socket.bufferedAmount = 0;
    await vi.advanceTimersByTimeAsync(20);
    const frames = watcher.socket.sent.filter((frame) => frame.type.startsWith('presence'));
    const pages = frames.slice(0, -1);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(pages.map(({ type, more }) => [type, more])).toEqual(pages.map((_, i) => ['presence_state', i < pages.length - 1 ? true : undefined]));
    expect(pages.flatMap((page) => page.members as unknown[])).toEqual(members);
    expect(frames.at(-1)).toMatchObject({ type: 'presence', joins: [{ userId: 'alice' }] });
    expect(parts.hub.sizes()).toMatchObject({ heldPresence: 0 });
  });

  it('announces a change too large for one frame (a dead node’s members reaped at once) in frames of whole members, none larger than a page of a list, in order', async () => {
    const { connect, parts } = await node();
    const watcher = connect('watcher').socket;
    await subscribed(watcher);
    // one step of a reap: its users shown again with the meta (up to 1 KB) of their connection on another node, or gone
    const joins = Array.from({ length: 1000 }, (_, i) => ({ userId: `user-${i}`, meta: { bio: 'x'.repeat(1012) } }));
    const leaves = Array.from({ length: 990 }, (_, i) => ({ userId: `${i}-`.padEnd(120, 'g') }));
    const rejoins = Array.from({ length: 10 }, (_, i) => ({ userId: `other-${i}` }));
    await parts.backend.signalChannel('chat:room', { kind: 'presence', joins, leaves: [] });
    await parts.backend.signalChannel('chat:room', { kind: 'presence', joins: rejoins, leaves });
    const frames = watcher.ofType('presence');
    expect(Math.max(...frames.map((frame) => Buffer.byteLength(JSON.stringify(frame))))).toBeLessThanOrEqual(PRESENCE_PAGE_BYTES);
    expect(frames.flatMap((frame) => frame.joins as unknown[])).toEqual([...joins, ...rejoins]);
    expect(frames.flatMap((frame) => frame.leaves as unknown[])).toEqual(leaves);
    expect(frames.every((frame) => frame.ch === 'chat:room')).toBe(true);
  });

  it('stops sending the pages of a list to a socket closed meanwhile', async () => {
    const { connect, parts } = await node();
    for (let i = 0; i < 120; i++) await parts.backend.presenceJoin('chat:room', `elsewhere:${i}`, { userId: `user-${i}`, meta: { bio: 'x'.repeat(700) } });
    const watcher = connect('watcher');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    watcher.socket.bufferedAmount = 800_000;
    watcher.socket.receive({ type: 'presence', ch: 'chat:room', action: 'list' });
    await vi.advanceTimersByTimeAsync(20);
    watcher.connection.closeWith(1000, 'bye');
    watcher.socket.bufferedAmount = 0;
    await vi.advanceTimersByTimeAsync(100);
    expect(watcher.socket.ofType('presence_state')).toEqual([]);
    expect(parts.hub.sizes()).toMatchObject({ heldPresence: 0 });
  });

  it('closes as a slow consumer a socket whose list is paged while the diffs held for it meanwhile, with its send buffer, pass maxBufferedBytes', async () => {
    const { connect, parts, clock } = await node();
    for (let i = 0; i < 120; i++) await parts.backend.presenceJoin('chat:room', `elsewhere:${i}`, { userId: `user-${i}`, meta: { bio: 'x'.repeat(700) } });
    const watcher = connect('watcher');
    await subscribed(watcher.socket);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    watcher.socket.bufferedAmount = 800_000;
    watcher.socket.receive({ type: 'presence', ch: 'chat:room', action: 'list' });
    await vi.advanceTimersByTimeAsync(20);
    // a busy room, and a watcher that keeps reading, too slowly for its backlog to drop under half of maxBufferedBytes
    for (let i = 0; i < 600 && !watcher.socket.closedWith; i++) {
      await parts.backend.presenceJoin('chat:room', `guest:${i}`, { userId: `guest-${i}`, meta: { bio: 'y'.repeat(1000) } });
      watcher.socket.bufferedAmount -= 200;
      clock.time += 10;
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(watcher.socket.closedWith?.code).toBe(4008);
    expect(watcher.socket.ofType('presence_state')).toEqual([]);
    await vi.advanceTimersByTimeAsync(20);
    expect(parts.hub.sizes()).toMatchObject({ heldPresence: 0 });
  });

  it('announces a join again with other meta as a join, and a join with the same meta not at all', async () => {
    const { connect } = await node();
    const [watcher, alice] = [connect('watcher').socket, connect('alice').socket];
    await subscribed(watcher);
    for (const meta of [{ v: 1 }, { v: 2 }, { v: 2 }]) join(alice, meta);
    await until(() => alice.ofType('presence_state').length === 3);
    await new Promise((resolve) => setImmediate(resolve));
    expect(presenceEvents(watcher)).toEqual([
      { joins: [{ userId: 'alice', meta: { v: 1 } }], leaves: [] },
      { joins: [{ userId: 'alice', meta: { v: 2 } }], leaves: [] },
    ]);
    expect(lastOfType(alice, 'presence_state')!.members).toEqual([{ userId: 'alice', meta: { v: 2 } }]);
  });

  it('shows the meta a connection joined again with, even when it is the one that connection had before another changed it', async () => {
    const { connect } = await node();
    const watcher = connect('watcher').socket;
    const [first, second] = [connect('alice').socket, connect('alice').socket];
    await subscribed(watcher);
    for (const [socket, status, answers] of [[first, 'online', 1], [second, 'online', 1], [second, 'away', 2], [first, 'online', 2]] as const) {
      join(socket, { status });
      await until(() => socket.ofType('presence_state').length === answers);
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(lastOfType(first, 'presence_state')!.members).toEqual([{ userId: 'alice', meta: { status: 'online' } }]);
    expect(presenceEvents(watcher).map(({ joins }) => joins)).toEqual([[{ userId: 'alice', meta: { status: 'online' } }], [{ userId: 'alice', meta: { status: 'away' } }], [{ userId: 'alice', meta: { status: 'online' } }]]);
  });

  it('shows a user with the meta its connections last joined with: another connection joining with other meta is announced as a join, with the same meta not at all', async () => {
    const { connect } = await node();
    const watcher = connect('watcher').socket;
    const [desktop, phone, tablet] = [connect('alice').socket, connect('alice').socket, connect('alice').socket];
    await subscribed(watcher);
    join(desktop, { device: 'desktop' });
    await until(() => desktop.ofType('presence_state').length === 1);
    join(phone, { device: 'phone' });
    await until(() => phone.ofType('presence_state').length === 1);
    join(tablet, { device: 'phone' });
    await until(() => tablet.ofType('presence_state').length === 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(presenceEvents(watcher)).toEqual([
      { joins: [{ userId: 'alice', meta: { device: 'desktop' } }], leaves: [] },
      { joins: [{ userId: 'alice', meta: { device: 'phone' } }], leaves: [] },
    ]);
    expect(tablet.ofType('presence_state')[0]!.members).toEqual([{ userId: 'alice', meta: { device: 'phone' } }]);
  });

  it('shows, once the connection whose meta was shown leaves, the meta of the user’s connection joined (or joined again) last of those left, announced as a join; the last one’s leave as a leave', async () => {
    const { connect } = await node();
    const watcher = connect('watcher').socket;
    const [desktop, phone, tablet] = [connect('alice').socket, connect('alice').socket, connect('alice').socket];
    await subscribed(watcher);
    for (const [socket, meta, answers] of [[desktop, { device: 'desktop' }, 1], [phone, { device: 'phone' }, 1], [tablet, { device: 'tablet' }, 1], [desktop, { device: 'desktop', v: 2 }, 2]] as const) {
      join(socket, meta);
      await until(() => socket.ofType('presence_state').length === answers);
    }
    const leave = async (socket: SocketStandIn) => {
      socket.receive({ type: 'presence', ch: 'chat:room', action: 'leave' });
      await until(() => socket.ofType('presence_state').length === 3 - (socket === desktop ? 0 : 1));
      return lastOfType(socket, 'presence_state')!.members;
    };
    expect(await leave(desktop)).toEqual([{ userId: 'alice', meta: { device: 'tablet' } }]);
    expect(await leave(tablet)).toEqual([{ userId: 'alice', meta: { device: 'phone' } }]);
    expect(await leave(phone)).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(presenceEvents(watcher).slice(4)).toEqual([
      { joins: [{ userId: 'alice', meta: { device: 'tablet' } }], leaves: [] },
      { joins: [{ userId: 'alice', meta: { device: 'phone' } }], leaves: [] },
      { joins: [], leaves: [{ userId: 'alice' }] },
    ]);
  });

  it('shows the meta of the user’s connection left once the one whose meta was shown disconnects, announced as a join and listed', async () => {
    const { connect } = await node();
    const watcher = connect('watcher').socket;
    const [laptop, phone] = [connect('alice').socket, connect('alice')];
    await subscribed(watcher);
    join(laptop, { device: 'laptop' });
    await until(() => laptop.ofType('presence_state').length === 1);
    join(phone.socket, { device: 'phone' });
    await until(() => watcher.ofType('presence').length === 2);
    phone.connection.closeWith(1000, 'bye');
    await phone.connection.closed;
    await until(() => watcher.ofType('presence').length === 3);
    expect(presenceEvents(watcher)[2]).toEqual({ joins: [{ userId: 'alice', meta: { device: 'laptop' } }], leaves: [] });
    watcher.receive({ type: 'presence', ch: 'chat:room', action: 'list' });
    await until(() => watcher.ofType('presence_state').length === 1);
    expect(lastOfType(watcher, 'presence_state')!.members).toEqual([{ userId: 'alice', meta: { device: 'laptop' } }]);
  });

  it('announces nothing when a connection leaves whose meta was not the one shown, or was the same as it', async () => {
    const { connect } = await node();
    const watcher = connect('watcher').socket;
    const [laptop, phone, twin, last] = [connect('alice'), connect('alice'), connect('alice'), connect('alice')];
    await subscribed(watcher);
    for (const [tab, device] of [[laptop, 'laptop'], [phone, 'phone'], [twin, 'twin'], [last, 'twin']] as const) {
      join(tab.socket, { device });
      await until(() => tab.socket.ofType('presence_state').length === 1);
    }
    laptop.socket.receive({ type: 'presence', ch: 'chat:room', action: 'leave' });
    await until(() => laptop.socket.ofType('presence_state').length === 2);
    last.connection.closeWith(1000, 'bye');
    await last.connection.closed;
    await new Promise((resolve) => setImmediate(resolve));
    expect(presenceEvents(watcher)).toEqual([
      { joins: [{ userId: 'alice', meta: { device: 'laptop' } }], leaves: [] },
      { joins: [{ userId: 'alice', meta: { device: 'phone' } }], leaves: [] },
      { joins: [{ userId: 'alice', meta: { device: 'twin' } }], leaves: [] },
    ]);
    expect(lastOfType(laptop.socket, 'presence_state')!.members).toEqual([{ userId: 'alice', meta: { device: 'twin' } }]);
  });

  it('takes meta of 1 KB and refuses more with MESSAGE_TOO_LARGE', async () => {
    const { connect } = await node();
    const { socket } = connect('alice');
    const text = (bytes: number) => ({ s: 'x'.repeat(bytes - JSON.stringify({ s: '' }).length) });
    join(socket, text(1024));
    await until(() => socket.ofType('presence_state').length === 1);
    join(socket, text(1025), 'chat:other');
    await until(() => socket.ofType('error').length === 1);
    expect(socket.ofType('error')).toEqual([{ type: 'error', code: 'MESSAGE_TOO_LARGE', message: 'presence meta is limited to 1024 bytes', details: { ch: 'chat:other', action: 'join' } }]);
  });

  it('refuses presence on more channels than maxSubscriptionsPerConnection with AUTHORIZATION_FAILED, for good; a join again on one it has does not count', async () => {
    const { connect } = await node({ maxSubscriptionsPerConnection: 1 });
    const { socket } = connect('alice');
    join(socket, undefined, 'chat:a');
    join(socket, { again: true }, 'chat:a');
    join(socket, undefined, 'chat:b');
    await until(() => socket.ofType('presence_state').length + socket.ofType('error').length === 3);
    expect(socket.ofType('error')).toEqual([{ type: 'error', code: 'AUTHORIZATION_FAILED', message: 'too many presence channels', details: { ch: 'chat:b', action: 'join', limit: 1 } }]);
  });

  it('announces a user’s leave when the last of its connections leaves, and lists the members left', async () => {
    const { connect } = await node();
    const watcher = connect('watcher').socket;
    const [first, second] = [connect('alice').socket, connect('alice').socket];
    await subscribed(watcher);
    join(first);
    join(second);
    await until(() => first.ofType('presence_state').length === 1 && second.ofType('presence_state').length === 1);
    first.receive({ type: 'presence', ch: 'chat:room', action: 'leave' });
    await until(() => first.ofType('presence_state').length === 2);
    expect(lastOfType(first, 'presence_state')!.members).toEqual([{ userId: 'alice' }]);
    second.receive({ type: 'presence', ch: 'chat:room', action: 'leave' });
    await until(() => second.ofType('presence_state').length === 2);
    expect(lastOfType(second, 'presence_state')!.members).toEqual([]);
    expect(presenceEvents(watcher)).toEqual([
      { joins: [{ userId: 'alice' }], leaves: [] },
      { joins: [], leaves: [{ userId: 'alice' }] },
    ]);
  });

  it('answers a list with the members and changes nothing, even for a member', async () => {
    const { connect } = await node();
    const [watcher, alice, bob] = [connect('watcher').socket, connect('alice').socket, connect('bob').socket];
    await subscribed(watcher);
    join(alice);
    await until(() => alice.ofType('presence_state').length === 1);
    for (const socket of [alice, bob]) socket.receive({ type: 'presence', ch: 'chat:room', action: 'list' });
    await until(() => alice.ofType('presence_state').length === 2 && bob.ofType('presence_state').length === 1);
    expect([alice.ofType('presence_state')[1]!.members, bob.ofType('presence_state')[0]!.members]).toEqual([[{ userId: 'alice' }], [{ userId: 'alice' }]]);
    expect(presenceEvents(watcher)).toEqual([{ joins: [{ userId: 'alice' }], leaves: [] }]);
  });
});

describe('Hub: typing', () => {
  const typing = (socket: SocketStandIn, on: boolean) => socket.receive({ type: 'typing', ch: 'chat:room', typing: on });
  const typingEvents = (socket: SocketStandIn) => socket.ofType('typing').map(({ userId, typing: on }) => `${userId}:${on}`);

  async function typists(timeoutMs = 6000) {
    const { connect, parts } = await node({ typingTimeoutMs: timeoutMs });
    const watcher = connect('watcher').socket;
    const [alice, aliceElsewhere] = [connect('alice').socket, connect('alice').socket];
    for (const socket of [watcher, alice, aliceElsewhere]) await subscribed(socket);
    return { watcher, alice, aliceElsewhere, parts };
  }

  it('announces typing to the channel’s other subscribers, not back to the typing connection', async () => {
    const { watcher, alice, aliceElsewhere } = await typists();
    typing(alice, true);
    await until(() => watcher.ofType('typing').length === 1);
    expect(typingEvents(watcher)).toEqual(['alice:true']);
    expect(typingEvents(aliceElsewhere)).toEqual(['alice:true']);
    expect(alice.ofType('typing')).toEqual([]);
  });

  it('ends typing typingTimeoutMs after the last typing frame, or at once on typing false', async () => {
    const { watcher, alice } = await typists();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    typing(alice, true);
    await vi.advanceTimersByTimeAsync(5000);
    typing(alice, true);
    await vi.advanceTimersByTimeAsync(5999);
    expect(typingEvents(watcher)).toEqual(['alice:true', 'alice:true']);
    await vi.advanceTimersByTimeAsync(1);
    expect(typingEvents(watcher)).toEqual(['alice:true', 'alice:true', 'alice:false']);
    typing(alice, true);
    typing(alice, false);
    await vi.advanceTimersByTimeAsync(0);
    expect(typingEvents(watcher).slice(3)).toEqual(['alice:true', 'alice:false']);
  });

  it('keeps typing started again after a stop for typingTimeoutMs from the new start', async () => {
    const { watcher, alice } = await typists();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    typing(alice, true);
    await vi.advanceTimersByTimeAsync(1000);
    typing(alice, false);
    await vi.advanceTimersByTimeAsync(1000);
    typing(alice, true);
    await vi.advanceTimersByTimeAsync(5999);
    expect(typingEvents(watcher)).toEqual(['alice:true', 'alice:false', 'alice:true']);
    await vi.advanceTimersByTimeAsync(1);
    expect(typingEvents(watcher)).toEqual(['alice:true', 'alice:false', 'alice:true', 'alice:false']);
  });

  it('keeps a user typing while another of its connections still types', async () => {
    const { watcher, alice, aliceElsewhere } = await typists();
    typing(alice, true);
    typing(aliceElsewhere, true);
    typing(alice, false);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(typingEvents(watcher)).toEqual(['alice:true', 'alice:true']);
    typing(aliceElsewhere, false);
    await until(() => watcher.ofType('typing').length === 3);
    expect(typingEvents(watcher)[2]).toBe('alice:false');
  });

  it('keeps a user typing while the backend counts a connection of theirs typing elsewhere, and tells the stop once that one’s time is up', async () => {
    const { watcher, alice, parts } = await typists();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    await parts.backend.typingStart('chat:room', 'alice', 'other-node:1', 3000);
    typing(alice, true);
    await vi.advanceTimersByTimeAsync(1000);
    typing(alice, false);
    await vi.advanceTimersByTimeAsync(1999);
    expect(typingEvents(watcher)).toEqual(['alice:true']);
    await vi.advanceTimersByTimeAsync(1000);
    expect(typingEvents(watcher)).toEqual(['alice:true', 'alice:false']);
    expect(parts.hub.sizes()).toMatchObject({ typingChecks: 0 });
    expect(parts.backend.sizes()).toMatchObject({ typingUsers: 0 });
  });

  /** Alice typed and stopped here, 1 s ago, while the backend counts a connection of hers on another node typing for 3 s. */
  async function stoppedHereTypingElsewhere() {
    const typed = await typists();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    await typed.parts.backend.typingStart('chat:room', 'alice', 'other-node:1', 3000);
    typing(typed.alice, true);
    typing(typed.alice, false);
    await vi.advanceTimersByTimeAsync(1000);
    return typed;
  }

  it('tells no stop when the user types here again before the typing elsewhere is up, until this connection stops', async () => {
    const { watcher, alice, parts } = await stoppedHereTypingElsewhere();
    expect(parts.hub.sizes()).toMatchObject({ typingChecks: 1 });
    typing(alice, true);
    expect(parts.hub.sizes()).toMatchObject({ typingChecks: 0 });
    await vi.advanceTimersByTimeAsync(4000);
    expect(typingEvents(watcher)).toEqual(['alice:true', 'alice:true']);
    typing(alice, false);
    await vi.advanceTimersByTimeAsync(0);
    expect(typingEvents(watcher)).toEqual(['alice:true', 'alice:true', 'alice:false']);
  });

  it('leaves the stop to the node whose connection typed last, when that one stops before its time is up', async () => {
    const { watcher, alice, parts } = await stoppedHereTypingElsewhere();
    await parts.backend.typingStop('chat:room', 'alice', 'other-node:1');
    await vi.advanceTimersByTimeAsync(5000);
    expect(typingEvents(watcher)).toEqual(['alice:true']);
    expect(parts.hub.sizes()).toMatchObject({ typingChecks: 0 });
  });

  it('makes no check of typing elsewhere while another of the user’s connections on this node still types', async () => {
    const { alice, aliceElsewhere, parts } = await typists();
    typing(alice, true);
    typing(aliceElsewhere, true);
    typing(alice, false);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(parts.hub.sizes()).toMatchObject({ typingChecks: 0 });
  });

  it('tells the stop of a user typing elsewhere a quarter of typingTimeoutMs after its time is up, when that is under 500 ms', async () => {
    const { watcher, alice, parts } = await typists(1000);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    await parts.backend.typingStart('chat:room', 'alice', 'other-node:1', 1000);
    typing(alice, true);
    typing(alice, false);
    await vi.advanceTimersByTimeAsync(1249);
    expect(typingEvents(watcher)).toEqual(['alice:true']);
    await vi.advanceTimersByTimeAsync(1);
    expect(typingEvents(watcher)).toEqual(['alice:true', 'alice:false']);
  });

  it('once closed, drops the checks of typing elsewhere still to come and makes no more', async () => {
    const { watcher, alice, parts } = await stoppedHereTypingElsewhere();
    parts.hub.close();
    await vi.advanceTimersByTimeAsync(5000);
    expect(typingEvents(watcher)).toEqual(['alice:true']);
    await parts.backend.typingStart('chat:room', 'alice', 'other-node:1', 3000);
    typing(alice, true);
    typing(alice, false);
    await vi.advanceTimersByTimeAsync(0);
    expect(parts.hub.sizes()).toMatchObject({ typingChecks: 0 });
  });

  it('ignores typing false from a connection that was not typing', async () => {
    const { watcher, alice } = await typists();
    typing(alice, false);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(watcher.ofType('typing')).toEqual([]);
  });
});

describe('Hub: a refreshed token', () => {
  it('drops the subscriptions and presence its claims no longer allow, and keeps the rest', async () => {
    const { connect, parts } = await node({
      channels: [
        { pattern: 'club:*', subscribe: { roles: ['member'] }, presence: { roles: ['member'] } },
        { pattern: 'chat:*', subscribe: true, presence: true },
      ],
      auth: { verify: (token) => ({ userId: token }) },
    });
    const watcher = connect('watcher', ['member']).socket;
    const alice = connect('alice', ['member']).socket;
    await subscribed(watcher, 'club:x');
    await subscribed(alice, 'club:x');
    await subscribed(alice, 'chat:room');
    for (const ch of ['club:x', 'chat:room']) alice.receive({ type: 'presence', ch, action: 'join' });
    await until(() => alice.ofType('presence_state').length === 2);
    alice.receive({ type: 'auth', token: 'alice' });
    await until(() => alice.ofType('auth_ok').length === 2 && watcher.ofType('presence').length === 2);
    expect(alice.ofType('unsubscribed')).toEqual([{ type: 'unsubscribed', ch: 'club:x', reason: 'forbidden' }]);
    expect(alice.ofType('error')).toEqual([{ type: 'error', code: 'AUTHORIZATION_FAILED', message: 'presence on this channel is no longer allowed', details: { ch: 'club:x', action: 'presence' } }]);
    expect(watcher.ofType('presence').at(-1)).toMatchObject({ ch: 'club:x', joins: [], leaves: [{ userId: 'alice' }] });
    await parts.hub.append('chat:room', 'still', undefined, undefined, undefined);
    await until(() => messages(alice).length === 1);
    watcher.receive({ type: 'presence', ch: 'chat:room', action: 'list' });
    await until(() => watcher.ofType('presence_state').length === 1);
    expect(watcher.ofType('presence_state')[0]!.members).toEqual([{ userId: 'alice' }]);
  });
  it('says presence is no longer allowed after the last page of a list of the channel still paged, in the order of its presence frames', async () => {
    const { connect, parts } = await node({
      channels: [{ pattern: 'club:*', subscribe: true, presence: { roles: ['member'] } }],
      auth: { verify: (token) => ({ userId: token }) },
    });
    for (let i = 0; i < 120; i++) await parts.backend.presenceJoin('club:x', `elsewhere:${i}`, { userId: `user-${i}`, meta: { bio: 'x'.repeat(700) } });
    const alice = connect('alice', ['member']).socket;
    alice.receive({ type: 'presence', ch: 'club:x', action: 'join' });
    await until(() => alice.ofType('presence_state').some((page) => page.more === undefined));
    const before = alice.sent.length;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    alice.bufferedAmount = 800_000;
    alice.receive({ type: 'presence', ch: 'club:x', action: 'list' });
    await vi.advanceTimersByTimeAsync(20);
    alice.receive({ type: 'auth', token: 'alice' });
    await vi.advanceTimersByTimeAsync(20);
    alice.bufferedAmount = 0;
    await vi.advanceTimersByTimeAsync(100);
    const answers = alice.sent.slice(before).filter((frame) => frame.type === 'presence_state' || frame.type === 'error');
    expect(answers.length).toBeGreaterThanOrEqual(4);
    expect(answers.map(({ type, more }) => [type, more])).toEqual(answers.map((_, i) => (i < answers.length - 2 ? ['presence_state', true] : i < answers.length - 1 ? ['presence_state', undefined] : ['error', undefined])));
    expect(answers.at(-1)).toMatchObject({ code: 'AUTHORIZATION_FAILED', details: { ch: 'club:x', action: 'presence' } });
  });

  it('does not join again, once the backend has recovered, the presence its claims no longer allow', async () => {
    const { connect, parts } = await node({
      channels: [{ pattern: 'club:*', subscribe: true, presence: { roles: ['member'] } }],
      auth: { verify: (token) => ({ userId: token }) },
    });
    const alice = connect('alice', ['member']).socket;
    alice.receive({ type: 'presence', ch: 'club:x', action: 'join' });
    await until(() => alice.ofType('presence_state').length === 1);
    alice.receive({ type: 'auth', token: 'alice' });
    await until(() => alice.ofType('auth_ok').length === 2);
    await until(() => parts.hub.sizes().pendingLeaves === 0);
    await new Promise((resolve) => setImmediate(resolve));
    parts.hub.recovered();
    await new Promise((resolve) => setImmediate(resolve));
    expect(await parts.backend.presenceList('club:x')).toEqual([]);
  });

  it('keeps a member whose presence was allowed again while the leave of its revocation failed', async () => {
    let roles: string[] = [];
    const { connect, parts } = await node({
      channels: [{ pattern: 'club:*', subscribe: true, presence: { roles: ['member'] } }],
      auth: { verify: (token) => ({ userId: token, roles }) },
    });
    const alice = connect('alice', ['member']).socket;
    alice.receive({ type: 'presence', ch: 'club:x', action: 'join' });
    await until(() => alice.ofType('presence_state').length === 1);
    let fail!: () => void;
    vi.spyOn(parts.backend, 'presenceLeave').mockImplementationOnce(() => new Promise((_resolve, reject) => (fail = () => reject(new Error('backend down')))));
    alice.receive({ type: 'auth', token: 'alice' });
    await until(() => alice.ofType('auth_ok').length === 2);
    roles = ['member'];
    alice.receive({ type: 'auth', token: 'alice' });
    await until(() => alice.ofType('auth_ok').length === 3);
    alice.receive({ type: 'presence', ch: 'club:x', action: 'join' });
    await until(() => alice.ofType('presence_state').length === 2);
    fail();
    await until(() => parts.hub.sizes().pendingLeaves === 1);
    parts.hub.beat();
    await new Promise((resolve) => setImmediate(resolve));
    expect(parts.hub.sizes().pendingLeaves).toBe(0);
    expect(await parts.backend.presenceList('club:x')).toEqual([{ userId: 'alice' }]);
  });

  it('ends the typing its claims no longer allow at once: watchers are told the user stopped', async () => {
    const { connect } = await node({
      typingTimeoutMs: 60_000,
      channels: [{ pattern: 'club:*', subscribe: true, presence: { roles: ['member'] } }],
      auth: { verify: (token) => ({ userId: token }) },
    });
    const watcher = connect('watcher', ['member']).socket;
    const alice = connect('alice', ['member']).socket;
    await subscribed(watcher, 'club:x');
    alice.receive({ type: 'typing', ch: 'club:x', typing: true });
    await until(() => watcher.ofType('typing').length === 1);
    alice.receive({ type: 'auth', token: 'alice' });
    await until(() => alice.ofType('auth_ok').length === 2 && watcher.ofType('typing').length === 2);
    expect(watcher.ofType('typing')).toEqual([
      { type: 'typing', ch: 'club:x', userId: 'alice', typing: true },
      { type: 'typing', ch: 'club:x', userId: 'alice', typing: false },
    ]);
  });

  it('keeps delivering a connection’s user channel when its claims no longer allow the subscribe it made to it', async () => {
    let roles = ['member'];
    const { connect, parts } = await node({
      channels: [
        { pattern: 'user:*', subscribe: { roles: ['member'] } },
        { pattern: 'chat:*', subscribe: true },
      ],
      auth: { verify: (token) => ({ userId: token, roles }) },
    });
    const alice = connect('alice', ['member']).socket;
    await subscribed(alice, 'user:alice');
    roles = [];
    alice.receive({ type: 'auth', token: 'alice' });
    await until(() => alice.ofType('unsubscribed').length === 1);
    expect(alice.ofType('unsubscribed')).toEqual([{ type: 'unsubscribed', ch: 'user:alice', reason: 'forbidden' }]);
    await parts.hub.append('user:alice', 'for alice', undefined, undefined, undefined);
    await until(() => alice.ofType('message').length === 1);
    expect(alice.ofType('message')[0]).toMatchObject({ ch: 'user:alice', data: 'for alice' });
  });
});

describe('Hub: a backend that fails', () => {
  const down = () => Promise.reject(new Error('backend down'));

  /** A watcher of chat:room, and alice's connection present on it. */
  async function aliceJoinedWhileWatched() {
    const { connect, parts } = await node();
    const watcher = connect('watcher').socket;
    const alice = connect('alice');
    await subscribed(watcher);
    alice.socket.receive({ type: 'presence', ch: 'chat:room', action: 'join' });
    await until(() => watcher.ofType('presence').length === 1);
    return { parts, watcher, alice };
  }

  /** `connection` (alice's, present on chat:room) closes; the backend makes its leave, but the answer is lost. */
  async function closedWithLeaveUnanswered(parts: NodeParts, connection: ServerConnection) {
    const leave = parts.backend.presenceLeave.bind(parts.backend);
    vi.spyOn(parts.backend, 'presenceLeave').mockImplementationOnce(async (...args) => {
      await leave(...args);
      throw new Error('backend down');
    });
    connection.closeWith(1000, 'bye');
    await connection.closed;
  }

  it('answers a publish it fails with SERVER_ERROR naming the channel and the id, and keeps the connection', async () => {
    const { connect, parts } = await node();
    const { socket, connection } = connect('alice');
    vi.spyOn(parts.backend, 'append').mockImplementationOnce(down);
    socket.receive({ type: 'publish', ch: 'chat:room', id: 'lost', data: 1 });
    await until(() => socket.ofType('error').length === 1);
    expect(socket.ofType('error')).toEqual([{ type: 'error', code: 'SERVER_ERROR', message: 'publish failed, retry', details: { ch: 'chat:room' }, id: 'lost' }]);
    expect(connection.open).toBe(true);
    expect((await published(socket, 'again')).type).toBe('ack');
  });

  it('answers a subscribe whose history read fails with SERVER_ERROR naming the channel and the action, and keeps no subscription', async () => {
    const { connect, parts } = await node({ implicitChannels: false });
    const { socket } = connect('alice');
    vi.spyOn(parts.backend, 'read').mockImplementationOnce(down);
    socket.receive({ type: 'subscribe', ch: 'chat:room' });
    await until(() => socket.ofType('error').length === 1);
    expect(socket.ofType('error')).toEqual([{ type: 'error', code: 'SERVER_ERROR', message: 'subscribe failed: history unavailable, retry', details: { ch: 'chat:room', action: 'subscribe' } }]);
    expect(parts.hub.sizes()).toMatchObject({ hubChannels: 0, subscriptions: 0 });
  });

  it('watches a channel again for a subscribe that comes after its watch failed, and delivers on it', async () => {
    const { connect, parts } = await node();
    vi.spyOn(parts.backend, 'watch').mockImplementationOnce(down);
    const { socket } = connect('alice');
    await new Promise((resolve) => setImmediate(resolve));
    await subscribed(socket, 'user:alice');
    await parts.hub.append('user:alice', 'for alice', undefined, undefined, undefined);
    await until(() => socket.ofType('message').length === 1);
    expect(socket.ofType('error')).toEqual([]);
    expect(parts.backend.sizes()).toMatchObject({ watchedChannels: 2 });
  });

  it('watches again, once the backend has recovered, a channel whose watch failed', async () => {
    const { connect, parts } = await node();
    const watch = vi.spyOn(parts.backend, 'watch').mockImplementationOnce(down);
    connect('alice');
    await new Promise((resolve) => setImmediate(resolve));
    expect(parts.backend.sizes()).toMatchObject({ watchedChannels: 1 });
    parts.hub.recovered();
    parts.hub.recovered();
    await new Promise((resolve) => setImmediate(resolve));
    expect(watch.mock.calls.map(([ch]) => ch)).toEqual(['user:alice', 'broadcast:all', 'user:alice']);
    expect(parts.backend.sizes()).toMatchObject({ watchedChannels: 2 });
  });

  it('does not unwatch a channel whose watch failed when its last subscription ends', async () => {
    const { connect, parts } = await node({ implicitChannels: false });
    const bob = connect('bob').socket;
    await subscribed(bob);
    const unwatch = vi.spyOn(parts.backend, 'unwatch');
    vi.spyOn(parts.backend, 'watch').mockImplementationOnce(down);
    const alice = connect('alice').socket;
    alice.receive({ type: 'subscribe', ch: 'chat:other' });
    await until(() => alice.ofType('error').length === 1);
    bob.receive({ type: 'unsubscribe', ch: 'chat:room' });
    expect(unwatch.mock.calls).toEqual([['chat:room']]);
  });

  it('sends no error for a subscribe whose history read fails after a subscribe again replaced it, and keeps the one that replaced it', async () => {
    const { connect, parts } = await node({ implicitChannels: false });
    const { socket } = connect('alice');
    let fail = () => {};
    const read = parts.backend.read.bind(parts.backend);
    const reads = vi
      .spyOn(parts.backend, 'read')
      .mockImplementationOnce(() => new Promise((_resolve, reject) => (fail = () => reject(new Error('backend down')))))
      .mockImplementation(read);
    socket.receive({ type: 'subscribe', ch: 'chat:room' });
    await until(() => reads.mock.calls.length === 1);
    socket.receive({ type: 'subscribe', ch: 'chat:room' });
    fail();
    await until(() => socket.ofType('subscribed').length === 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.ofType('error')).toEqual([]);
    expect(parts.hub.sizes()).toMatchObject({ hubChannels: 1, subscriptions: 1 });
  });

  it('answers a join it fails with SERVER_ERROR, and keeps no membership: a join again is a join', async () => {
    const { connect, parts } = await node();
    const [watcher, alice] = [connect('watcher').socket, connect('alice').socket];
    await subscribed(watcher);
    vi.spyOn(parts.backend, 'presenceJoin').mockImplementationOnce(down);
    alice.receive({ type: 'presence', ch: 'chat:room', action: 'join' });
    await until(() => alice.ofType('error').length === 1);
    expect(alice.ofType('error')).toEqual([{ type: 'error', code: 'SERVER_ERROR', message: 'presence failed, retry', details: { ch: 'chat:room', action: 'join' } }]);
    alice.receive({ type: 'presence', ch: 'chat:room', action: 'join' });
    await until(() => watcher.ofType('presence').length === 1);
    expect(watcher.ofType('presence')[0]).toMatchObject({ joins: [{ userId: 'alice' }] });
  });

  it('keeps the former meta when a join again with other meta fails', async () => {
    const { connect, parts } = await node();
    const alice = connect('alice').socket;
    alice.receive({ type: 'presence', ch: 'chat:room', action: 'join', meta: { v: 1 } });
    await until(() => alice.ofType('presence_state').length === 1);
    vi.spyOn(parts.backend, 'presenceUpdate').mockImplementationOnce(down);
    alice.receive({ type: 'presence', ch: 'chat:room', action: 'join', meta: { v: 2 } });
    await until(() => alice.ofType('error').length === 1);
    alice.receive({ type: 'presence', ch: 'chat:room', action: 'join', meta: { v: 2 } });
    await until(() => alice.ofType('presence_state').length === 2);
    expect(lastOfType(alice, 'presence_state')!.members).toEqual([{ userId: 'alice', meta: { v: 2 } }]);
  });

  it('after recovering, joins again with its former meta a member whose join again with other meta failed', async () => {
    const { connect, parts } = await node();
    const alice = connect('alice');
    alice.socket.receive({ type: 'presence', ch: 'chat:room', action: 'join', meta: { v: 1 } });
    await until(() => alice.socket.ofType('presence_state').length === 1);
    vi.spyOn(parts.backend, 'presenceUpdate').mockImplementationOnce(down);
    alice.socket.receive({ type: 'presence', ch: 'chat:room', action: 'join', meta: { v: 2 } });
    await until(() => alice.socket.ofType('error').length === 1);
    await parts.backend.presenceLeave('chat:room', alice.connection.key, 'alice');
    parts.hub.recovered();
    await new Promise((resolve) => setImmediate(resolve));
    expect(await parts.backend.presenceList('chat:room')).toEqual([{ userId: 'alice', meta: { v: 1 } }]);
  });

  it('answers a leave from a connection that never joined with the members, and never announces it, though the backend fails meanwhile', async () => {
    const { connect, parts } = await node();
    const watcher = connect('watcher').socket;
    const alice = connect('alice').socket;
    await subscribed(watcher);
    vi.spyOn(parts.backend, 'presenceLeave').mockImplementation(down);
    alice.receive({ type: 'presence', ch: 'chat:room', action: 'leave' });
    await until(() => alice.ofType('presence_state').length === 1);
    expect(alice.ofType('error')).toEqual([]);
    vi.mocked(parts.backend.presenceLeave).mockRestore();
    parts.hub.recovered();
    await new Promise((resolve) => setImmediate(resolve));
    expect(parts.hub.sizes().pendingLeaves).toBe(0);
    expect(watcher.ofType('presence')).toEqual([]);
  });

  it('announces no leave, once the backend has recovered, for a join it failed that the backend never did', async () => {
    const { connect, parts } = await node();
    const [watcher, alice] = [connect('watcher').socket, connect('alice').socket];
    await subscribed(watcher);
    vi.spyOn(parts.backend, 'presenceJoin').mockImplementationOnce(down);
    alice.receive({ type: 'presence', ch: 'chat:room', action: 'join' });
    await until(() => alice.ofType('error').length === 1);
    expect(parts.hub.sizes().pendingLeaves).toBe(1);
    const leave = vi.spyOn(parts.backend, 'presenceLeave');
    parts.hub.recovered();
    await until(() => parts.hub.sizes().pendingLeaves === 0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(watcher.ofType('presence')).toEqual([]);
    expect(leave, 'not to announce the leave of a member it finds gone').toHaveBeenCalledWith('chat:room', expect.any(String), 'alice', false);
  });

  it('tries a leave it failed again once the backend has recovered, and announces it then', async () => {
    const { parts, watcher, alice } = await aliceJoinedWhileWatched();
    vi.spyOn(parts.backend, 'presenceLeave').mockImplementationOnce(down);
    alice.connection.closeWith(1000, 'bye');
    await alice.connection.closed;
    expect(parts.hub.sizes().pendingLeaves).toBe(1);
    parts.hub.recovered();
    await until(() => watcher.ofType('presence').length === 2);
    expect(watcher.ofType('presence')[1]).toMatchObject({ joins: [], leaves: [{ userId: 'alice' }] });
    expect(parts.hub.sizes().pendingLeaves).toBe(0);
    expect(parts.backend.presenceLeave, 'to announce the leave of a member a restarted backend lost').toHaveBeenLastCalledWith('chat:room', alice.connection.key, 'alice', true);
  });

  it('tries a leave it failed again once it recovered from being reaped, and then on, leaving the leave of a member gone to its reaper', async () => {
    const { parts, watcher, alice } = await aliceJoinedWhileWatched();
    vi.spyOn(parts.backend, 'presenceLeave').mockImplementationOnce(down).mockImplementationOnce(down);
    alice.connection.closeWith(1000, 'bye');
    await alice.connection.closed;
    parts.hub.recovered(true);
    await until(() => vi.mocked(parts.backend.presenceLeave).mock.calls.length === 2 && parts.hub.sizes().pendingLeaves === 1);
    parts.hub.beat();
    await until(() => watcher.ofType('presence').length === 2);
    expect(parts.hub.sizes().pendingLeaves).toBe(0);
    expect(parts.backend.presenceLeave, 'not to announce the leave of a member it finds gone').toHaveBeenLastCalledWith('chat:room', alice.connection.key, 'alice', false);
  });

  it('tries a leave it failed again on the backend’s next heartbeat, and announces it then', async () => {
    const { parts, watcher, alice } = await aliceJoinedWhileWatched();
    vi.spyOn(parts.backend, 'presenceLeave').mockImplementationOnce(down);
    alice.connection.closeWith(1000, 'bye');
    await alice.connection.closed;
    parts.hub.beat();
    await until(() => watcher.ofType('presence').length === 2);
    expect(watcher.ofType('presence')[1]).toMatchObject({ joins: [], leaves: [{ userId: 'alice' }] });
    expect(parts.hub.sizes().pendingLeaves).toBe(0);
  });

  it('announces once a leave the backend made though its answer was lost: trying it again once the backend has recovered finds it made', async () => {
    const { parts, watcher, alice } = await aliceJoinedWhileWatched();
    await closedWithLeaveUnanswered(parts, alice.connection);
    expect(parts.hub.sizes().pendingLeaves).toBe(1);
    parts.hub.recovered();
    await until(() => parts.hub.sizes().pendingLeaves === 0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(watcher.ofType('presence').filter((frame) => (frame.leaves as unknown[]).length > 0)).toEqual([{ type: 'presence', ch: 'chat:room', joins: [], leaves: [{ userId: 'alice' }] }]);
  });

  it('announces no leave, once the backend has recovered, of a member another connection keeps present', async () => {
    const { connect, parts } = await node();
    const watcher = connect('watcher').socket;
    const [phone, laptop] = [connect('alice'), connect('alice')];
    await subscribed(watcher);
    for (const tab of [phone, laptop]) tab.socket.receive({ type: 'presence', ch: 'chat:room', action: 'join' });
    await until(() => phone.socket.ofType('presence_state').length === 1 && laptop.socket.ofType('presence_state').length === 1);
    await closedWithLeaveUnanswered(parts, phone.connection);
    parts.hub.recovered();
    await until(() => parts.hub.sizes().pendingLeaves === 0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(watcher.ofType('presence').filter((frame) => (frame.leaves as unknown[]).length > 0)).toEqual([]);
  });

  it('tries again each leave it failed, on every channel', async () => {
    const { connect, parts } = await node();
    const alice = connect('alice');
    for (const ch of ['chat:a', 'chat:b']) alice.socket.receive({ type: 'presence', ch, action: 'join' });
    await until(() => alice.socket.ofType('presence_state').length === 2);
    vi.spyOn(parts.backend, 'presenceLeave').mockImplementationOnce(down).mockImplementationOnce(down);
    alice.connection.closeWith(1000, 'bye');
    await alice.connection.closed;
    expect(parts.hub.sizes().pendingLeaves).toBe(2);
    parts.hub.recovered();
    await until(() => parts.hub.sizes().pendingLeaves === 0);
    expect(await parts.backend.presenceList('chat:a')).toEqual([]);
    expect(await parts.backend.presenceList('chat:b')).toEqual([]);
  });

  it('forgets a leave it failed when the connection joins that channel again, and keeps the member after recovering', async () => {
    const { connect, parts } = await node();
    const watcher = connect('watcher').socket;
    const alice = connect('alice').socket;
    await subscribed(watcher);
    alice.receive({ type: 'presence', ch: 'chat:room', action: 'join' });
    await until(() => watcher.ofType('presence').length === 1);
    vi.spyOn(parts.backend, 'presenceLeave').mockImplementationOnce(down);
    alice.receive({ type: 'presence', ch: 'chat:room', action: 'leave' });
    await until(() => parts.hub.sizes().pendingLeaves === 1);
    alice.receive({ type: 'presence', ch: 'chat:room', action: 'join' });
    await until(() => alice.ofType('presence_state').length === 3);
    expect(parts.hub.sizes().pendingLeaves).toBe(0);
    parts.hub.recovered();
    await new Promise((resolve) => setImmediate(resolve));
    expect(await parts.backend.presenceList('chat:room')).toEqual([{ userId: 'alice' }]);
    expect(watcher.ofType('presence').filter((frame) => (frame.leaves as unknown[]).length > 0)).toEqual([]);
  });

  it('joins again, with the backend’s next heartbeat, a member whose join again after recovering failed', async () => {
    const { parts, watcher, alice } = await aliceJoinedWhileWatched();
    vi.spyOn(parts.hub, 'channelSignal').mockImplementationOnce(() => undefined);
    await parts.backend.presenceLeave('chat:room', alice.connection.key, 'alice');
    vi.spyOn(parts.backend, 'presenceJoin').mockImplementationOnce(down);
    parts.hub.recovered();
    await new Promise((resolve) => setImmediate(resolve));
    expect(await parts.backend.presenceList('chat:room')).toEqual([]);
    parts.hub.beat();
    await until(() => watcher.ofType('presence').length === 2);
    expect(watcher.ofType('presence')[1]).toMatchObject({ joins: [{ userId: 'alice' }], leaves: [] });
    expect(parts.hub.sizes().rejoins).toBe(0);
  });

  it('announces, once its connection closes, the leave of a member whose join again after recovering failed: the backend may have lost it', async () => {
    const { parts, alice } = await aliceJoinedWhileWatched();
    vi.spyOn(parts.backend, 'presenceJoin').mockImplementationOnce(down);
    parts.hub.recovered();
    await new Promise((resolve) => setImmediate(resolve));
    const leave = vi.spyOn(parts.backend, 'presenceLeave');
    alice.connection.closeWith(1000, 'bye');
    await alice.connection.closed;
    expect(leave).toHaveBeenLastCalledWith('chat:room', alice.connection.key, 'alice', true);
    expect(parts.hub.sizes().rejoins).toBe(0);
  });

  it('joins again the members of this node after recovering in bounded batches, not all at once', async () => {
    const { connect, parts } = await node({ maxSubscriptionsPerConnection: 400, rateLimits: { control: { perMinute: 60_000, burst: 1000 } } });
    const channels = Array.from({ length: 400 }, (_, i) => `chat:r${i}`);
    const sockets = ['alice', 'bob', 'carol'].map((user) => connect(user).socket);
    for (const socket of sockets) for (const ch of channels) socket.receive({ type: 'presence', ch, action: 'join' });
    await until(() => sockets.every((socket) => socket.ofType('presence_state').length === channels.length));
    const join = parts.backend.presenceJoin.bind(parts.backend);
    let inFlight = 0;
    let most = 0;
    const joins = vi.spyOn(parts.backend, 'presenceJoin').mockImplementation(async (...args) => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight -= 1;
      return join(...args);
    });
    parts.hub.recovered();
    await until(() => joins.mock.calls.length === sockets.length * channels.length && inFlight === 0);
    expect(most).toBeLessThanOrEqual(100);
    expect(parts.hub.sizes().rejoins).toBe(0);
  });

  it('after recovering, joins again the members of this node a restarted backend forgot, and announces them', async () => {
    const { connect, parts } = await node();
    const watcher = connect('watcher').socket;
    const alice = connect('alice');
    await subscribed(watcher);
    alice.socket.receive({ type: 'presence', ch: 'chat:room', action: 'join', meta: { v: 1 } });
    await until(() => watcher.ofType('presence').length === 1);
    vi.spyOn(parts.hub, 'channelSignal').mockImplementationOnce(() => undefined);
    await parts.backend.presenceLeave('chat:room', alice.connection.key, 'alice');
    parts.hub.recovered();
    await until(() => watcher.ofType('presence').length === 2);
    expect(watcher.ofType('presence')[1]).toMatchObject({ joins: [{ userId: 'alice', meta: { v: 1 } }], leaves: [] });
    expect(await parts.backend.presenceList('chat:room')).toEqual([{ userId: 'alice', meta: { v: 1 } }]);
  });
});

describe('Hub: signals', () => {
  it('closes every connection of a user logged out with 4001 and AUTHENTICATION_FAILED, and no other', async () => {
    const { connect, parts } = await node();
    const [first, second, bob] = [connect('alice'), connect('alice'), connect('bob')];
    parts.hub.globalSignal({ kind: 'logout', userId: 'alice', reason: 'signed out elsewhere' });
    await Promise.all([first.connection.closed, second.connection.closed]);
    for (const { socket } of [first, second]) {
      expect(socket.closedWith).toEqual({ code: 4001, reason: 'signed out elsewhere' });
      expect(lastOfType(socket, 'error')).toEqual({ type: 'error', code: 'AUTHENTICATION_FAILED', message: 'signed out elsewhere' });
    }
    expect(bob.socket.closedWith).toBeUndefined();
  });

  it('ends a login whose token check had settled but which was not yet authenticated when its user was logged out', async () => {
    for (let ticks = 0; ticks < 6; ticks++) {
      let settle!: () => void;
      const checked = new Promise<void>((resolve) => (settle = resolve));
      const { connectPending, parts } = await node({ auth: { verify: async (token) => (await checked, { userId: token }) } });
      const { socket, connection } = connectPending();
      socket.receive({ type: 'auth', token: 'alice' });
      const loggedOut = checked.then(async () => {
        for (let tick = 0; tick < ticks; tick++) await null;
        parts.hub.globalSignal({ kind: 'logout', userId: 'alice', reason: 'signed out' });
      });
      settle();
      await loggedOut;
      await until(() => socket.closedWith !== undefined, 1000, `the login logged out ${ticks} microtasks after its check settled ended`);
      await connection.closed;
      expect(socket.closedWith).toEqual({ code: 4001, reason: expect.any(String) });
      expect(lastOfType(socket, 'error')).toMatchObject({ code: 'AUTHENTICATION_FAILED' });
      expect(parts.hub.userConnectionCount('alice')).toBe(0);
    }
  });
});
