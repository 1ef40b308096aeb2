import { VirtualTimeScheduler, type Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, type Pool } from '../../../src/index.js';
import { channel$, errors$, events$, health$, metrics$, poolState$, presence$, state$, status$, typing$ } from '../../../src/rx/index.js';
import { harness, poolOfOne } from '../../support/harness.js';
import { countListeners, liveTotal } from '../../support/listeners.js';

/** socketchart/rx: what unsubscribing leaves on the connection or the pool (no listener), and what a pool's streams emit. */

describe('unsubscribing leaves no listener on the connection', () => {
  const streams: Record<string, (h: ReturnType<typeof harness>) => Observable<unknown>> = {
    events$: (h) => events$(h.connection, 'gap'),
    channel$: (h) => channel$(h.connection, 'feed'),
    status$: (h) => status$(h.connection),
    state$: (h) => state$(h.connection),
    metrics$: (h) => metrics$(h.connection, 1_000, new VirtualTimeScheduler()),
    errors$: (h) => errors$(h.connection),
    presence$: (h) => presence$(h.connection, 'chat:a'),
    typing$: (h) => typing$(h.connection, 'chat:a'),
  };
  for (const [name, stream] of Object.entries(streams)) {
    it(name, async () => {
      const h = harness();
      await h.connect();
      const live = countListeners(h.connection);
      const subscription = stream(h).subscribe(() => {});
      expect(liveTotal(live), 'while subscribed').toBeGreaterThan(0);
      subscription.unsubscribe();
      expect(Object.fromEntries([...live].filter(([, n]) => n !== 0))).toEqual({});
    });
  }
});

describe('unsubscribing leaves no listener on the pool', () => {
  const streams: Record<string, (pool: Pool) => Observable<unknown>> = { health$, poolState$ };
  for (const [name, stream] of Object.entries(streams)) {
    it(name, () => {
      const h = harness();
      const pool = poolOfOne(h);
      const live = countListeners(pool);
      const subscription = stream(pool).subscribe(() => {});
      expect(liveTotal(live), 'while subscribed').toBeGreaterThan(0);
      subscription.unsubscribe();
      expect(Object.fromEntries([...live].filter(([, n]) => n !== 0))).toEqual({});
    });
  }
});

describe('poolState$', () => {
  it("emits each state change of the pool's connections, with the endpoint's name", async () => {
    const h = harness();
    const pool = poolOfOne(h);
    const seen: string[] = [];
    const subscription = poolState$(pool).subscribe(({ name, previous, status }) => seen.push(`${name}: ${previous} -> ${status}`));
    pool.start();
    await h.settle();
    await h.settle();
    subscription.unsubscribe();
    pool.dispose();
    expect(seen).toEqual(['a: idle -> queued', 'a: queued -> connecting', 'a: connecting -> connected']);
  });
});

describe('health$', () => {
  it('a change made while the first value is handled is emitted', async () => {
    const h = harness();
    const pool = poolOfOne(h);
    pool.start();
    await h.settle();
    await h.settle();
    const seen: string[] = [];
    const subscription = health$(pool).subscribe((health) => {
      seen.push(health);
      if (seen.length === 1) pool.connection('a')!.stop();
    });
    await h.settle();
    subscription.unsubscribe();
    pool.dispose();
    expect(seen).toEqual(['up', 'down']);
  });
});

describe('a connection disposed before the subscription', () => {
  it('status$ completes without a value, and channel$ sends nothing', async () => {
    const h = harness();
    await h.connect();
    h.connection.dispose();
    await h.settle();
    const values: unknown[] = [];
    let completed = 0;
    status$(h.connection).subscribe({ next: (v) => values.push(v), complete: () => completed++ });
    channel$(h.connection, 'feed').subscribe({ next: (v) => values.push(v), complete: () => completed++ });
    expect({ values, completed }).toEqual({ values: [], completed: 2 });
  });
});

describe('a channel name the connection refuses', () => {
  const streams: Record<string, (h: ReturnType<typeof harness>) => Observable<unknown>> = {
    channel$: (h) => channel$(h.connection, ''),
    typing$: (h) => typing$(h.connection, ''),
  };
  for (const [name, stream] of Object.entries(streams)) {
    it(`${name} errors with INVALID_OPTION and leaves no listener on the connection`, async () => {
      const h = harness();
      await h.connect();
      const live = countListeners(h.connection);
      const errors: unknown[] = [];
      stream(h).subscribe({ error: (error) => errors.push(error) });
      expect(errors).toEqual([expect.objectContaining({ code: ErrorCode.INVALID_OPTION, details: { option: 'channel' } })]);
      expect(Object.fromEntries([...live].filter(([, n]) => n !== 0))).toEqual({});
    });
  }
});
