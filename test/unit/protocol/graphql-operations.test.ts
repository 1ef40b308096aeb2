import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ErrorCode, InvalidOptionError, SocketchartError, type OperationSink } from '../../../src/index.js';
import { graphql, reconnect, socketOf, subscribesPerSocket } from '../../support/graphql-mock.js';
import { recordingSink as recorder } from '../../support/operation-sink.js';
import { failWrites } from '../../support/writing-sockets.js';

const query = { query: '{ hello }' };
const subscription = { query: 'subscription { ticks }' };
const big = (bytes: number) => ({ query: 'mutation ($blob: String!) { upload(blob: $blob) }', variables: { blob: 'x'.repeat(bytes) } });

/** How a promise stands once pending callbacks have run: 'pending', 'resolved' or the code it rejected with. */
async function standing(promise: Promise<unknown>): Promise<string> {
  let state = 'pending';
  promise.then(
    () => (state = 'resolved'),
    (error: { code?: string }) => (state = `rejected ${error?.code}`),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return state;
}

describe('graphql-transport-ws operations started with send(payload, { channel })', () => {
  it('a query the server completed is not run again after a reconnect', async () => {
    const { h, gql } = graphql();
    const results: unknown[] = [];
    h.connection.subscribe('q1', (data) => results.push(data));
    await h.connect();
    await h.connection.send(query, { channel: 'q1' });
    socketOf(h).push({ type: 'next', id: 'q1', payload: { data: { hello: 'world' } } });
    socketOf(h).push({ type: 'complete', id: 'q1' });
    await reconnect(h);
    expect(h.connection.status).toBe('connected');
    expect(results).toEqual([{ data: { hello: 'world' } }]);
    expect(gql.subscribes).toEqual([{ type: 'subscribe', id: 'q1', payload: query }]);
  });

  it('an operation the server failed is not run again after a reconnect', async () => {
    const { h, gql } = graphql();
    h.connection.subscribe('q1', () => {});
    await h.connect();
    await h.connection.send(query, { channel: 'q1' });
    socketOf(h).push({ type: 'error', id: 'q1', payload: [{ message: 'Cannot query field "hello"' }] });
    await reconnect(h);
    expect(gql.subscribes).toHaveLength(1);
    const serverErrors = h.errors.filter((error) => error.code === ErrorCode.SERVER_ERROR);
    expect(serverErrors.map((error) => [error.messageId, error.recovery])).toEqual([['q1', 'none']]);
  });

  it('an operation sent while the fast path is closed (socket backed up, then dropped) is written once per socket, never twice', async () => {
    const { h } = graphql({ queue: { highWaterMark: 10 } });
    h.connection.subscribe('s1', () => {});
    await h.connect();
    socketOf(h).bufferedAmount = 1_000;
    void h.connection.send(subscription, { channel: 's1' });
    await h.advance(50);
    await reconnect(h);
    await h.advance(50);
    expect(h.connection.status).toBe('connected');
    expect(subscribesPerSocket(h, 's1')).toEqual({ 1: 1, 2: 1 });
  });

  it('send() before subscribe() starts an operation that is restarted while it is live', async () => {
    const { h } = graphql();
    await h.connect();
    await h.connection.send(subscription, { channel: 's1' });
    await reconnect(h);
    expect(subscribesPerSocket(h, 's1')).toEqual({ 1: 1, 2: 1 });
    const results: unknown[] = [];
    h.connection.subscribe('s1', (data) => results.push(data));
    socketOf(h).push({ type: 'next', id: 's1', payload: { data: { ticks: 1 } } });
    expect(results).toEqual([{ data: { ticks: 1 } }]);
  });

  it('the last listener leaving ends the operation: complete is written and it is not restarted', async () => {
    const { h, gql } = graphql();
    const off = h.connection.subscribe('s1', () => {});
    await h.connect();
    await h.connection.send(subscription, { channel: 's1' });
    off();
    expect(gql.completes).toEqual([{ type: 'complete', id: 's1' }]);
    await reconnect(h);
    expect(subscribesPerSocket(h, 's1')).toEqual({ 1: 1 });
  });

  it('a second send() for a live operation id is refused, nothing written', async () => {
    const { h, gql } = graphql();
    await h.connect();
    await h.connection.send(subscription, { channel: 's1' });
    await expect(h.connection.send(subscription, { channel: 's1' })).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT, messageId: 's1' });
    expect(gql.subscribes).toHaveLength(1);
  });

  it('request() rejects at once (the protocol has no acks): nothing is written, nothing retried', async () => {
    const { h, gql } = graphql({ acks: { timeoutMs: 1_000, maxAttempts: 3 } });
    await h.connect();
    const failure = h.connection.request(query, { channel: 'r1' }).catch((error: unknown) => error);
    expect(await failure).toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT, recovery: 'fail' });
    expect((await failure as SocketchartError).message).toBe(
      'The graphql-transport-ws protocol has no acknowledgements (ack: true, request()): execute() runs a query or mutation and resolves with its result',
    );
    await h.advance(5_000);
    expect(gql.subscribes).toEqual([]);
  });

  it('send() without a channel is refused: the protocol carries operations only', async () => {
    const { h } = graphql();
    await h.connect();
    await expect(h.connection.send({ hello: 1 })).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT });
    expect(socketOf(h).sent.map((frame) => frame.json?.type)).toEqual(['connection_init']);
  });
});

describe('execute(): one-shot operations', () => {
  it('resolves with the result; the operation is written once and never again', async () => {
    const { h, gql } = graphql();
    await h.connect();
    const result = h.connection.execute(query, { id: 'q' });
    expect(gql.subscribes).toEqual([{ type: 'subscribe', id: 'q', payload: query }]);
    socketOf(h).push({ type: 'next', id: 'q', payload: { data: { hello: 'world' } } });
    socketOf(h).push({ type: 'complete', id: 'q' });
    await expect(result).resolves.toEqual({ data: { hello: 'world' } });
    await reconnect(h);
    expect(gql.subscribes).toHaveLength(1);
    expect(gql.completes).toEqual([]);
  });

  it('a next frame without a result object is reported and settles nothing; the result that follows does', async () => {
    const { h } = graphql();
    await h.connect();
    const result = h.connection.execute(query, { id: 'q' });
    socketOf(h).push({ type: 'next', id: 'q', payload: null });
    expect(await standing(result)).toBe('pending');
    expect(h.errors).toMatchObject([{ code: ErrorCode.INVALID_MESSAGE_FORMAT, recovery: 'none' }]);
    socketOf(h).push({ type: 'next', id: 'q', payload: { data: { hello: 'world' } } });
    await expect(result).resolves.toEqual({ data: { hello: 'world' } });
    expect(h.connection.status).toBe('connected');
  });

  it('started before the link is up, it is written once the server acknowledged connection_init', async () => {
    const { h, gql } = graphql();
    gql.ack = false;
    const result = h.connection.execute(query, { id: 'q' });
    h.connection.start();
    await h.settle();
    expect(socketOf(h).sent.map((frame) => frame.json?.type)).toEqual(['connection_init']);
    socketOf(h).push({ type: 'connection_ack' });
    await h.settle();
    expect(gql.subscribes).toHaveLength(1);
    socketOf(h).push({ type: 'next', id: 'q', payload: { data: {} } });
    await expect(result).resolves.toEqual({ data: {} });
  });

  it('a result that arrived, then a drop before complete: not run again', async () => {
    const { h, gql } = graphql();
    await h.connect();
    const result = h.connection.execute(query, { id: 'q' });
    socketOf(h).push({ type: 'next', id: 'q', payload: { data: { n: 1 } } });
    await expect(result).resolves.toEqual({ data: { n: 1 } });
    await reconnect(h);
    expect(gql.subscribes).toHaveLength(1);
  });

  it('in flight when the link drops: written again, once, on the next socket, and resolves there', async () => {
    const { h } = graphql();
    await h.connect();
    const result = h.connection.execute(query, { id: 'q' });
    await reconnect(h);
    expect(subscribesPerSocket(h, 'q')).toEqual({ 1: 1, 2: 1 });
    socketOf(h).push({ type: 'next', id: 'q', payload: { data: { n: 2 } } });
    await expect(result).resolves.toEqual({ data: { n: 2 } });
  });

  it('restart: false — in flight when the link drops, it rejects with NETWORK_ERROR and is not written again', async () => {
    const { h } = graphql();
    await h.connect();
    const result = h.connection.execute({ query: 'mutation { pay }' }, { id: 'm', restart: false }).catch((error: unknown) => error);
    socketOf(h).drop();
    await h.settle();
    expect(await result).toMatchObject({ code: ErrorCode.NETWORK_ERROR, messageId: 'm', recovery: 'fail' });
    await h.advance(h.connection.snapshot.context.retryDelayMs);
    expect(subscribesPerSocket(h, 'm')).toEqual({ 1: 1 });
  });

  it('restart: false — not yet written when the link drops, it is written on the next socket', async () => {
    const { h } = graphql();
    const result = h.connection.execute({ query: 'mutation { pay }' }, { id: 'm', restart: false });
    await h.connect();
    socketOf(h).push({ type: 'next', id: 'm', payload: { data: { pay: true } } });
    await expect(result).resolves.toEqual({ data: { pay: true } });
  });

  it('rejects with the server error (its GraphQL errors in details), and only that: the connection\'s on(error) is for the connection', async () => {
    const { h } = graphql();
    await h.connect();
    const result = h.connection.execute(query, { id: 'q' }).catch((error: unknown) => error);
    socketOf(h).push({ type: 'error', id: 'q', payload: [{ message: 'Syntax Error: Expected Name' }] });
    const error = (await result) as SocketchartError;
    expect(error).toMatchObject({ code: ErrorCode.SERVER_ERROR, messageId: 'q', recovery: 'fail', details: [{ message: 'Syntax Error: Expected Name' }] });
    expect(error.message).toBe('GraphQL operation q failed: Syntax Error: Expected Name');
    expect(h.errors).toHaveLength(0);
    expect(h.connection.status).toBe('connected');
  });

  it('a complete with no result rejects', async () => {
    const { h } = graphql();
    await h.connect();
    const result = h.connection.execute(query, { id: 'q' });
    socketOf(h).push({ type: 'complete', id: 'q' });
    await expect(result).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT, message: 'Operation q completed without a result' });
  });

  it('a subscription run with execute() resolves with its first result; a second result stops it (complete, once)', async () => {
    const { h, gql } = graphql();
    await h.connect();
    const result = h.connection.execute(subscription, { id: 's' });
    socketOf(h).push({ type: 'next', id: 's', payload: { data: { ticks: 1 } } });
    await expect(result).resolves.toEqual({ data: { ticks: 1 } });
    expect(gql.completes).toEqual([]);
    socketOf(h).push({ type: 'next', id: 's', payload: { data: { ticks: 2 } } });
    socketOf(h).push({ type: 'next', id: 's', payload: { data: { ticks: 3 } } });
    expect(gql.completes).toEqual([{ type: 'complete', id: 's' }]);
  });

  it('stop() of the connection rejects pending ones with CLOSED; afterwards execute() rejects with CLOSED', async () => {
    const { h } = graphql();
    await h.connect();
    const result = h.connection.execute(query).catch((error: unknown) => error);
    h.connection.stop();
    await h.settle();
    expect(await result).toMatchObject({ code: ErrorCode.CLOSED });
    await expect(h.connection.execute(query)).rejects.toMatchObject({ code: ErrorCode.CLOSED });
  });

  it('an aborted signal rejects with its reason; an already aborted one writes nothing', async () => {
    const { h, gql } = graphql();
    await h.connect();
    const controller = new AbortController();
    const result = h.connection.execute(query, { id: 'q', signal: controller.signal }).catch((error: unknown) => error);
    const reason = new Error('gone');
    controller.abort(reason);
    expect(await result).toBe(reason);
    expect(gql.completes).toEqual([{ type: 'complete', id: 'q' }]);
    await expect(h.connection.execute(query, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(gql.subscribes).toHaveLength(1);
  });

  it('leaves no listener on a signal it was given once it settles, however it settles', async () => {
    const { h } = graphql();
    await h.connect();
    const signal = new AbortController().signal;
    const resolved = h.connection.execute(query, { id: 'ok', signal });
    const rejected = h.connection.execute(query, { id: 'bad', signal });
    expect(getEventListeners(signal, 'abort')).toHaveLength(2);
    socketOf(h).push({ type: 'next', id: 'ok', payload: { data: { hello: 'world' } } });
    socketOf(h).push({ type: 'error', id: 'bad', payload: [{ message: 'no' }] });
    await resolved;
    await rejected.catch(() => {});
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('ids are fresh and unique; a live id is refused; bad options are typed errors', async () => {
    const { h, gql } = graphql();
    await h.connect();
    void h.connection.execute(query);
    void h.connection.execute(query);
    expect(gql.subscribes.map((frame) => frame.id)).toEqual(['op-1', 'op-2']);
    await expect(h.connection.execute(query, { id: 'op-1' })).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT, message: 'Operation op-1 is already running' });
    await expect(h.connection.execute(query, { id: '' })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(h.connection.execute(query, { restart: 'yes' as unknown as boolean })).rejects.toMatchObject({ option: 'restart' });
    await expect(h.connection.execute(query, { signal: {} as AbortSignal })).rejects.toMatchObject({ option: 'signal' });
    await expect(h.connection.execute({ query: '{ a }', variables: [1] })).rejects.toMatchObject({ message: '`variables` of a GraphQL operation must be an object' });
    await expect(h.connection.execute('{ a }')).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT });
    expect(gql.subscribes).toHaveLength(2);
  });
});

describe('operation(): streams with a sink', () => {
  it('results go to next; restarted after a reconnect while live; complete ends it for good', async () => {
    const { h } = graphql();
    const { seen, sink } = recorder();
    await h.connect();
    h.connection.operation(subscription, sink, { id: 's' });
    socketOf(h).push({ type: 'next', id: 's', payload: { n: 1 } });
    await reconnect(h);
    socketOf(h).push({ type: 'next', id: 's', payload: { n: 2 } });
    socketOf(h).push({ type: 'complete', id: 's' });
    socketOf(h).push({ type: 'next', id: 's', payload: { n: 3 } });
    await reconnect(h);
    expect(seen).toEqual(['next {"n":1}', 'next {"n":2}', 'complete']);
    expect(subscribesPerSocket(h, 's')).toEqual({ 1: 1, 2: 1 });
  });

  it('stop() writes complete once, calls complete, and the operation is not restarted', async () => {
    const { h, gql } = graphql();
    const { seen, sink } = recorder();
    await h.connect();
    const stop = h.connection.operation(subscription, sink, { id: 's' });
    stop();
    stop();
    expect(gql.completes).toEqual([{ type: 'complete', id: 's' }]);
    expect(seen).toEqual(['complete']);
    await reconnect(h);
    expect(subscribesPerSocket(h, 's')).toEqual({ 1: 1 });
  });

  it('stopped before it was written, nothing is written at all', async () => {
    const { h } = graphql();
    const stop = h.connection.operation(subscription, { next: () => {} }, { id: 's' });
    stop();
    await h.connect();
    expect(socketOf(h).sent.map((frame) => frame.json?.type)).toEqual(['connection_init']);
  });

  it('the connection failing (4403) or being disposed ends operations with CLOSED', async () => {
    const { h } = graphql();
    const first = recorder();
    await h.connect();
    h.connection.operation(subscription, first.sink);
    socketOf(h).closeFromServer(4403, 'Forbidden');
    await h.settle();
    expect(h.connection.status).toBe('failed');
    expect(first.seen).toEqual([`error ${ErrorCode.CLOSED}`]);

    const other = graphql();
    const second = recorder();
    await other.h.connect();
    other.h.connection.operation(subscription, second.sink);
    other.h.connection.dispose();
    expect(second.seen).toEqual([`error ${ErrorCode.CLOSED}`]);
  });

  it('a sink without next, or with a next that is not a function, is an InvalidOptionError', async () => {
    const { h } = graphql();
    expect(() => h.connection.operation(subscription, {} as OperationSink)).toThrow(InvalidOptionError);
    for (const sink of [null, undefined, 'next', () => {}]) {
      expect(() => h.connection.operation(subscription, sink as unknown as OperationSink)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION, option: 'sink' }));
    }
    expect(() => h.connection.operation(subscription, { next: () => {}, error: 1 } as unknown as OperationSink)).toThrow(/sink\.error/);
  });
});

describe('iterate(): results as an async iterator', () => {
  it('yields results in order to concurrent next() calls, then ends on complete', async () => {
    const { h } = graphql();
    await h.connect();
    const iterator = h.connection.iterate(subscription, { id: 's' });
    const first = iterator.next();
    const second = iterator.next();
    socketOf(h).push({ type: 'next', id: 's', payload: { n: 1 } });
    socketOf(h).push({ type: 'next', id: 's', payload: { n: 2 } });
    socketOf(h).push({ type: 'next', id: 's', payload: { n: 3 } });
    socketOf(h).push({ type: 'complete', id: 's' });
    expect(await first).toEqual({ value: { n: 1 }, done: false });
    expect(await second).toEqual({ value: { n: 2 }, done: false });
    expect(await iterator.next()).toEqual({ value: { n: 3 }, done: false });
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  /** An iteration that has read its one result, a server error ("boom") having arrived after it. */
  async function failedAfterOneResult() {
    const { h } = graphql();
    await h.connect();
    const iterator = h.connection.iterate(subscription, { id: 's' });
    socketOf(h).push({ type: 'next', id: 's', payload: { n: 1 } });
    socketOf(h).push({ type: 'error', id: 's', payload: [{ message: 'boom' }] });
    expect(await iterator.next()).toEqual({ value: { n: 1 }, done: false });
    return iterator;
  }

  it('throws the server error after the results that came before it', async () => {
    const iterator = await failedAfterOneResult();
    await expect(iterator.next()).rejects.toMatchObject({ code: ErrorCode.SERVER_ERROR, message: 'GraphQL operation s failed: boom' });
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('return() ends it with done, also when a server error had arrived and was not read yet', async () => {
    const iterator = await failedAfterOneResult();
    expect(await iterator.return!()).toEqual({ value: undefined, done: true });
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('an aborted signal ends the iteration with its reason and stops the operation', async () => {
    const { h, gql } = graphql();
    await h.connect();
    const controller = new AbortController();
    const iterator = h.connection.iterate(subscription, { id: 's', signal: controller.signal });
    const pending = iterator.next();
    const reason = new Error('left the page');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    expect(gql.completes).toEqual([{ type: 'complete', id: 's' }]);
  });

  it('an aborted signal drops the results not read yet: the next read rejects with its reason', async () => {
    const { h } = graphql();
    await h.connect();
    const controller = new AbortController();
    const iterator = h.connection.iterate(subscription, { id: 's', signal: controller.signal });
    socketOf(h).push({ type: 'next', id: 's', payload: { n: 1 } });
    socketOf(h).push({ type: 'next', id: 's', payload: { n: 2 } });
    const reason = new Error('left the page');
    controller.abort(reason);
    await expect(iterator.next()).rejects.toBe(reason);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('leaves no listener on the signal once the iteration is over: completed, failed or broken off', async () => {
    const { h } = graphql();
    await h.connect();
    const signal = new AbortController().signal;
    const completed = h.connection.iterate(subscription, { id: 'c', signal });
    const failed = h.connection.iterate(subscription, { id: 'f', signal });
    const broken = h.connection.iterate(subscription, { id: 'b', signal });
    expect(getEventListeners(signal, 'abort')).toHaveLength(3);
    socketOf(h).push({ type: 'complete', id: 'c' });
    socketOf(h).push({ type: 'error', id: 'f', payload: [{ message: 'no' }] });
    await broken.return!();
    expect(await completed.next()).toEqual({ value: undefined, done: true });
    await expect(failed.next()).rejects.toMatchObject({ code: ErrorCode.SERVER_ERROR });
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('leaves no listener on the signal when the iteration ends as it starts (its write breaks the socket, and the app stops then)', async () => {
    const { h } = graphql();
    await h.connect();
    h.connection.on('state', ({ status }) => status === 'reconnecting' && h.connection.stop());
    const signal = new AbortController().signal;
    failWrites(socketOf(h));
    const iterator = h.connection.iterate(subscription, { id: 's', signal });
    await expect(iterator.next()).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('an already aborted signal throws its reason at the call, and nothing is written', async () => {
    const { h, gql } = graphql();
    await h.connect();
    const reason = new Error('never mind');
    expect(() => h.connection.iterate(subscription, { signal: AbortSignal.abort(reason) })).toThrow(reason);
    expect(gql.subscribes).toEqual([]);
  });

  it('break stops the operation on the server', async () => {
    const { h, gql } = graphql();
    await h.connect();
    const iterator = h.connection.iterate(subscription, { id: 's' });
    queueMicrotask(() => socketOf(h).push({ type: 'next', id: 's', payload: { n: 1 } }));
    for await (const result of iterator) {
      expect(result).toEqual({ n: 1 });
      break;
    }
    expect(gql.completes).toEqual([{ type: 'complete', id: 's' }]);
    await reconnect(h);
    expect(subscribesPerSocket(h, 's')).toEqual({ 1: 1 });
  });
});

describe('iterate(): a reader that falls behind', () => {
  const push = (h: Parameters<typeof socketOf>[0], from: number, to: number) => {
    for (let n = from; n <= to; n++) socketOf(h).push({ type: 'next', id: 's', payload: { n } });
  };
  const read = async (iterator: AsyncIterableIterator<unknown>, count: number) => {
    const values: unknown[] = [];
    for (let i = 0; i < count; i++) values.push((await iterator.next()).value);
    return values;
  };

  it('bufferSize results waiting end it with QUEUE_OVERFLOW after those results, and stop the operation on the server', async () => {
    const { h, gql } = graphql();
    await h.connect();
    const iterator = h.connection.iterate(subscription, { id: 's', bufferSize: 3 });
    push(h, 1, 4);
    expect(gql.completes).toEqual([{ type: 'complete', id: 's' }]);
    expect(await read(iterator, 3)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    await expect(iterator.next()).rejects.toMatchObject({ code: ErrorCode.QUEUE_OVERFLOW, details: { bufferSize: 3 } });
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('holds 1000 results by default', async () => {
    const { h, gql } = graphql();
    await h.connect();
    const iterator = h.connection.iterate(subscription, { id: 's' });
    push(h, 1, 1_000);
    expect(gql.completes).toEqual([]);
    push(h, 1_001, 1_001);
    expect(gql.completes).toEqual([{ type: 'complete', id: 's' }]);
    await iterator.return!();
  });

  it("overflow 'drop-oldest' keeps the newest bufferSize results; 'drop-newest' the first ones; the operation goes on", async () => {
    const { h, gql } = graphql();
    await h.connect();
    const oldest = h.connection.iterate(subscription, { id: 's', bufferSize: 2, overflow: 'drop-oldest' });
    push(h, 1, 4);
    expect(await read(oldest, 2)).toEqual([{ n: 3 }, { n: 4 }]);
    await oldest.return!();
    const newest = h.connection.iterate(subscription, { id: 's', bufferSize: 2, overflow: 'drop-newest' });
    push(h, 1, 4);
    expect(await read(newest, 2)).toEqual([{ n: 1 }, { n: 2 }]);
    push(h, 5, 5);
    expect(await read(newest, 1)).toEqual([{ n: 5 }]);
    expect(gql.completes).toEqual([{ type: 'complete', id: 's' }]);
    await newest.return!();
  });

  it('a reader waiting in next() takes results as they come, whatever their number', async () => {
    const { h, gql } = graphql();
    await h.connect();
    const iterator = h.connection.iterate(subscription, { id: 's', bufferSize: 1 });
    for (let n = 1; n <= 5; n++) {
      const next = iterator.next();
      push(h, n, n);
      expect(await next).toEqual({ value: { n }, done: false });
    }
    expect(gql.completes).toEqual([]);
    await iterator.return!();
  });

  it('a bufferSize or overflow that is not one is an InvalidOptionError', async () => {
    const { h } = graphql();
    await h.connect();
    expect(() => h.connection.iterate(subscription, { bufferSize: 0 })).toThrow(InvalidOptionError);
    expect(() => h.connection.iterate(subscription, { overflow: 'drop-all' as never })).toThrow(/overflow/);
  });
});

describe('operations on a protocol without them', () => {
  it('jsonProtocol: operation(), iterate() and execute() are refused with an InvalidOptionError naming the protocol', async () => {
    const { harness } = await import('../../support/harness.js');
    const h = harness();
    expect(() => h.connection.operation(query, { next: () => {} })).toThrow(
      'Invalid option `protocol`: expected a protocol with operations (such as graphqlTransportWsProtocol()) for operation(), received "socketchart.v1"',
    );
    expect(() => h.connection.iterate(query)).toThrow(InvalidOptionError);
    await expect(h.connection.execute(query)).rejects.toBeInstanceOf(InvalidOptionError);
  });
});

describe('a sink that throws', () => {
  it('does not break the data plane: later frames and other operations are still delivered', async () => {
    const { h } = graphql();
    await h.connect();
    const thrown: unknown[] = [];
    const onError = (error: unknown) => thrown.push(error);
    process.on('uncaughtException', onError);
    try {
      const other: unknown[] = [];
      h.connection.operation(subscription, { next: () => { throw new Error('app bug'); } }, { id: 'bad' });
      h.connection.operation(subscription, { next: (result) => other.push(result) }, { id: 'good' });
      socketOf(h).push({ type: 'next', id: 'bad', payload: { n: 1 } });
      socketOf(h).push({ type: 'next', id: 'good', payload: { n: 2 } });
      await h.settle();
      expect(other).toEqual([{ n: 2 }]);
      expect(thrown).toEqual([new Error('app bug')]);
      expect(h.connection.status).toBe('connected');
    } finally {
      process.off('uncaughtException', onError);
    }
  });
});

describe('send(payload, { channel, signal }) on a protocol with operations', () => {
  it('aborted while waiting for the link: rejects with the reason and is never written', async () => {
    const { h, gql } = graphql({ heartbeat: false });
    const reason = new Error('given up');
    const controller = new AbortController();
    const sent = h.connection.send({ query: 'subscription { ticks }' }, { channel: 'op-ticks', signal: controller.signal });
    let outcome: unknown = 'pending';
    sent.then(
      () => (outcome = 'resolved'),
      (error) => (outcome = error),
    );
    controller.abort(reason);
    await h.connect();
    await h.settle();
    expect(gql.subscribes.map((s) => s.id)).toEqual([]);
    expect(outcome).toBe(reason);
  });
});

describe('operations across stop() and a dropping link', () => {
  const mutation = { query: 'mutation { pay }' };

  it('stop() ends an execute({ restart: false }) in flight with CLOSED, not NETWORK_ERROR', async () => {
    const { h, gql } = graphql();
    await h.connect();
    const result = h.connection.execute(mutation, { restart: false }).then(
      () => 'resolved',
      (error: SocketchartError) => error.code,
    );
    await h.settle();
    expect(gql.subscribes).toHaveLength(1);
    h.connection.stop();
    await h.advance(5_000);
    expect(h.connection.status).toBe('closed');
    expect(await result).toBe(ErrorCode.CLOSED);
  });

  it('stop() tells an operation({ restart: false }) sink CLOSED, and a start() after it does not run the operation again', async () => {
    const { h, gql } = graphql();
    await h.connect();
    const { seen, sink } = recorder();
    h.connection.operation(mutation, sink, { restart: false, id: 'pay' });
    await h.settle();
    h.connection.stop();
    h.connection.start();
    await h.advance(5_000);
    expect(h.connection.status).toBe('connected');
    expect(seen).toEqual(['error CLOSED']);
    expect(gql.subscribes.filter((frame) => frame.id === 'pay')).toHaveLength(1);
  });

  it('an execute() made from an operation\'s error callback while stop() ends them all rejects with CLOSED instead of hanging', async () => {
    const { h } = graphql({ closeTimeoutMs: 500 });
    await h.connect();
    let retry: Promise<unknown> | undefined;
    let thrown: unknown;
    h.connection.operation(subscription, {
      next: () => {},
      error: () => {
        try {
          retry = h.connection.execute(query).then(
            () => 'resolved',
            (error: SocketchartError) => error.code,
          );
        } catch (error) {
          thrown = error;
        }
      },
    });
    await h.settle();
    h.connection.stop();
    await h.advance(60_000);
    expect(h.connection.status).toBe('closed');
    if (retry) expect(await retry).toBe(ErrorCode.CLOSED);
    else expect(thrown).toMatchObject({ code: ErrorCode.CLOSED });
  });

  it('a restart: false mutation started in a NETWORK_ERROR callback while the link drops is written once, on the next socket', async () => {
    const { h, gql } = graphql({ heartbeat: { intervalMs: 1_000, timeoutMs: 500 } });
    await h.connect();
    gql.pong = false;
    let retried = false;
    h.connection.operation(
      mutation,
      {
        next: () => {},
        error: (error) => {
          if (retried || error.code !== ErrorCode.NETWORK_ERROR) return;
          retried = true;
          h.connection.operation(mutation, { next: () => {} }, { id: 'retry', restart: false });
        },
      },
      { id: 'first', restart: false },
    );
    await h.settle();
    await h.advance(1_000);
    await h.advance(500);
    expect(retried).toBe(true);
    gql.pong = true;
    for (let i = 0; i < 10; i++) await h.advance(1_000);
    expect(h.connection.status).toBe('connected');
    expect(subscribesPerSocket(h, 'retry')).toEqual({ 2: 1 });
  });

  it('subscribe(id) and unsubscribe on the id of an operation() with its own sink leave the operation running on the server', async () => {
    const { h, gql } = graphql();
    await h.connect();
    const { seen, sink } = recorder();
    h.connection.operation(subscription, sink, { id: 's1' });
    await h.settle();
    const tapped: unknown[] = [];
    const off = h.connection.subscribe('s1', (data) => tapped.push(data));
    socketOf(h).push({ type: 'next', id: 's1', payload: { n: 1 } });
    off();
    await h.settle();
    socketOf(h).push({ type: 'next', id: 's1', payload: { n: 2 } });
    expect(gql.completes.filter((frame) => frame.id === 's1')).toEqual([]);
    expect(tapped).toEqual([{ n: 1 }]);
    expect(seen).toEqual(['next {"n":1}', 'next {"n":2}']);
  });
});

describe('operations too large', () => {
  it('execute() refuses an operation larger than maxMessageBytes with MESSAGE_TOO_LARGE, as send() does, and writes nothing', async () => {
    const { h, gql } = graphql({ maxMessageBytes: 1_000 });
    await h.connect();
    await expect(h.connection.send(big(5_000), { channel: 'viaSend' })).rejects.toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE });
    const result = h.connection.execute(big(5_000), { id: 'viaExecute' });
    result.catch(() => {});
    await h.settle();
    expect(await standing(result)).toBe(`rejected ${ErrorCode.MESSAGE_TOO_LARGE}`);
    await expect(result).rejects.toMatchObject({ messageId: 'viaExecute', details: { limit: 1_000 } });
    expect(gql.subscribes).toEqual([]);
  });

  it('operation() refuses a payload larger than maxMessageBytes with MESSAGE_TOO_LARGE instead of writing it', async () => {
    const { h, gql } = graphql({ maxMessageBytes: 1_000 });
    await h.connect();
    expect(() => h.connection.operation(big(5_000), { next: () => {} })).toThrow(expect.objectContaining({ code: ErrorCode.MESSAGE_TOO_LARGE }));
    expect(gql.subscribes).toEqual([]);
  });

  it('an operation the server closed the link on as too big (1009) fails with MESSAGE_TOO_LARGE and is not written again on each next socket', async () => {
    const { h } = graphql({ maxMessageBytes: 1_000_000 });
    // a graphql-ws server on `ws` with maxPayload 10 KB: a larger frame closes the socket with 1009
    const onFrame = h.server.onFrame!;
    h.server.onFrame = (socket, frame) => {
      if (typeof frame.raw === 'string' && frame.raw.length > 10_000) {
        socket.closeFromServer(1009, 'Max payload size exceeded');
        return;
      }
      onFrame(socket, frame);
    };
    await h.connect();
    h.connection.operation(subscription, { next: () => {} }, { id: 'ticks' });
    const upload = h.connection.execute(big(50_000), { id: 'upload' });
    upload.catch(() => {});
    await h.settle();
    await h.elapse(120_000, 500);
    expect(subscribesPerSocket(h, 'upload')).toEqual({ 1: 1 });
    expect(await standing(upload)).toBe(`rejected ${ErrorCode.MESSAGE_TOO_LARGE}`);
    expect(h.connection.status).toBe('connected');
    expect(subscribesPerSocket(h, 'ticks')).toEqual({ 1: 1, 2: 1 });
  });
});

describe('complete frames the client writes', () => {
  it('the last listener leaving an operation the server already completed writes no complete for it', async () => {
    const { h, gql } = graphql();
    const off = h.connection.subscribe('s1', () => {});
    await h.connect();
    await h.connection.send(subscription, { channel: 's1' });
    socketOf(h).push({ type: 'complete', id: 's1' });
    await h.settle();
    off();
    expect(gql.completes).toEqual([]);
  });

  it('the last listener leaving an operation the server already failed writes no complete for it', async () => {
    const { h, gql } = graphql();
    const off = h.connection.subscribe('s2', () => {});
    await h.connect();
    await h.connection.send(subscription, { channel: 's2' });
    socketOf(h).push({ type: 'error', id: 's2', payload: [{ message: 'boom' }] });
    await h.settle();
    off();
    expect(gql.completes).toEqual([]);
  });

  it('unsubscribing from a channel that never was an operation writes no complete frame', async () => {
    const { h, gql } = graphql();
    await h.connect();
    const off = h.connection.subscribe('just-listening', () => {});
    off();
    expect(gql.completes).toEqual([]);
  });

  it('an operation the server fails with an error frame is not announced on on(control) as a complete frame', async () => {
    const { h } = graphql();
    const control: Array<{ type: string; frame: unknown }> = [];
    h.connection.on('control', (event) => control.push(event));
    await h.connect();
    const failed = h.connection.execute(subscription, { id: 'q1' });
    failed.catch(() => {});
    await h.settle();
    socketOf(h).push({ type: 'error', id: 'q1', payload: [{ message: 'Cannot query field "ticks"' }] });
    await h.settle();
    await expect(failed).rejects.toMatchObject({ messageId: 'q1' });
    expect(control.filter(({ type }) => type === 'complete')).toEqual([]);
  });
});

it('an operation send() started for channel listeners that the server closed the link on as too big (1009) reports MESSAGE_TOO_LARGE naming it on on(error)', async () => {
  const { h } = graphql({ maxMessageBytes: 1_000_000 });
  const onFrame = h.server.onFrame!;
  h.server.onFrame = (socket, frame) => {
    if (typeof frame.raw === 'string' && frame.raw.length > 10_000) socket.closeFromServer(1009, 'Max payload size exceeded');
    else onFrame(socket, frame);
  };
  h.connection.subscribe('upload', () => {});
  await h.connect();
  await h.connection.send(big(50_000), { channel: 'upload' });
  await h.settle();
  await h.elapse(60_000, 500);
  expect(h.connection.status).toBe('connected');
  expect(subscribesPerSocket(h, 'upload')).toEqual({ 1: 1 });
  expect(h.errors.filter((error) => error.messageId === 'upload').map((error) => error.code)).toEqual([ErrorCode.MESSAGE_TOO_LARGE]);
});

describe('frames for an operation the client already stopped', () => {
  it('an error frame in flight when the app stopped the operation is ignored: nothing reaches on(error)', async () => {
    const { h, gql } = graphql();
    await h.connect();
    const iterator = h.connection.iterate(subscription, { id: 's' });
    await h.settle();
    await iterator.return!();
    expect(gql.completes).toEqual([{ type: 'complete', id: 's' }]);
    socketOf(h).push({ type: 'error', id: 's', payload: [{ message: 'boom' }] });
    await h.settle();
    expect(h.errors).toEqual([]);
    expect(h.connection.status).toBe('connected');
  });
});

it('a restart: false mutation started from on(error) as the heartbeat gives the link up is not written on the dying socket: once, on the next one', async () => {
  const { h, gql } = graphql({ heartbeat: { intervalMs: 1_000, timeoutMs: 500 } });
  await h.connect();
  gql.pong = false;
  let paid: Promise<unknown> | undefined;
  h.connection.on('error', (error) => {
    if (paid || error.code !== ErrorCode.NETWORK_ERROR) return;
    paid = h.connection.execute({ query: 'mutation { pay }' }, { id: 'pay', restart: false });
  });
  await h.advance(1_000);
  await h.advance(500);
  expect(paid).toBeDefined();
  gql.pong = true;
  for (let i = 0; i < 10; i++) await h.advance(1_000);
  expect(h.connection.status).toBe('connected');
  expect(subscribesPerSocket(h, 'pay')).toEqual({ 2: 1 });
  socketOf(h).push({ type: 'next', id: 'pay', payload: { data: { pay: true } } });
  expect(await paid).toEqual({ data: { pay: true } });
});
