import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, jsonProtocol, type ProtocolAdapter } from '../../../src/index.js';
import { harness } from '../../support/harness.js';
import { collectRethrown } from '../../support/rethrown.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** jsonProtocol with one more capability. */
const withCloseHandling = (extra: Pick<ProtocolAdapter, 'closeRule' | 'normalizeCloseCode'>): ProtocolAdapter => ({ ...jsonProtocol, ...extra });

describe('close codes under a protocol adapter', () => {
  it("an adapter's closeRule decides what the connection does; the error keeps the code received", async () => {
    const h = harness({
      protocol: withCloseHandling({ closeRule: (code) => (code === 4600 ? { action: 'fail', error: ErrorCode.AUTHORIZATION_FAILED, description: 'banned' } : undefined) }),
    });
    await h.connect();
    h.server.last!.closeFromServer(4600, 'go away');
    await h.settle();
    expect(h.connection.status).toBe('failed');
    expect(h.connection.lastError).toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED, closeCode: 4600, recovery: 'fail' });
    expect(h.connection.lastError?.message).toBe('Connection closed by the server: 4600 banned (go away)');
  });

  it('codes the adapter leaves undefined follow the common table', async () => {
    const h = harness({ protocol: withCloseHandling({ closeRule: () => undefined }) });
    await h.connect();
    h.server.last!.closeFromServer(4003, 'forbidden');
    await h.settle();
    expect(h.connection.status).toBe('failed');
    expect(h.connection.lastError).toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED, closeCode: 4003 });
  });

  it('a closeRule that throws on a code the server sent does not stop the connection: the common table decides, and the exception is rethrown on a later turn', async () => {
    const rethrown = collectRethrown();
    const h = harness({
      protocol: withCloseHandling({
        closeRule: (code) => {
          if (code === 4321) throw new TypeError('no rule for 4321');
          return undefined;
        },
      }),
      reconnect: { baseMs: 100, capMs: 100, jitter: 0 },
    });
    await h.connect();
    h.server.last!.closeFromServer(4321, 'unexpected');
    await h.settle();
    expect(h.connection.status).toBe('reconnecting');
    expect(rethrown).toEqual([new TypeError('no rule for 4321')]);
    await h.advance(100);
    expect(h.connection.status).toBe('connected');
  });

  it('the deprecated normalizeCloseCode still classifies, and no longer replaces the code the app sees', async () => {
    const h = harness({ protocol: withCloseHandling({ normalizeCloseCode: (code) => (code === 4601 ? 4003 : code) }) });
    await h.connect();
    h.server.last!.closeFromServer(4601, '');
    await h.settle();
    expect(h.connection.status).toBe('failed');
    expect(h.connection.lastError).toMatchObject({ code: ErrorCode.AUTHORIZATION_FAILED, closeCode: 4601 });
  });
});

describe('frame builders of a protocol adapter that throw', () => {
  const throwing = (extra: Partial<ProtocolAdapter>): ProtocolAdapter => ({ ...jsonProtocol, ...extra });

  it('a pingFrame that throws does not stop the connection: the ping is not sent, the heartbeat finds no pong and the connection reconnects', async () => {
    const rethrown = collectRethrown();
    const h = harness({
      protocol: throwing({
        pingFrame: (ts) => {
          if (ts > 0) throw new TypeError('no ping today');
          return jsonProtocol.pingFrame(ts);
        },
      }),
      heartbeat: { intervalMs: 1000, timeoutMs: 500 },
      reconnect: { baseMs: 100, capMs: 100, jitter: 0 },
    });
    await h.connect();
    await h.advance(1000);
    expect(rethrown).toEqual([new TypeError('no ping today')]);
    expect(h.server.last!.sentOfType('ping')).toEqual([]);
    await h.advance(500);
    expect(h.connection.status).toBe('reconnecting');
    await h.advance(100);
    expect(h.connection.status).toBe('connected');
    expect(h.server.sockets).toHaveLength(2);
  });

  it('an authFrame that throws does not stop the connection: nothing answers, the auth wait times out and the connection dials again', async () => {
    const rethrown = collectRethrown();
    let refuse = true;
    const h = harness({
      auth: { token: 'not-a-secret' },
      authTimeoutMs: 1000,
      reconnect: { baseMs: 100, capMs: 100, jitter: 0 },
      protocol: throwing({
        authFrame: (auth) => {
          if (refuse) throw new TypeError('no auth frame');
          return jsonProtocol.authFrame(auth);
        },
      }),
    });
    await h.connect();
    expect(h.connection.status).toBe('authenticating');
    expect(rethrown).toEqual([new TypeError('no auth frame')]);
    refuse = false;
    await h.advance(1000);
    await h.advance(100);
    expect(h.connection.status).toBe('connected');
    expect(h.server.sockets).toHaveLength(2);
  });

  it('a subscribeFrame that throws for one channel when the link comes back does not stop the connection: the other channels are subscribed again', async () => {
    const rethrown = collectRethrown();
    let refuse = false;
    const h = harness({
      reconnect: { baseMs: 100, capMs: 100, jitter: 0 },
      protocol: throwing({
        subscribeFrame: (channel, since) => {
          if (refuse && channel === 'bad') throw new TypeError('no frame for bad');
          return jsonProtocol.subscribeFrame(channel, since);
        },
      }),
    });
    await h.connect();
    h.connection.subscribe('bad', () => {});
    h.connection.subscribe('good', () => {});
    refuse = true;
    h.server.last!.drop();
    await h.advance(100);
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(rethrown).toEqual([new TypeError('no frame for bad')]);
    expect(h.server.last!.sentOfType('subscribe').map((frame) => frame.ch)).toEqual(['good']);
  });
});

describe('an adapter with the deprecated startsOperations flag', () => {
  /** An old-style adapter: `encode` with a channel is the start frame, `unsubscribeFrame` the stop frame. */
  const legacy: ProtocolAdapter = {
    ...jsonProtocol,
    startsOperations: true,
    encode: (data, { channel }) => JSON.stringify({ type: 'start', id: channel, data }),
    unsubscribeFrame: (id) => JSON.stringify({ type: 'stop', id }),
    subscribeFrame: () => undefined,
  };
  const framesOf = (h: ReturnType<typeof harness>, type: string) => h.server.sockets.map((socket) => socket.sentOfType(type).length);

  it('runs send(data, { channel }) as an operation: once per socket while live, stopped by its last listener leaving', async () => {
    const h = harness({ protocol: legacy });
    const off = h.connection.subscribe('op', () => {});
    await h.connect();
    await h.connection.send({ q: 1 }, { channel: 'op' });
    h.server.last!.drop();
    await h.settle();
    await h.advance(h.connection.snapshot.context.retryDelayMs);
    expect(h.connection.status).toBe('connected');
    expect(framesOf(h, 'start')).toEqual([1, 1]);
    off();
    expect(framesOf(h, 'stop')).toEqual([0, 1]);
    h.server.last!.drop();
    await h.settle();
    await h.advance(h.connection.snapshot.context.retryDelayMs);
    expect(framesOf(h, 'start')).toEqual([1, 1, 0]);
  });

  it('has no acknowledgements unless it says so', async () => {
    const h = harness({ protocol: legacy });
    await h.connect();
    await expect(h.connection.request({ q: 1 }, { channel: 'op' })).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT });
    const acking = harness({ protocol: { ...legacy, acknowledges: true } });
    await acking.connect();
    const acked = acking.connection.request({ q: 1 }, { channel: 'op', id: 'm1' });
    acking.server.last!.push({ type: 'ack', id: 'm1' });
    await expect(acked).resolves.toMatchObject({ id: 'm1' });
  });
});
