import { describe, expect, it } from 'vitest';
import { RateLimiter, SERVER_RATE_SHARE, Take, channelType } from '../../../src/policy/rate-limiter.js';
import { SimulatedClock } from '../../../src/testing/index.js';

/**
 * The client's rate limiter: a bucket for the connection and one per channel type; limits the server
 * announces are followed at 90 % of their rate and never above what it says remains.
 */

const limiter = (options: ConstructorParameters<typeof RateLimiter>[1] = { channels: {} }) => {
  const clock = new SimulatedClock(0);
  return { clock, limiter: new RateLimiter(clock, options) };
};

/** How many messages on `channel` go at once. */
const burstOf = (rate: RateLimiter, channel: string | undefined) => {
  let taken = 0;
  while (taken < 1_000 && rate.take(channel) === Take.ok) taken++;
  return taken;
};

describe('RateLimiter', () => {
  it('a channel counts against its type, the part before the first colon', () => {
    expect(channelType('chat:lobby:thread')).toBe('chat');
    expect(channelType('plain')).toBe('plain');
    expect(channelType(':lobby')).toBe('');
  });

  it('a channel type without a bucket of its own counts against the server’s default, and none when there is none', () => {
    const { limiter: rate } = limiter({ channels: { chat: { perMinute: 60, burst: 1 } } });
    expect(rate.scopeOf('chat:1')).toBe('chat');
    expect(rate.scopeOf('news:1')).toBeUndefined();
    expect(rate.scopeOf(undefined)).toBeUndefined();
    rate.adopt({ scope: 'default', limit: 10, windowSeconds: 1 });
    expect(rate.scopeOf('news:1')).toBe('default');
    expect(rate.scopeOf(undefined), 'no channel: only the connection bucket').toBeUndefined();
  });

  it('follows an announced channel limit at 90 % of its rate, with the announced burst', () => {
    const { clock, limiter: rate } = limiter();
    rate.adopt({ scope: 'chat', limit: 10, windowSeconds: 1, burst: 4 });
    expect(burstOf(rate, 'chat:1')).toBe(4);
    expect(rate.take('chat:1')).toBe(Take.channelEmpty);
    expect(rate.take('news:1'), 'another type is not limited').toBe(Take.ok);
    expect(rate.waitMs('chat:1')).toBe(Math.ceil(1_000 / (10 * SERVER_RATE_SHARE)));
    clock.advance(1_000);
    expect(burstOf(rate, 'chat:1')).toBe(4);
  });

  it('an announced limit without a window is per minute, and its burst defaults to the limit', () => {
    const { clock, limiter: rate } = limiter();
    rate.adopt({ scope: 'chat', limit: 120 });
    expect(burstOf(rate, 'chat:1')).toBe(120);
    clock.advance(1_000);
    expect(burstOf(rate, 'chat:1'), '120 a minute at 90 %: 1.8 a second').toBe(1);
  });

  it('never holds more than the server says remain', () => {
    const { limiter: rate } = limiter();
    rate.adopt({ scope: 'chat', limit: 100, windowSeconds: 60, remaining: 2 });
    expect(burstOf(rate, 'chat:1')).toBe(2);
  });

  it('a limit without a scope, or with the connection scope, limits every message of the connection', () => {
    for (const scope of [undefined, 'connection']) {
      const { limiter: rate } = limiter();
      rate.adopt({ ...(scope ? { scope } : {}), limit: 3, windowSeconds: 60 });
      expect(burstOf(rate, 'chat:1') + burstOf(rate, undefined)).toBe(3);
      expect(rate.take('news:1')).toBe(Take.connectionEmpty);
      expect(rate.connectionWaitMs()).toBeGreaterThan(0);
    }
  });

  it('ignores a limit on the control scope and a limit that is not positive', () => {
    const { limiter: rate } = limiter();
    rate.adopt({ scope: 'control', limit: 1, windowSeconds: 60 });
    rate.adopt({ scope: 'chat', limit: 0, windowSeconds: 60 });
    rate.adopt({ limit: Number.NaN });
    expect(burstOf(rate, 'chat:1')).toBe(1_000);
  });

  it('the same limit announced again keeps what was spent; a new limit keeps it too, and keeps a hold', () => {
    const { clock, limiter: rate } = limiter();
    rate.adopt({ scope: 'chat', limit: 5, windowSeconds: 60 });
    expect(burstOf(rate, 'chat:1')).toBe(5);
    rate.adopt({ scope: 'chat', limit: 5, windowSeconds: 60 });
    expect(rate.take('chat:1'), 'the same limit: still empty').toBe(Take.channelEmpty);
    rate.adopt({ scope: 'chat', limit: 50, windowSeconds: 60 });
    expect(rate.take('chat:1'), 'a larger limit: still empty until it refills').toBe(Take.channelEmpty);
    rate.block('chat', 10_000);
    rate.adopt({ scope: 'chat', limit: 500, windowSeconds: 60 });
    clock.advance(5_000);
    expect(rate.take('chat:1'), 'the hold survives a new limit').toBe(Take.channelEmpty);
    clock.advance(5_000);
    expect(rate.take('chat:1')).toBe(Take.ok);
  });

  it('holds a channel type, or the whole connection (no scope, connection or control), until the given time or until lifted', () => {
    const { clock, limiter: rate } = limiter();
    rate.block('chat', 1_000);
    expect(rate.take('chat:1')).toBe(Take.channelEmpty);
    expect(rate.take('news:1')).toBe(Take.ok);
    clock.advance(1_000);
    expect(rate.take('chat:1')).toBe(Take.ok);
    for (const scope of [undefined, 'connection', 'control']) {
      rate.block(scope, clock.now() + 1_000);
      expect(rate.take('news:1'), `block(${String(scope)})`).toBe(Take.connectionEmpty);
      rate.liftHolds();
      expect(rate.take('news:1')).toBe(Take.ok);
    }
    rate.block('chat', clock.now() + 1_000);
    rate.liftHolds();
    expect(rate.take('chat:1')).toBe(Take.ok);
  });
});

it('take() grants a message on the connection bucket as soon as waitMs() says it need not wait, however the refill was split', () => {
  const { clock, limiter: rate } = limiter({ connection: { perMinute: 40, burst: 1 }, channels: {} });
  expect(rate.take(undefined)).toBe(Take.ok);
  clock.advance(1);
  expect(rate.take(undefined)).toBe(Take.connectionEmpty);
  clock.advance(1);
  expect(rate.take(undefined)).toBe(Take.connectionEmpty);
  clock.advance(rate.waitMs(undefined));
  expect(clock.now()).toBe(1_500);
  expect(rate.waitMs(undefined)).toBe(0);
  expect(rate.take(undefined)).toBe(Take.ok);
});
