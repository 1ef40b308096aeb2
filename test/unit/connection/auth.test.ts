import { describe, expect, it } from 'vitest';
import { ErrorCode, JSON_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX } from '../../../src/index.js';
import { tokenProvider } from '../../support/tokens.js';
import { harness, refuseAuth } from '../../support/harness.js';
import { expectInvariants } from '../../support/invariants.js';
import { heapHoldsText } from '../../support/collect.js';

const SECRET = 'secret-token-value-123';

function provider(tokens: string[] = [SECRET]) {
  const { token, reasons } = tokenProvider(tokens);
  return { token, calls: reasons };
}

/** A connection whose in-band refresh (30 s into a 60 s session, token t2) went out and is not answered. */
async function refreshUnanswered() {
  const { token } = tokenProvider(['t1', 't2', 't3']);
  const h = harness({ auth: { token, refreshLeadMs: 30_000 }, authTimeoutMs: 5_000, heartbeat: false }, { sessionTtlMs: 60_000 });
  await h.connect();
  h.server.options.autoAuth = false;
  await h.advance(30_000);
  await h.settle();
  return h;
}

describe('authentication', () => {
  it('message mode (default) sends the token as the first frame and waits for auth_ok', async () => {
    const h = harness({ auth: { token: SECRET } }, { autoAuth: false });
    h.connection.start();
    await h.settle();
    expect(h.connection.status).toBe('authenticating');
    expect(h.server.last!.sent[0]?.json).toEqual({ type: 'auth', token: SECRET });
    h.server.last!.push({ type: 'auth_ok', userId: 'u', sessionId: 's' });
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(h.connection.session).toEqual({ userId: 'u', sessionId: 's' });
  });

  it('subprotocol mode offers the token as a Sec-WebSocket-Protocol entry and sends no auth frame', async () => {
    const h = harness({ auth: { token: SECRET, mode: 'subprotocol' }, protocols: ['app.v2'] }, { autoAuth: false });
    h.connection.start();
    await h.settle();
    expect(h.server.last!.protocols).toEqual(['app.v2', JSON_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX + SECRET]);
    expect(h.server.last!.sentOfType('auth')).toEqual([]);
    h.server.last!.push({ type: 'auth_ok', userId: 'u' });
    await h.settle();
    expect(h.connection.status).toBe('connected');
  });

  it('query mode puts the token in the URL and redacts it from every log line and error', async () => {
    const lines: string[] = [];
    const record = (message: string, details?: Record<string, unknown>) => lines.push(message + JSON.stringify(details ?? {}));
    const h = harness({
      url: 'ws://mock.test/socket?room=1',
      auth: { token: SECRET, mode: 'query' },
      logger: { debug: record, info: record, warn: record, error: record },
    });
    await h.connect();
    expect(h.server.last!.url).toBe(`ws://mock.test/socket?room=1&token=${SECRET}`);
    h.server.last!.closeFromServer(1011, `boom ${SECRET}`);
    await h.settle();
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.join('\n')).not.toContain(SECRET);
    expect(JSON.stringify(h.errors)).not.toContain(SECRET);
    expect(JSON.stringify(h.connection.metrics())).not.toContain(SECRET);
  });

  it("keeps the password of a url's user-info out of the url shown, every log line and error", async () => {
    const lines: string[] = [];
    const record = (message: string, details?: Record<string, unknown>) => lines.push(message + JSON.stringify(details ?? {}));
    const h = harness({ url: `ws://alice:${SECRET}@mock.test/socket`, logger: { debug: record, info: record, warn: record, error: record } });
    await h.connect();
    expect(h.server.last!.url).toBe(`ws://alice:${SECRET}@mock.test/socket`);
    h.server.last!.closeFromServer(1011, `boom ws://alice:${SECRET}@mock.test/socket`);
    await h.settle();
    expect(h.connection.url).toBe('ws://[redacted]@mock.test/socket');
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.join('\n')).not.toContain(SECRET);
    expect(JSON.stringify(h.errors)).not.toContain(SECRET);
    expect(JSON.stringify(h.connection.metrics())).not.toContain(SECRET);
  });

  it("keeps the password of a url's user-info out of an error frame that echoes the url, also without auth", async () => {
    const h = harness({ url: `ws://alice:${SECRET}@mock.test/socket`, heartbeat: false });
    await h.connect();
    h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: `no route to ws://alice:${SECRET}@mock.test/socket`, details: { url: `ws://alice:${SECRET}@mock.test/socket` } });
    await h.settle();
    expect(h.errors.map((error) => error.message)).toEqual(['no route to ws://[redacted]@mock.test/socket']);
    expect(JSON.stringify(h.errors)).not.toContain(SECRET);
  });

  it('redacts the token from an error frame that echoes it however deep in its details', async () => {
    const h = harness({ auth: { token: SECRET } });
    await h.connect();
    let nested: unknown = { echoed: `token=${SECRET}` };
    for (let level = 0; level < 12; level++) nested = { level, nested: [nested] };
    h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: 'rejected', details: nested });
    await h.settle();
    expect(h.errors.map((error) => error.message)).toContain('rejected');
    expect(JSON.stringify(h.errors.map((error) => error.details))).not.toContain(SECRET);
  });

  it('an unknown frame type or an error code that echoes a long token, cut short in the error, reaches on(error) with no 8 characters of the token', async () => {
    const token = `sk_live_${'Q7vR2mX9pL4wK8zN'.repeat(6)}`;
    const h = harness({ heartbeat: false, auth: { token } });
    await h.connect();
    h.server.last!.push({ type: token });
    h.server.last!.push({ type: 'error', code: `bad token ${token}` });
    await h.settle();
    expect(h.errors.map((error) => error.message)).toEqual(['Unknown frame type "[redacted]"', 'Server error bad token [redacted]']);
    expect(h.errors[0]!.details).toEqual({ type: '[redacted]' });
  });

  it('a connection disposed after redacting its token from an error leaves no copy of the token on the heap', async () => {
    const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const bytes = Buffer.from(Array.from({ length: 48 }, () => letters[Math.floor(Math.random() * letters.length)]).join(''));
    await (async () => {
      const h = harness({ heartbeat: false, auth: { token: async () => bytes.toString() } });
      await h.connect();
      h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: `refused ${bytes.toString().slice(0, 30)}` });
      await h.settle();
      expect(h.errors.map((error) => error.message)).toEqual(['refused [redacted]']);
      h.connection.dispose();
      await h.settle();
    })();
    expect(await heapHoldsText(bytes.subarray(20, 28))).toBe(false);
  });

  it('an error frame whose details nest deeper than a stack can walk is reported, without its depth, and the socket stays up', async () => {
    const h = harness({ auth: { token: SECRET } });
    await h.connect();
    const depth = 200_000;
    const frame = `{"type":"error","code":"SERVER_ERROR","message":"rejected","details":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    h.server.last!.push(frame);
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(h.errors.map((error) => error.message)).toEqual(['rejected']);
    expect(() => JSON.stringify(h.errors[0]!.details)).not.toThrow();
  });

  it('asks an async token provider on every dial', async () => {
    const { token, calls } = provider();
    const h = harness({ auth: { token } });
    await h.connect();
    h.server.last!.drop();
    await h.settle();
    await h.advance(h.connection.snapshot.context.retryDelayMs);
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(calls).toEqual(['connect', 'connect']);
  });

  it('refreshes the token in-band before expiry without dropping the socket', async () => {
    const { token, calls } = provider(['t1', 't2', 't3']);
    const h = harness({ auth: { token, refreshLeadMs: 30_000 } }, { sessionTtlMs: 120_000 });
    await h.connect();
    const socket = h.server.last!;
    await h.elapse(89_999);
    expect(socket.sentOfType('auth')).toHaveLength(1);
    await h.advance(1);
    await h.settle();
    expect(socket.sentOfType('auth').map((frame) => frame.token)).toEqual(['t1', 't2']);
    expect(calls).toEqual(['connect', 'refresh']);
    await h.elapse(90_000);
    await h.settle();
    expect(socket.sentOfType('auth').map((frame) => frame.token)).toEqual(['t1', 't2', 't3']);
    expect(h.server.sockets).toHaveLength(1);
    expect(h.connection.status).toBe('connected');
  });

  it('a refresh abandoned when the link dropped never sends its token, even when it comes in the same turn as the next refresh', async () => {
    const refreshes: Array<(token: string) => void> = [];
    let dials = 0;
    const token = ({ reason }: { reason: string }) => (reason === 'refresh' ? new Promise<string>((resolve) => refreshes.push(resolve)) : `c${++dials}`);
    const h = harness({ auth: { token, refreshLeadMs: 30_000 }, heartbeat: false }, { sessionTtlMs: 60_000 });
    await h.connect();
    await h.advance(30_000); // the refresh on the first socket waits for its token
    h.server.last!.drop();
    await h.settle();
    await h.advance(0);
    await h.settle();
    expect(h.connection.status).toBe('connected');
    await h.advance(30_000); // the refresh on the second socket
    expect(refreshes).toHaveLength(2);
    refreshes[1]!('fresh');
    refreshes[0]!('old');
    await h.settle();
    expect(h.server.sockets[1]!.sentOfType('auth').map((frame) => frame.token)).toEqual(['c2', 'fresh']);
  });

  it('a refused in-band refresh is reported and keeps the link; the 4001 that ends the session gets one fresh token, and its refusal ends in failed', async () => {
    const { token, calls } = provider(['good', 'bad']);
    const h = harness({ auth: { token } }, { sessionTtlMs: 60_000, autoAuth: (t) => t === 'good' });
    await h.connect();
    const socket = h.server.last!;
    await h.advance(30_000);
    await h.settle();
    expect(h.errors.map((e) => e.code)).toEqual([ErrorCode.AUTHENTICATION_FAILED]);
    expect(socket.isLive).toBe(true);
    expect(h.connection.status).toBe('connected');
    await h.advance(30_000);
    socket.closeFromServer(4001, 'session expired'); // as the reference server ends a session at its expiresAt
    await h.settle();
    await h.settle();
    expect(calls).toEqual(['connect', 'refresh', 'rejected']);
    expect(h.server.sockets).toHaveLength(2);
    expect(h.connection.status).toBe('failed');
    expect(h.connection.lastError?.code).toBe(ErrorCode.AUTHENTICATION_FAILED);
  });

  it('on 4001 fetches a fresh token once and connects with it', async () => {
    const { token, calls } = provider(['stale', 'fresh']);
    const h = harness({ auth: { token } }, { autoAuth: (t) => t === 'fresh' });
    h.connection.start();
    await h.settle();
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(calls).toEqual(['connect', 'rejected']);
    expect(h.server.sockets).toHaveLength(2);
  });

  it('a token refused twice in a row ends in failed, with no third dial without retry() (invariant 6)', async () => {
    const { token, calls } = provider(['bad']);
    const h = harness({ auth: { token } }, { autoAuth: false });
    refuseAuth(h);
    h.connection.start();
    await h.settle();
    await h.settle();
    expect(h.connection.status).toBe('failed');
    expect(h.server.sockets).toHaveLength(2);
    expect(calls).toEqual(['connect', 'rejected']);
    await h.advance(24 * 3_600_000);
    h.env.emit('offline');
    h.env.emit('online');
    h.env.emit('visible');
    await h.settle();
    expect(h.server.sockets).toHaveLength(2);
    h.connection.retry();
    await h.settle();
    await h.settle();
    expect(h.server.sockets).toHaveLength(4);
    expect(calls).toEqual(['connect', 'rejected', 'connect', 'rejected']);
    expect(h.connection.status).toBe('failed');
  });

  it('a static token refused with 4001 fails at once: the same credential is never presented twice', async () => {
    const h = harness({ auth: { token: SECRET } }, { autoAuth: false });
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'auth') socket.closeFromServer(4001);
    };
    h.connection.start();
    await h.settle();
    expect(h.connection.status).toBe('failed');
    await h.advance(3_600_000);
    expect(h.server.sockets).toHaveLength(1);
  });

  it('4003 forbidden fails at once and never dials again on its own', async () => {
    const h = harness({ auth: { token: async () => 'x' } }, { autoAuth: false });
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'auth') socket.closeFromServer(4003, 'forbidden');
    };
    h.connection.start();
    await h.settle();
    await h.settle();
    expect(h.connection.status).toBe('failed');
    expect(h.connection.lastError?.code).toBe(ErrorCode.AUTHORIZATION_FAILED);
    await h.advance(3_600_000);
    expect(h.server.sockets).toHaveLength(1);
    expectInvariants(h);
  });

  it('an AUTHORIZATION_FAILED error frame during auth fails the connection', async () => {
    const h = harness({ auth: { token: SECRET } }, { autoAuth: false });
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'auth') socket.push({ type: 'error', code: 'AUTHORIZATION_FAILED', message: 'no' });
    };
    h.connection.start();
    await h.settle();
    expect(h.connection.status).toBe('failed');
    expect(h.server.live).toHaveLength(0);
  });

  it('a token provider that throws is retried with backoff, not treated as a refusal', async () => {
    let fail = true;
    const h = harness({ auth: { token: async () => { if (fail) throw new Error('offline idp'); return 'ok'; } } });
    h.connection.start();
    await h.settle();
    expect(h.connection.status).toBe('reconnecting');
    expect(h.errors[0]?.code).toBe(ErrorCode.AUTHENTICATION_FAILED);
    expect(h.errors[0]?.recovery).toBe('retry');
    fail = false;
    await h.advance(h.connection.snapshot.context.retryDelayMs);
    await h.settle();
    expect(h.connection.status).toBe('connected');
  });

  it('a token provider that gives no token (empty, undefined, not a string) dials nothing, says so, and is asked again after a backoff', async () => {
    const answers: unknown[] = ['', undefined, 42, 'ok'];
    const h = harness({ auth: { token: async () => answers.shift() as string } });
    h.connection.start();
    await h.settle();
    for (let i = 0; i < 3; i++) {
      expect(h.connection.status).toBe('reconnecting');
      expect(h.server.sockets).toHaveLength(0);
      await h.advance(h.connection.snapshot.context.retryDelayMs);
      await h.settle();
    }
    expect(h.errors.map((error) => [error.code, error.message, error.recovery])).toEqual(
      Array.from({ length: 3 }, () => [ErrorCode.AUTHENTICATION_FAILED, 'The token provider returned no token', 'retry']),
    );
    expect(h.connection.status).toBe('connected');
    expect(h.server.last!.sentOfType('auth')).toEqual([{ type: 'auth', token: 'ok' }]);
  });

  it('a token provider that has not answered by connectTimeoutMs is named in the TIMEOUT, not the socket', async () => {
    const h = harness({ auth: { token: () => new Promise<string>(() => undefined) }, connectTimeoutMs: 4_000 });
    h.connection.start();
    await h.settle();
    await h.advance(4_000);
    expect(h.connection.status).toBe('reconnecting');
    expect(h.server.sockets).toHaveLength(0);
    expect(h.errors.at(-1)?.code).toBe(ErrorCode.TIMEOUT);
    expect(h.errors.at(-1)?.message).toMatch(/token provider did not answer within 4000 ms/);
    expect(h.errors.at(-1)?.message).toMatch(/connectTimeoutMs/);
  });

  it('a socket that does not open after the token came is still reported as the socket not opening', async () => {
    const h = harness({ auth: { token: async () => SECRET }, connectTimeoutMs: 4_000 }, { autoOpen: false });
    h.connection.start();
    await h.settle();
    expect(h.server.sockets).toHaveLength(1);
    await h.advance(4_000);
    expect(h.connection.status).toBe('reconnecting');
    expect(h.errors.at(-1)?.code).toBe(ErrorCode.TIMEOUT);
    expect(h.errors.at(-1)?.message).toMatch(/socket did not open within 4000 ms/);
  });

  it('a server that never answers auth times out after authTimeoutMs and reconnects', async () => {
    const h = harness({ auth: { token: SECRET }, authTimeoutMs: 3_000 }, { autoAuth: false });
    h.connection.start();
    await h.settle();
    await h.advance(2_999);
    expect(h.connection.status).toBe('authenticating');
    await h.advance(1);
    expect(h.connection.status).toBe('reconnecting');
    expect(h.errors.at(-1)).toMatchObject({ code: ErrorCode.TIMEOUT, message: 'The server did not answer the auth frame within 3000 ms' });
    expect(h.server.live).toHaveLength(0);
  });
});

describe('token reason after a recovered 4001', () => {
  it('a dial with the fresh token that fails on the network asks the next token with reason "connect"', async () => {
    const reasons: string[] = [];
    const h = harness(
      {
        auth: {
          token: async ({ reason }) => {
            reasons.push(reason);
            h.server.refusing = reason === 'rejected';
            return reasons.length === 1 ? 'stale' : 'fresh';
          },
        },
      },
      { autoAuth: (t) => t === 'fresh' },
    );
    h.connection.start();
    for (let i = 0; i < 4; i++) await h.settle();
    expect(reasons).toEqual(['connect', 'rejected']);
    expect(h.connection.status).toBe('reconnecting');
    await h.advance(h.connection.snapshot.context.retryDelayMs);
    await h.settle();
    expect(reasons).toEqual(['connect', 'rejected', 'connect']);
    expect(h.connection.status).toBe('connected');
  });

  it('behind a dial gate, a 4001 still asks for a fresh token with reason "rejected"', async () => {
    const reasons: string[] = [];
    const h = harness(
      { auth: { token: async ({ reason }) => (reasons.push(reason), reasons.length === 1 ? 'stale' : 'fresh') }, dialGate: { request: (_priority, grant) => (grant(), () => {}) } },
      { autoAuth: (t) => t === 'fresh' },
    );
    h.connection.start();
    for (let i = 0; i < 4; i++) await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(reasons).toEqual(['connect', 'rejected']);
  });

  /** A provider that answers "connect" from its cache (the token the server refused) and fetches anew otherwise, its first fetch failing with `fail`. */
  const cachingProvider = (fail: () => Promise<string>) => {
    const reasons: string[] = [];
    let cached = 'stale';
    let fetches = 0;
    const token = async ({ reason }: { reason: string }) => {
      reasons.push(reason);
      if (reason === 'connect') return cached;
      return fetches++ === 0 ? fail() : (cached = 'fresh');
    };
    return { token, reasons };
  };

  for (const [what, fail, options] of [
    ['fails to give', () => Promise.reject(new Error('identity provider unreachable')), {}],
    ['does not give within connectTimeoutMs', () => new Promise<string>(() => {}), { connectTimeoutMs: 2_000 }],
  ] as const) {
    it(`a fresh token the provider ${what} is asked for again with reason "rejected": the refused token is not presented twice`, async () => {
      const { token, reasons } = cachingProvider(fail);
      const h = harness({ auth: { token }, heartbeat: false, ...options }, { autoAuth: (t) => t === 'fresh' });
      h.connection.start();
      for (let i = 0; i < 4; i++) await h.settle();
      if ('connectTimeoutMs' in options) await h.advance(options.connectTimeoutMs);
      expect(h.connection.status).toBe('reconnecting');
      await h.advance(h.connection.snapshot.context.retryDelayMs);
      for (let i = 0; i < 4; i++) await h.settle();
      expect(reasons).toEqual(['connect', 'rejected', 'rejected']);
      expect(h.server.sockets.map((socket) => socket.sentOfType('auth')[0]?.token)).toEqual(['stale', 'fresh']);
      expect(h.connection.status).toBe('connected');
    });
  }

  it('an ordinary reconnect after offline/online asks with reason "connect"', async () => {
    const reasons: string[] = [];
    let n = 0;
    const h = harness(
      { auth: { token: async ({ reason }) => (reasons.push(reason), n++ === 0 ? 'stale' : 'fresh') } },
      { autoAuth: (t) => t === 'fresh' },
    );
    h.connection.start();
    await h.settle();
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(reasons).toEqual(['connect', 'rejected']);
    h.env.emit('offline');
    await h.settle();
    h.env.emit('online');
    await h.settle();
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(reasons).toEqual(['connect', 'rejected', 'connect']);
  });

  it('same with closeWhenHidden: hidden → visible', async () => {
    const reasons: string[] = [];
    let n = 0;
    const h = harness(
      { closeWhenHidden: true, auth: { token: async ({ reason }) => (reasons.push(reason), n++ === 0 ? 'stale' : 'fresh') } },
      { autoAuth: (t) => t === 'fresh' },
    );
    h.connection.start();
    await h.settle();
    await h.settle();
    expect(h.connection.status).toBe('connected');
    h.env.emit('hidden');
    await h.settle();
    h.env.emit('visible');
    await h.settle();
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(reasons).toEqual(['connect', 'rejected', 'connect']);
  });
});

describe('in-band refresh timing', () => {
  it('a session shorter than refreshLeadMs does not start a refresh storm', async () => {
    const { token, reasons } = tokenProvider(['t']);
    const h = harness({ auth: { token, refreshLeadMs: 30_000 }, heartbeat: false }, { sessionTtlMs: 20_000 });
    await h.connect();
    expect(h.connection.status).toBe('connected');
    for (let i = 0; i < 20; i++) await h.advance(10); // 200 ms of simulated time
    const refreshes = reasons.filter((reason) => reason === 'refresh').length;
    expect(refreshes, `token provider asked ${refreshes} times for a refresh in 200 ms`).toBeLessThanOrEqual(1);
  });

  it('a client clock 40 s ahead of the server (60 s sessions, 30 s lead) does not start a refresh storm', async () => {
    const { token, reasons } = tokenProvider(['t']);
    const h = harness({ auth: { token, refreshLeadMs: 30_000 }, heartbeat: false }, {});
    // the server stamps expiresAt with its own clock, 40 s behind the client's
    h.server.options.sessionTtlMs = 60_000;
    (h.server.options as { now: () => number }).now = () => h.clock.now() - 40_000;
    await h.connect();
    for (let i = 0; i < 20; i++) await h.advance(10);
    const refreshes = reasons.filter((reason) => reason === 'refresh').length;
    expect(refreshes, `token provider asked ${refreshes} times for a refresh in 200 ms`).toBeLessThanOrEqual(1);
    expect(h.server.last!.sentOfType('auth').length).toBeLessThanOrEqual(2);
  });
});

describe('in-band refresh schedule', () => {
  const authFrames = (h: ReturnType<typeof harness>) => h.server.last!.sentOfType('auth').length;
  /** The next refresh's auth frame goes out `ms` from now, not a millisecond before. */
  async function expectNextRefreshIn(h: ReturnType<typeof harness>, ms: number): Promise<void> {
    const before = authFrames(h);
    await h.advance(ms - 1);
    expect(authFrames(h), 'auth frames a millisecond before').toBe(before);
    await h.advance(1);
    await h.settle();
    expect(authFrames(h)).toBe(before + 1);
  }

  for (const sessionTtlMs of [16_000, 30_000]) {
    it(`a session of ${sessionTtlMs / 1_000} s, not longer than refreshLeadMs (30 s), is refreshed halfway through`, async () => {
      const { token } = tokenProvider(['t']);
      const h = harness({ auth: { token, refreshLeadMs: 30_000 }, heartbeat: false }, { sessionTtlMs });
      await h.connect();
      await expectNextRefreshIn(h, sessionTtlMs / 2);
    });
  }

  for (const [behindMs, what] of [[100_000, 'already over'], [60_000, 'ending the moment it begins']] as const) {
    it(`a session ${what} by the client clock is refreshed after authTimeoutMs`, async () => {
      const { token } = tokenProvider(['t']);
      const h = harness({ auth: { token, refreshLeadMs: 30_000 }, authTimeoutMs: 5_000, heartbeat: false }, { sessionTtlMs: 60_000 });
      (h.server.options as { now: () => number }).now = () => h.clock.now() - behindMs;
      await h.connect();
      await expectNextRefreshIn(h, 5_000);
    });
  }

  it('a session without expiresAt is never refreshed', async () => {
    const { token, reasons } = tokenProvider(['t']);
    const h = harness({ auth: { token, refreshLeadMs: 30_000 }, heartbeat: false });
    await h.connect();
    await h.advance(3_600_000);
    expect(authFrames(h)).toBe(1);
    expect(reasons).toEqual(['connect']);
  });

  it('each refresh is timed from the session that confirmed the one before', async () => {
    const { token } = tokenProvider(['t1', 't2', 't3']);
    const h = harness({ auth: { token, refreshLeadMs: 30_000 }, heartbeat: false }, { sessionTtlMs: 120_000 });
    await h.connect();
    h.server.options.sessionTtlMs = 40_000;
    await expectNextRefreshIn(h, 90_000);
    await expectNextRefreshIn(h, 10_000);
  });

  it('a static token is never refreshed in-band: the session ends at expiry as the server decides', async () => {
    const h = harness({ auth: { token: 'static', refreshLeadMs: 30_000 }, heartbeat: false }, { sessionTtlMs: 60_000 });
    await h.connect();
    await h.advance(3_600_000);
    expect(authFrames(h)).toBe(1);
    expect(h.connection.status).toBe('connected');
  });

  it('a token provider that fails a refresh is reported with its cause, and the link stays up until the server ends the session', async () => {
    const cause = new Error('token endpoint down');
    let calls = 0;
    const h = harness({ auth: { token: () => (++calls === 1 ? 't1' : Promise.reject(cause)), refreshLeadMs: 30_000 }, heartbeat: false }, { sessionTtlMs: 60_000 });
    await h.connect();
    await h.advance(30_000);
    await h.settle();
    expect(h.errors).toHaveLength(1);
    expect(h.errors[0]).toMatchObject({ code: ErrorCode.AUTHENTICATION_FAILED, cause });
    await h.advance(3_600_000);
    expect(calls).toBe(2);
    expect(authFrames(h)).toBe(1);
    expect(h.connection.status).toBe('connected');
  });

  it('a refresh the server does not confirm within authTimeoutMs is reported as a TIMEOUT, once', async () => {
    const h = await refreshUnanswered();
    expect(authFrames(h)).toBe(2);
    await h.advance(4_999);
    expect(h.errors).toHaveLength(0);
    await h.advance(1);
    expect(h.errors.map((error) => error.code)).toEqual([ErrorCode.TIMEOUT]);
    await h.advance(3_600_000);
    expect(h.errors).toHaveLength(1);
    expect(h.connection.status).toBe('connected');
  });

  it('a confirmation that comes after the TIMEOUT is still taken: the next refresh is timed from the session it confirms', async () => {
    const h = await refreshUnanswered();
    await h.advance(5_000);
    expect(h.errors.map((error) => error.code)).toEqual([ErrorCode.TIMEOUT]);
    await h.advance(2_000);
    h.server.last!.push({ type: 'auth_ok', userId: 'u', sessionId: 's', expiresAt: h.clock.now() + 90_000 });
    await h.settle();
    await expectNextRefreshIn(h, 60_000);
    expect(h.server.last!.sentOfType('auth').map((frame) => frame.token)).toEqual(['t1', 't2', 't3']);
    expect(h.errors).toHaveLength(1);
  });
});

describe('in-band refresh answered with an error', () => {
  it('reports the refusal once, not a refusal and then a TIMEOUT', async () => {
    const { token } = tokenProvider(['good', 'bad']);
    const h = harness({ auth: { token, refreshLeadMs: 30_000 }, authTimeoutMs: 5_000, heartbeat: false }, { sessionTtlMs: 60_000, autoAuth: false });
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type !== 'auth') return;
      if (frame.json.token === 'good') socket.push({ type: 'auth_ok', userId: 'u', sessionId: 's', expiresAt: h.clock.now() + 60_000 });
      else socket.push({ type: 'error', code: 'AUTHENTICATION_FAILED', message: 'refresh refused' });
    };
    await h.connect();
    expect(h.connection.status).toBe('connected');
    await h.advance(30_000); // the refresh goes out and is refused
    await h.settle();
    expect(h.server.last!.sentOfType('auth').map((f) => f.token)).toEqual(['good', 'bad']);
    expect(h.errors.map((e) => e.code)).toEqual([ErrorCode.AUTHENTICATION_FAILED]);
    await h.advance(5_000); // authTimeoutMs later
    expect(h.errors.map((e) => `${e.code}: ${e.message}`)).toEqual([`${ErrorCode.AUTHENTICATION_FAILED}: refresh refused`]);
  });
});

describe('in-band refresh and other error frames meanwhile', () => {
  const sessionState = (h: ReturnType<typeof harness>) => (h.connection.snapshot.value as { link?: { connected?: { session?: string } } }).link?.connected?.session;

  it.each([
    ['a subscribe refused', { type: 'error', code: 'AUTHORIZATION_FAILED', message: 'not allowed', details: { ch: 'admin:x', action: 'subscribe' } }],
    ['a rate-limit refusal', { type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'rate limit exceeded for control', retry_after: 1, details: { scope: 'control', ch: 'feed', action: 'subscribe' } }],
  ])('%s while the refresh awaits its answer is not taken as the refresh refused: the refresh still waits for its answer (TIMEOUT when none comes)', async (_, frame) => {
    const h = await refreshUnanswered();
    expect(sessionState(h)).toBe('confirming');
    h.server.last!.push(frame);
    await h.settle();
    expect(sessionState(h)).toBe('confirming');
    expect(h.errors.map((e) => e.code)).toEqual([frame.code]);
    await h.advance(5_000);
    expect(h.errors.map((e) => e.code)).toEqual([frame.code, ErrorCode.TIMEOUT]);
    expect(h.connection.status).toBe('connected');
  });
});

describe('a server that accepts each token and closes 4001 at once', () => {
  it('gets one fresh token, then the connection fails: no redial loop, with no time passing', async () => {
    let n = 0;
    const h = harness({ auth: { token: () => `t${++n}` }, heartbeat: false });
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'auth' && h.server.sockets.length <= 20) setImmediate(() => socket.closeFromServer(4001, 'session refused'));
    };
    h.connection.start();
    for (let i = 0; i < 50; i++) await h.settle();
    expect(h.server.sockets).toHaveLength(2);
    expect(h.connection.status).toBe('failed');
    expect(h.connection.lastError?.code).toBe(ErrorCode.AUTHENTICATION_FAILED);
  });
});

describe('a WebSocket that cannot be created', () => {
  it('a constructor that throws (a token the handshake cannot carry as a subprotocol) ends in failed after one dial, with an error that shows no token', async () => {
    let dials = 0;
    class Refusing {
      constructor(_url: string, protocols?: string | string[]) {
        dials++;
        throw new SyntaxError(`The subprotocol '${String(protocols)}' is invalid`);
      }
    }
    const h = harness({ auth: { token: 'dGVzdA==', mode: 'subprotocol' }, heartbeat: false, WebSocket: Refusing as never });
    h.connection.start();
    await h.settle();
    await h.advance(60_000);
    expect(dials).toBe(1);
    expect(h.connection.status).toBe('failed');
    expect(h.connection.lastError?.message).toMatch(/could not be created \(SyntaxError\)/);
    expect(JSON.stringify(h.errors)).not.toContain('dGVzdA');
  });
});
