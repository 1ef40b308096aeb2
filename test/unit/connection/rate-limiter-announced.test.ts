import { expect, it } from 'vitest';
import { RateLimiter, Take } from '../../../src/policy/rate-limiter.js';
import { SimulatedClock } from '../../../src/testing/index.js';

/**
 * `RateLimiter.adopt()` follows what the server announces: a changed rate or a changed burst takes effect,
 * the same limit announced again keeps what was spent and keeps a hold, for the connection's bucket as for
 * a channel type's; a limit that is not positive is ignored. `block()` holds a scope without forgetting the
 * limit it has.
 */

const limiter = (options: ConstructorParameters<typeof RateLimiter>[1] = { channels: {} }) => {
  const clock = new SimulatedClock(0);
  return { clock, rate: new RateLimiter(clock, options) };
};

/** How many messages on `channel` go at once. */
const burstOf = (rate: RateLimiter, channel: string | undefined) => {
  let taken = 0;
  while (taken < 1_000 && rate.take(channel) === Take.ok) taken++;
  return taken;
};

it('the connection-wide limit announced again keeps what was spent, and a new one keeps a hold', () => {
  const { clock, rate } = limiter();
  rate.adopt({ limit: 3, windowSeconds: 60 });
  expect(burstOf(rate, undefined)).toBe(3);
  rate.adopt({ limit: 3, windowSeconds: 60 });
  expect(rate.take(undefined), 'the same limit: still empty').toBe(Take.connectionEmpty);
  rate.adopt({ scope: 'connection', limit: 30, windowSeconds: 60 });
  expect(rate.take('chat:1'), 'a larger limit: still empty until it refills').toBe(Take.connectionEmpty);
  rate.block(undefined, 10_000);
  rate.adopt({ limit: 3_000, windowSeconds: 60 });
  clock.advance(5_000);
  expect(rate.take(undefined), 'the hold survives a new limit').toBe(Take.connectionEmpty);
  clock.advance(5_000);
  expect(rate.take(undefined)).toBe(Take.ok);
});

it('a new rate announced with the same burst takes effect', () => {
  const { clock, rate } = limiter();
  rate.adopt({ scope: 'chat', limit: 60, windowSeconds: 60, burst: 2 });
  expect(burstOf(rate, 'chat:1')).toBe(2);
  rate.adopt({ scope: 'chat', limit: 600, windowSeconds: 60, burst: 2 });
  clock.advance(250);
  expect(burstOf(rate, 'chat:1'), '600 a minute at 90 %: 9 a second, 2.25 in 250 ms, capped by the burst').toBe(2);
});

it('a new burst announced with the same rate takes effect', () => {
  const { clock, rate } = limiter();
  rate.adopt({ scope: 'chat', limit: 60, windowSeconds: 60, burst: 5 });
  rate.adopt({ scope: 'chat', limit: 60, windowSeconds: 60, burst: 2 });
  expect(burstOf(rate, 'chat:1')).toBe(2);
  clock.advance(600_000);
  expect(burstOf(rate, 'chat:1')).toBe(2);
});

it('a limit that is not positive is ignored, even when it announces a burst', () => {
  const { rate } = limiter();
  rate.adopt({ scope: 'chat', limit: 0, burst: 3, windowSeconds: 60 });
  rate.adopt({ scope: 'news', limit: -5, burst: 3, windowSeconds: 60 });
  rate.adopt({ limit: 0, burst: 3 });
  expect(burstOf(rate, 'chat:1')).toBe(1_000);
  expect(burstOf(rate, 'news:1')).toBe(1_000);
});

it('a hold on a configured channel type ends with the configured limit still in force', () => {
  const { clock, rate } = limiter({ channels: { chat: { perMinute: 60, burst: 2 } } });
  rate.block('chat', 1_000);
  expect(rate.take('chat:1')).toBe(Take.channelEmpty);
  clock.advance(1_000);
  expect(burstOf(rate, 'chat:1')).toBe(2);
  clock.advance(1_000);
  expect(burstOf(rate, 'chat:1')).toBe(1);
});

it('a hold on the connection ends with its configured limit still in force', () => {
  const { clock, rate } = limiter({ connection: { perMinute: 60, burst: 2 }, channels: {} });
  rate.block(undefined, 1_000);
  expect(rate.take(undefined)).toBe(Take.connectionEmpty);
  clock.advance(1_000);
  expect(burstOf(rate, undefined)).toBe(2);
});
