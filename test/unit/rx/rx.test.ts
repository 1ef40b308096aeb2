import { VirtualTimeScheduler, take, toArray, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createPool, statusOf } from '../../../src/index.js';
import { channel$, errors$, health$, metrics$, presence$, state$, status$, typing$ } from '../../../src/rx/index.js';
import { harness } from '../../support/harness.js';

/** socketchart/rx: each observable follows the connection while subscribed and lets go on unsubscribe. */

describe('socketchart/rx', () => {
  it('channel$ subscribes to the channel on subscribe and unsubscribes on teardown', async () => {
    const h = harness();
    await h.connect();
    const seen: unknown[] = [];
    const subscription = channel$<{ n: number }>(h.connection, 'feed').subscribe((message) => seen.push(message.data.n));
    await h.settle();
    expect(h.server.last!.sentOfType('subscribe')).toEqual([{ type: 'subscribe', ch: 'feed' }]);
    h.server.last!.push({ type: 'message', ch: 'feed', seq: 1, data: { n: 1 } });
    h.server.last!.push({ type: 'message', ch: 'feed', seq: 2, data: { n: 2 } });
    subscription.unsubscribe();
    h.server.last!.push({ type: 'message', ch: 'feed', seq: 3, data: { n: 3 } });
    expect(seen).toEqual([1, 2]);
    expect(h.server.last!.sentOfType('unsubscribe')).toEqual([{ type: 'unsubscribe', ch: 'feed' }]);
  });

  it('status$ starts with the status now and follows each change; state$ gives snapshots across a restart', async () => {
    const h = harness();
    const statuses: string[] = [];
    const snapshots: string[] = [];
    const a = status$(h.connection).subscribe((status) => statuses.push(status));
    const b = state$(h.connection).subscribe((snapshot) => snapshots.push(statusOf(snapshot)));
    await h.connect();
    h.connection.stop();
    await h.settle();
    await h.connect(); // the connection runs a new actor after resting in closed
    a.unsubscribe();
    b.unsubscribe();
    expect(statuses).toEqual(['idle', 'connecting', 'connected', 'closing', 'closed', 'connecting', 'connected']);
    expect(snapshots[0]).toBe('idle');
    expect(snapshots.at(-1)).toBe('connected');
    expect(snapshots).toContain('closed');
    h.connection.stop();
    await h.settle();
    expect(statuses.at(-1)).toBe('connected'); // nothing after unsubscribe
  });

  it('metrics$ emits at once and every intervalMs on the given scheduler, and stops on unsubscribe', async () => {
    const h = harness();
    await h.connect();
    const scheduler = new VirtualTimeScheduler();
    const seen: number[] = [];
    const subscription = metrics$(h.connection, 1_000, scheduler).subscribe((m) => seen.push(m.connects));
    scheduler.maxFrames = 3_500;
    scheduler.flush();
    expect(seen).toEqual([1, 1, 1, 1]);
    subscription.unsubscribe();
    expect(() => metrics$(h.connection, 0)).toThrow(RangeError);
  });

  it('errors$ passes errors as values', async () => {
    const h = harness();
    await h.connect();
    const errors = firstValueFrom(errors$(h.connection));
    h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: 'boom' });
    await expect(errors).resolves.toMatchObject({ code: 'SERVER_ERROR' });
  });

  it('presence$ and typing$ watch a channel while subscribed', async () => {
    const h = harness();
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'presence') socket.push({ type: 'presence_state', ch: frame.json.ch, members: [{ userId: 'ann' }] });
    };
    await h.connect();
    const members = firstValueFrom(presence$(h.connection, 'chat:a').pipe(take(2), toArray()));
    const typers = firstValueFrom(typing$(h.connection, 'chat:a').pipe(take(2), toArray()));
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'ann', typing: true });
    expect(await members).toEqual([[], [{ userId: 'ann' }]]);
    expect(await typers).toEqual([[], ['ann']]);
    await h.settle();
    // each completed after two values: every subscribe of the channel was followed by its unsubscribe
    const socket = h.server.last!;
    expect(socket.sentOfType('subscribe').length).toBeGreaterThan(0);
    expect(socket.sentOfType('unsubscribe')).toHaveLength(socket.sentOfType('subscribe').length);
  });

  it('presence$ and typing$ taken once (take(1)) give the members or typers now and send nothing', async () => {
    const h = harness();
    await h.connect();
    const socket = h.server.last!;
    const before = socket.sent.length;
    expect(await firstValueFrom(presence$(h.connection, 'chat:a'))).toEqual([]);
    expect(await firstValueFrom(typing$(h.connection, 'chat:a'))).toEqual([]);
    await h.settle();
    expect(socket.sent.slice(before)).toEqual([]);
  });

  it('presence$ emits a change made while its first value is handled', async () => {
    const h = harness();
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'presence') socket.push({ type: 'presence_state', ch: frame.json.ch, members: [{ userId: 'ann' }] });
    };
    await h.connect();
    const watcher = h.connection.presence.watch('chat:a', () => {});
    await h.settle();
    const seen: string[][] = [];
    let first = true;
    const subscription = presence$(h.connection, 'chat:a').subscribe((members) => {
      seen.push(members.map((m) => m.userId));
      if (!first) return;
      first = false;
      h.server.last!.push({ type: 'presence', ch: 'chat:a', joins: [{ userId: 'bob' }], leaves: [] });
    });
    await h.settle();
    subscription.unsubscribe();
    watcher();
    expect(seen).toEqual([['ann'], ['ann', 'bob']]);
  });

  it("health$ follows a pool's health", async () => {
    const h = harness();
    const pool = createPool({ endpoints: [{ name: 'a', url: 'ws://mock.test/a' }], defaults: { WebSocket: h.server.WebSocket }, clock: h.clock, environment: h.env, staggerMs: 0 });
    const seen: string[] = [];
    const subscription = health$(pool).subscribe((health) => seen.push(health));
    pool.start();
    await h.settle();
    pool.stop();
    await h.settle();
    subscription.unsubscribe();
    pool.dispose();
    expect(seen).toEqual(['down', 'up', 'down']);
  });
});
