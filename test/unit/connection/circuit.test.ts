import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { harness, type Harness } from '../../support/harness.js';
import { expectInvariants } from '../../support/invariants.js';

const circuit = { failureThreshold: 3, recoveryMs: 10_000, recoveryMultiplier: 2, maxRecoveryMs: 35_000 };
const reconnect = { baseMs: 100, capMs: 1_000, jitter: 0 };

/** A connection whose server refuses every dial, driven until the circuit opens. */
async function openCircuit(options: Parameters<typeof harness>[0] = {}): Promise<Harness> {
  const h = harness({ circuit, reconnect, ...options });
  h.server.refusing = true;
  h.connection.start();
  await h.settle();
  for (let i = 0; i < 50 && h.connection.status !== 'circuitOpen'; i++) await h.advance(h.connection.snapshot.context.retryDelayMs);
  expect(h.connection.status).toBe('circuitOpen');
  return h;
}

/** The server closes the connection's socket with `code` and `reason`: how long, to the second, the connection waits before it dials again. */
async function waitAfterClose(h: Harness, code: number, reason = ''): Promise<number> {
  const dials = h.server.sockets.length;
  h.server.last!.closeFromServer(code, reason);
  await h.settle();
  let waited = 0;
  for (; h.server.sockets.length === dials && waited < 1_000_000; waited += 1_000) await h.advance(1_000);
  return waited;
}

describe('circuit breaker', () => {
  it('opens after failureThreshold consecutive failed dials and dials nothing while open', async () => {
    const h = await openCircuit();
    expect(h.connection.status).toBe('circuitOpen');
    expect(h.server.sockets).toHaveLength(3);
    await h.advance(9_999);
    expect(h.server.sockets).toHaveLength(3);
    expectInvariants(h);
  });

  it('after the recovery timeout makes exactly one probe in halfOpen; failure re-opens with a longer timeout', async () => {
    const h = await openCircuit();
    const dials = h.server.sockets.length;
    await h.advance(10_000);
    expect(h.server.sockets).toHaveLength(dials + 1);
    expect(h.connection.status).toBe('circuitOpen');
    expect(h.states.slice(-2)).toEqual(['halfOpen', 'circuitOpen']);
    await h.advance(19_999);
    expect(h.server.sockets).toHaveLength(dials + 1);
    await h.advance(1);
    expect(h.server.sockets).toHaveLength(dials + 2);
    await h.advance(35_000);
    expect(h.server.sockets).toHaveLength(dials + 3);
  });

  it('a successful probe closes the circuit', async () => {
    const h = await openCircuit();
    h.server.refusing = false;
    await h.advance(10_000);
    expect(h.connection.status).toBe('connected');
    expect(h.connection.snapshot.context.circuit.open).toBe(false);
  });

  it('a connection that flaps right after a successful probe trips again instead of hammering', async () => {
    const h = await openCircuit();
    h.server.refusing = false;
    await h.advance(10_000);
    h.server.last!.drop();
    await h.settle();
    expect(h.connection.status).toBe('circuitOpen');
  });

  it('a normal close (1000) right after a successful probe reconnects: a close that is no failure does not trip the circuit again', async () => {
    const h = await openCircuit();
    h.server.refusing = false;
    await h.advance(10_000);
    expect(h.connection.status).toBe('connected');
    h.server.last!.closeFromServer(1000);
    await h.settle();
    expect(h.connection.status).toBe('reconnecting');
    expect(h.connection.snapshot.context.circuit.open).toBe(false);
  });

  it('after such a flap the circuit stays open for the grown recovery time: a probe that connects is no stable link, so trips count on', async () => {
    const h = await openCircuit();
    h.server.refusing = false;
    await h.advance(10_000);
    expect(h.connection.status).toBe('connected');
    const dials = h.server.sockets.length;
    h.server.last!.drop();
    await h.settle();
    expect(h.connection.status).toBe('circuitOpen');
    await h.advance(19_999);
    expect(h.server.sockets, 'no dial before recoveryMs × recoveryMultiplier').toHaveLength(dials);
    await h.advance(1);
    expect(h.server.sockets).toHaveLength(dials + 1);
    expect(h.states.at(-1)).toBe('connected');
  });

  it('a link up for minUptime is stable: the circuit closes for good, and the next trip waits recoveryMs again', async () => {
    const h = await openCircuit();
    h.server.refusing = false;
    await h.advance(10_000);
    await h.advance(5_000);
    h.server.refusing = true;
    h.server.last!.drop();
    await h.settle();
    expect(h.connection.status, 'the first drop after a stable link retries at once').toBe('reconnecting');
    for (let i = 0; i < 10 && h.connection.status !== 'circuitOpen'; i++) await h.advance(h.connection.snapshot.context.retryDelayMs);
    expect(h.connection.status).toBe('circuitOpen');
    const dials = h.server.sockets.length;
    await h.advance(9_999);
    expect(h.server.sockets).toHaveLength(dials);
    await h.advance(1);
    expect(h.server.sockets, 'the first trip after a stable link waits recoveryMs').toHaveLength(dials + 1);
  });

  it('retry() skips an open circuit on explicit request', async () => {
    const h = await openCircuit();
    h.server.refusing = false;
    h.connection.retry();
    await h.settle();
    expect(h.connection.status).toBe('connected');
  });

  it('a 4029 with retry_after that trips the circuit keeps it open at least retry_after: no probe before the server said', async () => {
    const h = harness({ circuit, reconnect });
    await h.connect();
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) waits.push(await waitAfterClose(h, 4029, '{"retry_after":120}'));
    expect(h.states).toContain('circuitOpen');
    expect(waits.every((ms) => ms >= 120_000), `waits ${waits.join(', ')}`).toBe(true);
  });

  it('a 1013 that trips the circuit keeps it open at least tryLaterMs', async () => {
    const h = harness({ circuit, reconnect: { ...reconnect, tryLaterMs: 60_000 } });
    await h.connect();
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) waits.push(await waitAfterClose(h, 1013));
    expect(h.states).toContain('circuitOpen');
    expect(waits.every((ms) => ms >= 60_000), `waits ${waits.join(', ')}`).toBe(true);
  });

  it('offline while the circuit is open comes back to circuitOpen, not to a dial, when online returns', async () => {
    const h = await openCircuit();
    const dials = h.server.sockets.length;
    h.env.emit('offline');
    h.env.emit('online');
    await h.settle();
    expect(h.connection.status).toBe('circuitOpen');
    expect(h.server.sockets).toHaveLength(dials);
  });
});

describe('failures the circuit counts', () => {
  /** Every dial fails in one way; the connection is driven in 100 ms steps until its circuit opens (or 10 minutes pass). */
  type DialFailure = [what: string, options: Parameters<typeof harness>[0], failEveryDial: (h: Harness) => void];
  const failures: readonly DialFailure[] = [
    ['a socket that does not open within connectTimeoutMs', { connectTimeoutMs: 2_000 }, (h) => void (h.server.options.autoOpen = false)],
    ['a server that does not answer auth within authTimeoutMs', { auth: { token: 't' }, authTimeoutMs: 2_000 }, (h) => void (h.server.options.autoAuth = false)],
    ['a socket found dead by the heartbeat', { heartbeat: { intervalMs: 1_000, timeoutMs: 500 } }, (h) => void (h.server.options.autoPong = false)],
    ...[1012, 1013].map((code): DialFailure => [
      `a ${code} close`,
      { auth: { token: 't' } },
      (h) => {
        h.server.onFrame = (socket, frame) => {
          if (frame.json?.type === 'auth') socket.closeFromServer(code);
        };
      },
    ]),
  ];

  for (const [failure, options, failEveryDial] of failures) {
    it(`${failure} counts towards failureThreshold`, async () => {
      const h = harness({ circuit, reconnect: { ...reconnect, minUptimeMs: 3_600_000 }, ...options });
      failEveryDial(h);
      h.connection.start();
      for (let i = 0; i < 6_000 && h.connection.status !== 'circuitOpen'; i++) await h.advance(100);
      expect(h.connection.status).toBe('circuitOpen');
      expect(h.server.sockets).toHaveLength(circuit.failureThreshold);
    });
  }

  it("a probe whose socket does not open within connectTimeoutMs fails: the circuit opens again and the probe's socket is closed", async () => {
    const h = await openCircuit({ connectTimeoutMs: 2_000 });
    h.server.refusing = false;
    h.server.options.autoOpen = false;
    await h.advance(10_000);
    expect(h.connection.status).toBe('halfOpen');
    const probe = h.server.last!;
    await h.advance(1_999);
    expect(h.connection.status).toBe('halfOpen');
    await h.advance(1);
    expect(h.connection.status).toBe('circuitOpen');
    expect(probe.isLive).toBe(false);
    expect(h.errors.at(-1)).toMatchObject({ code: 'TIMEOUT', message: 'The socket did not open within 2000 ms (connectTimeoutMs)' });
  });
});

describe('backoff inside the machine (invariant 5)', () => {
  it('every backoff delay lies within [baseMs, capMs] whatever the failures and the randomness', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(fc.double({ min: 0, max: 0.999_999, noNaN: true }), { minLength: 1, maxLength: 12 }),
        async (baseMs, span, multiplier, jitter, randoms) => {
          let i = 0;
          const h = harness({
            reconnect: { baseMs, capMs: baseMs + span, multiplier, jitter },
            circuit: false,
            random: () => randoms[i++ % randoms.length]!,
          });
          h.server.refusing = true;
          h.connection.start();
          await h.settle();
          for (let n = 0; n < randoms.length; n++) {
            const { retryDelayMs, retryKind } = h.connection.snapshot.context;
            expect(retryKind).toBe('backoff');
            expect(retryDelayMs).toBeGreaterThanOrEqual(baseMs);
            expect(retryDelayMs).toBeLessThanOrEqual(baseMs + span);
            await h.advance(retryDelayMs);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
