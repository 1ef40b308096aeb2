import { describe, expect, it } from 'vitest';
import { harness } from '../../support/harness.js';
import { expectInvariants } from '../../support/invariants.js';

/** The README: backoff doubles from baseMs up to capMs; a link up for minUptimeMs is stable: attempts reset, the next drop retries at once. */
const reconnect = { baseMs: 100, capMs: 1_600, multiplier: 2, jitter: 0, minUptimeMs: 5_000 };

/** Delays of the retries the connection has planned so far, in order. */
const planned = (delays: number[], h: ReturnType<typeof harness>) => delays.push(h.connection.snapshot.context.retryDelayMs);

/** A connection whose server refuses every dial, waiting after `failed` failed dials. */
async function afterRefusedDials(failed: number) {
  const h = harness({ reconnect, circuit: false });
  h.server.refusing = true;
  h.connection.start();
  await h.settle();
  for (let i = 1; i < failed; i++) await h.advance(h.connection.snapshot.context.retryDelayMs);
  return h;
}

describe('reconnecting', () => {
  it('each failed dial doubles the wait, up to capMs', async () => {
    const h = harness({ reconnect, circuit: false });
    h.server.refusing = true;
    h.connection.start();
    await h.settle();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      planned(delays, h);
      await h.advance(h.connection.snapshot.context.retryDelayMs);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1_600, 1_600]);
    expectInvariants(h);
  });

  it('a link up for minUptime resets the attempts: the next drop retries at once, and the failure after it waits baseMs again', async () => {
    const h = await afterRefusedDials(4);
    expect(h.connection.snapshot.context.retryDelayMs, 'after four failed dials').toBe(800);
    h.server.refusing = false;
    await h.advance(800);
    expect(h.connection.status).toBe('connected');
    await h.advance(5_000);
    h.server.refusing = true;
    h.server.last!.drop();
    await h.settle();
    expect(h.connection.snapshot.context.retryDelayMs, 'the first retry after a stable link').toBe(0);
    await h.advance(0);
    expect(h.connection.status).toBe('reconnecting');
    expect(h.connection.snapshot.context.retryDelayMs, 'the attempts started again from zero').toBe(100);
    expectInvariants(h);
  });

  it('a link that drops before minUptime is not stable: the wait keeps growing from where it was', async () => {
    const h = await afterRefusedDials(3);
    h.server.refusing = false;
    await h.advance(h.connection.snapshot.context.retryDelayMs);
    expect(h.connection.status).toBe('connected');
    await h.advance(4_999);
    h.server.last!.drop();
    await h.settle();
    expect(h.connection.snapshot.context.retryDelayMs).toBe(800);
  });

  it('retry() during a backoff dials at once and starts the attempts afresh: the failure after it waits baseMs', async () => {
    const h = await afterRefusedDials(4);
    expect(h.connection.snapshot.context.retryDelayMs, 'after four failed dials').toBe(800);
    const dials = h.server.sockets.length;
    h.connection.retry();
    await h.settle();
    expect(h.server.sockets).toHaveLength(dials + 1);
    expect(h.connection.status).toBe('reconnecting');
    expect(h.connection.snapshot.context.retryDelayMs).toBe(100);
  });

  it('stop() and start() after a stable link start afresh: a refused dial then waits baseMs, not zero', async () => {
    const h = harness({ reconnect, circuit: false });
    await h.connect();
    await h.advance(5_000);
    h.connection.stop();
    await h.settle();
    h.server.refusing = true;
    h.connection.start();
    await h.settle();
    expect(h.connection.status).toBe('reconnecting');
    expect(h.connection.snapshot.context.retryDelayMs).toBe(100);
  });
});
