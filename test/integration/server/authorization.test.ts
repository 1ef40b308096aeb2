import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelRule, SocketchartServer } from '../../../src/server/index.js';
import { connectAs, eventually, mintToken, startServer, type Frame, type TestClient } from './helpers.js';

const rules: ChannelRule[] = [
  { pattern: 'user:{userId}:*', subscribe: true, publish: true, presence: true },
  { pattern: 'user:*:*', subscribe: { roles: ['admin'] } },
  { pattern: 'chat:*', subscribe: true, publish: true, presence: true, events: ['message', 'typing_start'] },
  { pattern: 'agent-status:*', subscribe: true, publish: { roles: ['agent'] }, events: ['status_update', 'task_start', 'task_complete'] },
  { pattern: 'admin:*', subscribe: { roles: ['admin'] }, publish: { roles: ['admin'] }, presence: { roles: ['admin'] } },
  { pattern: 'billing:*', subscribe: { permissions: ['billing:read'] }, publish: { permissions: ['billing:read', 'billing:write'] } },
  { pattern: 'room-*:*', subscribe: (_identity, ch) => ch.endsWith(':public'), presence: (_identity, ch) => ch.endsWith(':public') },
  { pattern: '*:*', subscribe: { roles: ['auditor'] } },
  { pattern: '*:*:*', subscribe: { roles: ['auditor'] } },
];

const users: Record<string, { roles?: string[]; permissions?: string[] }> = {
  alice: {},
  bob: { roles: ['agent'] },
  root: { roles: ['admin'] },
  acct: { permissions: ['billing:read', 'billing:write'] },
  viewer: { permissions: ['billing:read'] },
};

/** Two-segment channels under three-segment rules and the other way round are in the matrix too. */
const channels = [
  'user:alice:inbox',
  'user:bob:inbox',
  'user:alice',
  'user:bob',
  'chat:lobby',
  'chat:lobby:thread',
  'agent-status:jobs',
  'admin:ops',
  'admin:ops:keys',
  'billing:invoices',
  'room-a:public',
  'room-a:private',
  'secret:vault',
];

/** Expected grants: S subscribe, P publish (with the event used below), R presence, T typing. Everything else must be refused. */
const expected: Record<string, Record<string, string>> = {
  alice: { 'user:alice:inbox': 'SPRT', 'chat:lobby': 'SPRT', 'agent-status:jobs': 'S', 'room-a:public': 'SRT' },
  bob: { 'user:bob:inbox': 'SPRT', 'chat:lobby': 'SPRT', 'agent-status:jobs': 'SP', 'room-a:public': 'SRT' },
  root: {
    'user:alice:inbox': 'S',
    'user:bob:inbox': 'S',
    'chat:lobby': 'SPRT',
    'agent-status:jobs': 'S',
    'admin:ops': 'SPRT',
    'room-a:public': 'SRT',
  },
  acct: { 'chat:lobby': 'SPRT', 'agent-status:jobs': 'S', 'billing:invoices': 'SP', 'room-a:public': 'SRT' },
  viewer: { 'chat:lobby': 'SPRT', 'agent-status:jobs': 'S', 'billing:invoices': 'S', 'room-a:public': 'SRT' },
};

const eventFor = (ch: string) => (ch.startsWith('agent-status:') ? 'status_update' : undefined);

type Outcome = 'ok' | 'refused';

async function outcome(client: TestClient, matches: (frame: Frame) => boolean, okType: string): Promise<Outcome> {
  const frame = await client.next((candidate) => matches(candidate) && (candidate.type === okType || candidate.type === 'error'));
  if (frame.type === 'error') {
    expect(frame.code).toBe('AUTHORIZATION_FAILED');
    return 'refused';
  }
  return 'ok';
}

describe('channel authorization: users × channels × subscribe / publish / presence', () => {
  let server: SocketchartServer;
  const results = new Map<string, Outcome>();

  beforeAll(async () => {
    server = await startServer({ channels: rules, implicitChannels: false });
    await Promise.all(
      Object.entries(users).map(async ([userId, claims]) => {
        const client = await connectAs(server, userId, claims);
        for (const ch of channels) {
          const event = eventFor(ch);
          client.send({ type: 'subscribe', ch });
          client.send({ type: 'publish', ch, id: `${userId}|${ch}`, data: { by: userId }, ...(event ? { event } : {}) });
          client.send({ type: 'presence', ch, action: 'join' });
        }
        for (const ch of channels) {
          const about = (action: string) => (frame: Frame) =>
            frame.ch === ch || ((frame.details as { ch?: string; action?: string } | undefined)?.ch === ch && (frame.details as { action?: string }).action === action);
          results.set(`${userId} S ${ch}`, await outcome(client, about('subscribe'), 'subscribed'));
          results.set(`${userId} P ${ch}`, await outcome(client, (frame) => frame.id === `${userId}|${ch}`, 'ack'));
          results.set(`${userId} R ${ch}`, await outcome(client, about('presence'), 'presence_state'));
        }
        for (const [index, ch] of channels.entries()) {
          client.send({ type: 'typing', ch, typing: true });
          client.send({ type: 'ping', ts: index });
          const answer = await client.next((frame) => (frame.type === 'pong' && frame.ts === index) || (frame.type === 'error' && (frame.details as { ch?: string } | undefined)?.ch === ch));
          if (answer.type === 'error') expect(answer).toMatchObject({ code: 'AUTHORIZATION_FAILED', details: { ch, action: 'presence' } });
          results.set(`${userId} T ${ch}`, answer.type === 'pong' ? 'ok' : 'refused');
        }
        await client.close();
      }),
    );
  });

  afterAll(async () => {
    await server.close();
  });

  for (const userId of Object.keys(users)) {
    for (const ch of channels) {
      const grants = expected[userId]?.[ch] ?? '';
      it(`${userId} on ${ch}: ${grants || 'nothing'} allowed, the rest refused with AUTHORIZATION_FAILED`, () => {
        for (const action of ['S', 'P', 'R', 'T']) {
          expect({ action, outcome: results.get(`${userId} ${action} ${ch}`) }).toEqual({ action, outcome: grants.includes(action) ? 'ok' : 'refused' });
        }
      });
    }
  }

  it('stored nothing from a refused publish: each channel holds exactly the authorized publishers', async () => {
    const auditor = await connectAs(server, 'auditor', { roles: ['auditor'] });
    for (const ch of channels) auditor.send({ type: 'subscribe', ch, since: 0 });
    await eventually(() => auditor.ofType('subscribed').length === channels.length);
    for (const ch of channels) {
      const publishers = Object.keys(users).filter((userId) => expected[userId]?.[ch]?.includes('P'));
      await eventually(() => auditor.ofType('message', ch).length >= publishers.length, 2000, `history of ${ch}`);
      const from = auditor.ofType('message', ch).map((frame) => frame.from);
      expect(from.sort()).toEqual(publishers.sort());
    }
    await auditor.close();
  });

  it('refuses a publish whose event the rule does not allow, keeping the connection open', async () => {
    const bob = await connectAs(server, 'bob', { roles: ['agent'] });
    bob.send({ type: 'publish', ch: 'agent-status:jobs', id: 'no-event', data: {} });
    expect(await bob.nextOfType('error', { id: 'no-event' })).toMatchObject({ code: 'AUTHORIZATION_FAILED', message: 'event "message" is not allowed on this channel' });
    bob.send({ type: 'publish', ch: 'chat:lobby', id: 'bad-event', event: 'delete_everything', data: {} });
    expect(await bob.nextOfType('error', { id: 'bad-event' })).toMatchObject({ code: 'AUTHORIZATION_FAILED' });
    bob.send({ type: 'publish', ch: 'chat:lobby', id: 'fine', event: 'typing_start', data: {} });
    expect(await bob.nextOfType('ack', { id: 'fine' })).toMatchObject({ type: 'ack' });
    await bob.close();
  });

  it('refuses typing indicators without the presence grant', async () => {
    const alice = await connectAs(server, 'alice');
    alice.send({ type: 'typing', ch: 'admin:ops', typing: true });
    expect(await alice.nextOfType('error')).toMatchObject({ code: 'AUTHORIZATION_FAILED', details: { ch: 'admin:ops', action: 'presence' } });
    await alice.close();
  });

  it('drops subscriptions a refreshed token no longer allows', async () => {
    const root = await connectAs(server, 'root', { roles: ['admin'] });
    root.send({ type: 'subscribe', ch: 'admin:ops' });
    await root.nextOfType('subscribed', { ch: 'admin:ops' });
    root.send({ type: 'auth', token: await mintToken({ sub: 'root' }) });
    await root.nextOfType('auth_ok');
    expect(await root.nextOfType('unsubscribed', { ch: 'admin:ops' })).toMatchObject({ reason: 'forbidden' });
    await root.close();
  });

  it('denies everything with the default rules except the user’s own user:<id> channels and broadcast:all', async () => {
    const plain = await startServer({ channels: undefined });
    const alice = await connectAs(plain, 'alice');
    for (const ch of ['chat:lobby', 'user:bob:inbox', 'user:alice:inbox', 'user:alice', 'broadcast:all']) alice.send({ type: 'subscribe', ch });
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await alice.next((frame) => frame.type === 'subscribed' || frame.type === 'error'));
    const granted = answers.filter((frame) => frame.type === 'subscribed').map((frame) => frame.ch);
    expect(granted.sort()).toEqual(['broadcast:all', 'user:alice', 'user:alice:inbox']);
    await alice.close();
    await plain.close();
  });
});
