import { VirtualTimeScheduler, filter } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { connectionLogic, connectionOf, ErrorCode, statusOf } from '../../../src/index.js';
import { SimulatedClock, createManualEnvironment, createMockServer } from '../../../src/testing/index.js';
import { channel$, metrics$, presence$, state$, status$, typing$ } from '../../../src/rx/index.js';
import { harness, settle } from '../../support/harness.js';

/** socketchart/rx: changes made while a first value is handled, the end of a disposed connection's streams, metrics$'s first value. */

describe('rx: changes made while the initial value is handled', () => {
  it('status$: the transition out of the initial status is emitted', async () => {
    const h = harness();
    const seen: string[] = [];
    status$(h.connection).subscribe((status) => {
      seen.push(status);
      if (status === 'idle') h.connection.start();
    });
    await h.settle();
    await h.settle();
    expect(seen).toEqual(['idle', 'connecting', 'connected']);
  });

  it('status$ used to restart a closed connection sees it connecting', async () => {
    const h = harness();
    await h.connect();
    h.connection.stop();
    await h.settle();
    const seen: string[] = [];
    status$(h.connection).subscribe((status) => {
      seen.push(status);
      if (status === 'closed' && seen.length === 1) h.connection.start();
    });
    await h.settle();
    await h.settle();
    expect(seen).toEqual(['closed', 'connecting', 'connected']);
  });

  it('state$: the snapshot after the initial one is emitted', async () => {
    const h = harness();
    const seen: string[] = [];
    state$(h.connection).subscribe((snapshot) => {
      seen.push(statusOf(snapshot));
      if (statusOf(snapshot) === 'idle') h.connection.start();
    });
    await h.settle();
    await h.settle();
    expect(seen).toContain('connecting');
  });
});

function ended(subscribe: (observer: { complete(): void; error(): void }) => void): { value: boolean } {
  const state = { value: false };
  subscribe({ complete: () => (state.value = true), error: () => (state.value = true) });
  return state;
}

describe('a disposed connection: its streams complete', () => {
  it('channel$ subscribed before dispose ends when the connection is disposed', async () => {
    const h = harness();
    await h.connect();
    const state = ended((o) => channel$(h.connection, 'feed').subscribe(o));
    h.connection.dispose();
    await h.settle();
    expect(state.value).toBe(true);
  });

  it('status$ completes when the connection is disposed while its first value is handled', async () => {
    const h = harness();
    await h.connect();
    h.server.last!.closeFromServer(4003, 'forbidden');
    await h.settle();
    expect(h.connection.status).toBe('failed');
    let completed = false;
    status$(h.connection)
      .pipe(filter((status) => status === 'failed'))
      .subscribe({ next: () => h.connection.dispose(), complete: () => (completed = true) });
    expect(h.connection.isDisposed).toBe(true);
    expect(completed).toBe(true);
  });

  it('status$ and channel$ of a connectionOf() handle complete when the app stops its actor', async () => {
    const clock = new SimulatedClock(1_700_000_000_000);
    const server = createMockServer({ now: () => clock.now() });
    const options = { url: 'ws://mock.test/app', WebSocket: server.WebSocket, clock, environment: createManualEnvironment(), random: () => 0.5 };
    const actor = createActor(connectionLogic(options), { clock }).start();
    const connection = connectionOf(actor);
    actor.send({ type: 'connection.start' });
    await settle();
    expect(connection.status).toBe('connected');
    const status = ended((o) => status$(connection).subscribe(o));
    const channel = ended((o) => channel$(connection, 'news').subscribe(o));
    actor.stop();
    expect(connection.status).toBe('closed');
    expect({ status: status.value, channel: channel.value }).toEqual({ status: true, channel: true });
  });

  it('state$: the last snapshot before it completes reads closed, as status$ and connection.status do', async () => {
    const h = harness();
    await h.connect();
    const states: string[] = [];
    const statuses: string[] = [];
    const state = ended((o) => state$(h.connection).subscribe({ ...o, next: (snapshot) => states.push(statusOf(snapshot)) }));
    status$(h.connection).subscribe((status) => statuses.push(status));
    h.connection.dispose();
    await h.advance(10_000);
    expect({ status: h.connection.status, statusLast: statuses.at(-1), stateLast: states.at(-1), completed: state.value }).toEqual({ status: 'closed', statusLast: 'closed', stateLast: 'closed', completed: true });
  });

  it('channel$ and status$ on an already disposed connection end', async () => {
    const h = harness();
    await h.connect();
    h.connection.dispose();
    const channel = ended((o) => channel$(h.connection, 'feed').subscribe(o));
    const status = ended((o) => status$(h.connection).subscribe(o));
    await h.settle();
    expect({ channel: channel.value, status: status.value }).toEqual({ channel: true, status: true });
  });
});

describe('metrics$', () => {
  it('emits the metrics when subscribed, before any tick of its scheduler', async () => {
    const h = harness();
    await h.connect();
    const scheduler = new VirtualTimeScheduler();
    const seen: number[] = [];
    const subscription = metrics$(h.connection, 1_000, scheduler).subscribe((m) => seen.push(m.connects));
    expect(seen).toEqual([1]);
    subscription.unsubscribe();
  });

  it('stops its ticks on unsubscribe', async () => {
    const h = harness();
    await h.connect();
    const scheduler = new VirtualTimeScheduler();
    let seen = 0;
    metrics$(h.connection, 1_000, scheduler)
      .subscribe(() => seen++)
      .unsubscribe();
    scheduler.maxFrames = 5_000;
    scheduler.flush();
    expect(seen).toBe(1);
  });

  it('refuses an interval a timer cannot keep (over 2^31 - 1 ms, or not finite)', () => {
    const h = harness();
    expect(() => metrics$(h.connection, 0)).toThrow('metrics$ needs an interval in ms in (0, 2147483647], received 0');
    for (const ms of [2 ** 31, Number.POSITIVE_INFINITY, Number.NaN, -5]) expect(() => metrics$(h.connection, ms), String(ms)).toThrow(RangeError);
    expect(() => metrics$(h.connection, 2 ** 31 - 1)).not.toThrow();
  });

  it('completes when the connection is disposed', async () => {
    const h = harness();
    await h.connect();
    let completed = false;
    metrics$(h.connection, 1_000, new VirtualTimeScheduler()).subscribe({ complete: () => (completed = true) });
    h.connection.dispose();
    expect(completed).toBe(true);
  });

  it('completes, and stops ticking, when the connection is disposed while its first value is handled', async () => {
    const h = harness();
    await h.connect();
    const scheduler = new VirtualTimeScheduler();
    let completed = false;
    let values = 0;
    metrics$(h.connection, 1_000, scheduler).subscribe({
      next: () => {
        values++;
        h.connection.dispose();
      },
      complete: () => (completed = true),
    });
    scheduler.maxFrames = 3_500;
    scheduler.flush();
    expect(values).toBe(1);
    expect(completed).toBe(true);
  });
});

describe('typing$', () => {
  it('emits the typers of its own channel only', async () => {
    const h = harness();
    await h.connect();
    const seen: string[][] = [];
    const subscription = typing$(h.connection, 'chat:a').subscribe((users) => seen.push(users));
    h.server.last!.push({ type: 'typing', ch: 'chat:b', userId: 'bob', typing: true });
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'ann', typing: true });
    expect(seen).toEqual([[], ['ann']]);
    subscription.unsubscribe();
  });

  it('a change made while the first value is handled is emitted (the connection stopped: nobody types any more)', async () => {
    const h = harness();
    await h.connect();
    const { presence } = h.connection;
    const unsubscribe = h.connection.subscribe('chat:a', () => {});
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'ann', typing: true });
    expect(presence.typingUsers('chat:a')).toEqual(['ann']);
    const seen: string[][] = [];
    const subscription = typing$(h.connection, 'chat:a').subscribe((users) => {
      seen.push(users);
      if (seen.length === 1) h.connection.stop();
    });
    expect(presence.typingUsers('chat:a')).toEqual([]);
    expect(seen).toEqual([['ann'], []]);
    subscription.unsubscribe();
    unsubscribe();
  });
});

describe('channel$ of a channel the server refuses', () => {
  it('errors with AUTHORIZATION_FAILED and leaves nothing subscribed', async () => {
    const h = harness();
    await h.connect();
    const errors: unknown[] = [];
    channel$(h.connection, 'admin:x').subscribe({ error: (error) => errors.push(error) });
    const other = ended((o) => channel$(h.connection, 'feed').subscribe(o));
    h.server.last!.push({ type: 'error', code: 'AUTHORIZATION_FAILED', message: 'not allowed', details: { ch: 'admin:x', action: 'subscribe' } });
    expect(errors).toEqual([expect.objectContaining({ code: ErrorCode.AUTHORIZATION_FAILED, details: { ch: 'admin:x', action: 'subscribe' } })]);
    expect(other.value, 'another channel goes on').toBe(false);
    expect(h.server.last!.sentOfType('unsubscribe')).toEqual([]);
  });
});

it('presence$ and typing$ of a channel the server refuses error with AUTHORIZATION_FAILED, as channel$ does', async () => {
  const h = harness();
  await h.connect();
  const errors: Array<[string, unknown]> = [];
  presence$(h.connection, 'admin:p').subscribe({ error: (error) => errors.push(['presence$', error]) });
  typing$(h.connection, 'admin:t').subscribe({ error: (error) => errors.push(['typing$', error]) });
  const other = ended((o) => presence$(h.connection, 'chat:a').subscribe(o));
  for (const ch of ['admin:p', 'admin:t']) h.server.last!.push({ type: 'error', code: 'AUTHORIZATION_FAILED', message: 'not allowed', details: { ch, action: 'subscribe' } });
  expect(errors).toEqual([
    ['presence$', expect.objectContaining({ code: ErrorCode.AUTHORIZATION_FAILED, details: { ch: 'admin:p', action: 'subscribe' } })],
    ['typing$', expect.objectContaining({ code: ErrorCode.AUTHORIZATION_FAILED, details: { ch: 'admin:t', action: 'subscribe' } })],
  ]);
  expect(other.value, 'another channel goes on').toBe(false);
  expect(h.server.last!.sentOfType('unsubscribe')).toEqual([]);
});

it('presence$ of a channel whose presence the server refuses (its list refused, or presence taken away) errors with AUTHORIZATION_FAILED; a rate-limited list does not end it', async () => {
  const h = harness();
  await h.connect();
  const errors: Array<[string, unknown]> = [];
  for (const ch of ['room:1', 'room:2', 'room:3']) presence$(h.connection, ch).subscribe({ error: (error) => errors.push([ch, error]) });
  const typing = ended((o) => typing$(h.connection, 'room:1').subscribe(o));
  await settle();
  const socket = h.server.last!;
  socket.push({ type: 'error', code: 'AUTHORIZATION_FAILED', message: 'no presence here', details: { ch: 'room:1', action: 'list' } });
  socket.push({ type: 'error', code: 'AUTHORIZATION_FAILED', message: 'presence withdrawn', details: { ch: 'room:2', action: 'presence' } });
  socket.push({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', retry_after: 1, details: { ch: 'room:3', action: 'list', scope: 'control' } });
  await settle();
  expect(errors).toEqual([
    ['room:1', expect.objectContaining({ code: ErrorCode.AUTHORIZATION_FAILED, details: { ch: 'room:1', action: 'list' } })],
    ['room:2', expect.objectContaining({ code: ErrorCode.AUTHORIZATION_FAILED, details: { ch: 'room:2', action: 'presence' } })],
  ]);
  expect(typing.value, 'typing$ of the channel goes on').toBe(false);
});
