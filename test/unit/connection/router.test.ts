import { afterEach, describe, expect, it, vi } from 'vitest';
import { harness } from '../../support/harness.js';
import { collectRethrown } from '../../support/rethrown.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** The subscription router: who gets a message when listeners change during its delivery, and what each unsubscribe ends. */

const socketOf = (h: ReturnType<typeof harness>) => h.server.last!;

describe('listeners changed while a message is delivered', () => {
  it("a once('message') listener removing itself does not make the next on('message') listener miss the message", async () => {
    const h = harness();
    await h.connect();
    const later: unknown[] = [];
    const first = h.connection.once('message');
    h.connection.on('message', (message) => later.push(message.data));
    socketOf(h).push({ type: 'message', ch: 'a', seq: 1, data: 'm1' });
    socketOf(h).push({ type: 'message', ch: 'a', seq: 2, data: 'm2' });
    expect((await first).data).toBe('m1');
    expect(later).toEqual(['m1', 'm2']);
  });

  it('a channel listener that re-subscribes itself during dispatch is not called twice with the same message', async () => {
    const h = harness();
    await h.connect();
    const got: unknown[] = [];
    h.connection.subscribe('a', () => {}); // another listener keeps the channel entry alive
    let off: () => void = () => {};
    const listener = (data: unknown) => {
      got.push(data);
      // e.g. a component effect re-running with a stable callback: cleanup, then subscribe again.
      // (Capped at 3 calls: without the cap the dispatch loop never ends and the worker runs out of memory.)
      if (got.length >= 3) return;
      off();
      off = h.connection.subscribe('a', listener);
    };
    off = h.connection.subscribe('a', listener);
    socketOf(h).push({ type: 'message', ch: 'a', seq: 1, data: 'm1' });
    expect(got).toEqual(['m1']);
  });

  it('a listener subscribed during dispatch does not receive the message being dispatched (as on() listeners do not)', async () => {
    const h = harness();
    await h.connect();
    const late: unknown[] = [];
    let added = false;
    h.connection.subscribe('a', () => {
      if (added) return;
      added = true;
      h.connection.subscribe('a', (data) => late.push(data));
    });
    socketOf(h).push({ type: 'message', ch: 'a', seq: 1, data: 'm1' });
    socketOf(h).push({ type: 'message', ch: 'a', seq: 2, data: 'm2' });
    expect(late).toEqual(['m2']);
  });

  it('a channel listener unsubscribed by another listener during a delivery is not called with that message', async () => {
    const h = harness();
    await h.connect();
    const got: unknown[] = [];
    // e.g. the first listener closes a view whose own listener unsubscribes as it goes
    h.connection.subscribe('a', () => offView());
    const offView = h.connection.subscribe('a', (data) => got.push(data));
    socketOf(h).push({ type: 'message', ch: 'a', seq: 1, data: 'm1' });
    expect(got).toEqual([]);
  });

  it("an on('message') listener removed by another listener during a delivery is not called with that message", async () => {
    const h = harness();
    await h.connect();
    const got: unknown[] = [];
    h.connection.on('message', () => offView());
    const offView = h.connection.on('message', (message) => got.push(message.data));
    socketOf(h).push({ type: 'message', ch: 'a', seq: 1, data: 'm1' });
    expect(got).toEqual([]);
  });
});

describe('the same function subscribed twice', () => {
  it('unsubscribing one of two subscriptions of the same function keeps the other one delivering', async () => {
    const h = harness();
    await h.connect();
    const got: unknown[] = [];
    const shared = (data: unknown) => got.push(data);
    const offA = h.connection.subscribe('a', shared); // component A
    h.connection.subscribe('a', shared); // component B, same handler, still mounted
    offA();
    socketOf(h).push({ type: 'message', ch: 'a', seq: 1, data: 'm1' });
    expect(socketOf(h).sentOfType('unsubscribe')).toEqual([]);
    expect(got).toEqual(['m1']);
  });

  it("on('state') with the same handler twice (two parts of an app sharing it) is two subscriptions: each remover ends its own, once", async () => {
    const h = harness({ heartbeat: false });
    const seen: string[] = [];
    const shared = ({ status }: { status: string }) => seen.push(status);
    const offA = h.connection.on('state', shared); // widget A
    h.connection.on('state', shared); // widget B, same module-level handler
    offA(); // widget A unmounts
    offA();
    await h.connect();
    expect(seen.filter((status) => status === 'connected')).toEqual(['connected']);
  });

  it("on('message') with the same handler twice is two subscriptions: each remover ends its own, once", async () => {
    const h = harness();
    await h.connect();
    const got: unknown[] = [];
    const shared = (message: { data: unknown }) => got.push(message.data);
    const offA = h.connection.on('message', shared);
    h.connection.on('message', shared);
    socketOf(h).push({ type: 'message', ch: 'a', seq: 1, data: 'm1' });
    offA();
    offA();
    socketOf(h).push({ type: 'message', ch: 'a', seq: 2, data: 'm2' });
    expect(got).toEqual(['m1', 'm1', 'm2']);
  });
});

describe('sequence numbers outside the wire\'s range (an integer from 0 to 2^53 - 1)', () => {
  it('a message whose seq is 1e400 (Infinity once parsed) is delivered, and later messages of its channel are not taken as duplicates', async () => {
    const h = harness();
    const got: unknown[] = [];
    h.connection.subscribe('feed', (data) => got.push(data));
    await h.connect();
    socketOf(h).push('{"type":"message","ch":"feed","seq":1e400,"data":"odd"}');
    socketOf(h).push({ type: 'message', ch: 'feed', seq: 5, data: 'next' });
    expect(got).toEqual(['odd', 'next']);
    expect(h.connection.metrics().duplicates).toBe(0);
  });

  it('a message whose seq is negative or fractional is delivered and moves no dedup point: an earlier number is still a duplicate', async () => {
    const h = harness();
    const got: unknown[] = [];
    h.connection.subscribe('feed', (data) => got.push(data));
    await h.connect();
    for (const seq of [4, -3, 2.5, 4, 5]) socketOf(h).push({ type: 'message', ch: 'feed', seq, data: seq });
    expect(got).toEqual([4, -3, 2.5, 5]);
    expect(h.connection.metrics().duplicates).toBe(1);
  });
});

describe('listeners that throw', () => {
  it("a channel or on('message') listener that throws has its error rethrown later, and the other listeners still get the message", async () => {
    const rethrown = collectRethrown();
    const h = harness();
    await h.connect();
    const got: string[] = [];
    const failure = new Error('listener failed');
    const anyFailure = new Error('any listener failed');
    h.connection.subscribe('a', () => {
      throw failure;
    });
    h.connection.subscribe('a', (data) => got.push(`ch ${String(data)}`));
    h.connection.on('message', () => {
      throw anyFailure;
    });
    h.connection.on('message', (message) => got.push(`any ${String(message.data)}`));
    socketOf(h).push({ type: 'message', ch: 'a', seq: 1, data: 'm1' });
    await h.settle();
    expect(got).toEqual(['ch m1', 'any m1']);
    expect(rethrown).toEqual([failure, anyFailure]);
  });
});
