import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionMetricsSnapshot } from '../../../src/metrics/connection-metrics.js';
import { connectionSampleOf, samplePool } from '../../../src/inspection/samples.js';
import { poolHarness, type PoolHarness } from '../../support/pool-harness.js';

let h: PoolHarness | undefined;
afterEach(() => {
  h?.pool.dispose();
  h = undefined;
});

describe('the figures the inspector plots', () => {
  it("of a connection: each one as its metrics tell it (p95 and p99, in and out, kept apart)", () => {
    const metrics = {
      state: 'connected',
      rtt: { p50: 10, p95: 20, p99: 30, last: 5, count: 9 },
      queueDepth: 1,
      messagesIn: 2,
      messagesOut: 3,
      bytesIn: 4,
      bytesOut: 5,
      connects: 6,
      reconnects: 7,
      errors: 8,
      drops: 9,
      healthScore: 0.5,
    } as unknown as ConnectionMetricsSnapshot;
    expect(connectionSampleOf(metrics)).toEqual({
      status: 'connected',
      rtt: { p50: 10, p95: 20, p99: 30 },
      queueDepth: 1,
      messagesIn: 2,
      messagesOut: 3,
      bytesIn: 4,
      bytesOut: 5,
      connects: 6,
      reconnects: 7,
      errors: 8,
      drops: 9,
      healthScore: 0.5,
    });
  });

  it('of a pool: the connections connected (not those waiting to dial), the dials waiting, and the dial budget it was given', async () => {
    h = poolHarness(
      { staggerMs: 0, dialBudget: { ratePerSec: 2, burst: 1 } },
      { endpoints: ['a', 'b', 'c'].map((name) => ({ name, url: `ws://mock.test/ws/${name}` })) },
    );
    h.pool.start();
    await h.advance(10);
    const { pool, connections } = samplePool(h.pool.actor);
    expect(pool).toMatchObject({ connections: 3, connected: 1, dials: { granted: 1, waiting: 2 }, budget: { ratePerSec: 2, burst: 1 } });
    expect(Object.values(connections).filter((sample) => sample.status === 'connected')).toHaveLength(1);
  });
});
