import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, type ConnectionOptions, type SocketchartError } from '../../../src/index.js';
import {
  createOptimisticStore,
  OptimisticConflictError,
  type OptimisticConflictEvent,
  type ConflictPolicy,
  type MergeChange,
  type OptimisticConnection,
  type OptimisticRollbackEvent,
  type OptimisticStoreChange,
  type OptimisticUpdateReceipt,
} from '../../../src/optimistic/index.js';
import { harness, settle, type Harness } from '../../support/harness.js';
import { collectRethrown } from '../../support/rethrown.js';

const CHANNEL = 'docs:1';

interface Publish {
  id: string;
  ch: string;
  data: unknown;
}

/** A mock server that holds every publish until the test answers it, numbering the channel as it goes. */
function channelServer(h: Harness) {
  const inbox: Publish[] = [];
  let seq = 0;
  h.server.onFrame = (_socket, frame) => {
    if (frame.json?.type === 'publish') inbox.push(frame.json as unknown as Publish);
  };
  const socket = () => h.server.last!;
  return {
    inbox,
    nextSeq: () => ++seq,
    ack(publish: Publish, at: number) {
      socket().push({ type: 'ack', id: publish.id, seq: at });
    },
    echo(publish: Publish, at: number) {
      socket().push({ type: 'message', ch: publish.ch, seq: at, id: publish.id, data: publish.data });
    },
    /** Stores the publish: its echo on the channel, then its ack, as the reference server does. */
    accept(publish: Publish) {
      const at = ++seq;
      this.echo(publish, at);
      this.ack(publish, at);
      return at;
    },
    refuse(publish: Publish, code = 'AUTHORIZATION_FAILED') {
      socket().push({ type: 'error', id: publish.id, code, message: 'refused' });
    },
    remote(data: unknown, id = `remote-${seq + 1}`) {
      const at = ++seq;
      socket().push({ type: 'message', ch: CHANNEL, seq: at, id, data });
      return at;
    },
    messageAt(at: number, data: unknown, id: string) {
      socket().push({ type: 'message', ch: CHANNEL, seq: at, id, data });
    },
  };
}

/** A list per key: `add` appends (applying one twice shows), `set` replaces. */
interface ListChange {
  key: string;
  add?: string;
  set?: string[];
}
const listMerge = (current: string[] | undefined, change: ListChange): string[] => change.set ?? [...(current ?? []), change.add ?? ''];

async function listStore(
  initial: Record<string, string[]> = {},
  connection: Partial<ConnectionOptions> = {},
  conflict?: ConflictPolicy<string[], ListChange>,
  merge: MergeChange<string[], ListChange> = listMerge,
  createId?: () => string,
) {
  const h = harness(connection);
  const server = channelServer(h);
  await h.connect();
  const store = createOptimisticStore<string[], ListChange>({
    connection: h.connection,
    channel: CHANNEL,
    key: (change) => change.key,
    initial,
    merge,
    fromValue: (value, key) => ({ key, set: value }),
    ...(conflict ? { conflict } : {}),
    ...(createId ? { createId } : {}),
  });
  await h.settle();
  return { h, server, store };
}

interface Todo {
  id: string;
  title: string;
  done?: boolean;
}

async function todoStore(conflict?: ConflictPolicy<Todo, Todo>) {
  const h = harness();
  const server = channelServer(h);
  await h.connect();
  const store = createOptimisticStore({
    connection: h.connection,
    channel: CHANNEL,
    key: (todo: Todo) => todo.id,
    initial: { t1: { id: 't1', title: 'draft' } },
    ...(conflict ? { conflict } : {}),
  });
  await h.settle();
  return { h, server, store };
}

/** A todo list whose merge refuses an edit of a todo that does not exist (as README allows: `update()` then rejects). */
type TodoChange = { id: string; patch?: Partial<Todo>; set?: Todo; deleted?: true };
const todoMerge = (current: Todo | undefined, change: TodoChange): Todo | undefined => {
  if (change.deleted) return undefined;
  if (change.set) return change.set;
  if (current === undefined) throw new RangeError(`no todo ${change.id} to edit`);
  return { ...current, ...change.patch };
};

async function deletableTodoStore(conflict?: ConflictPolicy<Todo | undefined, TodoChange>) {
  const h = harness();
  const server = channelServer(h);
  await h.connect();
  const store = createOptimisticStore<Todo | undefined, TodoChange>({
    connection: h.connection,
    channel: CHANNEL,
    key: (change) => change.id,
    merge: todoMerge,
    fromValue: (value, key) => (value === undefined ? { id: key, deleted: true } : { id: key, set: value }),
    initial: { t1: { id: 't1', title: 'draft' } },
    ...(conflict ? { conflict } : {}),
  });
  await h.settle();
  return { h, server, store };
}

/** Records how a promise settles, without waiting for it. */
function watch(promise: Promise<unknown>) {
  const state: { outcome: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { outcome: 'pending' };
  promise.then(
    () => (state.outcome = 'resolved'),
    (error: unknown) => Object.assign(state, { outcome: 'rejected', error }),
  );
  return state;
}

const add = (key: string, item: string): ListChange => ({ key, add: item });

describe('optimistic store', () => {
  it('shows a change at once and publishes it on the channel with a fresh id, acknowledged', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    void store.update('a', add('a', 'x')).catch(() => undefined);
    expect(store.get('a')).toEqual(['base', 'x']);
    expect(store.pending('a')).toBe(1);
    void store.update('a', add('a', 'y')).catch(() => undefined);
    await h.settle();
    expect(server.inbox.map((p) => [p.ch, p.data])).toEqual([
      [CHANNEL, { key: 'a', add: 'x' }],
      [CHANNEL, { key: 'a', add: 'y' }],
    ]);
    expect(typeof server.inbox[0]!.id).toBe('string');
    expect(server.inbox[0]!.id).not.toBe(server.inbox[1]!.id);
    expect(store.confirmed('a')).toEqual(['base']);
    store.dispose();
  });

  it('resolves on the server ack and counts the change as confirmed', async () => {
    const { h, server, store } = await listStore();
    const updated = store.update('a', add('a', 'x'));
    await h.settle();
    const at = server.nextSeq();
    server.ack(server.inbox[0]!, at);
    await expect(updated).resolves.toEqual({ id: server.inbox[0]!.id, key: 'a', seq: at, via: 'ack' } satisfies OptimisticUpdateReceipt);
    expect(store.pending('a')).toBe(0);
    expect(store.get('a')).toEqual(['x']);
    expect(store.confirmed('a')).toEqual(['x']);
    store.dispose();
  });

  it('confirms on the echo of its own id when the echo comes first, and ignores the ack after it', async () => {
    const { h, server, store } = await listStore();
    const updated = store.update('a', add('a', 'x'));
    await h.settle();
    const at = server.nextSeq();
    server.echo(server.inbox[0]!, at);
    expect(store.pending('a')).toBe(0);
    expect(store.get('a')).toEqual(['x']);
    server.ack(server.inbox[0]!, at);
    await expect(updated).resolves.toMatchObject({ via: 'echo', seq: at });
    await h.settle();
    expect(store.get('a')).toEqual(['x']);
    expect(store.confirmed('a')).toEqual(['x']);
    store.dispose();
  });

  it('does not apply the echo again when it comes after the ack', async () => {
    const { h, server, store } = await listStore();
    const updated = store.update('a', add('a', 'x'));
    await h.settle();
    const at = server.nextSeq();
    server.ack(server.inbox[0]!, at);
    await expect(updated).resolves.toMatchObject({ via: 'ack' });
    server.echo(server.inbox[0]!, at);
    await h.settle();
    expect(store.get('a')).toEqual(['x']);
    expect(store.confirmed('a')).toEqual(['x']);
    store.dispose();
  });

  it('rolls a refused change back, replaying the other pending changes on the confirmed value in their order', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const rollbacks: OptimisticRollbackEvent<ListChange>[] = [];
    store.on('rollback', (event) => rollbacks.push(event));
    const x = store.update('a', add('a', 'x'));
    const y = store.update('a', add('a', 'y'));
    const z = store.update('a', add('a', 'z'));
    await h.settle();
    expect(store.get('a')).toEqual(['base', 'x', 'y', 'z']);
    server.refuse(server.inbox[1]!);
    const error = (await y.catch((e: unknown) => e)) as SocketchartError;
    expect(error.code).toBe(ErrorCode.AUTHORIZATION_FAILED);
    expect(store.get('a')).toEqual(['base', 'x', 'z']);
    expect(store.confirmed('a')).toEqual(['base']);
    expect(store.pending('a')).toBe(2);
    expect(rollbacks).toEqual([{ key: 'a', id: server.inbox[1]!.id, change: add('a', 'y'), kind: 'update', error }]);
    server.accept(server.inbox[0]!);
    server.accept(server.inbox[2]!);
    await Promise.all([x, z]);
    expect(store.get('a')).toEqual(['base', 'x', 'z']);
    expect(store.confirmed('a')).toEqual(['base', 'x', 'z']);
    store.dispose();
  });

  it('rolls back on TIMEOUT when the server never acknowledges', async () => {
    const { h, store } = await listStore({ a: ['base'] }, { acks: { timeoutMs: 1_000, maxAttempts: 2 } });
    const updated = store.update('a', add('a', 'x'));
    const outcome = updated.catch((e: SocketchartError) => e);
    await h.settle();
    expect(store.get('a')).toEqual(['base', 'x']);
    await h.advance(1_000);
    await h.advance(1_000);
    expect(await outcome).toMatchObject({ code: ErrorCode.TIMEOUT });
    expect(store.get('a')).toEqual(['base']);
    expect(store.pending('a')).toBe(0);
    store.dispose();
  });

  it('applies the echo of a change rolled back after a TIMEOUT once: the server stored it after all', async () => {
    const { h, server, store } = await listStore({ a: ['base'] }, { acks: { timeoutMs: 1_000, maxAttempts: 1 } });
    const conflicts: unknown[] = [];
    store.on('conflict', (event) => conflicts.push(event));
    const outcome = store.update('a', add('a', 'x')).catch((e: SocketchartError) => e);
    await h.settle();
    await h.advance(1_000);
    expect(await outcome).toMatchObject({ code: ErrorCode.TIMEOUT });
    void store.update('a', add('a', 'y')).catch(() => undefined);
    await h.settle();
    const late = server.inbox[0]!;
    server.echo(late, server.nextSeq());
    expect(conflicts).toEqual([]);
    expect(store.get('a')).toEqual(['base', 'x', 'y']);
    expect(store.confirmed('a')).toEqual(['base', 'x']);
    store.dispose();
  });

  it('applies the ack of a change rolled back after a TIMEOUT once, on a channel that does not echo it: the server stored it after all', async () => {
    const { h, server, store } = await listStore({ a: ['base'] }, { acks: { timeoutMs: 1_000, maxAttempts: 1 } });
    const outcome = store.update('a', add('a', 'x')).catch((e: SocketchartError) => e);
    await h.settle();
    await h.advance(1_000);
    expect(await outcome).toMatchObject({ code: ErrorCode.TIMEOUT });
    expect(store.get('a')).toEqual(['base']);
    const at = server.nextSeq();
    server.ack(server.inbox[0]!, at);
    await h.settle();
    expect(store.confirmed('a')).toEqual(['base', 'x']);
    expect(store.get('a')).toEqual(['base', 'x']);
    server.echo(server.inbox[0]!, at);
    await h.settle();
    expect(store.get('a')).toEqual(['base', 'x']);
    store.dispose();
  });

  it('a late ack of a change rolled back after a TIMEOUT, numbered ahead of the channel, waits for its place in it', async () => {
    const { h, server, store } = await listStore({ a: ['base'] }, { acks: { timeoutMs: 1_000, maxAttempts: 1 } });
    void store.update('a', add('a', 'x')).catch(() => undefined);
    await h.settle();
    await h.advance(1_000);
    server.ack(server.inbox[0]!, 5);
    await h.settle();
    expect(store.confirmed('a')).toEqual(['base', 'x']);
    server.messageAt(4, add('a', 'earlier'), 'bob-1');
    server.messageAt(6, add('a', 'later'), 'bob-2');
    expect(store.confirmed('a')).toEqual(['base', 'earlier', 'x', 'later']);
    expect(store.get('a')).toEqual(['base', 'earlier', 'x', 'later']);
    store.dispose();
  });

  it('a late ack of a change rolled back after a TIMEOUT puts it before the changes made after it: the server stored it first', async () => {
    const { h, server, store } = await listStore({ a: ['base'] }, { acks: { timeoutMs: 1_000, maxAttempts: 1 } });
    void store.update('a', add('a', 'x')).catch(() => undefined);
    await h.settle();
    await h.advance(1_000);
    void store.update('a', add('a', 'y')).catch(() => undefined);
    await h.settle();
    expect(store.get('a')).toEqual(['base', 'y']);
    server.ack(server.inbox[0]!, 5);
    await h.settle();
    expect(store.get('a')).toEqual(['base', 'x', 'y']);
    expect(store.confirmed('a')).toEqual(['base', 'x']);
    store.dispose();
  });

  it('applies a remote update for a key with nothing pending, without a conflict', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const conflicts: unknown[] = [];
    store.on('conflict', (event) => conflicts.push(event));
    server.remote(add('a', 'theirs'));
    server.remote(add('b', 'new'));
    await h.settle();
    expect(store.get('a')).toEqual(['base', 'theirs']);
    expect(store.get('b')).toEqual(['new']);
    expect(conflicts).toEqual([]);
    store.dispose();
  });

  it('a remote message the app\'s key() or merge throws on is skipped and reported as an error event: nothing throws, later messages apply', async () => {
    const { h, server, store } = await todoStore();
    const errors: SocketchartError[] = [];
    store.on('error', (error) => errors.push(error));
    const rethrown: Array<() => void> = [];
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback: () => void) => {
      rethrown.push(callback);
    });
    try {
      server.remote(null);
    } finally {
      spy.mockRestore();
    }
    expect(rethrown).toEqual([]);
    server.remote({ id: 't2', title: 'fine' });
    await h.settle();
    expect(errors.map((error) => [error.code, (error.cause as Error).constructor.name])).toEqual([[ErrorCode.INVALID_MESSAGE_FORMAT, 'TypeError']]);
    expect(store.get('t1')).toEqual({ id: 't1', title: 'draft' });
    expect(store.get('t2')).toEqual({ id: 't2', title: 'fine' });
    store.dispose();
  });

  it('a merge that throws on a remote message leaves the key as it was; a resolver that throws leaves their message applied and the pending change to settle', async () => {
    const merge: MergeChange<string[], ListChange> = (current, change) => {
      if (change.add === 'bad') throw new RangeError('not a list item');
      return listMerge(current, change);
    };
    const { h, server, store } = await listStore({ a: ['base'] }, {}, () => {
      throw new Error('resolver bug');
    }, merge);
    const errors: SocketchartError[] = [];
    store.on('error', (error) => errors.push(error));
    server.remote(add('a', 'bad'));
    server.remote(add('fresh', 'bad'));
    await h.settle();
    expect(store.get('a')).toEqual(['base']);
    expect(store.get('fresh')).toBeUndefined();
    const mine = store.update('a', add('a', 'mine'));
    await h.settle();
    server.remote(add('a', 'theirs'));
    await h.settle();
    expect(errors.map((error) => (error.cause as Error).message)).toEqual(['not a list item', 'not a list item', 'resolver bug']);
    expect(store.get('a'), 'their message stays applied, the pending change on top').toEqual(['base', 'theirs', 'mine']);
    server.accept(server.inbox[0]!);
    await expect(mine).resolves.toMatchObject({ key: 'a' });
    expect(store.pending()).toBe(0);
    store.dispose();
  });

  it('a remote update for another key does not conflict with a pending change', async () => {
    const { h, server, store } = await listStore({ a: ['base'], b: ['base'] });
    const conflicts: unknown[] = [];
    store.on('conflict', (event) => conflicts.push(event));
    const mine = store.update('a', add('a', 'mine'));
    await h.settle();
    server.remote(add('b', 'theirs'));
    server.accept(server.inbox[0]!);
    await mine;
    expect(conflicts).toEqual([]);
    expect(store.get('a')).toEqual(['base', 'mine']);
    expect(store.get('b')).toEqual(['base', 'theirs']);
    store.dispose();
  });

  it('server-wins by default: rolls back mine, shows theirs, rejects with OptimisticConflictError and publishes theirs so every client ends with it', async () => {
    const { h, server, store } = await todoStore();
    const mine = store.update('t1', { id: 't1', title: 'mine' });
    const outcome = mine.catch((e: unknown) => e);
    await h.settle();
    server.remote({ id: 't1', title: 'theirs' });
    expect(store.get('t1')).toEqual({ id: 't1', title: 'theirs' });
    const error = await outcome;
    expect(error).toBeInstanceOf(OptimisticConflictError);
    expect(error).toMatchObject({ code: 'CONFLICT', messageId: server.inbox[0]!.id });
    await h.settle();
    expect(server.inbox.map((p) => p.data)).toEqual([
      { id: 't1', title: 'mine' },
      { id: 't1', title: 'theirs' },
    ]);
    server.accept(server.inbox[0]!);
    expect(store.get('t1')).toEqual({ id: 't1', title: 'theirs' });
    server.accept(server.inbox[1]!);
    await h.settle();
    expect(store.get('t1')).toEqual({ id: 't1', title: 'theirs' });
    expect(store.confirmed('t1')).toEqual({ id: 't1', title: 'theirs' });
    expect(store.pending()).toBe(0);
    store.dispose();
  });

  it("a custom resolver's merged value is shown and published, and the local change still confirms", async () => {
    const { h, server, store } = await todoStore(({ mine, theirs }) => ({ merged: { ...theirs, done: mine.done ?? false, title: `${theirs.title} + ${mine.title}` } }));
    const mine = store.update('t1', { id: 't1', title: 'mine', done: true });
    await h.settle();
    server.remote({ id: 't1', title: 'theirs' });
    const merged = { id: 't1', title: 'theirs + mine', done: true };
    expect(store.get('t1')).toEqual(merged);
    await h.settle();
    expect(server.inbox.map((p) => p.data)).toEqual([{ id: 't1', title: 'mine', done: true }, merged]);
    server.accept(server.inbox[0]!);
    await expect(mine).resolves.toMatchObject({ via: 'echo' });
    expect(store.get('t1')).toEqual(merged);
    server.accept(server.inbox[1]!);
    await h.settle();
    expect(store.confirmed('t1')).toEqual(merged);
    expect(store.pending()).toBe(0);
    store.dispose();
  });

  it("a resolver answering 'mine' keeps the local change on top of theirs and publishes nothing more", async () => {
    const { h, server, store } = await listStore({ a: ['base'] }, {}, () => 'mine');
    const mine = store.update('a', add('a', 'mine'));
    await h.settle();
    server.remote(add('a', 'theirs'));
    expect(store.get('a')).toEqual(['base', 'theirs', 'mine']);
    await h.settle();
    expect(server.inbox).toHaveLength(1);
    server.accept(server.inbox[0]!);
    await mine;
    expect(store.confirmed('a')).toEqual(['base', 'theirs', 'mine']);
    store.dispose();
  });

  it("the 'client-wins' policy keeps the local change on top of theirs and publishes nothing more", async () => {
    const { h, server, store } = await listStore({ a: ['base'] }, {}, 'client-wins');
    const conflicts: OptimisticConflictEvent<string[], ListChange>[] = [];
    store.on('conflict', (event) => conflicts.push(event));
    const mine = store.update('a', add('a', 'mine'));
    await h.settle();
    server.remote(add('a', 'theirs'));
    expect(conflicts.map(({ resolution, value }) => ({ resolution, value }))).toEqual([{ resolution: 'mine', value: ['base', 'theirs', 'mine'] }]);
    expect(store.get('a')).toEqual(['base', 'theirs', 'mine']);
    await h.settle();
    expect(server.inbox).toHaveLength(1);
    server.accept(server.inbox[0]!);
    await expect(mine).resolves.toMatchObject({ key: 'a' });
    expect(store.confirmed('a')).toEqual(['base', 'theirs', 'mine']);
    store.dispose();
  });

  it("a conflict's theirs holds this store's acknowledged changes the server orders after their message, and server-wins shows it", async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const conflicts: OptimisticConflictEvent<string[], ListChange>[] = [];
    store.on('conflict', (event) => conflicts.push(event));
    const first = store.update('a', add('a', 'first'));
    const second = watch(store.update('a', add('a', 'second')));
    await h.settle();
    server.ack(server.inbox[0]!, 5);
    await first;
    server.messageAt(4, add('a', 'theirs'), 'bob-1');
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toMatchObject({
      base: ['base'],
      mine: ['base', 'first', 'second'],
      theirs: ['base', 'theirs', 'first'],
      value: ['base', 'theirs', 'first'],
    });
    expect(store.get('a')).toEqual(['base', 'theirs', 'first']);
    await h.settle();
    expect(second.error).toBeInstanceOf(OptimisticConflictError);
    expect(server.inbox.map((publish) => publish.data)).toEqual([add('a', 'first'), add('a', 'second'), { key: 'a', set: ['base', 'theirs', 'first'] }]);
    store.dispose();
  });

  it('a fromValue whose change belongs to another key is reported as an error event naming fromValue: nothing is published to settle the conflict', async () => {
    const h = harness();
    const server = channelServer(h);
    await h.connect();
    const store = createOptimisticStore<string[], ListChange>({
      connection: h.connection,
      channel: CHANNEL,
      key: (change) => change.key,
      initial: { a: ['base'] },
      merge: listMerge,
      fromValue: (value) => ({ key: 'elsewhere', set: value }),
    });
    await h.settle();
    const errors: SocketchartError[] = [];
    store.on('error', (error) => errors.push(error));
    void store.update('a', add('a', 'mine')).catch(() => undefined);
    await h.settle();
    server.remote(add('a', 'theirs'));
    await h.settle();
    expect(errors.map((error) => (error.cause as { option?: string }).option)).toEqual(['fromValue']);
    expect(server.inbox.map((publish) => publish.data)).toEqual([add('a', 'mine')]);
    expect(store.get('elsewhere')).toBeUndefined();
    store.dispose();
  });

  it('after one conflict lost under server-wins, later remote messages for the key are not conflicts and the store republishes nothing more', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const conflicts: unknown[] = [];
    store.on('conflict', (event) => conflicts.push(event));
    const stored: ListChange[] = [];
    let published = 0;
    const remote = (change: ListChange) => {
      stored.push(change);
      server.remote(change);
    };
    const acceptOldest = () => {
      for (const publish of server.inbox.splice(0, 1)) {
        published++;
        stored.push(publish.data as ListChange);
        server.accept(publish);
      }
    };
    void store.update('a', add('a', 'mine')).catch(() => undefined);
    await h.settle();
    remote(add('a', 'r0'));
    await h.settle();
    for (let i = 1; i <= 10; i++) {
      acceptOldest();
      remote(add('a', `r${i}`));
      await h.settle();
    }
    while (server.inbox.length > 0) {
      acceptOldest();
      await h.settle();
    }
    expect(conflicts).toHaveLength(1);
    expect(published).toBe(2);
    expect(store.pending()).toBe(0);
    expect(store.get('a')).toEqual(stored.reduce(listMerge, ['base']));
    for (let i = 2; i <= 10; i++) expect(store.get('a')).toContain(`r${i}`);
    store.dispose();
  });

  it('the conflict event carries the key, mine, theirs and base, with the resolution', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const conflicts: OptimisticConflictEvent<string[], ListChange>[] = [];
    store.on('conflict', (event) => conflicts.push(event));
    void store.update('a', add('a', 'mine1')).catch(() => undefined);
    void store.update('a', add('a', 'mine2')).catch(() => undefined);
    await h.settle();
    const at = server.remote(add('a', 'theirs'), 'bob-1');
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toMatchObject({
      key: 'a',
      base: ['base'],
      mine: ['base', 'mine1', 'mine2'],
      theirs: ['base', 'theirs'],
      change: add('a', 'theirs'),
      message: { ch: CHANNEL, seq: at, id: 'bob-1' },
      resolution: 'theirs',
      value: ['base', 'theirs'],
    });
    store.dispose();
  });

  it('an acknowledged change keeps its place in the server order when an earlier message arrives after its ack', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const conflicts: unknown[] = [];
    store.on('conflict', (event) => conflicts.push(event));
    const mine = store.update('a', add('a', 'mine'));
    await h.settle();
    server.ack(server.inbox[0]!, 5);
    await expect(mine).resolves.toMatchObject({ seq: 5, via: 'ack' });
    expect(store.pending('a')).toBe(0);
    server.messageAt(4, add('a', 'earlier'), 'bob-1');
    expect(store.get('a')).toEqual(['base', 'earlier', 'mine']);
    server.echo(server.inbox[0]!, 5);
    server.messageAt(6, add('a', 'later'), 'bob-2');
    expect(store.get('a')).toEqual(['base', 'earlier', 'mine', 'later']);
    expect(store.confirmed('a')).toEqual(['base', 'earlier', 'mine', 'later']);
    expect(conflicts).toEqual([]);
    store.dispose();
  });

  it('a gap on another channel does not move this one: an earlier message arriving after it still goes before the acknowledged change', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const otherChannel = h.connection.subscribe('docs:2', () => {});
    const mine = store.update('a', add('a', 'mine'));
    await h.settle();
    server.ack(server.inbox[0]!, 5);
    await mine;
    h.server.last!.push({ type: 'gap', ch: 'docs:2', from: 1, to: 9 });
    otherChannel();
    server.messageAt(4, add('a', 'earlier'), 'bob-1');
    expect(store.confirmed('a')).toEqual(['base', 'earlier', 'mine']);
    store.dispose();
  });

  it('a gap on this channel moving past an acknowledged change makes it take its place: an edit of a key an earlier message deleted is reported at once', async () => {
    const { h, server, store } = await deletableTodoStore();
    const errors: SocketchartError[] = [];
    store.on('error', (error) => errors.push(error));
    const edit = store.update('t1', { id: 't1', patch: { done: true } });
    await h.settle();
    server.ack(server.inbox[0]!, 3);
    await edit;
    server.messageAt(1, { id: 't1', deleted: true }, 'bob-1');
    expect(errors).toEqual([]);
    h.server.last!.push({ type: 'gap', ch: CHANNEL, from: 2, to: 3 });
    expect(errors.map((error) => [error.code, error.messageId])).toEqual([[ErrorCode.INVALID_MESSAGE_FORMAT, server.inbox[0]!.id]]);
    expect(store.get('t1')).toBeUndefined();
    store.dispose();
  });

  it('counts pending changes for one key, or for all', async () => {
    const { h, store } = await listStore({ a: [], b: [] });
    for (const change of [add('a', '1'), add('a', '2'), add('b', '1')]) void store.update(change.key, change).catch(() => undefined);
    await h.settle();
    expect([store.pending('a'), store.pending('b'), store.pending('c'), store.pending()]).toEqual([2, 1, 0, 3]);
    store.dispose();
  });

  it('refuses an id from createId() that a change already used, settled or not, with InvalidOptionError: nothing is shown or sent', async () => {
    const { h, server, store } = await listStore({ a: [] }, {}, undefined, listMerge, () => 'always-the-same');
    const first = store.update('a', add('a', '1'));
    await h.settle();
    await expect(store.update('a', add('a', '2'))).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION, option: 'createId' });
    server.accept(server.inbox[0]!);
    await first;
    await expect(store.update('a', add('a', '3'))).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION, option: 'createId' });
    expect(store.get('a')).toEqual(['1']);
    expect(server.inbox).toHaveLength(1);
    store.dispose();
  });

  it('a resolver answering neither mine, theirs nor { merged } is reported as an error event, and the pending change still settles', async () => {
    const { h, server, store } = await listStore({ a: ['base'] }, {}, (() => 'yours') as unknown as ConflictPolicy<string[], ListChange>);
    const errors: SocketchartError[] = [];
    store.on('error', (error) => errors.push(error));
    const mine = store.update('a', add('a', 'mine'));
    await h.settle();
    server.remote(add('a', 'theirs'));
    await h.settle();
    expect(errors.map((error) => (error.cause as { option?: string }).option)).toEqual(['conflict']);
    server.accept(server.inbox[0]!);
    await expect(mine).resolves.toMatchObject({ key: 'a' });
    store.dispose();
  });

  it('an acknowledged change whose echo never comes takes its place when the channel moves past it', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const mine = store.update('a', add('a', 'mine'));
    await h.settle();
    server.ack(server.inbox[0]!, 5);
    await mine;
    server.messageAt(7, add('a', 'later'), 'bob-1');
    expect(store.get('a')).toEqual(['base', 'mine', 'later']);
    expect(store.confirmed('a')).toEqual(['base', 'mine', 'later']);
    store.dispose();
  });

  it('an update whose change belongs to another key rejects with INVALID_MESSAGE_FORMAT and shows and sends nothing', async () => {
    const { h, server, store } = await listStore();
    await expect(store.update('a', add('b', 'x'))).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT });
    await h.settle();
    expect(store.get('a')).toBeUndefined();
    expect(store.get('b')).toBeUndefined();
    expect(server.inbox).toEqual([]);
    store.dispose();
  });

  it('an update whose change merge refuses rejects with its error, sends nothing and leaves the key free for the next change', async () => {
    const strictMerge: MergeChange<string[], ListChange> = (current, change) => {
      if (change.add === '') throw new Error('empty item');
      return listMerge(current, change);
    };
    const { h, server, store } = await listStore({ a: ['base'] }, {}, undefined, strictMerge);
    await expect(store.update('a', add('a', ''))).rejects.toThrow('empty item');
    await h.settle();
    expect(server.inbox).toEqual([]);
    expect(store.pending('a')).toBe(0);
    expect(store.pending()).toBe(0);
    const next = store.update('a', add('a', 'x'));
    await h.settle();
    expect(server.inbox).toHaveLength(1);
    server.accept(server.inbox[0]!);
    await expect(next).resolves.toMatchObject({ key: 'a' });
    expect(store.get('a')).toEqual(['base', 'x']);
    store.dispose();
  });

  it('creates a key that does not exist yet: shown at once, published, confirmed by the server', async () => {
    const { h, server, store } = await todoStore();
    const created = store.update('t9', (todo) => ({ id: 't9', title: 'new', ...todo }));
    expect(store.get('t9')).toEqual({ id: 't9', title: 'new' });
    expect(store.pending('t9')).toBe(1);
    await h.settle();
    expect(server.inbox.map((publish) => publish.data)).toEqual([{ id: 't9', title: 'new' }]);
    server.accept(server.inbox[0]!);
    await expect(created).resolves.toMatchObject({ key: 't9' });
    expect(store.confirmed('t9')).toEqual({ id: 't9', title: 'new' });
    store.dispose();
  });

  it('a change that names no key (an updater spreading a value that does not exist yet) is refused with a message saying the change must carry its key', async () => {
    const { h, server, store } = await todoStore();
    const error = await store.update('t9', (todo) => ({ ...todo!, done: true })).catch((e: SocketchartError) => e);
    expect(error).toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT });
    expect((error as SocketchartError).message).toContain('"t9" does not exist yet');
    await h.settle();
    expect(store.get('t9')).toBeUndefined();
    expect(server.inbox).toEqual([]);
    store.dispose();
  });

  it('an updater function receives the current shown value', async () => {
    const { h, server, store } = await todoStore();
    void store.update('t1', { id: 't1', title: 'renamed' }).catch(() => undefined);
    void store.update('t1', (todo) => ({ ...todo!, done: true })).catch(() => undefined);
    await h.settle();
    expect(store.get('t1')).toEqual({ id: 't1', title: 'renamed', done: true });
    expect(server.inbox[1]!.data).toEqual({ id: 't1', title: 'renamed', done: true });
    store.dispose();
  });

  it("another user's message carrying the id of a change in flight is applied as theirs, not taken for this store's echo", async () => {
    let n = 0;
    const { h, server, store } = await listStore({ a: ['base'], b: ['base'] }, { auth: { token: 'tkn' } }, undefined, listMerge, () => `edit-${++n}`);
    const mine = store.update('a', add('a', 'mine'));
    await h.settle();
    const publish = server.inbox[0]!;
    expect(publish.id).toBe('edit-1');
    h.server.last!.push({ type: 'message', ch: CHANNEL, seq: 1, id: 'edit-1', from: 'bob', data: add('b', 'bob') });
    await h.settle();
    expect(store.get('b')).toEqual(['base', 'bob']);
    expect(store.pending('a')).toBe(1);
    h.server.last!.push({ type: 'message', ch: CHANNEL, seq: 2, id: 'edit-1', from: 'user-1', data: publish.data });
    server.ack(publish, 2);
    await expect(mine).resolves.toMatchObject({ seq: 2, via: 'echo' });
    expect(store.get('a')).toEqual(['base', 'mine']);
    expect(store.get('b')).toEqual(['base', 'bob']);
    store.dispose();
  });

  it("another user's message carrying the id of a change already confirmed is applied, not dropped as a late echo", async () => {
    let n = 0;
    const { h, server, store } = await listStore({ a: ['base'] }, { auth: { token: 'tkn' } }, undefined, listMerge, () => `edit-${++n}`);
    const mine = store.update('a', add('a', 'mine'));
    await h.settle();
    server.ack(server.inbox[0]!, 1);
    await mine;
    h.server.last!.push({ type: 'message', ch: CHANNEL, seq: 2, id: 'edit-1', from: 'bob', data: add('a', 'bob') });
    await h.settle();
    expect(store.get('a')).toEqual(['base', 'mine', 'bob']);
    store.dispose();
  });

  it('subscribers hear every move of a shown value and of its pending count', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const changes: OptimisticStoreChange<string[]>[] = [];
    store.subscribe((change) => changes.push(change));
    const updated = store.update('a', add('a', 'x'));
    await h.settle();
    server.refuse(server.inbox[0]!);
    await updated.catch(() => undefined);
    expect(changes).toEqual([
      { key: 'a', value: ['base', 'x'], previous: ['base'], pending: 1 },
      { key: 'a', value: ['base'], previous: ['base', 'x'], pending: 0 },
    ]);
    store.dispose();
  });

  it('a rollback listener already sees the shown value without the refused change', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const seen: Array<string[] | undefined> = [];
    store.on('rollback', ({ key }) => seen.push(store.get(key)));
    void store.update('a', add('a', 'x')).catch(() => undefined);
    await h.settle();
    server.refuse(server.inbox[0]!);
    await h.settle();
    expect(seen).toEqual([['base']]);
    store.dispose();
  });

  it('subscribers hear nothing when a message leaves a value as it was, a counter stuck at NaN included', async () => {
    const h = harness();
    const server = channelServer(h);
    await h.connect();
    const store = createOptimisticStore<number, { key: string; by: number }>({
      connection: h.connection,
      channel: CHANNEL,
      key: (change) => change.key,
      initial: { a: Number.NaN },
      merge: (current, change) => (current ?? 0) + change.by,
      fromValue: (n, key) => ({ key, by: n }),
    });
    await h.settle();
    const changes: unknown[] = [];
    store.subscribe((change) => changes.push(change));
    const snapshot = store.snapshot();
    server.remote({ key: 'a', by: 1 });
    expect(changes).toEqual([]);
    expect(store.snapshot()).toBe(snapshot);
    server.remote({ key: 'b', by: 1 });
    expect(changes).toEqual([{ key: 'b', value: 1, previous: undefined, pending: 0 }]);
    store.dispose();
  });

  it('subscribers hear the pending count move when the value stays the same object, and nothing when neither moves', async () => {
    const { h, server, store } = await listStore({ a: [] });
    const changes: OptimisticStoreChange<string[]>[] = [];
    store.subscribe((change) => changes.push(change));
    const replaced = ['x'];
    const updated = store.update('a', { key: 'a', set: replaced });
    await h.settle();
    server.ack(server.inbox[0]!, 5);
    await updated;
    server.messageAt(6, add('b', 'elsewhere'), 'bob-1');
    expect(changes.filter((change) => change.key === 'a').map(({ value, pending }) => [value === replaced, pending])).toEqual([
      [true, 1],
      [true, 0],
    ]);
    store.dispose();
  });

  it('the snapshot keeps its identity until a value changes', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const first = store.snapshot();
    expect(store.snapshot()).toBe(first);
    expect([...first]).toEqual([['a', ['base']]]);
    server.remote(add('b', 'new'));
    await h.settle();
    const second = store.snapshot();
    expect(second).not.toBe(first);
    expect([...second]).toEqual([
      ['a', ['base']],
      ['b', ['new']],
    ]);
    store.dispose();
  });

  it('dispose rejects pending changes with CLOSED, unsubscribes from the channel and ignores what arrives later', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const changes: unknown[] = [];
    store.subscribe((change) => changes.push(change));
    const pending = store.update('a', add('a', 'x')).catch((e: SocketchartError) => e);
    await h.settle();
    changes.length = 0;
    store.dispose();
    expect(changes, 'the last change, dispose itself').toEqual([{ key: 'a', value: undefined, previous: ['base', 'x'], pending: 0 }]);
    changes.length = 0;
    expect(await pending).toMatchObject({ code: ErrorCode.CLOSED });
    expect(h.server.last!.sentOfType('unsubscribe')).toEqual([{ type: 'unsubscribe', ch: CHANNEL }]);
    server.accept(server.inbox[0]!);
    server.remote(add('a', 'theirs'));
    await h.settle();
    expect(changes).toEqual([]);
    expect(store.get('a')).toBeUndefined();
    expect(store.pending()).toBe(0);
    await expect(store.update('a', add('a', 'y'))).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    expect(server.inbox).toHaveLength(1);
  });

  it('dispose tells its change listeners that every key shown or pending is gone, as get(), snapshot() and pending() read then', async () => {
    const { h, store } = await listStore({ a: ['base'], b: ['kept'] });
    void store.update('c', add('c', 'x')).catch(() => undefined);
    await h.settle();
    const changes: OptimisticStoreChange<string[]>[] = [];
    const read: unknown[] = [];
    store.subscribe((change) => {
      changes.push(change);
      read.push([store.get(change.key), store.snapshot().size, store.pending(change.key)]);
    });
    store.dispose();
    expect(changes).toEqual([
      { key: 'a', value: undefined, previous: ['base'], pending: 0 },
      { key: 'b', value: undefined, previous: ['kept'], pending: 0 },
      { key: 'c', value: undefined, previous: ['x'], pending: 0 },
    ]);
    expect(read, 'what a listener reads of the store').toEqual([[undefined, 0, 0], [undefined, 0, 0], [undefined, 0, 0]]);
  });

  it('disposed from a change listener: later listeners hear the last change of dispose last, not the change it interrupted after it', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    store.subscribe(() => store.dispose());
    const heard: Array<string[] | undefined> = [];
    store.subscribe(({ value }) => heard.push(value));
    server.remote(add('a', 'theirs'));
    await h.settle();
    expect(store.get('a')).toBeUndefined();
    expect(heard.at(-1), 'the last value a later listener heard').toBeUndefined();
  });

  it('an update whose updater disposes the store (an app tearing down from its own callback) rejects with CLOSED and sends nothing', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const updated = watch(
      store.update('a', () => {
        store.dispose();
        return add('a', 'x');
      }),
    );
    await h.settle();
    expect(updated).toMatchObject({ outcome: 'rejected', error: { code: ErrorCode.CLOSED } });
    expect(server.inbox).toEqual([]);
  });

  it('an update whose change listener disposes the store rejects with CLOSED and sends nothing', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    store.subscribe(() => store.dispose());
    const updated = watch(store.update('a', add('a', 'x')));
    await h.settle();
    expect(updated).toMatchObject({ outcome: 'rejected', error: { code: ErrorCode.CLOSED } });
    expect(server.inbox).toEqual([]);
  });

  it('an update a change listener makes in answer to another is published after it, in the order shown: the server ends with the value shown', async () => {
    const { h, server, store } = await todoStore();
    store.subscribe(({ value }) => {
      if (value?.title === 'Report ') void store.update('t1', { ...value, title: 'Report' }).catch(() => undefined);
    });
    void store.update('t1', { id: 't1', title: 'Report ' }).catch(() => undefined);
    expect(store.get('t1')).toEqual({ id: 't1', title: 'Report' });
    await h.settle();
    expect(server.inbox.map((publish) => (publish.data as Todo).title)).toEqual(['Report ', 'Report']);
    for (const publish of server.inbox.splice(0)) server.accept(publish);
    await h.settle();
    expect(store.get('t1')).toEqual({ id: 't1', title: 'Report' });
    store.dispose();
  });

  it('an update made from a change listener while a conflict is resolved as theirs is not given up with the changes that lost it: it confirms', async () => {
    const { h, server, store } = await todoStore();
    const lost = watch(store.update('t1', { id: 't1', title: 'mine' }));
    await h.settle();
    const after: Array<ReturnType<typeof watch>> = [];
    store.subscribe(({ value }) => {
      if (value?.title === 'theirs' && !value.done) after.push(watch(store.update('t1', { ...value, done: true })));
    });
    server.remote({ id: 't1', title: 'theirs' });
    await h.settle();
    expect(lost.error).toBeInstanceOf(OptimisticConflictError);
    for (const publish of server.inbox.splice(0)) server.accept(publish);
    await h.settle();
    expect(after).toMatchObject([{ outcome: 'resolved' }]);
    expect(store.get('t1')).toEqual({ id: 't1', title: 'theirs', done: true });
    store.dispose();
  });

  it('a change listener that disposes the store while a conflict is resolved leaves nothing shown and publishes no resolution', async () => {
    const { h, server, store } = await todoStore();
    const mine = store.update('t1', { id: 't1', title: 'mine' }).catch(() => undefined);
    await h.settle();
    store.subscribe(() => store.dispose());
    server.remote({ id: 't1', title: 'theirs' });
    await mine;
    await h.settle();
    expect([store.snapshot().size, store.get('t1'), store.pending()]).toEqual([0, undefined, 0]);
    expect(server.inbox.map((p) => p.data)).toEqual([{ id: 't1', title: 'mine' }]);
  });

  it('dispose gives up a change still queued while the connection is not open: it is never published', async () => {
    const h = harness();
    const server = channelServer(h);
    const store = createOptimisticStore<string[], ListChange>({
      connection: h.connection,
      channel: CHANNEL,
      key: (change) => change.key,
      initial: { a: ['base'] },
      merge: listMerge,
      fromValue: (value, key) => ({ key, set: value }),
    });
    const outcome = store.update('a', add('a', 'x')).catch((e: SocketchartError) => e);
    await h.settle();
    store.dispose();
    expect(await outcome).toMatchObject({ code: ErrorCode.CLOSED });
    await h.connect();
    await h.settle();
    expect(server.inbox).toEqual([]);
    h.connection.dispose();
  });

  it('dispose removes its connection listeners: other listeners of the channel keep theirs', async () => {
    const { h, server, store } = await listStore();
    const other: unknown[] = [];
    const unsubscribe = h.connection.subscribe(CHANNEL, (data) => other.push(data));
    store.dispose();
    server.remote(add('a', 'after'));
    await h.settle();
    expect(other).toEqual([add('a', 'after')]);
    expect(store.get('a')).toBeUndefined();
    expect(h.server.last!.sentOfType('unsubscribe')).toEqual([]);
    unsubscribe();
  });

  it('dispose gives up only the publishes still in flight: the signal of one the server already confirmed is not aborted', async () => {
    const signals: AbortSignal[] = [];
    const answers: Array<() => void> = [];
    const connection: OptimisticConnection = {
      send: (_data, options) => {
        signals.push(options!.signal!);
        return new Promise<void>((resolve) => answers.push(resolve));
      },
      subscribe: () => () => undefined,
      on: () => () => undefined,
    };
    const store = createOptimisticStore<string[], ListChange>({ connection, channel: CHANNEL, key: (change) => change.key, merge: listMerge, fromValue: (value, key) => ({ key, set: value }) });
    const confirmed = store.update('a', add('a', 'x'));
    const inFlight = store.update('a', add('a', 'y')).catch((error: SocketchartError) => error);
    answers[0]!();
    await confirmed;
    await settle();
    store.dispose();
    expect(await inFlight).toMatchObject({ code: ErrorCode.CLOSED });
    expect(signals.map((signal) => signal.aborted)).toEqual([false, true]);
  });

  it('twenty changes awaiting their ack raise no MaxListenersExceededWarning, and dispose gives each up: none is written again', async () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { h, server, store } = await listStore({ a: [] });
    const updates = Array.from({ length: 20 }, (_, i) => store.update('a', add('a', `m${i}`)).catch((error: SocketchartError) => error.code));
    await h.settle();
    store.dispose();
    expect(await Promise.all(updates)).toEqual(Array(20).fill(ErrorCode.CLOSED));
    await h.advance(60_000);
    const warned = warnings.mock.calls.map(([warning]) => String(warning));
    warnings.mockRestore();
    expect(server.inbox).toHaveLength(20);
    expect(warned).toEqual([]);
  });
});

describe('optimistic store: the server’s order, and what it is given', () => {
  const ackUnnumbered = (h: Harness, publish: Publish) => h.server.last!.push({ type: 'ack', id: publish.id });

  it('a change acknowledged without a sequence number is confirmed at once: a remote message after it lands on top', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const mine = store.update('a', add('a', 'mine'));
    await h.settle();
    ackUnnumbered(h, server.inbox[0]!);
    await expect(mine).resolves.toMatchObject({ seq: undefined, via: 'ack' });
    server.remote(add('a', 'theirs'));
    expect(store.get('a')).toEqual(['base', 'mine', 'theirs']);
    expect(store.confirmed('a')).toEqual(['base', 'mine', 'theirs']);
    store.dispose();
  });

  it('a change acknowledged or echoed with a sequence number the wire cannot carry (1e400, -1, 1.5) is confirmed at once, its receipt without one', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const odd = ['1e400', '-1', '1.5'];
    for (const [i, seq] of [...odd, ...odd].entries()) {
      const mine = store.update('a', add('a', `m${i}`));
      await h.settle();
      const { id, ch, data } = server.inbox[i]!;
      h.server.last!.push(i < 3 ? `{"type":"ack","id":"${id}","seq":${seq}}` : `{"type":"message","ch":"${ch}","id":"${id}","seq":${seq},"data":${JSON.stringify(data)}}`);
      await expect(mine).resolves.toMatchObject({ seq: undefined, via: i < 3 ? 'ack' : 'echo' });
    }
    expect(store.confirmed('a')).toEqual(['base', 'm0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    store.dispose();
  });

  it('a message numbered with a sequence number the wire cannot carry (1e400) moves no acknowledged change out of the server’s order', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const mine = store.update('a', add('a', 'mine'));
    await h.settle();
    server.ack(server.inbox[0]!, 5);
    await mine;
    h.server.last!.push(`{"type":"message","ch":"${CHANNEL}","seq":1e400,"id":"bob-1","data":{"key":"b","add":"odd"}}`);
    server.messageAt(3, add('a', 'earlier'), 'bob-2');
    expect(store.confirmed('a')).toEqual(['base', 'earlier', 'mine']);
    store.dispose();
  });

  it('the echo of a change acknowledged without a sequence number is not applied a second time', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const mine = store.update('a', add('a', 'mine'));
    await h.settle();
    ackUnnumbered(h, server.inbox[0]!);
    await mine;
    server.echo(server.inbox[0]!, server.nextSeq());
    expect(store.get('a')).toEqual(['base', 'mine']);
    store.dispose();
  });

  it('changes acknowledged out of the server’s order take their places in its order', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const first = store.update('a', add('a', 'first'));
    const second = store.update('a', add('a', 'second'));
    await h.settle();
    server.ack(server.inbox[0]!, 7);
    server.ack(server.inbox[1]!, 6);
    await Promise.all([first, second]);
    server.messageAt(8, add('a', 'later'), 'bob-1');
    expect(store.confirmed('a')).toEqual(['base', 'second', 'first', 'later']);
    store.dispose();
  });

  it('shows and confirms changes acknowledged out of the server’s order in its order before the channel reaches them, with those still unanswered on top', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    const first = store.update('a', add('a', 'first'));
    const second = store.update('a', add('a', 'second'));
    void store.update('a', add('a', 'third')).catch(() => undefined);
    await h.settle();
    server.ack(server.inbox[1]!, 6);
    server.ack(server.inbox[0]!, 7);
    await Promise.all([first, second]);
    expect(store.confirmed('a')).toEqual(['base', 'second', 'first']);
    expect(store.get('a')).toEqual(['base', 'second', 'first', 'third']);
    store.dispose();
  });

  it('a change acknowledged before an earlier one still unanswered is shown under it: the server stored it first', async () => {
    const { h, server, store } = await listStore({ a: ['base'] });
    void store.update('a', add('a', 'first')).catch(() => undefined);
    const second = store.update('a', add('a', 'second'));
    await h.settle();
    server.ack(server.inbox[1]!, 6);
    await second;
    expect([store.confirmed('a'), store.get('a')]).toEqual([['base', 'second'], ['base', 'second', 'first']]);
    store.dispose();
  });

  it('counts an acknowledged change waiting for its place in the channel as pending no longer, for its key or for all', async () => {
    const { h, server, store } = await listStore({ a: [] });
    const mine = store.update('a', add('a', 'mine'));
    await h.settle();
    server.ack(server.inbox[0]!, 9);
    await mine;
    expect([store.pending('a'), store.pending()]).toEqual([0, 0]);
    store.dispose();
  });

  it('holds at most 256 acknowledged changes waiting for their place: the oldest then takes its place at once', async () => {
    const { h, server, store } = await listStore({ a: [] });
    const updates = Array.from({ length: 257 }, (_, i) => store.update('a', add('a', `m${i}`)));
    await h.settle();
    server.inbox.forEach((publish, i) => server.ack(publish, 100 + i));
    await Promise.all(updates);
    server.messageAt(50, add('a', 'earlier'), 'bob-1');
    expect(store.confirmed('a')!.slice(0, 3)).toEqual(['m0', 'earlier', 'm1']);
    store.dispose();
  });

  it('without an event name, messages on the channel apply whatever event they carry', async () => {
    const { h, store } = await listStore({ a: ['base'] });
    h.server.last!.push({ type: 'message', ch: CHANNEL, seq: 1, id: 'bob-1', event: 'list.change', data: add('a', 'theirs') });
    expect(store.get('a')).toEqual(['base', 'theirs']);
    store.dispose();
  });

  it('with an event name, publishes carry it and messages of other events on the channel are ignored', async () => {
    const h = harness();
    const server = channelServer(h);
    await h.connect();
    const store = createOptimisticStore<string[], ListChange>({
      connection: h.connection,
      channel: CHANNEL,
      event: 'list.change',
      key: (change) => change.key,
      initial: { a: ['base'] },
      merge: listMerge,
      fromValue: (value, key) => ({ key, set: value }),
    });
    await h.settle();
    void store.update('a', add('a', 'mine')).catch(() => undefined);
    await h.settle();
    expect(server.inbox.map((p) => (p as unknown as { event?: string }).event)).toEqual(['list.change']);
    h.server.last!.push({ type: 'message', ch: CHANNEL, seq: 1, id: 'bob-1', event: 'cursor.move', data: add('a', 'cursor') });
    h.server.last!.push({ type: 'message', ch: CHANNEL, seq: 2, id: 'bob-2', data: add('a', 'no-event') });
    h.server.last!.push({ type: 'message', ch: CHANNEL, seq: 3, id: 'bob-3', event: 'list.change', data: add('b', 'theirs') });
    expect(store.confirmed('a')).toEqual(['base']);
    expect(store.get('b')).toEqual(['theirs']);
    store.dispose();
  });

  it('refuses an id from createId() that is empty or not a string with InvalidOptionError: nothing is shown or sent', async () => {
    for (const id of ['', 7]) {
      const { h, server, store } = await listStore({ a: [] }, {}, undefined, listMerge, () => id as string);
      await expect(store.update('a', add('a', 'x'))).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION, option: 'createId' });
      await h.settle();
      expect(store.get('a')).toEqual([]);
      expect(server.inbox).toEqual([]);
      store.dispose();
    }
  });

  it('on() with a listener that is not a function is refused at the call, as is subscribe(): nothing throws later when a value moves', async () => {
    const { h, server, store } = await listStore({ a: [] });
    expect(() => store.on('change', undefined as never)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION, option: 'listener' }));
    expect(() => store.subscribe('listener' as never)).toThrow(expect.objectContaining({ option: 'listener' }));
    const rethrown = collectRethrown();
    const update = store.update('a', add('a', 'x'));
    await h.settle();
    server.accept(server.inbox[0]!);
    await update;
    vi.restoreAllMocks();
    expect(rethrown).toEqual([]);
    store.dispose();
  });

  it('names the message it could not apply in the error event', async () => {
    const { server, store } = await todoStore();
    const errors: SocketchartError[] = [];
    store.on('error', (error) => errors.push(error));
    server.remote(null, 'bad-1');
    expect(errors.map((error) => [error.code, error.recovery, error.messageId])).toEqual([[ErrorCode.INVALID_MESSAGE_FORMAT, 'none', 'bad-1']]);
    expect(errors[0]!.message).toContain(CHANNEL);
    store.dispose();
  });

  it('an update of one key whose change belongs to another names both in its error', async () => {
    const { store } = await listStore({ a: [] });
    await expect(store.update('a', add('b', 'x'))).rejects.toMatchObject({
      code: ErrorCode.INVALID_MESSAGE_FORMAT,
      recovery: 'fail',
      details: { key: 'a', owner: 'b' },
      message: 'The change belongs to key "b", not "a"',
    });
    store.dispose();
  });

  it('with values that may be undefined, a change merged into undefined (a delete) takes the key out of the snapshot at once', async () => {
    const h = harness();
    const server = channelServer(h);
    await h.connect();
    const store = createOptimisticStore<string[] | undefined, ListChange>({
      connection: h.connection,
      channel: CHANNEL,
      key: (change) => change.key,
      initial: { a: ['base'], b: ['other'] },
      merge: (current, change) => (change.add === undefined && change.set === undefined ? undefined : listMerge(current, change)),
      fromValue: (value, key) => (value === undefined ? { key } : { key, set: value }),
    });
    await h.settle();
    const deleted = store.update('a', { key: 'a' });
    expect(store.get('a')).toBeUndefined();
    expect([...store.snapshot().keys()]).toEqual(['b']);
    await h.settle();
    server.accept(server.inbox[0]!);
    await deleted;
    expect([...store.snapshot().keys()]).toEqual(['b']);
    store.dispose();
  });

  it('a remote message whose key() names no key is ignored', async () => {
    const { server, store } = await todoStore();
    const changes: unknown[] = [];
    store.subscribe((change) => changes.push(change));
    server.remote({ title: 'no id' });
    expect([...store.snapshot().keys()]).toEqual(['t1']);
    expect(changes).toEqual([]);
    store.dispose();
  });

  it('after dispose, a listener added hears nothing and update() rejects with CLOSED', async () => {
    const { h, server, store } = await listStore({ a: [] });
    store.dispose();
    const heard: unknown[] = [];
    const remove = store.on('change', (change) => heard.push(change));
    server.remote(add('a', 'after'));
    await h.settle();
    expect(heard).toEqual([]);
    remove();
    await expect(store.update('a', add('a', 'x'))).rejects.toMatchObject({ code: ErrorCode.CLOSED, message: 'The optimistic store was disposed' });
  });
});

describe('optimistic store: a local change merge no longer accepts (an edit racing another client\'s delete)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('another client deleting a key while an edit of it is in flight (server-wins): the key shows deleted at once and the edit is given up', async () => {
    const rethrown = collectRethrown();
    const { h, server, store } = await deletableTodoStore();
    const changes: Array<{ key: string; value: unknown }> = [];
    const rollbacks: OptimisticRollbackEvent<TodoChange>[] = [];
    store.subscribe(({ key, value }) => changes.push({ key, value }));
    store.on('rollback', (event) => rollbacks.push(event));
    const edit = watch(store.update('t1', { id: 't1', patch: { done: true } }));
    await h.settle();
    changes.length = 0;
    server.remote({ id: 't1', deleted: true });
    await h.settle();
    expect(store.get('t1')).toBeUndefined();
    expect([...store.snapshot().keys()]).toEqual([]);
    expect(changes).toContainEqual({ key: 't1', value: undefined });
    expect(edit.outcome).toBe('rejected');
    expect(edit.error).toBeInstanceOf(OptimisticConflictError);
    expect(rollbacks.map(({ id, error }) => [id, error])).toEqual([[server.inbox[0]!.id, edit.error]]);
    expect(server.inbox.map((publish) => publish.data)).toEqual([
      { id: 't1', patch: { done: true } },
      { id: 't1', deleted: true },
    ]);
    expect(rethrown).toEqual([]);
    store.dispose();
  });

  it('another client deleting a key while an edit of it is in flight (client-wins): the edit is rolled back with CONFLICT, the exception of merge as its cause', async () => {
    const rethrown = collectRethrown();
    const { h, server, store } = await deletableTodoStore('client-wins');
    const edit = watch(store.update('t1', { id: 't1', patch: { done: true } }));
    await h.settle();
    server.remote({ id: 't1', deleted: true });
    await h.settle();
    expect(store.get('t1')).toBeUndefined();
    expect(edit).toMatchObject({ outcome: 'rejected', error: { code: ErrorCode.CONFLICT, messageId: server.inbox[0]!.id, cause: expect.any(RangeError) } });
    expect(rethrown).toEqual([]);
    store.dispose();
  });

  it('once the server has stored the edit of a deleted key anyway, the snapshot agrees with get(): no ghost entry is left', async () => {
    const rethrown = collectRethrown();
    const { h, server, store } = await deletableTodoStore();
    void store.update('t1', { id: 't1', patch: { done: true } }).catch(() => undefined);
    await h.settle();
    const rendered: Array<ReadonlyMap<string, unknown>> = [store.snapshot()];
    store.subscribe(() => rendered.push(store.snapshot()));
    server.remote({ id: 't1', deleted: true });
    await h.settle();
    rendered.push(store.snapshot()); // a render between the two messages, as useSyncExternalStore does
    for (const publish of server.inbox.splice(0)) server.accept(publish);
    await h.settle();
    expect(store.get('t1')).toBeUndefined();
    expect([...store.snapshot().keys()]).toEqual([]);
    expect([...rendered.at(-1)!.keys()]).toEqual([]);
    expect(rethrown).toEqual([]);
    store.dispose();
  });

  it('an acknowledged edit waiting for its place, whose key an earlier message deletes, is skipped as an error event when it takes its place: a later message of another key still applies', async () => {
    const rethrown = collectRethrown();
    const { h, server, store } = await deletableTodoStore();
    const errors: SocketchartError[] = [];
    store.on('error', (error) => errors.push(error));
    const edit = store.update('t1', { id: 't1', patch: { done: true } });
    await h.settle();
    server.ack(server.inbox[0]!, 2);
    await edit;
    server.messageAt(1, { id: 't1', deleted: true }, 'bob-1');
    expect(store.get('t1')).toBeUndefined();
    expect(store.confirmed('t1')).toBeUndefined();
    server.messageAt(3, { id: 't2', set: { id: 't2', title: 'new' } }, 'bob-2');
    expect(store.get('t2')).toEqual({ id: 't2', title: 'new' });
    expect(store.get('t1')).toBeUndefined();
    expect([...store.snapshot().keys()]).toEqual(['t2']);
    expect(errors.map((error) => [error.code, error.messageId, (error.cause as Error).constructor.name])).toEqual([
      [ErrorCode.INVALID_MESSAGE_FORMAT, server.inbox[0]!.id, 'RangeError'],
    ]);
    expect(rethrown).toEqual([]);
    store.dispose();
  });

  it('the ack of an edit whose key another client deleted meanwhile (client-wins) throws nothing into the connection', async () => {
    const rethrown = collectRethrown();
    const { h, server, store } = await deletableTodoStore('client-wins');
    void store.update('t1', { id: 't1', patch: { done: true } }).catch(() => undefined);
    await h.settle();
    server.remote({ id: 't1', deleted: true });
    await h.settle();
    server.ack(server.inbox[0]!, server.nextSeq());
    await h.settle();
    await h.settle();
    expect(store.get('t1')).toBeUndefined();
    expect(rethrown).toEqual([]);
    store.dispose();
  });

  it('an edit made on top of a create the server refuses is rolled back with it', async () => {
    const rethrown = collectRethrown();
    const { h, server, store } = await deletableTodoStore();
    const created = watch(store.update('t9', { id: 't9', set: { id: 't9', title: 'new' } }));
    const edited = watch(store.update('t9', { id: 't9', patch: { done: true } }));
    await h.settle();
    expect(store.get('t9')).toEqual({ id: 't9', title: 'new', done: true });
    server.refuse(server.inbox[0]!);
    await h.settle();
    expect(created).toMatchObject({ outcome: 'rejected', error: { code: ErrorCode.AUTHORIZATION_FAILED } });
    expect(edited).toMatchObject({ outcome: 'rejected', error: { code: ErrorCode.CONFLICT } });
    expect(store.get('t9')).toBeUndefined();
    expect(store.pending()).toBe(0);
    expect(rethrown).toEqual([]);
    store.dispose();
  });

  it('the refused create is rolled back before the edit made on top of it: rollback events and rejections come in the order the changes were made', async () => {
    const { h, server, store } = await deletableTodoStore();
    const order: string[] = [];
    store.on('rollback', ({ change, error }) => order.push(`rollback ${change.set ? 'create' : 'edit'} ${error.code}`));
    store.update('t9', { id: 't9', set: { id: 't9', title: 'new' } }).catch(() => order.push('create rejected'));
    store.update('t9', { id: 't9', patch: { done: true } }).catch(() => order.push('edit rejected'));
    await h.settle();
    server.refuse(server.inbox[0]!);
    await h.settle();
    expect(order).toEqual([`rollback create ${ErrorCode.AUTHORIZATION_FAILED}`, `rollback edit ${ErrorCode.CONFLICT}`, 'create rejected', 'edit rejected']);
    store.dispose();
  });

  it("a conflict resolved as 'theirs' gives up the changes in flight in the order they were made: one merge refuses on top of theirs after the one it was made on", async () => {
    // `-x` removes x, and throws when there is none
    const merge: MergeChange<string[], ListChange> = (current, change) => {
      if (change.set) return change.set;
      const item = change.add ?? '';
      if (!item.startsWith('-')) return [...(current ?? []), item];
      if (!current?.includes(item.slice(1))) throw new RangeError(`no ${item.slice(1)} to remove`);
      return current.filter((kept) => kept !== item.slice(1));
    };
    const { h, server, store } = await listStore({ a: ['base', 'x'] }, {}, 'server-wins', merge);
    const order: string[] = [];
    store.on('rollback', ({ change }) => order.push(`rollback ${change.add}`));
    store.update('a', add('a', 'y')).catch((error: unknown) => order.push(`y rejected ${(error as Error).constructor.name}`));
    store.update('a', add('a', '-x')).catch((error: unknown) => order.push(`-x rejected ${(error as Error).constructor.name}`));
    await h.settle();
    expect(store.get('a')).toEqual(['base', 'y']);
    server.remote({ key: 'a', set: ['base'] }); // another client removed x
    await h.settle();
    expect(store.get('a')).toEqual(['base']);
    expect(order).toEqual(['rollback -x', 'y rejected OptimisticConflictError', '-x rejected OptimisticConflictError']);
    store.dispose();
  });
});
