import { describe, expect, it } from 'vitest';
import { ErrorCode, type SocketchartError } from '../../../src/index.js';
import { SimulatedClock, type MockSocket } from '../../../src/testing/index.js';
import { harness, type Harness } from '../../support/harness.js';
import { track } from '../../support/settled.js';

/** A server that acknowledges publishes with a per-channel sequence number, unless told to stay silent. */
function acking(h: Harness, state = { silent: false, seq: 0 }) {
  h.server.onFrame = (socket: MockSocket, frame) => {
    if (frame.json?.type !== 'publish' || state.silent) return;
    socket.push({ type: 'ack', id: frame.json.id, seq: ++state.seq });
  };
  return state;
}

const publishes = (socket: MockSocket | undefined) => (socket?.sentOfType('publish') ?? []).map((frame) => frame.data);

describe('acknowledged sends', () => {
  it('resolves when the server acknowledges, not when written', async () => {
    const h = harness();
    const server = acking(h, { silent: true, seq: 0 });
    await h.connect();
    let settled = false;
    const sent = h.connection.send({ n: 1 }, { channel: 'orders', ack: true }).then(() => (settled = true));
    await h.settle();
    expect(publishes(h.server.last)).toEqual([{ n: 1 }]);
    expect(settled).toBe(false);
    const id = h.server.last!.sentOfType('publish')[0]!.id as string;
    h.server.last!.push({ type: 'ack', id, seq: 7 });
    await sent;
    expect(settled).toBe(true);
    server.silent = false;
  });

  it('rejects with the error the server answers for that id, without an extra error event', async () => {
    const h = harness();
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'publish') socket.push({ type: 'error', id: frame.json.id, code: 'AUTHORIZATION_FAILED', message: 'no publishing here' });
    };
    await h.connect();
    await expect(h.connection.send('x', { channel: 'admin:1', ack: true })).rejects.toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED });
    expect(h.errors).toEqual([]);
  });

  it('writes unacknowledged messages again after a reconnect, in their original order, before anything newer', async () => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    const server = acking(h, { silent: true, seq: 0 });
    await h.connect();
    const first = h.connection.send({ n: 1 }, { channel: 'c', ack: true });
    const second = h.connection.send({ n: 2 }, { channel: 'c', ack: true });
    await h.settle();
    h.server.last!.drop();
    await h.settle();
    const third = h.connection.send({ n: 3 }, { channel: 'c', ack: true });
    server.silent = false;
    await h.advance(100);
    expect(publishes(h.server.last)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    await Promise.all([first, second, third]);
    expect(new Set(h.server.sockets[0]!.sentOfType('publish').map((f) => f.id))).toEqual(new Set(h.server.last!.sentOfType('publish').slice(0, 2).map((f) => f.id)));
  });

  it('writes unacknowledged messages again after a reconnect in the order they were first written: a high-priority one still ahead of a normal one sent before it', async () => {
    const h = harness({ reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    const server = acking(h, { silent: true, seq: 0 });
    void h.connection.send({ n: 'normal' }, { channel: 'c', ack: true }).catch(() => {});
    void h.connection.send({ n: 'high' }, { channel: 'c', ack: true, priority: 'high' }).catch(() => {});
    await h.connect();
    expect(publishes(h.server.last)).toEqual([{ n: 'high' }, { n: 'normal' }]);
    h.server.last!.drop();
    await h.settle();
    server.silent = false;
    await h.advance(100);
    expect(publishes(h.server.last)).toEqual([{ n: 'high' }, { n: 'normal' }]);
  });

  it('writes again after acks.timeoutMs, and rejects with TIMEOUT after acks.maxAttempts writes', async () => {
    const h = harness({ acks: { timeoutMs: 1_000, maxAttempts: 3 } });
    acking(h, { silent: true, seq: 0 });
    await h.connect();
    let error: SocketchartError | undefined;
    const sent = h.connection.send('x', { channel: 'c', ack: true }).catch((e: SocketchartError) => (error = e));
    await h.settle();
    await h.advance(1_000);
    expect(h.server.last!.sentOfType('publish')).toHaveLength(2);
    await h.advance(1_000);
    expect(h.server.last!.sentOfType('publish')).toHaveLength(3);
    await h.advance(1_000);
    await sent;
    expect(error).toMatchObject({ code: ErrorCode.TIMEOUT });
    expect(h.server.last!.sentOfType('publish')).toHaveLength(3);
  });

  it('keeps one timer for any number of messages in flight', async () => {
    const h = harness({ heartbeat: false, reconnect: { minUptimeMs: 0 } });
    acking(h, { silent: true, seq: 0 });
    await h.connect();
    await h.advance(0);
    const baseline = h.clock.pending;
    for (let i = 0; i < 50; i++) void h.connection.send(i, { channel: 'c', ack: true }).catch(() => undefined);
    await h.settle();
    expect(h.clock.pending).toBe(baseline + 1);
  });

  it('a message queued while disconnected is tracked from its first write and resolves on its ack', async () => {
    const h = harness();
    acking(h);
    const sent = h.connection.send({ early: true }, { channel: 'c', ack: true });
    await h.connect();
    await expect(sent).resolves.toBeUndefined();
    expect(publishes(h.server.last)).toEqual([{ early: true }]);
  });

  it('rejects every message in flight with CLOSED on stop()', async () => {
    const h = harness();
    acking(h, { silent: true, seq: 0 });
    await h.connect();
    const sent = h.connection.send('x', { channel: 'c', ack: true });
    await h.settle();
    h.connection.stop();
    await expect(sent).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    await h.settle();
    expect(h.clock.pending).toBe(0);
  });

  it('needs a channel: the server acknowledges publishes', async () => {
    const h = harness();
    await h.connect();
    await expect(h.connection.send('x', { ack: true })).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT });
  });

  it('request() resolves with the server\'s answer for the message: its id, seq, duplicate flag and data', async () => {
    const h = harness({ heartbeat: false });
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'publish') socket.push({ type: 'ack', id: frame.json.id, seq: 12, duplicate: true, data: { total: 3 } });
    };
    await h.connect();
    const reply = await h.connection.request({ add: 1 }, { channel: 'carts:9', id: 'r-1' });
    expect(reply).toEqual({ id: 'r-1', seq: 12, duplicate: true, data: { total: 3 } });
  });

  it('request() resolves with no seq when the ack carries one the wire cannot (1e400, -1, 1.5)', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    for (const seq of ['1e400', '-1', '1.5']) {
      const reply = h.connection.request('x', { channel: 'carts:9', id: `r${seq}` });
      await h.settle();
      h.server.last!.push(`{"type":"ack","id":"r${seq}","seq":${seq}}`);
      await expect(reply).resolves.toEqual({ id: `r${seq}` });
    }
  });

  it('request() rejects with the server\'s error for the message, typed, the message given up', async () => {
    const h = harness({ heartbeat: false });
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'publish') socket.push({ type: 'error', id: frame.json.id, code: 'AUTHORIZATION_FAILED', message: 'not yours' });
    };
    await h.connect();
    await expect(h.connection.request('x', { channel: 'carts:9' })).rejects.toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED, recovery: 'fail' });
  });
});

describe('message ids the wire cannot carry back', () => {
  /** How each promise settled once the effects landed: its error code, 'resolved', or 'pending'. */
  async function outcomes(h: Harness, promises: ReadonlyArray<Promise<unknown>>) {
    const out = promises.map(() => 'pending');
    promises.forEach((promise, i) => void promise.then(() => (out[i] = 'resolved'), (error: SocketchartError) => (out[i] = error.code)));
    await h.settle();
    return out;
  }

  it('request() with an empty id, one over 128 characters or one that is not a string is refused at once with INVALID_OPTION, nothing written', async () => {
    const h = harness({ heartbeat: false });
    acking(h);
    await h.connect();
    const ids = ['', 'x'.repeat(129), 42 as unknown as string];
    const refused = ids.map((id) => h.connection.request('x', { channel: 'c', id }));
    expect(await outcomes(h, refused)).toEqual([ErrorCode.INVALID_OPTION, ErrorCode.INVALID_OPTION, ErrorCode.INVALID_OPTION]);
    await expect(refused[1]).rejects.toMatchObject({ message: expect.stringContaining('a non-empty string of at most 128 characters') });
    expect(publishes(h.server.last)).toEqual([]);
    expect(h.errors).toEqual([]);
  });

  it('an id of 128 characters is carried and acknowledged', async () => {
    const h = harness({ heartbeat: false });
    acking(h);
    await h.connect();
    const id = 'x'.repeat(128);
    await expect(h.connection.request('x', { channel: 'c', id })).resolves.toMatchObject({ id });
  });

  it('send() with an id the wire cannot carry is refused at once too, with or without ack', async () => {
    const h = harness({ heartbeat: false });
    acking(h);
    await h.connect();
    const refused = [h.connection.send('x', { channel: 'c', id: '' }), h.connection.send('x', { channel: 'c', id: 'y'.repeat(129), ack: true })];
    expect(await outcomes(h, refused)).toEqual([ErrorCode.INVALID_OPTION, ErrorCode.INVALID_OPTION]);
    expect(publishes(h.server.last)).toEqual([]);
  });
});

describe('ack tracker: a rate-limit hold does not outlive its socket', () => {
  it('a held message resent on a new socket waits acks.timeoutMs for its ack, not the old hold', async () => {
    const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 }, acks: { timeoutMs: 60_000, maxAttempts: 1 } });
    let refused = false;
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type !== 'publish' || refused) return;
      refused = true;
      socket.push({ type: 'error', id: frame.json.id, code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', retry_after: 5, details: { scope: 'chat' } });
    };
    await h.connect();
    let outcome: 'pending' | 'resolved' | SocketchartError = 'pending';
    h.connection.send('m', { channel: 'chat:1', ack: true }).then(
      () => (outcome = 'resolved'),
      (error: SocketchartError) => (outcome = error),
    );
    await h.settle(); // written once, refused: held until +5 s
    h.server.last!.drop();
    await h.settle();
    await h.advance(100); // new socket: "the server's holds end with its socket", the message is written again at once
    expect(h.connection.status).toBe('connected');
    const second = h.server.last!;
    expect(second.sentOfType('publish')).toHaveLength(1);
    const id = second.sentOfType('publish')[0]!.id;

    await h.advance(5_000); // the old socket's retry_after passes; only ~5 s of the 60 s ack timeout have elapsed
    expect(second.sentOfType('publish'), 'no extra write before the ack timeout').toHaveLength(1);
    expect(outcome, 'not given up 5 s after a write whose ack timeout is 60 s').toBe('pending');

    second.push({ type: 'ack', id, seq: 1 }); // the server acknowledges the resend
    await h.settle();
    expect(outcome).toBe('resolved');
  });
});

/** A simulated clock that runs a delay above 2^31 - 1 ms after 1 ms, as Node and browsers do. */
class HostLikeClock extends SimulatedClock {
  scheduled: number[] = [];
  override setTimeout(fn: () => void, ms: number) {
    this.scheduled.push(ms);
    return super.setTimeout(fn, ms > 2 ** 31 - 1 ? 1 : ms);
  }
}

describe('an acknowledged message held for a long retry_after', () => {
  it('a 30-day hold arms no timer beyond what host timers keep, and the tracker does not spin', async () => {
    const clock = new HostLikeClock(1_700_000_000_000);
    const h = harness({ heartbeat: false, clock, acks: { timeoutMs: 10_000, maxAttempts: 3 } });
    h.server.onFrame = (socket: MockSocket, frame) => {
      if (frame.json?.type === 'publish') {
        socket.push({ type: 'error', id: frame.json.id, code: 'RATE_LIMIT_EXCEEDED', message: 'banned', retry_after: 30 * 24 * 3600 });
      }
    };
    await h.connect();
    void h.connection.send('m', { channel: 'chat:1', ack: true }).catch(() => {});
    await h.settle();
    clock.scheduled = [];
    clock.advance(1_000);
    await h.settle();
    expect(clock.scheduled.filter((ms) => ms > 2 ** 31 - 1)).toEqual([]);
    expect(clock.scheduled.length).toBeLessThan(10);
    h.connection.dispose();
  });
});

describe('an acknowledged message the server refuses as too big', () => {
  it('a 1009 close fails the largest message written with MESSAGE_TOO_LARGE; the others go again after the reconnect', async () => {
    const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
    await h.connect();
    const state = acking(h, { silent: true, seq: 0 });
    const small = h.connection.send('small', { channel: 'c', ack: true });
    const big = h.connection.send('x'.repeat(2_000), { channel: 'c', ack: true }).then(
      () => 'resolved',
      (error: SocketchartError) => error.code,
    );
    await h.settle();
    h.server.last!.closeFromServer(1009, 'message too big');
    state.silent = false;
    await h.advance(100);
    await h.settle();
    expect(await big).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    await expect(small).resolves.toBeUndefined();
    expect(publishes(h.server.last)).toEqual(['small']);
  });
});

it('a request stopped while queued, then sent again at once under its id after start(): the new one is not failed by the old one, and resolves on its ack', async () => {
  const h = harness({ heartbeat: false });
  acking(h);
  const first = track(h.connection.request('order', { channel: 'c', id: 'order-42' }));
  h.connection.start();
  h.connection.stop();
  h.connection.start();
  const again = track(h.connection.request('order', { channel: 'c', id: 'order-42' }));
  await h.settle();
  await h.settle();
  expect(first).toMatchObject({ status: 'rejected', error: { code: ErrorCode.CLOSED } });
  expect(h.server.last!.sentOfType('publish').map((frame) => [frame.id, frame.data])).toEqual([['order-42', 'order']]);
  expect(again).toEqual({ status: 'resolved', error: undefined });
});
