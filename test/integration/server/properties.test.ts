import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Identity } from '../../../src/server/auth.js';
import { ChannelAuthorizer } from '../../../src/server/channels.js';
import { planReplay, type HistoryRead, type StoredMessage } from '../../../src/server/history.js';
import { Subscription } from '../../../src/server/subscription.js';
import { ServerRateLimits } from '../../../src/server/rate-limit.js';
import { storedMessage as message } from '../../support/subscriber-sink.js';

const identity = (userId: string): Identity => ({ userId, roles: [], permissions: [], claims: {} });

describe('properties of the pure parts: replay plans, token buckets, channel patterns', () => {
  it('a replay plan accounts for every number after since up to until (the current number unless given) exactly once, in order, and invents no message', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 70 }),
        fc.option(fc.integer({ min: -60, max: 20 })),
        (base, published, retained, sinceOffset, untilOffset) => {
          const current = base + published;
          const until = untilOffset === null ? current : current + untilOffset;
          const kept = Math.min(retained, published);
          const entries = Array.from({ length: kept }, (_, i) => message(current - kept + 1 + i));
          const since = sinceOffset === 0 ? 0 : base + sinceOffset - 1;
          const items = untilOffset === null ? planReplay(since, { base, current, entries }) : planReplay(since, { base, current, entries }, until);
          let next = (since === 0 ? base : since) + 1;
          for (const item of items) {
            if (item.kind === 'gap') {
              expect(item.from).toBe(next);
              expect(item.to).toBeGreaterThanOrEqual(item.from);
              expect(entries.some((entry) => entry.seq >= item.from && entry.seq <= item.to)).toBe(false);
              next = item.to + 1;
            } else {
              expect(item.message.seq).toBe(next);
              expect(entries).toContain(item.message);
              next += 1;
            }
          }
          expect(next).toBe(Math.max(until, since === 0 ? base : since) + 1);
        },
      ),
    );
  });

  it('the rate limits never accept more than burst + rate × T in any interval of length T', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.integer({ min: 0, max: 120_000 }), { minLength: 1, maxLength: 300 }),
        (perMinute, burst, times) => {
          const clock = { now: () => 0 };
          const table = { chat: { perMinute, burst }, default: { perMinute: 1, burst: 1 }, control: { perMinute: 1, burst: 1 } };
          const limits = new ServerRateLimits({ perConnection: table, perUser: table, unauthenticated: { perMinute: 1, burst: 1 }, floodThreshold: 1e9, maxTracked: 10 }, clock);
          const connection = limits.newConnection();
          const accepted = [...times]
            .sort((a, b) => a - b)
            .filter((time) => {
              clock.now = () => time;
              return limits.take(connection, { kind: 'user', id: 'u' }, 'chat').ok;
            });
          for (let i = 0; i < accepted.length; i++) {
            for (let j = i; j < accepted.length; j++) {
              expect(j - i + 1).toBeLessThanOrEqual(burst + (perMinute / 60_000) * (accepted[j]! - accepted[i]!) + 1e-9);
            }
          }
        },
      ),
    );
  });

  it('a {userId} pattern grants a user their own channels and nobody else’s', () => {
    const authorizer = new ChannelAuthorizer([{ pattern: 'user:{userId}:*', subscribe: true }]);
    const segment = fc.stringMatching(/^[A-Za-z0-9_.@=+~|-]{1,12}$/);
    fc.assert(
      fc.property(segment, segment, segment, (caller, owner, sub) => {
        expect(authorizer.authorize(identity(caller), `user:${owner}:${sub}`, 'subscribe').ok).toBe(caller === owner);
        expect(authorizer.authorize(identity(caller), `user:${owner}:${sub}`, 'publish').ok).toBe(false);
      }),
    );
  });

  it('a * matches exactly one segment wherever it stands, and a glob only within its segment', () => {
    const authorizer = new ChannelAuthorizer([
      { pattern: 'chat:*', subscribe: true },
      { pattern: 'team:*:general', publish: true },
      { pattern: 'room-*:lobby', presence: true },
    ]);
    const who = identity('u');
    expect(authorizer.authorize(who, 'chat:a', 'subscribe').ok).toBe(true);
    expect(authorizer.authorize(who, 'chat:a:b', 'subscribe').ok).toBe(false);
    expect(authorizer.authorize(who, 'chatter:a', 'subscribe').ok).toBe(false);
    expect(authorizer.authorize(who, 'team:x:general', 'publish').ok).toBe(true);
    expect(authorizer.authorize(who, 'team:x:random', 'publish').ok).toBe(false);
    expect(authorizer.authorize(who, 'room-7:lobby', 'presence').ok).toBe(true);
    expect(authorizer.authorize(who, 'room:lobby', 'presence').ok).toBe(false);
    expect(authorizer.authorize(who, 'room-7:lobby:x', 'presence').ok).toBe(false);
  });

  it('a live subscription that sees a number skipped waits for history to fill the hole, and reports a gap for what it cannot', async () => {
    const sent: { type: string; seq?: number; from?: number; to?: number }[] = [];
    const failures: unknown[] = [];
    const sink = { open: true, backlogged: false, writable: async () => undefined, sendText: (text: string) => sent.push(JSON.parse(text) as { type: string }), fail: (error: unknown) => failures.push(error) };
    let history: StoredMessage[] = [];
    const reader = async (_ch: string, since: number): Promise<HistoryRead> => ({
      base: 100,
      current: 110,
      entries: history.filter((entry) => entry.seq > since),
    });
    const sub = new Subscription('chat:x', sink, reader, 1000);
    await sub.start(undefined);
    expect(sent).toEqual([{ type: 'subscribed', ch: 'chat:x', seq: 110 }]);
    sub.offer(message(111));
    history = [112, 113].map(message);
    sub.offer(message(114));
    sub.offer(message(113));
    await new Promise((resolve) => setTimeout(resolve, 0));
    sub.offer(message(114));
    history = [];
    sub.offer(message(117));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(sent.slice(1).map((frame) => (frame.type === 'gap' ? `gap ${frame.from}-${frame.to}` : frame.seq))).toEqual([111, 112, 113, 114, 'gap 115-116', 117]);
    expect(failures).toEqual([]);
  });
});

