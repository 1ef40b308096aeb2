import { describe, expect, it } from 'vitest';
import { createConnection, ErrorCode, type Connection, type SocketchartError } from '../../src/index.node.js';
import {
  createOptimisticStore,
  OptimisticConflictError,
  type OptimisticConflictEvent,
  type OptimisticStore,
  type OptimisticRollbackEvent,
  type OptimisticUpdateReceipt,
} from '../../src/optimistic/index.js';
import type { SocketchartServer } from '../../src/server/index.js';
import { FaultProxy } from '../../src/testing/fault-proxy.js';
import { until } from '../support/until.js';
import { cleanupsAfterEach, startReferenceServer } from '../support/reference-server.js';

interface Field {
  id: string;
  text: string;
}

const cleanups = cleanupsAfterEach();

async function setup() {
  const server: SocketchartServer = await startReferenceServer({
    channels: [
      { pattern: 'docs:*', subscribe: true, publish: true },
      { pattern: 'readonly:*', subscribe: true },
      { pattern: 'outbox:*', publish: true },
    ],
  });
  const port = server.address()!.port;
  const proxy = new FaultProxy({ host: '127.0.0.1', port });
  await proxy.listen();
  const connections: Connection[] = [];
  const stores: Array<OptimisticStore<Field>> = [];
  cleanups.push(async () => {
    for (const store of stores) store.dispose();
    for (const connection of connections) connection.dispose();
    await proxy.close();
    await server.close();
  });

  /** A started client with a store on `channel`, resolved once the server has confirmed the subscription (when it may subscribe). */
  async function client(name: string, channel: string, { subscribes = true, throughProxy = false } = {}) {
    const url = `ws://127.0.0.1:${throughProxy ? proxy.port : port}`;
    const connection = createConnection({ url, name, auth: { token: async () => name }, reconnect: { baseMs: 50, capMs: 100 }, acks: { timeoutMs: 5_000 } });
    connections.push(connection);
    let subscribed = false;
    connection.on('control', ({ type, frame }) => {
      if (type === 'subscribed' && frame.ch === channel) subscribed = true;
    });
    const store = createOptimisticStore({ connection, channel, key: (field: Field) => field.id, initial: { title: { id: 'title', text: 'draft' } } });
    stores.push(store);
    const conflicts: Array<OptimisticConflictEvent<Field, Field>> = [];
    const rollbacks: Array<OptimisticRollbackEvent<Field>> = [];
    store.on('conflict', (event) => conflicts.push(event));
    store.on('rollback', (event) => rollbacks.push(event));
    connection.start();
    await until(() => connection.isConnected && (subscribed || !subscribes), 8_000, `${name} connected`);
    return { connection, store, conflicts, rollbacks };
  }

  return { client, proxy };
}

describe('optimistic updates against the reference server', () => {
  it("confirms a client's change (applied once) and the other client applies it as a remote update", async () => {
    const { client } = await setup();
    const alice = await client('alice', 'docs:1');
    const bob = await client('bob', 'docs:1');
    const seen: Array<number | undefined> = [];
    bob.connection.subscribe('docs:1', (_data, message) => seen.push(message.seq));
    const receipt = await alice.store.update('title', { id: 'title', text: 'hello' });
    await until(() => bob.store.get('title')?.text === 'hello', 8_000, 'bob has the change');
    expect(receipt.seq).toBe(seen[0]);
    expect(alice.store.pending()).toBe(0);
    expect(alice.store.get('title')).toEqual({ id: 'title', text: 'hello' });
    expect(alice.store.confirmed('title')).toEqual({ id: 'title', text: 'hello' });
    expect(bob.store.confirmed('title')).toEqual({ id: 'title', text: 'hello' });
    expect([...alice.conflicts, ...bob.conflicts]).toEqual([]);
  });

  it('confirms by the ack alone when the publisher does not hear its own echo', async () => {
    const { client } = await setup();
    const alice = await client('alice', 'outbox:1', { subscribes: false });
    const receipt: OptimisticUpdateReceipt = await alice.store.update('title', { id: 'title', text: 'sent' });
    expect(receipt).toMatchObject({ key: 'title', via: 'ack' });
    expect(typeof receipt.seq).toBe('number');
    expect(alice.store.pending()).toBe(0);
    expect(alice.store.confirmed('title')).toEqual({ id: 'title', text: 'sent' });
  });

  it('two clients editing the same key at once: the one ordered second is shown the conflict with both versions, and both end with the server-wins value', async () => {
    const { client } = await setup();
    const alice = await client('alice', 'docs:2');
    const bob = await client('bob', 'docs:2');
    const fromAlice = alice.store.update('title', { id: 'title', text: 'alice' }).then(
      () => 'confirmed',
      (error: unknown) => error,
    );
    const fromBob = bob.store.update('title', { id: 'title', text: 'bob' }).then(
      () => 'confirmed',
      (error: unknown) => error,
    );
    await until(() => alice.conflicts.length + bob.conflicts.length > 0, 8_000, 'a conflict');
    const [loser, winner, lost, won] = alice.conflicts.length > 0 ? [alice, bob, fromAlice, fromBob] : [bob, alice, fromBob, fromAlice];
    const mine = { id: 'title', text: loser === alice ? 'alice' : 'bob' };
    const theirs = { id: 'title', text: winner === alice ? 'alice' : 'bob' };
    expect(loser.conflicts).toHaveLength(1);
    expect(loser.conflicts[0]).toMatchObject({ key: 'title', mine, theirs, base: { id: 'title', text: 'draft' }, resolution: 'theirs' });
    expect(await lost).toBeInstanceOf(OptimisticConflictError);
    expect(await won).toBe('confirmed');
    await until(() => alice.store.pending() + bob.store.pending() === 0, 8_000, 'nothing pending');
    await until(() => winner.store.get('title')?.text === theirs.text, 8_000, 'the winner shows its value again');
    expect(loser.store.get('title')).toEqual(theirs);
    expect(winner.store.get('title')).toEqual(theirs);
    expect(loser.store.confirmed('title')).toEqual(theirs);
    expect(winner.store.confirmed('title')).toEqual(theirs);
    expect(winner.conflicts).toEqual([]);
  });

  it('a change written again after a reconnect keeps its place in the server order: both clients end with the same value', async () => {
    const { client, proxy } = await setup();
    const alice = await client('alice', 'docs:3', { throughProxy: true });
    const bob = await client('bob', 'docs:3');
    await bob.store.update('title', { id: 'title', text: 'first' });
    await until(() => alice.store.get('title')?.text === 'first', 8_000, 'alice has heard the channel');
    proxy.mode = 'stall-downstream';
    await bob.store.update('title', { id: 'title', text: 'bob' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const fromAlice = alice.store.update('title', { id: 'title', text: 'alice' }).catch((error: unknown) => error);
    await until(() => bob.store.get('title')?.text === 'alice', 8_000, 'alice stored after bob');
    proxy.reset();
    proxy.mode = 'pass';
    await fromAlice;
    await until(() => alice.store.pending() + bob.store.pending() === 0 && alice.store.get('title')?.text === bob.store.get('title')?.text, 8_000, 'both agree');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(alice.store.pending() + bob.store.pending()).toBe(0);
    expect(alice.store.get('title')).toEqual(bob.store.get('title'));
    expect(alice.store.confirmed('title')).toEqual(bob.store.confirmed('title'));
  });

  it('rolls back a change the server refuses (a channel the user may not publish on)', async () => {
    const { client } = await setup();
    const alice = await client('alice', 'readonly:1');
    const updated = alice.store.update('title', { id: 'title', text: 'forbidden' });
    expect(alice.store.get('title')).toEqual({ id: 'title', text: 'forbidden' });
    const error = (await updated.catch((e: unknown) => e)) as SocketchartError;
    expect(error.code).toBe(ErrorCode.AUTHORIZATION_FAILED);
    expect(alice.store.get('title')).toEqual({ id: 'title', text: 'draft' });
    expect(alice.store.pending()).toBe(0);
    expect(alice.rollbacks).toEqual([expect.objectContaining({ key: 'title', kind: 'update', error })]);
  });
});
