import { describe, expect, it } from 'vitest';
import { ServerRateLimits } from '../../../src/server/rate-limit.js';

function limitsAt() {
  const clock = { time: 0, now: () => clock.time };
  const table = { chat: { perMinute: 60, burst: 3 }, control: { perMinute: 60, burst: 5 } };
  const limits = new ServerRateLimits({ perConnection: table, perUser: table, unauthenticated: { perMinute: 60, burst: 2 }, floodThreshold: 50, maxTracked: 3 }, clock);
  return { clock, limits };
}

const alice = { kind: 'user', id: 'alice' } as const;

describe('ServerRateLimits.giveBack: the token of a publish that proved a repeat', () => {
  it('returns one token to the connection bucket of that scope', () => {
    const { limits } = limitsAt();
    const connection = limits.newConnection();
    limits.take(connection, alice, 'chat', false);
    limits.take(connection, alice, 'chat', false);
    limits.giveBack(connection, 'chat');
    expect(limits.take(connection, alice, 'chat', false).ok).toBe(true);
    expect(limits.take(connection, alice, 'chat', false).ok).toBe(true);
    expect(limits.take(connection, alice, 'chat', false).ok).toBe(false);
  });

  it('never fills a bucket past its burst', () => {
    const { limits } = limitsAt();
    const connection = limits.newConnection();
    limits.take(connection, alice, 'chat', false);
    for (let i = 0; i < 5; i++) limits.giveBack(connection, 'chat');
    const granted = Array.from({ length: 5 }, () => limits.take(connection, alice, 'chat', false).ok);
    expect(granted).toEqual([true, true, true, false, false]);
  });

  it('keeps the fraction a bucket refilled meanwhile', () => {
    const { clock, limits } = limitsAt();
    const connection = limits.newConnection();
    for (let i = 0; i < 3; i++) limits.take(connection, alice, 'chat', false);
    clock.time = 500;
    limits.giveBack(connection, 'chat');
    expect(limits.take(connection, alice, 'chat', false).ok).toBe(true);
    expect(limits.take(connection, alice, 'chat', false).ok).toBe(false);
    clock.time = 1000;
    expect(limits.take(connection, alice, 'chat', false).ok).toBe(true);
  });

  it('does not lift the hold of a refused scope before its retry_after', () => {
    const { clock, limits } = limitsAt();
    const connection = limits.newConnection();
    for (let i = 0; i < 3; i++) limits.take(connection, alice, 'chat', false);
    expect(limits.take(connection, alice, 'chat', false)).toMatchObject({ ok: false, retryAfterMs: 1000 });
    limits.giveBack(connection, 'chat');
    clock.time = 999;
    expect(limits.hasToken(connection, 'chat')).toBe(false);
    clock.time = 1000;
    expect(limits.hasToken(connection, 'chat')).toBe(true);
  });
});
