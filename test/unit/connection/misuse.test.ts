import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, InvalidOptionError, SocketchartError, createConnection, jsonProtocol, type ProtocolAdapter } from '../../../src/index.js';
import { createMockServer } from '../../../src/testing/index.js';
import { harness } from '../../support/harness.js';
import { collectRethrown } from '../../support/rethrown.js';

/** Programming errors are told at once, as such, by a typed error; never as a network fault later. */

describe('misuse is refused at once', () => {
  it('a protocol adapter that lacks a method is refused at creation, naming the method', () => {
    const { subprotocols: _subprotocols, ...incomplete } = jsonProtocol;
    const error = (() => {
      try {
        harness({ protocol: incomplete as unknown as ProtocolAdapter });
      } catch (thrown) {
        return thrown;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe('protocol.subprotocols');
  });

  it('every method of the adapter interface is checked', () => {
    for (const method of ['subprotocols', 'authFrame', 'awaitsAuthAnswer', 'refreshFrame', 'pingFrame', 'pongFrame', 'encode', 'subscribeFrame', 'unsubscribeFrame', 'decode'] as const) {
      const adapter = { ...jsonProtocol, [method]: 'not a function' } as unknown as ProtocolAdapter;
      expect(() => harness({ protocol: adapter }), method).toThrow(`protocol.${method}`);
    }
  });

  it('the optional members of an adapter, when present, have their types', () => {
    const cases: Array<[string, Partial<Record<string, unknown>>]> = [
      ['protocol.closeRule', { closeRule: 'sometimes' }],
      ['protocol.normalizeCloseCode', { normalizeCloseCode: 4 }],
      ['protocol.acknowledges', { acknowledges: 'yes' }],
      ['protocol.startsOperations', { startsOperations: 1 }],
      ['protocol.operations', { operations: { start: () => '' } }],
    ];
    for (const [option, extra] of cases) {
      expect(() => harness({ protocol: { ...jsonProtocol, ...extra } as unknown as ProtocolAdapter }), option).toThrow(option);
    }
  });

  it('send() with a ttl that is not a number of ms, 0 or more, rejects with InvalidOptionError naming ttl, and nothing is written or queued', async () => {
    const h = harness({ heartbeat: false });
    for (const ttl of [-1, Number.NaN, '5000', null]) {
      const queued = h.connection.send('early', { ttl: ttl as number });
      await expect(queued).rejects.toBeInstanceOf(InvalidOptionError);
      await expect(queued).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION, details: { option: 'ttl' } });
    }
    expect(h.connection.queued).toBe(0);
    await h.connect();
    await expect(h.connection.send('now', { ttl: -5 })).rejects.toMatchObject({ details: { option: 'ttl' } });
    await h.connection.send('kept', { ttl: 0 });
    expect(h.server.last!.sent.map((frame) => frame.raw)).toEqual(['kept']);
  });

  it('send() with a channel that is not a non-empty string rejects with InvalidOptionError naming channel, nothing is queued, and the connection stays up', async () => {
    const h = harness({ heartbeat: false, rateLimit: { channels: { chat: { perMinute: 60, burst: 5 } } } });
    const early = h.connection.send('early', { channel: 42 as unknown as string });
    await expect(early).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION, details: { option: 'channel' } });
    expect(h.connection.queued).toBe(0);
    await h.connect();
    for (const channel of [7, '', null]) {
      await expect(h.connection.send('now', { channel: channel as string }), String(channel)).rejects.toMatchObject({ details: { option: 'channel' } });
      await expect(h.connection.request('now', { channel: channel as string }), String(channel)).rejects.toMatchObject({ details: { option: 'channel' } });
    }
    await h.connection.send('kept', { channel: 'chat:1' });
    expect([h.connection.status, h.server.last!.sentOfType('publish').map((frame) => frame.data)]).toEqual(['connected', ['kept']]);
  });

  it('send() of data that is not JSON on a channel (undefined, a function, a symbol) rejects with INVALID_MESSAGE_FORMAT, final, and nothing is written or queued', async () => {
    const h = harness({ heartbeat: false });
    await h.connect();
    for (const data of [undefined, () => 1, Symbol('s')]) {
      await expect(h.connection.send(data, { channel: 'chat:1' })).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT, recovery: 'fail' });
      await expect(h.connection.send(data, { channel: 'chat:1', id: 'm-1', ack: true })).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE_FORMAT, recovery: 'fail' });
    }
    await h.connection.send(null, { channel: 'chat:1' });
    expect([h.server.last!.sentOfType('publish'), h.connection.queued]).toEqual([[expect.objectContaining({ ch: 'chat:1', data: null })], 0]);
  });

  it('a message over maxMessageBytes is refused by send() and counted among the drops', async () => {
    const h = harness({ heartbeat: false, maxMessageBytes: 8 });
    await h.connect();
    await expect(h.connection.send('x'.repeat(9))).rejects.toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE });
    expect(h.connection.metrics().drops).toBe(1);
  });

  it('subscribe() needs a channel name and a listener', () => {
    const h = harness();
    expect(() => h.connection.subscribe('', () => {})).toThrow(InvalidOptionError);
    expect(() => h.connection.subscribe('', () => {})).toThrow(/channel/);
    expect(() => h.connection.subscribe('news', undefined as never)).toThrow(/listener/);
    expect(() => h.connection.subscribe(42 as never, () => {})).toThrow(/channel/);
  });

  it('on() needs a listener: one that is not a function is refused at the call, and nothing listens', async () => {
    const h = harness();
    for (const event of ['error', 'message'] as const) {
      expect(() => h.connection.on(event, undefined as never)).toThrow(InvalidOptionError);
      expect(() => h.connection.on(event, 'handler' as never)).toThrow(/listener/);
    }
    const rethrown = collectRethrown();
    await h.connect();
    h.server.last!.push('not json');
    h.server.last!.push({ type: 'message', ch: 'a', data: 1 });
    await h.settle();
    vi.restoreAllMocks();
    expect(rethrown).toEqual([]);
  });

  it('start() after dispose() is refused with CLOSED, and the disposed connection reads closed', async () => {
    const h = harness();
    await h.connect();
    h.connection.dispose();
    expect(h.connection.status).toBe('closed');
    expect(h.states.at(-1)).toBe('closed');
    expect(() => h.connection.start()).toThrow(SocketchartError);
    expect(() => h.connection.start()).toThrow(/disposed/);
    expect(() => h.connection.retry()).toThrow(/disposed/);
    await expect(h.connection.send('late')).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    expect(h.server.sockets).toHaveLength(1);
  });

  it('stop() after dispose() does nothing, as pool.stop() after dispose() does', async () => {
    const h = harness();
    await h.connect();
    h.connection.dispose();
    expect(() => h.connection.stop()).not.toThrow();
    expect(h.connection.status).toBe('closed');
  });

  it('stop() with a close code or reason a browser WebSocket refuses throws InvalidOptionError naming it, and the connection stays up', async () => {
    const h = harness();
    await h.connect();
    for (const code of [1001, 2999, 5000, 3000.5]) expect(() => h.connection.stop({ code })).toThrow(expect.objectContaining({ option: 'code' }));
    expect(() => h.connection.stop({ reason: '€'.repeat(42) })).toThrow(expect.objectContaining({ option: 'reason' }));
    expect(() => h.connection.stop({ reason: 42 as never })).toThrow(expect.objectContaining({ option: 'reason' }));
    await h.settle();
    expect(h.connection.status).toBe('connected');
    h.connection.stop({ code: 4999, reason: '€'.repeat(41) });
    await h.settle();
    expect(h.server.last!.closedByClient).toMatchObject({ code: 4999, reason: '€'.repeat(41) });
  });

  it('stop() takes 1000 and 3000 as the bounds of what it allows', async () => {
    for (const code of [1000, 3000]) {
      const h = harness();
      await h.connect();
      h.connection.stop({ code });
      await h.settle();
      expect(h.server.last!.closedByClient?.code).toBe(code);
    }
  });

  it('a url error does not echo the token a query carries', () => {
    const { WebSocket } = createMockServer();
    const error = (() => {
      try {
        createConnection({ url: 'http://x.test/?token=s3cr3t-t0k3n', WebSocket });
      } catch (thrown) {
        return thrown as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error?.message).not.toContain('s3cr3t-t0k3n');
    expect(error?.message).toContain('url');
  });
});
