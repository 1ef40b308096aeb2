import { ErrorCode } from '../../../src/protocol/errors.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocketchartServer } from '../../../src/server/index.js';
import { connectAs, delay, eventually, startServer, type TestClient } from './helpers.js';

const numbersOf = (client: TestClient, ch: string) => client.ofType('message', ch).map((frame) => (frame.data as { n: number }).n);

describe('messaging: subscribe, publish, resume, presence, typing', () => {
  let server: SocketchartServer;
  let historyServer: SocketchartServer;
  let slowTypingServer: SocketchartServer;

  beforeAll(async () => {
    server = await startServer({ typingTimeoutMs: 300, rateLimits: { chat: { perMinute: 60_000, burst: 1000 } } });
    historyServer = await startServer({ historySize: 5 });
    slowTypingServer = await startServer({ typingTimeoutMs: 60_000 });
  });

  afterAll(async () => {
    await Promise.all([server.close(), historyServer.close(), slowTypingServer.close()]);
  });

  it('answers subscribe with subscribed {ch, seq} carrying the current sequence number', async () => {
    const alice = await connectAs(server, 'alice');
    alice.send({ type: 'subscribe', ch: 'chat:seq' });
    const first = await alice.nextOfType('subscribed', { ch: 'chat:seq' });
    await server.broadcast('chat:seq', { n: 1 });
    await server.broadcast('chat:seq', { n: 2 });
    const bob = await connectAs(server, 'bob');
    bob.send({ type: 'subscribe', ch: 'chat:seq' });
    const second = await bob.nextOfType('subscribed', { ch: 'chat:seq' });
    expect(typeof first.seq).toBe('number');
    expect(second.seq).toBe((first.seq as number) + 2);
    await Promise.all([alice.close(), bob.close()]);
  });

  it('delivers a publish to every subscriber in order with consecutive sequence numbers and acks the publisher', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    for (const client of [alice, bob]) client.send({ type: 'subscribe', ch: 'chat:order' });
    await Promise.all([alice.nextOfType('subscribed'), bob.nextOfType('subscribed')]);
    for (let n = 1; n <= 20; n++) alice.send({ type: 'publish', ch: 'chat:order', id: `m${n}`, data: { n } });
    await eventually(() => numbersOf(bob, 'chat:order').length === 20 && alice.ofType('ack').length === 20);
    const expected = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(numbersOf(bob, 'chat:order')).toEqual(expected);
    expect(numbersOf(alice, 'chat:order')).toEqual(expected);
    const seqs = bob.ofType('message', 'chat:order').map((frame) => frame.seq as number);
    expect(seqs.every((seq, i) => i === 0 || seq === seqs[i - 1]! + 1)).toBe(true);
    const acks = alice.ofType('ack');
    expect(acks.map((ack) => ack.id)).toEqual(expected.map((n) => `m${n}`));
    expect(acks.map((ack) => ack.seq)).toEqual(seqs);
    expect(bob.ofType('message', 'chat:order')[0]).toMatchObject({ from: 'alice', id: 'm1' });
    await Promise.all([alice.close(), bob.close()]);
  });

  it('a publish sent right after subscribe, on the same socket, comes back: 60 times out of 60', async () => {
    const alice = await connectAs(server, 'racer');
    for (let n = 1; n <= 60; n++) {
      alice.send({ type: 'subscribe', ch: `chat:race-${n}` });
      alice.send({ type: 'publish', ch: `chat:race-${n}`, id: `r${n}`, data: { n } });
    }
    await eventually(() => alice.ofType('ack').length === 60, 5000, '60 acks');
    await delay(50);
    const missing = Array.from({ length: 60 }, (_, i) => i + 1).filter((n) => numbersOf(alice, `chat:race-${n}`).length !== 1);
    expect(missing).toEqual([]);
    for (let n = 1; n <= 60; n++) {
      const subscribed = alice.ofType('subscribed').find((frame) => frame.ch === `chat:race-${n}`)!;
      expect(alice.ofType('message', `chat:race-${n}`)[0]!.seq).toBe((subscribed.seq as number) + 1);
    }
    await alice.close();
  });

  it('stops delivering after unsubscribe and confirms with unsubscribed', async () => {
    const alice = await connectAs(server, 'alice');
    alice.send({ type: 'subscribe', ch: 'chat:unsub' });
    await alice.nextOfType('subscribed');
    alice.send({ type: 'unsubscribe', ch: 'chat:unsub' });
    await alice.nextOfType('unsubscribed', { ch: 'chat:unsub' });
    await server.broadcast('chat:unsub', { n: 1 });
    alice.send({ type: 'ping', ts: 1 });
    await alice.nextOfType('pong');
    expect(alice.ofType('message', 'chat:unsub')).toEqual([]);
    await alice.close();
  });

  it('replays what a resuming subscriber missed (seq > since), in order, then continues live', async () => {
    const alice = await connectAs(server, 'alice');
    alice.send({ type: 'subscribe', ch: 'chat:resume' });
    await alice.nextOfType('subscribed');
    await server.broadcast('chat:resume', { n: 1 });
    const seen = await alice.nextOfType('message', { ch: 'chat:resume' });
    await alice.close();
    for (let n = 2; n <= 6; n++) await server.broadcast('chat:resume', { n });
    const back = await connectAs(server, 'alice');
    back.send({ type: 'subscribe', ch: 'chat:resume', since: seen.seq });
    const subscribed = await back.nextOfType('subscribed');
    expect(subscribed.seq).toBe((seen.seq as number) + 5);
    await eventually(() => numbersOf(back, 'chat:resume').length === 5);
    await server.broadcast('chat:resume', { n: 7 });
    await eventually(() => numbersOf(back, 'chat:resume').length === 6);
    expect(numbersOf(back, 'chat:resume')).toEqual([2, 3, 4, 5, 6, 7]);
    expect(back.ofType('gap')).toEqual([]);
    await back.close();
  });

  it('answers gap {ch, from, to} when the bounded history no longer reaches back, then replays what it has', async () => {
    const alice = await connectAs(historyServer, 'alice');
    alice.send({ type: 'subscribe', ch: 'chat:gap' });
    const start = await alice.nextOfType('subscribed');
    await alice.close();
    for (let n = 1; n <= 12; n++) await historyServer.broadcast('chat:gap', { n });
    const back = await connectAs(historyServer, 'alice');
    const since = start.seq as number;
    back.send({ type: 'subscribe', ch: 'chat:gap', since });
    await eventually(() => numbersOf(back, 'chat:gap').length === 5);
    const gap = back.ofType('gap', 'chat:gap');
    expect(gap).toEqual([{ type: 'gap', ch: 'chat:gap', from: since + 1, to: since + 7 }]);
    expect(numbersOf(back, 'chat:gap')).toEqual([8, 9, 10, 11, 12]);
    const order = back.frames.filter((frame) => frame.ch === 'chat:gap').map((frame) => frame.type);
    expect(order).toEqual(['subscribed', 'gap', 'message', 'message', 'message', 'message', 'message']);
    await back.close();
  });

  it('treats since = 0 as "from the beginning": everything retained, no gap for a young channel', async () => {
    await server.broadcast('chat:fresh', { n: 1 });
    await server.broadcast('chat:fresh', { n: 2 });
    const alice = await connectAs(server, 'alice');
    alice.send({ type: 'subscribe', ch: 'chat:fresh', since: 0 });
    await eventually(() => numbersOf(alice, 'chat:fresh').length === 2);
    expect(alice.ofType('gap')).toEqual([]);
    await alice.close();
  });

  it('acks a repeated publish id with the same seq but delivers it only once (dedup per user and channel)', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    bob.send({ type: 'subscribe', ch: 'chat:dedup' });
    await bob.nextOfType('subscribed');
    alice.send({ type: 'publish', ch: 'chat:dedup', id: 'once', data: { n: 1 } });
    const first = await alice.nextOfType('ack', { id: 'once' });
    await alice.close();
    const again = await connectAs(server, 'alice');
    again.send({ type: 'publish', ch: 'chat:dedup', id: 'once', data: { n: 1 } });
    const second = await again.nextOfType('ack', { id: 'once' });
    expect(second.seq).toBe(first.seq);
    expect(second.duplicate).toBe(true);
    bob.send({ type: 'publish', ch: 'chat:dedup', id: 'once', data: { n: 2 } });
    const bobs = await bob.nextOfType('ack', { id: 'once' });
    expect(bobs.seq).toBe((first.seq as number) + 1);
    await eventually(() => numbersOf(bob, 'chat:dedup').length === 2);
    await delay(50);
    expect(numbersOf(bob, 'chat:dedup')).toEqual([1, 2]);
    await Promise.all([again.close(), bob.close()]);
  });

  it('carries progress events (publish with event: "progress") to subscribers', async () => {
    const worker = await connectAs(server, 'worker');
    const watcher = await connectAs(server, 'watcher');
    watcher.send({ type: 'subscribe', ch: 'job:42' });
    await watcher.nextOfType('subscribed');
    for (const progress of [0.25, 0.5, 1]) worker.send({ type: 'publish', ch: 'job:42', event: 'progress', data: { progress } });
    await eventually(() => watcher.ofType('message', 'job:42').length === 3);
    expect(watcher.ofType('message', 'job:42').map((frame) => [frame.event, (frame.data as { progress: number }).progress])).toEqual([
      ['progress', 0.25],
      ['progress', 0.5],
      ['progress', 1],
    ]);
    await Promise.all([worker.close(), watcher.close()]);
  });

  it('announces presence joins and leaves to subscribers, lists members, and leaves automatically on disconnect', async () => {
    const watcher = await connectAs(server, 'watcher');
    watcher.send({ type: 'subscribe', ch: 'room:lobby' });
    await watcher.nextOfType('subscribed');
    const alice = await connectAs(server, 'alice');
    alice.send({ type: 'presence', ch: 'room:lobby', action: 'join', meta: { name: 'Alice' } });
    const state = await alice.nextOfType('presence_state', { ch: 'room:lobby' });
    expect(state.members).toEqual([{ userId: 'alice', meta: { name: 'Alice' } }]);
    expect(await watcher.nextOfType('presence', { ch: 'room:lobby' })).toEqual({
      type: 'presence',
      ch: 'room:lobby',
      joins: [{ userId: 'alice', meta: { name: 'Alice' } }],
      leaves: [],
    });
    const bob = await connectAs(server, 'bob');
    bob.send({ type: 'presence', ch: 'room:lobby', action: 'join' });
    await watcher.nextOfType('presence', { ch: 'room:lobby' });
    watcher.send({ type: 'presence', ch: 'room:lobby', action: 'list' });
    const list = await watcher.nextOfType('presence_state', { ch: 'room:lobby' });
    expect((list.members as { userId: string }[]).map((member) => member.userId).sort()).toEqual(['alice', 'bob']);
    bob.send({ type: 'presence', ch: 'room:lobby', action: 'leave' });
    expect((await watcher.nextOfType('presence', { ch: 'room:lobby' })).leaves).toEqual([{ userId: 'bob' }]);
    await alice.close();
    expect((await watcher.nextOfType('presence', { ch: 'room:lobby' })).leaves).toEqual([{ userId: 'alice' }]);
    watcher.send({ type: 'presence', ch: 'room:lobby', action: 'list' });
    expect((await watcher.nextOfType('presence_state', { ch: 'room:lobby' })).members).toEqual([]);
    await Promise.all([watcher.close(), bob.close()]);
  });

  it('passes text in any script as written: a member\'s meta in a list and in a diff, a message\'s data', async () => {
    const watcher = await connectAs(server, 'watcher');
    watcher.send({ type: 'subscribe', ch: 'room:scripts' });
    await watcher.nextOfType('subscribed');
    const alice = await connectAs(server, 'alice');
    alice.send({ type: 'presence', ch: 'room:scripts', action: 'join', meta: { name: 'Алиса 🌸 山田' } });
    expect((await alice.nextOfType('presence_state', { ch: 'room:scripts' })).members).toEqual([{ userId: 'alice', meta: { name: 'Алиса 🌸 山田' } }]);
    expect((await watcher.nextOfType('presence', { ch: 'room:scripts' })).joins).toEqual([{ userId: 'alice', meta: { name: 'Алиса 🌸 山田' } }]);
    await server.broadcast('room:scripts', { text: 'こんにちは، مرحبا' });
    expect((await watcher.nextOfType('message', { ch: 'room:scripts' })).data).toEqual({ text: 'こんにちは، مرحبا' });
    await Promise.all([watcher.close(), alice.close()]);
  });

  it('keeps a user present while one of their connections remains', async () => {
    const watcher = await connectAs(server, 'watcher');
    watcher.send({ type: 'subscribe', ch: 'room:tabs' });
    await watcher.nextOfType('subscribed');
    const tab1 = await connectAs(server, 'carol');
    const tab2 = await connectAs(server, 'carol');
    tab1.send({ type: 'presence', ch: 'room:tabs', action: 'join' });
    await tab1.nextOfType('presence_state');
    tab2.send({ type: 'presence', ch: 'room:tabs', action: 'join' });
    await tab2.nextOfType('presence_state');
    await tab1.close();
    watcher.send({ type: 'presence', ch: 'room:tabs', action: 'list' });
    expect((await watcher.nextOfType('presence_state')).members).toEqual([{ userId: 'carol' }]);
    await tab2.close();
    await watcher.next((frame) => frame.type === 'presence' && (frame.leaves as unknown[]).length > 0);
    const presence = watcher.ofType('presence', 'room:tabs');
    expect(presence.map((frame) => [frame.joins, frame.leaves])).toEqual([
      [[{ userId: 'carol' }], []],
      [[], [{ userId: 'carol' }]],
    ]);
    await watcher.close();
  });

  it('bounds presence meta in UTF-8 bytes: 1000 "é" (2000 bytes, 1000 UTF-16 units) is refused with MESSAGE_TOO_LARGE', async () => {
    const alice = await connectAs(server, 'alice');
    const meta = { bio: 'é'.repeat(1000) };
    alice.send({ type: 'presence', ch: 'room:bytes', action: 'join', meta });
    const answer = await alice.next((frame) => frame.type === 'error' || frame.type === 'presence_state');
    expect(answer).toMatchObject({ type: 'error', code: 'MESSAGE_TOO_LARGE', details: { ch: 'room:bytes', action: 'join' } });
    alice.send({ type: 'presence', ch: 'room:bytes', action: 'list' });
    expect((await alice.nextOfType('presence_state')).members).toEqual([]);
    await alice.close();
  });

  it('relays typing indicators to other subscribers, turns them off after the timeout and on disconnect', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    for (const client of [alice, bob]) client.send({ type: 'subscribe', ch: 'chat:typing' });
    await Promise.all([alice.nextOfType('subscribed'), bob.nextOfType('subscribed')]);
    alice.send({ type: 'typing', ch: 'chat:typing', typing: true });
    expect(await bob.nextOfType('typing')).toEqual({ type: 'typing', ch: 'chat:typing', userId: 'alice', typing: true });
    expect(await bob.nextOfType('typing', {}, 1000)).toMatchObject({ userId: 'alice', typing: false });
    alice.send({ type: 'typing', ch: 'chat:typing', typing: true });
    await bob.nextOfType('typing', { typing: true });
    await alice.close();
    expect(await bob.nextOfType('typing', { typing: false }, 1000)).toMatchObject({ userId: 'alice' });
    expect(alice.ofType('typing')).toEqual([]);
    await bob.close();
  });

  it('keeps a user typing while another of their connections types: one stopping announces nothing, the last one stopping does', async () => {
    const bob = await connectAs(slowTypingServer, 'bob');
    const tab1 = await connectAs(slowTypingServer, 'alice');
    const tab2 = await connectAs(slowTypingServer, 'alice');
    bob.send({ type: 'subscribe', ch: 'chat:tabs' });
    await bob.nextOfType('subscribed');
    tab1.send({ type: 'typing', ch: 'chat:tabs', typing: true });
    tab2.send({ type: 'typing', ch: 'chat:tabs', typing: true });
    await bob.nextOfType('typing', { typing: true });

    tab1.send({ type: 'typing', ch: 'chat:tabs', typing: false });
    tab1.send({ type: 'ping', ts: 1 });
    await tab1.nextOfType('pong');
    bob.send({ type: 'ping', ts: 2 });
    await bob.nextOfType('pong');
    expect(bob.ofType('typing', 'chat:tabs').map((frame) => frame.typing)).not.toContain(false);

    tab2.send({ type: 'typing', ch: 'chat:tabs', typing: false });
    expect(await bob.nextOfType('typing', { typing: false })).toMatchObject({ userId: 'alice' });
    await Promise.all([bob.close(), tab1.close(), tab2.close()]);
  });

  it('sends to a user on every connection (sendToUser), to everyone (broadcastAll) without a subscribe', async () => {
    const phone = await connectAs(server, 'dave');
    const laptop = await connectAs(server, 'dave');
    const other = await connectAs(server, 'erin');
    await server.sendToUser('dave', { hello: 'dave' }, 'notice');
    await Promise.all([phone, laptop].map((client) => client.nextOfType('message', { ch: 'user:dave', event: 'notice' })));
    await server.broadcastAll({ hello: 'all' });
    await Promise.all([phone, laptop, other].map((client) => client.nextOfType('message', { ch: 'broadcast:all' })));
    expect(other.ofType('message', 'user:dave')).toEqual([]);
    await Promise.all([phone.close(), laptop.close(), other.close()]);
  });

  it("refuses sendToUser to a user id that is not a single channel segment ('alice:inbox' would publish to user:alice:inbox), storing nothing", async () => {
    const alice = await connectAs(server, 'alice');
    alice.send({ type: 'subscribe', ch: 'user:alice:inbox' });
    await alice.nextOfType('subscribed', { ch: 'user:alice:inbox' });
    await expect(server.sendToUser('alice:inbox', { for: 'nobody' })).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION, option: 'userId' });
    const { seq } = await server.broadcast('user:alice:inbox', { probe: true });
    await alice.nextOfType('message', { ch: 'user:alice:inbox', seq });
    expect(alice.ofType('message', 'user:alice:inbox').map((frame) => frame.data)).toEqual([{ probe: true }]);
    await alice.close();
  });

  it('deduplicates server-side broadcasts that carry an id', async () => {
    const first = await server.broadcast('chat:server-dedup', { n: 1 }, undefined, { id: 'job-1' });
    const again = await server.broadcast('chat:server-dedup', { n: 1 }, undefined, { id: 'job-1' });
    expect(again).toEqual({ seq: first.seq, duplicate: true });
  });

  it('rejects a broadcast to a name that is not a channel with a typed error naming the format', async () => {
    await expect(server.broadcast('jobs', {})).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION, option: 'ch' });
    await expect(server.broadcast('not a channel', {})).rejects.toThrow(/type:id\[:sub\], e\.g\. "jobs:all"/);
  });

  it('answers ping {ts} with pong {ts}', async () => {
    const alice = await connectAs(server, 'alice');
    alice.send({ type: 'ping', ts: 12345 });
    expect(await alice.nextOfType('pong')).toEqual({ type: 'pong', ts: 12345 });
    await alice.close();
  });
});
