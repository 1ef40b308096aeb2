import { describe, expect, it } from 'vitest';
import { createConnection, ErrorCode, type Connection, type PresenceChange, type SocketchartError, type TypingChange } from '../../src/index.node.js';
import { cleanupsAfterEach, startReferenceServer } from '../support/reference-server.js';
import { startRedis } from '../support/redis.js';
import { roleProxy } from '../support/role-proxy.js';
import { until } from '../support/until.js';
import { pino } from 'pino';
import { createServer } from '../../src/server/index.js';

/** Presence and typing from the client, against the reference server on loopback. */

const cleanups = cleanupsAfterEach();

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (error: SocketchartError) => `rejected ${error.code}`,
  );
/** What a presence call resolved with, or the code it rejected with. */
const answer = (promise: Promise<unknown>) => promise.catch((error: SocketchartError) => `rejected ${error.code}`);

async function setup(serverOptions: Parameters<typeof startReferenceServer>[0] = {}) {
  const server = await startReferenceServer({
    channels: [
      { pattern: 'chat:*', subscribe: true, publish: true, presence: true },
      { pattern: 'news:*', subscribe: true },
    ],
    ...serverOptions,
  });
  cleanups.push(() => server.close());
  const url = `ws://127.0.0.1:${server.address()!.port}`;
  const open = async (user: string): Promise<Connection> => {
    const connection = createConnection({ url, auth: { token: async () => user }, reconnect: { baseMs: 50, capMs: 50, jitter: 0 }, environment: false });
    cleanups.push(() => connection.dispose());
    connection.start();
    await connection.ready({ signal: AbortSignal.timeout(5_000) });
    return connection;
  };
  return { server, url, open };
}

describe('presence against the reference server', () => {
  it('join, list and leave: answers with the members; a watcher sees the joins and leaves', async () => {
    const { open } = await setup();
    const alice = await open('alice');
    const bob = await open('bob');
    const changes: PresenceChange[] = [];
    const stopWatching = alice.presence.watch('chat:lobby', (change) => changes.push(change));

    expect((await alice.presence.join('chat:lobby', { name: 'Alice' })).map((m) => m.userId)).toEqual(['alice']);
    const afterBob = await bob.presence.join('chat:lobby');
    expect(afterBob.map((m) => m.userId).sort()).toEqual(['alice', 'bob']);
    await until(() => alice.presence.members('chat:lobby').length === 2);
    expect(alice.presence.members('chat:lobby')).toEqual(expect.arrayContaining([{ userId: 'alice', meta: { name: 'Alice' } }, { userId: 'bob' }]));
    expect((await bob.presence.list('chat:lobby')).map((m) => m.userId).sort()).toEqual(['alice', 'bob']);

    expect((await bob.presence.leave('chat:lobby')).map((m) => m.userId)).toEqual(['alice']);
    await until(() => alice.presence.members('chat:lobby').length === 1);
    const leaves = changes.flatMap((change) => change.leaves.map((m) => m.userId));
    const joins = changes.flatMap((change) => change.joins.map((m) => m.userId));
    expect(joins).toEqual(expect.arrayContaining(['alice', 'bob']));
    expect(leaves).toEqual(['bob']);
    stopWatching();
  });

  it('a user whose connection drops leaves; on reconnect the connection joins again by itself', async () => {
    const { open, server } = await setup();
    const alice = await open('alice');
    const bob = await open('bob');
    alice.presence.watch('chat:room');
    await alice.presence.join('chat:room');
    await bob.presence.join('chat:room');
    await until(() => alice.presence.members('chat:room').length === 2);

    const reconnected = bob.once('state', { filter: ({ status }) => status === 'connected' });
    const left = alice.once('presence', { filter: (change) => change.leaves.some((m) => m.userId === 'bob') });
    const joinedAgain = alice.once('presence', { filter: (change) => change.joins.some((m) => m.userId === 'bob') });
    // the server closes bob's socket (4001: he reconnects with his token): it forgets his presence, which alice is told
    await server.logout('bob');
    await left;
    await reconnected;
    await joinedAgain;
    expect(alice.presence.members('chat:room').map((m) => m.userId).sort()).toEqual(['alice', 'bob']);
  });

  it('a presence call the channel rules refuse rejects that call alone (no error event)', async () => {
    const { open } = await setup();
    const alice = await open('alice');
    const errors: unknown[] = [];
    alice.on('error', (error) => errors.push(error));
    await expect(alice.presence.join('news:today')).rejects.toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED, recovery: 'fail' });
    expect(alice.presence.isJoined('news:today')).toBe(false);
    expect(errors).toEqual([]);
  });

  it('a join past the server\'s channel limit rejects that call alone with AUTHORIZATION_FAILED, for good, and the channels joined stay joined', async () => {
    const { open } = await setup({ maxSubscriptionsPerConnection: 2 });
    const alice = await open('alice');
    const errors: unknown[] = [];
    alice.on('error', (error) => errors.push(error));
    await alice.presence.join('chat:a');
    await alice.presence.join('chat:b');
    await expect(alice.presence.join('chat:c')).rejects.toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED, recovery: 'fail', details: { ch: 'chat:c', limit: 2 } });
    expect(['chat:a', 'chat:b', 'chat:c'].map((ch) => alice.presence.isJoined(ch))).toEqual([true, true, false]);
    expect(errors).toEqual([]);
  });

  it('a join with meta over 1 KB rejects that call alone with MESSAGE_TOO_LARGE (no error event) and is not remembered', async () => {
    const { open } = await setup();
    const alice = await open('alice');
    const errors: unknown[] = [];
    alice.on('error', (error) => errors.push(error));
    await expect(alice.presence.join('chat:lobby', { bio: 'x'.repeat(2000) })).rejects.toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE, recovery: 'fail' });
    expect(alice.presence.isJoined('chat:lobby')).toBe(false);
    expect(errors).toEqual([]);
  });

  it('a join followed at once by a join again with meta over 1 KB: the first join resolves, only the second rejects, and the channel stays joined', async () => {
    const { open } = await setup();
    const alice = await open('alice');
    const first = outcome(alice.presence.join('chat:room', { name: 'Alice' }));
    const again = outcome(alice.presence.join('chat:room', { bio: 'x'.repeat(2_000) }));
    expect({ first: await first, again: await again, joined: alice.presence.isJoined('chat:room') }).toEqual({
      first: 'resolved',
      again: `rejected ${ErrorCode.MESSAGE_TOO_LARGE}`,
      joined: true,
    });
  });

  it('with Redis, a join, a list and a join again with meta over 1 KB sent at once are answered in order: the join and the list see the member, only the last rejects', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const { open } = await setup({ redis: redis.url });
    const alice = await open('alice');
    const joined = answer(alice.presence.join('chat:room'));
    const listed = answer(alice.presence.list('chat:room'));
    const again = outcome(alice.presence.join('chat:room', { bio: 'x'.repeat(2_000) }));
    expect({ joined: await joined, listed: await listed, again: await again }).toEqual({
      joined: [{ userId: 'alice' }],
      listed: [{ userId: 'alice' }],
      again: `rejected ${ErrorCode.MESSAGE_TOO_LARGE}`,
    });
    expect(alice.presence.isJoined('chat:room')).toBe(true);
  });

  it('with Redis, a watcher whose list already holds a member heard joining meanwhile (its announcement still on its way) is told of that join once', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const proxy = roleProxy(redis.port);
    cleanups.push(() => proxy.close());
    const { open } = await setup({ redis: `redis://127.0.0.1:${await proxy.listen()}` });
    const [ann, cy, bob] = [await open('ann'), await open('cy'), await open('bob')];
    const joins: string[] = [];
    bob.presence.watch('chat:room', (change) => joins.push(...change.joins.map((member) => member.userId)));
    await bob.presence.list('chat:room');
    proxy.setLag('sub', 300);
    await ann.presence.join('chat:room', { name: 'Ann' });
    expect(await bob.presence.list('chat:room')).toEqual([{ userId: 'ann', meta: { name: 'Ann' } }]);
    await cy.presence.join('chat:room');
    await until(() => bob.presence.members('chat:room').length === 2, 3_000, 'the announcements, in order');
    expect(joins).toEqual(['ann', 'cy']);
  });

  it('a join again with new meta answers with it, and a watcher and a list see the member with the new meta only', async () => {
    const { open } = await setup();
    const alice = await open('alice');
    const bob = await open('bob');
    bob.presence.watch('chat:lobby');
    await bob.presence.list('chat:lobby');

    await alice.presence.join('chat:lobby', { status: 'online' });
    await until(() => bob.presence.members('chat:lobby').length === 1);
    expect(await alice.presence.join('chat:lobby', { status: 'away' })).toEqual([{ userId: 'alice', meta: { status: 'away' } }]);
    await until(() => (bob.presence.members('chat:lobby')[0]?.meta as { status?: string } | undefined)?.status === 'away', 3_000, 'the new meta');
    expect(bob.presence.members('chat:lobby')).toEqual([{ userId: 'alice', meta: { status: 'away' } }]);
    expect(await bob.presence.list('chat:lobby')).toEqual([{ userId: 'alice', meta: { status: 'away' } }]);
  });
});

describe('a large room against the reference server', () => {
  it('lists 100 members with 900-byte meta each (about 95 KB) to a client whose frames may be 48 KiB at most: the list comes in pages and resolves with every member', async () => {
    const { url, open } = await setup();
    const meta = (user: string) => ({ name: user, bio: 'x'.repeat(900) });
    const users = Array.from({ length: 100 }, (_, i) => `user-${String(i).padStart(3, '0')}`);
    for (let i = 0; i < users.length; i += 20) {
      await Promise.all(users.slice(i, i + 20).map(async (user) => (await open(user)).presence.join('chat:stadium', meta(user))));
    }
    const small = createConnection({ url, auth: { token: async () => 'watcher' }, maxInboundBytes: 48 * 1024, acks: { timeoutMs: 5_000 }, environment: false });
    cleanups.push(() => small.dispose());
    const errors: SocketchartError[] = [];
    small.on('error', (error) => errors.push(error));
    small.start();
    await small.ready({ signal: AbortSignal.timeout(5_000) });
    const members = await small.presence.list('chat:stadium');
    expect(members.map((member) => member.userId).sort()).toEqual(users);
    expect(members.every((member) => JSON.stringify(member.meta) === JSON.stringify(meta(member.userId)))).toBe(true);
    expect(errors).toEqual([]);
  });
});

describe('typing against the reference server', () => {
  it("start is seen by another subscriber, stop ends it, and the server's timeout ends one never stopped", async () => {
    const { open } = await setup({ typingTimeoutMs: 400 });
    const alice = await open('alice');
    const bob = await open('bob');
    const seen: TypingChange[] = [];
    bob.on('typing', (change) => seen.push(change));
    const offWatch = bob.presence.watch('chat:lobby');
    await bob.presence.list('chat:lobby');

    alice.presence.startTyping('chat:lobby');
    await until(() => bob.presence.typingUsers('chat:lobby').includes('alice'));
    alice.presence.stopTyping('chat:lobby');
    await until(() => bob.presence.typingUsers('chat:lobby').length === 0);

    // a typing: true never refreshed nor stopped: the client's own timeout is longer than the server's here
    alice.presence.startTyping('chat:lobby', { timeoutMs: 60_000 });
    await until(() => bob.presence.typingUsers('chat:lobby').includes('alice'));
    const started = Date.now();
    await until(() => bob.presence.typingUsers('chat:lobby').length === 0, 3_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(seen.map(({ userId, typing }) => `${userId}:${typing}`)).toEqual(['alice:true', 'alice:false', 'alice:true', 'alice:false']);
    alice.presence.stopTyping('chat:lobby');
    offWatch();
  });

  it('a user who keeps typing is shown typing again to a watcher whose link dropped meanwhile', async () => {
    const { open, server } = await setup();
    const alice = await open('alice');
    const bob = await open('bob');
    bob.presence.watch('chat:lobby');
    await bob.presence.list('chat:lobby');
    let typing = true;
    const keystrokes = (async () => {
      while (typing) {
        alice.presence.startTyping('chat:lobby', { timeoutMs: 2_000 });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    await until(() => bob.presence.typingUsers('chat:lobby').includes('alice'), 3_000, 'bob sees alice typing');

    const back = bob.once('state', { filter: ({ status }) => status === 'connected' });
    await server.logout('bob');
    await back;
    try {
      await until(() => bob.presence.typingUsers('chat:lobby').includes('alice'), 4_000, 'bob sees alice typing again');
    } finally {
      typing = false;
      await keystrokes;
      alice.presence.stopTyping('chat:lobby');
    }
  });
});

describe('presence when a token refresh takes the grant away', () => {
  it('the server says so (AUTHORIZATION_FAILED naming the channel): the connection is no longer joined and does not join again', async () => {
    const server = await createServer({
      port: 0,
      host: '127.0.0.1',
      logger: pino({ level: 'silent' }),
      auth: {
        verify: async (token) => {
          const [userId, role] = token.split('|');
          return { userId: userId!, roles: [role!], expiresAt: Date.now() + 2_000 };
        },
      },
      channels: [{ pattern: 'chat:*', subscribe: true, publish: true, presence: { roles: ['member'] } }],
    });
    cleanups.push(() => server.close());
    const reasons: string[] = [];
    const alice = createConnection({
      url: `ws://127.0.0.1:${server.address()!.port}`,
      auth: { token: async ({ reason }) => (reasons.push(reason), reason === 'refresh' ? 'alice|guest' : 'alice|member'), refreshLeadMs: 1_700 },
      environment: false,
    });
    cleanups.push(() => alice.dispose());
    const errors: string[] = [];
    alice.on('error', (error) => errors.push(`${error.code} ${(error.details as { ch?: string } | undefined)?.ch}`));
    alice.start();
    await alice.ready({ signal: AbortSignal.timeout(5_000) });
    alice.presence.watch('chat:lobby');
    expect((await alice.presence.join('chat:lobby')).map((m) => m.userId)).toEqual(['alice']);
    await until(() => errors.length > 0, 5_000, 'the revocation');
    expect(errors).toEqual([`${ErrorCode.AUTHORIZATION_FAILED} chat:lobby`]);
    expect(reasons).toContain('refresh');
    expect(alice.presence.isJoined('chat:lobby')).toBe(false);
    await until(() => alice.presence.members('chat:lobby').length === 0, 5_000, 'the leave');
  });
});
