import { describe, expect, it } from 'vitest';
import { planFaults } from '../../../src/cli/demo-faults.js';
import { seedFeeds } from '../../../src/cli/seed-feeds.js';

const few = { intervalMs: 1_000, timeoutMs: 1_000 };
const many = { intervalMs: 5_000, timeoutMs: 3_000 };
const poolFeeds = (connections: number) => Array.from({ length: connections }, (_, i) => seedFeeds[i]?.[0] ?? `feed-${i + 1}`);

describe('the demo fault plan', () => {
  it.each([1, 2, 8, 9, 1_000])('targets the token expiry at a feed of a pool of %i', (connections) => {
    expect(poolFeeds(connections)).toContain(planFaults(30, connections, few).tokenTarget);
  });

  it('keeps webhook-status as the token expiry target of the eight seed feeds', () => {
    expect(planFaults(30, 8, few).tokenTarget).toBe('webhook-status');
  });

  it.each([
    [10, few],
    [11, few],
    [30, few],
    [3_600, few],
    [10, many],
    [30, many],
  ])('at %i s, lets a token issued when the provider goes down expire, and the feed reconnect, before the cycle ends', (durationSec, heartbeat) => {
    const plan = planFaults(durationSec, 8, heartbeat);
    expect(plan.tokenExpiryAtMs + plan.tokenTtlMs + 1_000).toBeLessThanOrEqual(plan.cycleMs);
  });

  it.each([10, 30, 3_600])('at %i s, orders the faults: restart, blackhole, heal, token expiry', (durationSec) => {
    const plan = planFaults(durationSec, 8, few);
    expect(0).toBeLessThan(plan.restartAtMs);
    expect(plan.restartAtMs).toBeLessThan(plan.blackholeAtMs);
    expect(plan.blackholeAtMs).toBeLessThan(plan.healAtMs);
    expect(plan.healAtMs).toBeLessThan(plan.tokenExpiryAtMs);
  });

  it.each([
    [10, few],
    [10, many],
    [60, few],
  ])('at %i s, keeps the blackhole on longer than a heartbeat needs to miss its pong', (durationSec, heartbeat) => {
    const plan = planFaults(durationSec, 8, heartbeat);
    expect(plan.healAtMs - plan.blackholeAtMs).toBeGreaterThan(heartbeat.intervalMs + heartbeat.timeoutMs);
  });

  it('scales the token lifetime with the duration, from 2 s at 10 s to 10 s from 50 s on, refreshing with a lead shorter than it', () => {
    expect([10, 30, 50, 3_600].map((s) => planFaults(s, 8, few).tokenTtlMs)).toEqual([2_000, 6_000, 10_000, 10_000]);
    for (const s of [10, 30, 3_600]) {
      const { tokenTtlMs, refreshLeadMs } = planFaults(s, 8, few);
      expect(refreshLeadMs).toBeGreaterThan(0);
      expect(refreshLeadMs).toBeLessThan(tokenTtlMs / 2);
    }
  });

  it('runs the cycle for --duration when the faults fit in it', () => {
    expect(planFaults(10, 1, few).cycleMs).toBe(10_000);
    expect(planFaults(30, 8, few).cycleMs).toBe(30_000);
  });
});
