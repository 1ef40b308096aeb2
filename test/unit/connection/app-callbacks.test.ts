import { afterEach, expect, it, vi } from 'vitest';
import { ErrorCode, jsonProtocol, type ProtocolAdapter } from '../../../src/index.js';
import { harness, type Harness } from '../../support/harness.js';
import { collectRethrown } from '../../support/rethrown.js';

/** A callback of the app that throws reaches the app (rethrown later, or as a typed error); it never stops the connection. */

/** Moves simulated time a second at a time (each dial's socket opens between two steps) until connected. */
async function reconnected(h: Harness): Promise<void> {
  for (let s = 0; s < 60 && h.connection.status !== 'connected'; s++) await h.advance(1_000);
}

afterEach(() => {
  vi.restoreAllMocks();
});

it('a logger that throws is rethrown later, and the connection still reconnects after a drop', async () => {
  const rethrown = collectRethrown();
  const failure = new Error('log transport down');
  const h = harness({
    logger: {
      warn: () => {
        throw failure;
      },
    },
  });
  await h.connect();
  h.server.last!.drop();
  await h.settle();
  expect(rethrown).toContain(failure);
  expect(h.connection.actor.getSnapshot().status).toBe('active');
  await reconnected(h);
  expect(h.connection.status).toBe('connected');
});

it('a dialGate whose request() throws is rethrown later, and the dial goes on without its permit', async () => {
  const rethrown = collectRethrown();
  const failure = new Error('gate down');
  const h = harness({
    dialGate: {
      request: () => {
        throw failure;
      },
    },
  });
  h.connection.start();
  await h.settle();
  expect(rethrown).toEqual([failure]);
  expect(h.connection.status).toBe('connected');
});

it('a dialGate whose withdraw function throws is rethrown later: the connection goes offline from queued, and dials once the network is back', async () => {
  const rethrown = collectRethrown();
  const failure = new Error('withdraw failed');
  const grants: Array<() => void> = [];
  const withdraw = () => {
    throw failure;
  };
  const h = harness({ dialGate: { request: (_priority, grant) => (grants.push(grant), withdraw) } });
  h.connection.start();
  await h.settle();
  expect(h.connection.status).toBe('queued');
  h.env.emit('offline');
  await h.settle();
  expect(rethrown).toEqual([failure]);
  expect(h.connection.status).toBe('offline');
  h.env.emit('online');
  await h.settle();
  grants.at(-1)!();
  await h.settle();
  expect(h.connection.actor.getSnapshot().status).toBe('active');
  expect(h.connection.status).toBe('connected');
});

it('a dialGate whose request() returns no withdraw function (an async request() returns a promise) lets the connection dial once granted', async () => {
  const grants: Array<() => void> = [];
  const request = async (_priority: number, grant: () => void) => void grants.push(grant);
  const h = harness({ dialGate: { request } as never });
  h.connection.start();
  await h.settle();
  expect(h.connection.status).toBe('queued');
  grants[0]!();
  await h.settle();
  expect(h.connection.actor.getSnapshot().status).toBe('active');
  expect(h.connection.status).toBe('connected');
});

it('a url function that throws is a CONNECTION_FAILED to retry, naming what it threw but not its message; the next dial asks again', async () => {
  let calls = 0;
  const h = harness({
    url: () => {
      if (++calls === 1) throw new TypeError('ticket t0p-s3cr3t expired');
      return 'ws://mock.test/socket';
    },
  });
  h.connection.start();
  await h.settle();
  expect(h.errors.map((error) => [error.code, error.recovery, error.message])).toEqual([[ErrorCode.CONNECTION_FAILED, 'retry', 'The url provider failed (TypeError)']]);
  expect(h.connection.status).toBe('reconnecting');
  await reconnected(h);
  expect(h.connection.status).toBe('connected');
  expect(calls).toBe(2);
});

it('connection.url reads what the url function answered for the last dial, without calling it again', async () => {
  let calls = 0;
  const h = harness({ url: () => `ws://mock.test/socket?ticket=${++calls}` });
  expect(h.connection.url).toBe('');
  await h.connect();
  expect(h.connection.url).toBe('ws://mock.test/socket?ticket=1');
  expect(h.connection.url).toBe('ws://mock.test/socket?ticket=1');
  expect(calls).toBe(1);
});

/** The default protocol, with frame builders for channel `bad:*` that throw (a custom adapter's bug). */
const flaky: ProtocolAdapter = {
  ...jsonProtocol,
  subscribeFrame: (ch, since) => {
    if (ch.startsWith('bad:')) throw new Error('subscribeFrame failed');
    return jsonProtocol.subscribeFrame(ch, since);
  },
  unsubscribeFrame: (ch) => {
    if (ch.startsWith('bad:')) throw new Error('unsubscribeFrame failed');
    return jsonProtocol.unsubscribeFrame(ch);
  },
};

it('a subscribeFrame that throws on a connected link is rethrown later: subscribe() returns its unsubscribe, which removes the listener', async () => {
  const rethrown = collectRethrown();
  const h = harness({ protocol: flaky });
  await h.connect();
  const heard: unknown[] = [];
  const off = h.connection.subscribe('bad:1', (data) => heard.push(data));
  await h.settle();
  expect(rethrown).toEqual([new Error('subscribeFrame failed')]);
  off();
  h.server.last!.push({ type: 'message', ch: 'bad:1', seq: 1, data: 'after unsubscribe' });
  await h.settle();
  expect(heard).toEqual([]);
});

it('an unsubscribeFrame that throws is rethrown later, not into the caller of the unsubscribe (a React effect cleanup)', async () => {
  const rethrown = collectRethrown();
  const h = harness({ protocol: { ...flaky, subscribeFrame: jsonProtocol.subscribeFrame } });
  await h.connect();
  const off = h.connection.subscribe('bad:2', () => {});
  expect(() => off()).not.toThrow();
  await h.settle();
  expect(rethrown).toEqual([new Error('unsubscribeFrame failed')]);
});
