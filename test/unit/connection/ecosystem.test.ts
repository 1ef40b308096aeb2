import { execFile } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createPool, ErrorCode, type InboundMessage } from '../../../src/index.js';
import { liveSocketCount } from '../../../src/testing/index.js';
import { iterateChannel, type ChannelSource } from '../../../src/connection/channel-iterator.js';
import { harness } from '../../support/harness.js';

/** The calls that make the handle fit async code: once, ready, AbortSignal, async iteration, explicit resource management. */

const reason = () => new Error('given up by the app');

describe('once(event)', () => {
  it('resolves with the next event that the filter accepts, then stops listening', async () => {
    const h = harness();
    const connected = h.connection.once('state', { filter: ({ status }) => status === 'connected' });
    await h.connect();
    await expect(connected).resolves.toMatchObject({ status: 'connected' });
    h.connection.stop();
    await h.settle();
    // a second once() sees only what comes after it
    const next = h.connection.once('state');
    h.connection.start();
    await expect(next).resolves.toMatchObject({ previous: 'closed' });
  });

  it('rejects with the reason of an aborted signal, and removes its listener', async () => {
    const h = harness();
    const controller = new AbortController();
    const error = reason();
    const waiting = h.connection.once('error', { signal: controller.signal });
    controller.abort(error);
    await expect(waiting).rejects.toBe(error);
    await expect(h.connection.once('error', { signal: AbortSignal.abort(error) })).rejects.toBe(error);
  });

  it('once() stops listening after it settles, whether resolved, aborted or failed by its filter', async () => {
    const h = harness({ heartbeat: false }, { autoOpen: false });
    const seen = { resolved: 0, aborted: 0, throwing: 0 };
    const resolved = h.connection.once('state', { filter: () => ++seen.resolved > 0 });
    const controller = new AbortController();
    const aborted = h.connection.once('state', { filter: () => ++seen.aborted < 0, signal: controller.signal });
    const throwing = h.connection
      .once('state', {
        filter: () => {
          seen.throwing++;
          throw new Error('bad filter');
        },
      })
      .catch((error: unknown) => error);
    controller.abort(reason());
    await expect(aborted).rejects.toThrow('given up by the app');
    h.connection.start();
    await h.settle();
    await expect(resolved).resolves.toMatchObject({ status: 'connecting' });
    expect(await throwing).toMatchObject({ message: 'bad filter' });
    h.connection.stop();
    await h.settle();
    expect(seen).toEqual({ resolved: 1, aborted: 0, throwing: 1 });
  });

  it('once() and ready() leave no listener on their signal once settled', async () => {
    const h = harness({ heartbeat: false });
    const controller = new AbortController();
    const state = h.connection.once('state', { signal: controller.signal });
    const failing = h.connection
      .once('state', {
        signal: controller.signal,
        filter: () => {
          throw new Error('bad filter');
        },
      })
      .catch((error: unknown) => error);
    const ready = h.connection.ready({ signal: controller.signal });
    await h.connect();
    await state;
    expect(await failing).toMatchObject({ message: 'bad filter' });
    await ready;
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('once() and ready() aborted leave no listener on their signal', async () => {
    const h = harness({ heartbeat: false }, { autoOpen: false });
    h.connection.start();
    const controller = new AbortController();
    const waiting = h.connection.once('state', { signal: controller.signal });
    const ready = h.connection.ready({ signal: controller.signal });
    controller.abort(reason());
    await expect(waiting).rejects.toThrow('given up by the app');
    await expect(ready).rejects.toThrow('given up by the app');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    h.connection.dispose();
  });

  it('once() rejects with CLOSED, as ready() does, on a connection disposed already or while it waits', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const outcome = (promise: Promise<unknown>) => promise.then(() => 'resolved', (error: unknown) => error);
    const waiting = [outcome(h.connection.once('message')), outcome(h.connection.once('state', { filter: ({ status }) => status === 'connected' }))];
    h.connection.dispose();
    waiting.push(outcome(h.connection.once('error')), outcome(h.connection.ready()));
    const settled = await Promise.race([Promise.all(waiting), h.settle().then(() => 'pending')]);
    const closed = expect.objectContaining({ code: ErrorCode.CLOSED, message: 'The connection is closed' });
    expect(settled).toEqual([closed, closed, closed, closed]);
  });

  it('once() and ready() throw InvalidOptionError for a signal that is not an AbortSignal', () => {
    const h = harness({ heartbeat: false }, { autoOpen: false });
    expect(() => h.connection.once('state', { signal: {} as AbortSignal })).toThrow('Invalid option `signal`');
    expect(() => h.connection.ready({ signal: 'soon' as unknown as AbortSignal })).toThrow('Invalid option `signal`');
  });
});

describe('ready()', () => {
  it('resolves once connected, and at once when connected already', async () => {
    const h = harness();
    let ready = false;
    const waiting = h.connection.ready().then(() => (ready = true));
    await h.settle();
    expect(ready).toBe(false); // idle is waited for
    await h.connect();
    await waiting;
    expect(ready).toBe(true);
    await expect(h.connection.ready()).resolves.toBeUndefined();
  });

  it('rejects with CLOSED when stopped while waiting, and at once on a closed connection', async () => {
    const h = harness({}, { autoOpen: false });
    h.connection.start();
    const waiting = h.connection.ready();
    h.connection.stop();
    await expect(waiting).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    await expect(h.connection.ready()).rejects.toMatchObject({ code: ErrorCode.CLOSED });
  });

  it('rejects with the failure when the connection fails (4003 forbidden)', async () => {
    const h = harness();
    await h.connect();
    h.server.last!.closeFromServer(4003, 'forbidden');
    await h.settle();
    expect(h.connection.status).toBe('failed');
    await expect(h.connection.ready()).rejects.toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED });
  });

  it('waits through connecting and authenticating, and rejects with the failure that ends the wait', async () => {
    const h = harness({ auth: { token: 'bad' } }, { autoAuth: false });
    let settled: unknown = 'pending';
    const waiting = h.connection.ready().then(
      () => (settled = 'resolved'),
      (error: { code?: string }) => (settled = error.code),
    );
    h.connection.start();
    await h.settle();
    await h.settle();
    expect(h.connection.status).toBe('authenticating');
    expect(settled).toBe('pending');
    h.server.last!.closeFromServer(4003, 'forbidden');
    await waiting;
    expect(settled).toBe(ErrorCode.AUTHORIZATION_FAILED);
  });

  it('rejects with the signal reason when aborted', async () => {
    const h = harness({}, { autoOpen: false });
    h.connection.start();
    const error = reason();
    const controller = new AbortController();
    const waiting = h.connection.ready({ signal: controller.signal });
    controller.abort(error);
    await expect(waiting).rejects.toBe(error);
    h.connection.dispose();
  });
});

describe('AbortSignal on send and request', () => {
  it('takes an aborted queued message out of the queue: it is never written', async () => {
    const h = harness();
    const controller = new AbortController();
    const error = reason();
    const kept = h.connection.send({ n: 1 }, { channel: 'c' });
    const aborted = h.connection.send({ n: 2 }, { channel: 'c', signal: controller.signal });
    expect(h.connection.queued).toBe(2);
    controller.abort(error);
    await expect(aborted).rejects.toBe(error);
    expect(h.connection.queued).toBe(1);
    await h.connect();
    await kept;
    expect(h.server.last!.sentOfType('publish').map((frame) => frame.data)).toEqual([{ n: 1 }]);
  });

  it('rejects at once with an already aborted signal', async () => {
    const h = harness();
    await h.connect();
    const error = reason();
    await expect(h.connection.send('x', { signal: AbortSignal.abort(error) })).rejects.toBe(error);
    await expect(h.connection.request('x', { channel: 'c', signal: AbortSignal.abort(error) })).rejects.toBe(error);
    expect(h.server.last!.sentOfType('publish')).toEqual([]);
  });

  it('stops waiting for the ack of an aborted request, which is not written again after a reconnect', async () => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    await h.connect();
    const controller = new AbortController();
    const error = reason();
    const answer = h.connection.request({ n: 1 }, { channel: 'c', signal: controller.signal });
    await h.settle();
    expect(h.server.last!.sentOfType('publish')).toHaveLength(1);
    controller.abort(error);
    await expect(answer).rejects.toBe(error);
    h.server.last!.drop();
    await h.advance(100);
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(h.server.last!.sentOfType('publish')).toEqual([]);
  });
});

describe('connection.channel(name): async iteration', () => {
  const push = (h: ReturnType<typeof harness>, ch: string, seq: number) => h.server.last!.push({ type: 'message', ch, seq, data: { seq } });

  it('yields the channel messages in order, and a break unsubscribes', async () => {
    const h = harness();
    await h.connect();
    const seen: number[] = [];
    const reading = (async () => {
      for await (const message of h.connection.channel<{ seq: number }>('feed')) {
        seen.push(message.data.seq);
        if (seen.length === 3) break;
      }
    })();
    await h.settle();
    expect(h.server.last!.sentOfType('subscribe')).toEqual([{ type: 'subscribe', ch: 'feed' }]);
    for (let seq = 1; seq <= 4; seq++) push(h, 'feed', seq);
    await reading;
    expect(seen).toEqual([1, 2, 3]);
    expect(h.server.last!.sentOfType('unsubscribe')).toEqual([{ type: 'unsubscribe', ch: 'feed' }]);
  });

  it("buffers a slow reader's messages up to bufferSize, then ends with QUEUE_OVERFLOW after the buffered ones", async () => {
    const h = harness();
    await h.connect();
    const iterator = h.connection.channel<{ seq: number }>('feed', { bufferSize: 2 });
    for (let seq = 1; seq <= 3; seq++) push(h, 'feed', seq);
    expect(iterator.buffered).toBe(2);
    expect((await iterator.next()).value?.data).toEqual({ seq: 1 });
    expect((await iterator.next()).value?.data).toEqual({ seq: 2 });
    await expect(iterator.next()).rejects.toMatchObject({ code: ErrorCode.QUEUE_OVERFLOW });
    expect(h.server.last!.sentOfType('unsubscribe')).toHaveLength(1);
  });

  it("keeps the newest bufferSize messages with 'drop-oldest', counting what it forgot", async () => {
    const h = harness();
    await h.connect();
    const iterator = h.connection.channel<{ seq: number }>('feed', { bufferSize: 2, overflow: 'drop-oldest' });
    for (let seq = 1; seq <= 5; seq++) push(h, 'feed', seq);
    expect(iterator.dropped).toBe(3);
    const values: Array<InboundMessage<{ seq: number }>> = [];
    values.push((await iterator.next()).value!, (await iterator.next()).value!);
    expect(values.map((m) => m.data.seq)).toEqual([4, 5]);
    await iterator.return!();
  });

  it("keeps the oldest with 'drop-newest'", async () => {
    const h = harness();
    await h.connect();
    const iterator = h.connection.channel<{ seq: number }>('feed', { bufferSize: 2, overflow: 'drop-newest' });
    for (let seq = 1; seq <= 5; seq++) push(h, 'feed', seq);
    expect(iterator.dropped).toBe(3);
    expect((await iterator.next()).value!.data.seq).toBe(1);
    expect((await iterator.next()).value!.data.seq).toBe(2);
    await iterator.return!();
  });

  it('ends when the connection is stopped, throws when it fails, throws the reason when aborted', async () => {
    const h = harness();
    await h.connect();
    const stopped = h.connection.channel('a');
    const waitingStop = stopped.next();
    h.connection.stop();
    await expect(waitingStop).resolves.toEqual({ done: true, value: undefined });

    const g = harness();
    await g.connect();
    const failing = g.connection.channel('a');
    const waitingFail = failing.next();
    g.server.last!.closeFromServer(4003, 'forbidden');
    await expect(waitingFail).rejects.toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED });

    const k = harness();
    await k.connect();
    const controller = new AbortController();
    const error = reason();
    const aborted = k.connection.channel('a', { signal: controller.signal });
    const waitingAbort = aborted.next();
    controller.abort(error);
    await expect(waitingAbort).rejects.toBe(error);
    expect(k.server.last!.sentOfType('unsubscribe')).toEqual([{ type: 'unsubscribe', ch: 'a' }]);
  });

  it('refuses bad bounds, saying what it expected', () => {
    const h = harness();
    expect(() => h.connection.channel('a', { bufferSize: 0 })).toThrow('Invalid option `bufferSize`: expected an integer >= 1, received 0');
    expect(() => h.connection.channel('a', { overflow: 'block' as never })).toThrow("Invalid option `overflow`: expected 'error', 'drop-oldest' or 'drop-newest', received \"block\"");
    expect(() => h.connection.channel('')).toThrow(/channel/);
    expect(() => h.connection.channel('a', { bufferSize: 1 }).return!()).not.toThrow();
  });

  it('an iteration ended by return() while a message is being delivered yields nothing more: next() is done', async () => {
    const h = harness();
    await h.connect();
    let iterator: ReturnType<typeof h.connection.channel> | undefined;
    h.connection.subscribe('feed', () => void iterator!.return!()); // another listener of the channel, told first
    iterator = h.connection.channel('feed');
    push(h, 'feed', 1);
    await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it("the server's refusal of another channel does not end the iteration", async () => {
    const h = harness();
    await h.connect();
    const iterator = h.connection.channel<{ seq: number }>('feed');
    h.connection.subscribe('admin:x', () => {});
    h.server.last!.push({ type: 'error', code: 'AUTHORIZATION_FAILED', message: 'not allowed', details: { ch: 'admin:x', action: 'subscribe' } });
    push(h, 'feed', 1);
    expect((await iterator.next()).value?.data).toEqual({ seq: 1 });
    await iterator.return!();
  });

  it('an iteration that ends, however it ends, leaves no listener on its connection', async () => {
    const listening = new Set<string>();
    let count = 0;
    const source: ChannelSource = {
      subscribe: () => {
        const id = `message ${++count}`;
        listening.add(id);
        return () => void listening.delete(id);
      },
      on: ((event: string) => {
        const id = `${event} ${++count}`;
        listening.add(id);
        return () => void listening.delete(id);
      }) as ChannelSource['on'],
      lastError: null,
      status: 'connected',
      isDisposed: false,
    };
    await iterateChannel(source, 'feed').return!();
    await iterateChannel(source, 'feed').throw!(new Error('reader gave up')).catch(() => {});
    const controller = new AbortController();
    const aborted = iterateChannel(source, 'feed', { signal: controller.signal });
    controller.abort(reason());
    await aborted.next().catch(() => {});
    expect([...listening]).toEqual([]);
  });

  it('return() and throw() end the iteration at once: the messages waiting are not read after them', async () => {
    const h = harness();
    await h.connect();
    const returned = h.connection.channel('feed');
    const thrown = h.connection.channel('feed');
    push(h, 'feed', 1);
    push(h, 'feed', 2);
    await returned.return!();
    await thrown.throw!(new Error('reader gave up')).catch(() => {});
    push(h, 'feed', 3);
    await expect(returned.next()).resolves.toEqual({ done: true, value: undefined });
    await expect(thrown.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('throw() ends an iteration the reader fell behind on with done too: next() no longer throws the overflow', async () => {
    const h = harness();
    await h.connect();
    const iterator = h.connection.channel('feed', { bufferSize: 1 });
    push(h, 'feed', 1);
    push(h, 'feed', 2);
    await expect(iterator.throw!(reason())).rejects.toThrow('given up by the app');
    await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('refuses a bufferSize that is not a whole number', () => {
    const h = harness();
    expect(() => h.connection.channel('a', { bufferSize: 1.5 })).toThrow('Invalid option `bufferSize`: expected an integer >= 1, received 1.5');
    expect(() => h.connection.channel('a', { bufferSize: Number.NaN })).toThrow('Invalid option `bufferSize`');
  });

  it('return() ends it with done, one next() at a time, and a signal aborted already ends it at once', async () => {
    const h = harness();
    await h.connect();
    const iterator = h.connection.channel('feed');
    const first = iterator.next();
    await expect(iterator.next()).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION, option: 'next' });
    await expect(iterator.return!()).resolves.toEqual({ done: true, value: undefined });
    await expect(first).resolves.toEqual({ done: true, value: undefined });
    const error = reason();
    await expect(h.connection.channel('feed', { signal: AbortSignal.abort(error) }).next()).rejects.toBe(error);
  });

  it('bounds the messages waiting, not those read: a reader that keeps up never overflows', async () => {
    const h = harness();
    await h.connect();
    const iterator = h.connection.channel<{ seq: number }>('feed', { bufferSize: 3 });
    for (let seq = 1; seq <= 3; seq++) push(h, 'feed', seq);
    await iterator.next();
    await iterator.next();
    push(h, 'feed', 4);
    push(h, 'feed', 5);
    expect(iterator.buffered).toBe(3);
    const rest = [(await iterator.next()).value!.data.seq, (await iterator.next()).value!.data.seq, (await iterator.next()).value!.data.seq];
    expect(rest).toEqual([3, 4, 5]);
    await iterator.return!();
  });

  it('ends an overflow with QUEUE_OVERFLOW naming the channel and the bound', async () => {
    const h = harness();
    await h.connect();
    const iterator = h.connection.channel('feed', { bufferSize: 1 });
    push(h, 'feed', 1);
    push(h, 'feed', 2);
    await iterator.next();
    const error = await iterator.next().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: ErrorCode.QUEUE_OVERFLOW, recovery: 'fail', message: 'The reader of "feed" fell 1 messages behind', details: { channel: 'feed', bufferSize: 1 } });
  });

  it('keeps its first ending: an abort after the connection closed changes nothing, and its abort listener is gone', async () => {
    const h = harness();
    await h.connect();
    const controller = new AbortController();
    const removed: string[] = [];
    const remove = controller.signal.removeEventListener.bind(controller.signal);
    controller.signal.removeEventListener = ((type: string, listener: EventListener) => {
      removed.push(type);
      remove(type, listener);
    }) as typeof controller.signal.removeEventListener;
    const iterator = h.connection.channel('feed', { signal: controller.signal });
    h.connection.stop();
    await h.settle();
    expect(removed).toEqual(['abort']);
    controller.abort(reason());
    await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('an abort drops the messages waiting: the next next() rejects with the reason, however many were buffered', async () => {
    const h = harness();
    await h.connect();
    const controller = new AbortController();
    const iterator = h.connection.channel('feed', { signal: controller.signal });
    for (let seq = 1; seq <= 3; seq++) push(h, 'feed', seq);
    expect(iterator.buffered).toBe(3);
    const error = reason();
    controller.abort(error);
    await expect(iterator.next()).rejects.toBe(error);
    expect(iterator.buffered).toBe(0);
  });

  it('a for-await loop stops at the first message after the abort', async () => {
    const h = harness();
    await h.connect();
    const controller = new AbortController();
    const seen: number[] = [];
    const iterator = h.connection.channel<{ seq: number }>('feed', { signal: controller.signal });
    for (let seq = 1; seq <= 5; seq++) push(h, 'feed', seq);
    const error = reason();
    const reading = (async () => {
      for await (const message of iterator) {
        seen.push(message.data.seq);
        if (message.data.seq === 2) controller.abort(error);
      }
    })();
    await expect(reading).rejects.toBe(error);
    expect(seen).toEqual([1, 2]);
  });

  it('throws AUTHORIZATION_FAILED when the server refuses the channel, and the channel is not subscribed again after a reconnect', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    h.connection.subscribe('feed', () => {});
    const iterator = h.connection.channel('admin:x');
    const next = iterator.next();
    await h.settle();
    h.server.last!.push({ type: 'error', code: 'AUTHORIZATION_FAILED', message: 'not allowed', details: { ch: 'admin:x', action: 'subscribe' } });
    await expect(next).rejects.toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED, details: { ch: 'admin:x', action: 'subscribe' } });
    expect(h.errors.map((error) => error.code), 'still reported on on(error)').toEqual([ErrorCode.AUTHORIZATION_FAILED]);
    expect(h.connection.status).toBe('connected');
    expect(h.server.last!.sentOfType('unsubscribe'), 'nothing to leave').toEqual([]);
    h.server.last!.closeFromServer(1012, 'restart');
    await h.advance(1_000);
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(h.server.sockets).toHaveLength(2);
    expect(h.server.last!.sentOfType('subscribe')).toEqual([{ type: 'subscribe', ch: 'feed' }]);
  });

  it('throws AUTHORIZATION_FAILED when the server ends the subscription after a token refresh (unsubscribed, forbidden), after the messages waiting', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const iterator = h.connection.channel('admin:x');
    push(h, 'admin:x', 1);
    h.server.last!.push({ type: 'unsubscribed', ch: 'admin:x', reason: 'forbidden' });
    expect((await iterator.next()).value).toMatchObject({ seq: 1 });
    await expect(iterator.next()).rejects.toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED, details: { ch: 'admin:x', action: 'subscribe' } });
  });

  it("ignores a refusal of another channel, and an unsubscribed that answers the app's own unsubscribe", async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const iterator = h.connection.channel('feed');
    h.server.last!.push({ type: 'error', code: 'AUTHORIZATION_FAILED', message: 'not allowed', details: { ch: 'admin:x', action: 'subscribe' } });
    h.server.last!.push({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'too many subscriptions', details: { ch: 'feed', limit: 1 } });
    h.server.last!.push({ type: 'unsubscribed', ch: 'feed' });
    push(h, 'feed', 1);
    expect((await iterator.next()).value).toMatchObject({ seq: 1 });
    await iterator.return!();
  });
});

describe('explicit resource management', () => {
  it('`using` disposes a connection at the end of its scope: no socket left, start() refused', async () => {
    const h = harness();
    const before = liveSocketCount();
    {
      using connection = h.connection;
      await h.connect();
      expect(liveSocketCount()).toBe(before + 1);
      void connection;
    }
    expect(liveSocketCount()).toBe(before);
    expect(h.connection.status).toBe('closed');
    expect(() => h.connection.start()).toThrow(/disposed/);
  });

  it('`await using` closes with 1000 first, then disposes', async () => {
    const h = harness();
    await h.connect();
    const socket = h.server.last!;
    {
      await using connection = h.connection;
      void connection;
    }
    expect(socket.closedByClient?.code).toBe(1000);
    expect(h.connection.status).toBe('closed');
    expect(() => h.connection.start()).toThrow(/disposed/);
  });

  it('a pool with `using` and `await using`', async () => {
    const h = harness();
    const options = { endpoints: [{ name: 'a', url: 'ws://mock.test/a' }], defaults: { WebSocket: h.server.WebSocket }, clock: h.clock, environment: h.env, staggerMs: 0 } as never;
    let pool = createPool(options);
    {
      using scoped = pool;
      scoped.start();
      await h.settle();
      expect(scoped.connection('a')!.status).toBe('connected');
    }
    expect(pool.actor.getSnapshot().status).toBe('stopped');
    pool = createPool(options);
    pool.start();
    await h.settle();
    {
      await using scoped = pool;
      void scoped;
    }
    expect(pool.connection('a')!.status).toBe('closed');
    expect(pool.actor.getSnapshot().status).toBe('stopped');
  });
});

const PENDING = Symbol('pending');
/** What `promise` settled with after the mock server and microtasks have run, or PENDING. */
async function outcome<T>(promise: Promise<T>, h: ReturnType<typeof harness>) {
  let result: unknown = PENDING;
  promise.then(
    (value) => (result = { value }),
    (error) => (result = { error }),
  );
  await h.settle();
  await h.settle();
  return result;
}

describe('connection.channel(name) on a connection that has ended already', () => {
  it('ends at once on a disposed connection', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    h.connection.dispose();
    expect(h.connection.status).toBe('closed');
    const iterator = h.connection.channel('feed');
    expect(await outcome(iterator.next(), h)).toEqual({ value: { done: true, value: undefined } });
  });

  it('throws the failure at once on a failed connection', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    h.server.last!.closeFromServer(4003, 'forbidden');
    await h.settle();
    expect(h.connection.status).toBe('failed');
    const iterator = h.connection.channel('feed');
    const result = (await outcome(iterator.next(), h)) as { error?: { code: string } } | typeof PENDING;
    expect(result).not.toBe(PENDING);
    expect((result as { error: { code: string } }).error.code).toBe(ErrorCode.AUTHORIZATION_FAILED);
  });
});

describe('ready({ signal }) with a signal aborted already', () => {
  it('rejects with the reason, as once() does, even when the connection is connected', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    const reason = new Error('given up');
    await expect(h.connection.once('state', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(h.connection.ready({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });
});

describe('once({ filter }) whose filter throws', () => {
  it('rejects with the error and removes its listener', async () => {
    const h = harness({ heartbeat: false });
    const boom = new Error('bad filter');
    const waiting = h.connection.once('state', {
      filter: () => {
        throw boom;
      },
    });
    let settled: unknown = 'pending';
    waiting.then(
      () => (settled = 'resolved'),
      (error) => (settled = error),
    );
    const swallow = (error: unknown) => void error;
    process.on('uncaughtException', swallow);
    try {
      await h.connect();
      await h.settle();
    } finally {
      process.off('uncaughtException', swallow);
    }
    expect(settled).toBe(boom);
  });
});

describe('connection.channel(name): what a reader that falls behind costs', () => {
  const fixture = fileURLToPath(new URL('./fixtures/dropped-messages.ts', import.meta.url));
  const run = async (overflow: string) => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', fixture, overflow], { timeout: 30_000 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as { buffered: number; dropped: number; reachable: number };
  };

  it("with 'drop-oldest' and 'drop-newest', the messages it forgot can be collected: at most bufferSize stay reachable", async () => {
    for (const overflow of ['drop-oldest', 'drop-newest']) {
      const figures = await run(overflow);
      expect(figures.buffered, overflow).toBe(1);
      expect(figures.dropped, overflow).toBe(199);
      // the buffered message, and at most one the loop's last local may keep
      expect(figures.reachable, overflow).toBeLessThanOrEqual(2);
    }
  }, 60_000);
});
