import { describe, expect, it } from 'vitest';
import { Ledger, type FaultRecord } from '../../../src/cli/demo-ledger.js';

const ch = 'feed:orders';
const none = { published: 0, received: 0, lost: 0, announced: 0, duplicated: 0 };

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Event = ['publish' | 'receive', string, number] | ['gap', string, number, number];

/** The report's figures from a plain record of every event: each seq published from the first received one on is delivered, behind a gap, or lost. */
function plainTotals(events: readonly Event[]) {
  const published = new Map<string, Set<number>>();
  const received = new Map<string, Map<number, number>>();
  const first = new Map<string, number>();
  const gaps: Array<[string, number, number]> = [];
  for (const [kind, channel, seq, to] of events) {
    if (kind === 'gap') gaps.push([channel, seq, to!]);
    if (kind === 'publish') published.set(channel, (published.get(channel) ?? new Set()).add(seq));
    if (kind === 'receive') {
      const counts = received.get(channel) ?? new Map<number, number>();
      received.set(channel, counts.set(seq, (counts.get(seq) ?? 0) + 1));
      if (!first.has(channel)) first.set(channel, seq);
    }
  }
  const totals = { ...none };
  for (const [channel, seqs] of published) {
    for (const seq of seqs) {
      if (seq < (first.get(channel) ?? Infinity)) continue;
      totals.published++;
      if (received.get(channel)?.has(seq)) continue;
      if (gaps.some(([c, from, to]) => c === channel && from <= seq && seq <= to)) totals.announced++;
      else totals.lost++;
    }
  }
  for (const counts of received.values()) {
    for (const count of counts.values()) {
      totals.received += count;
      totals.duplicated += count - 1;
    }
  }
  return totals;
}

const verdict = ({ outcome }: FaultRecord) => (outcome ? (outcome.happened ? 'happened' : 'did not happen') : 'not seen to happen');

describe('the demo ledger', () => {
  it('counts a million seqs published and received in order, acks before or after the delivery, in a few retained entries', () => {
    const ledger = new Ledger();
    for (let seq = 1; seq <= 1_000_000; seq++) {
      if (seq % 2) ledger.receive(ch, seq);
      ledger.publish(ch, seq);
      if (seq % 2 === 0) ledger.receive(ch, seq);
    }
    expect(ledger.totals()).toEqual({ published: 1_000_000, received: 1_000_000, lost: 0, announced: 0, duplicated: 0 });
    expect(ledger.retained().seqs).toBeLessThanOrEqual(4);
  });

  it('keeps a million seqs with losses, gaps and duplicates exact in at most a few hundred retained entries', () => {
    const ledger = new Ledger();
    for (let seq = 1; seq <= 1_000_000; seq++) {
      ledger.publish(ch, seq);
      if (seq % 2_000 === 0) ledger.gap(ch, seq, seq);
      if (seq % 1_000 === 0) continue;
      ledger.receive(ch, seq);
      if (seq % 777 === 0) ledger.receive(ch, seq);
    }
    expect(ledger.totals()).toEqual({ published: 1_000_000, received: 1_000_286, lost: 500, announced: 500, duplicated: 1_286 });
    expect(ledger.retained().seqs).toBeLessThanOrEqual(600);
  });

  it('counts a seq received before its ack once, as published and received', () => {
    const ledger = new Ledger();
    ledger.receive(ch, 7);
    expect(ledger.totals()).toEqual({ ...none, received: 1 });
    ledger.publish(ch, 7);
    expect(ledger.totals()).toEqual({ ...none, published: 1, received: 1 });
  });

  it('counts a seq confirmed twice (broadcast and ack) once', () => {
    const ledger = new Ledger();
    ledger.publish(ch, 7);
    ledger.receive(ch, 7);
    ledger.publish(ch, 7);
    ledger.publish(ch, 8);
    ledger.publish(ch, 8);
    expect(ledger.totals()).toEqual({ ...none, published: 2, received: 1, lost: 1 });
  });

  it('counts a published seq not delivered as lost until it arrives', () => {
    const ledger = new Ledger();
    for (const seq of [1, 2, 3]) ledger.publish(ch, seq);
    ledger.receive(ch, 1);
    ledger.receive(ch, 3);
    expect(ledger.totals()).toEqual({ ...none, published: 3, received: 2, lost: 1 });
    ledger.receive(ch, 2);
    expect(ledger.totals()).toEqual({ ...none, published: 3, received: 3 });
  });

  it('counts a published seq not delivered as announced once a gap covers it, until it arrives after all', () => {
    const ledger = new Ledger();
    for (const seq of [10, 11, 12, 13]) ledger.publish(ch, seq);
    ledger.receive(ch, 10);
    ledger.receive(ch, 13);
    ledger.gap(ch, 11, 11);
    expect(ledger.totals()).toEqual({ ...none, published: 4, received: 2, lost: 1, announced: 1 });
    ledger.gap(ch, 5, 12);
    expect(ledger.totals()).toEqual({ ...none, published: 4, received: 2, announced: 2 });
    ledger.receive(ch, 12);
    expect(ledger.totals()).toEqual({ ...none, published: 4, received: 3, announced: 1 });
  });

  it('counts every further delivery of a seq as a duplicate, whether its ack came before, between or not yet', () => {
    const ledger = new Ledger();
    ledger.publish(ch, 1);
    ledger.receive(ch, 1);
    ledger.receive(ch, 1);
    ledger.receive(ch, 2);
    ledger.publish(ch, 2);
    ledger.receive(ch, 2);
    ledger.receive(ch, 3);
    ledger.receive(ch, 3);
    ledger.receive(ch, 3);
    expect(ledger.totals()).toEqual({ ...none, published: 2, received: 7, duplicated: 4 });
  });

  it('counts only what was published from the first delivered seq on', () => {
    const ledger = new Ledger();
    for (const seq of [1, 2, 3, 4, 5]) ledger.publish(ch, seq);
    ledger.receive(ch, 3);
    ledger.receive(ch, 4);
    ledger.receive(ch, 2);
    expect(ledger.totals()).toEqual({ ...none, published: 3, received: 3, lost: 1 });
  });

  it('counts what was published on a channel with no delivery yet as nothing, and deliveries on a channel with nothing published', () => {
    const ledger = new Ledger();
    ledger.publish('feed:quiet', 1);
    ledger.receive('feed:unknown', 4);
    ledger.receive('feed:unknown', 4);
    expect(ledger.totals()).toEqual({ ...none, received: 2, duplicated: 1 });
  });

  it('agrees with a plain record of every seq on shuffled publishes, deliveries, duplicates and gaps on three channels', () => {
    const next = random(42);
    const events: Event[] = [];
    for (const channel of ['feed:a', 'feed:b', 'feed:c']) {
      for (let seq = 1_000; seq < 21_000; seq++) {
        if (next() > 0.01) events.push(['publish', channel, seq]);
        if (next() > 0.02) events.push(['receive', channel, seq]);
        else if (next() < 0.5) events.push(['gap', channel, seq - 1, seq + Math.floor(next() * 3)]);
        if (next() < 0.01) events.push(['receive', channel, seq]);
      }
    }
    for (let i = 0; i < events.length; i++) {
      const j = Math.min(events.length - 1, i + Math.floor(next() * 8));
      [events[i], events[j]] = [events[j]!, events[i]!];
    }
    const ledger = new Ledger();
    for (const [kind, channel, seq, to] of events) {
      if (kind === 'gap') ledger.gap(channel, seq, to!);
      else ledger[kind](channel, seq);
    }
    const expected = plainTotals(events);
    expect(expected.lost).toBeGreaterThan(0);
    expect(expected.announced).toBeGreaterThan(0);
    expect(expected.duplicated).toBeGreaterThan(0);
    expect(ledger.totals()).toEqual(expected);
  });

  it('finds the peak of dials per 100 ms over a million dials, keeping no more than 100 ms of them', () => {
    const ledger = new Ledger();
    let at = 1_700_000_000_000;
    for (let i = 0; i < 1_000_000; i++) ledger.dial((at += 10));
    at += 1_000;
    for (let i = 0; i < 25; i++) ledger.dial(at);
    ledger.dial(at + 99);
    ledger.dial(at + 100);
    expect(ledger.dials).toBe(1_000_027);
    expect(ledger.peakDials).toBe(26);
    expect(ledger.retained().dials).toBeLessThanOrEqual(27);
  });

  it('gives the exact reconnect p50 and p99 of 100,000 recoveries of 500 distinct durations from a bounded histogram', () => {
    const ledger = new Ledger();
    let at = 1_700_000_000_000;
    for (let i = 0; i < 100_000; i++) {
      ledger.dropped('feed-1', at, 1012);
      ledger.connected('feed-1', (at += i % 500));
      at += 1_000;
    }
    expect(ledger.recoveries()).toEqual({ count: 100_000, p50: 249, p99: 494, resolutionMs: 1 });
    expect(ledger.retained().recoveries).toBeLessThanOrEqual(1_000);
  });

  it('gives p50 and p99 of 100,000 distinct recovery durations to within the resolution it reports', () => {
    const ledger = new Ledger();
    let at = 1_700_000_000_000;
    for (let i = 0; i < 100_000; i++) {
      ledger.dropped('feed-1', at, undefined);
      ledger.connected('feed-1', (at += i));
      at += 1_000;
    }
    const { count, p50, p99, resolutionMs } = ledger.recoveries();
    expect(count).toBe(100_000);
    expect(p50! - 49_999).toBeLessThan(resolutionMs);
    expect(49_999 - p50!).toBeLessThan(resolutionMs);
    expect(p99! - 98_999).toBeLessThan(resolutionMs);
    expect(98_999 - p99!).toBeLessThan(resolutionMs);
    expect(resolutionMs).toBeLessThanOrEqual(256);
    expect(ledger.retained().recoveries).toBeLessThanOrEqual(1_000);
  });

  it('counts a recovery only for a feed that had dropped, from its drop', () => {
    const ledger = new Ledger();
    ledger.connected('feed-1', 1_000);
    ledger.dropped('feed-2', 1_000, 1006);
    ledger.connected('feed-2', 1_300);
    ledger.connected('feed-2', 1_900);
    expect(ledger.recoveries()).toEqual({ count: 1, p50: 300, p99: 300, resolutionMs: 1 });
  });

  it('counts the drops since a fault still being judged, by close code, and keeps none from before it', () => {
    const ledger = new Ledger();
    let at = 1_700_000_000_000;
    for (let cycle = 0; cycle < 30_000; cycle++) {
      ledger.dropped('feed-1', at - 1, 1006);
      ledger.dropped('feed-1', at, 1012);
      const fault = ledger.announce('server restart', at);
      for (const code of [1012, 1012, 1012, 1006]) ledger.dropped('feed-1', at + 1, code);
      expect([ledger.dropsSince(fault.at, 1012), ledger.dropsSince(fault.at)]).toEqual([4, 5]);
      fault.outcome = { happened: true, what: 'closed 3 feed sockets with 1012' };
      for (let i = 0; i < 5; i++) ledger.dropped('feed-1', (at += 10), 1006);
      at += 10;
    }
    expect(ledger.retained().drops).toBeLessThanOrEqual(10);
  });

  it('lists the latest faults and counts every earlier one by name and verdict', () => {
    const ledger = new Ledger();
    let last: FaultRecord | undefined;
    for (let cycle = 0; cycle < 3_333; cycle++) {
      for (const name of ['server restart', 'blackhole', 'token expiry']) {
        last = ledger.announce(name, 1_700_000_000_000 + cycle * 1_000);
        if (name !== 'blackhole' || cycle % 2 === 0) last.outcome = { happened: name !== 'token expiry' || cycle % 3 > 0, what: '' };
      }
    }
    const counts = new Map(ledger.earlierFaults);
    for (const fault of ledger.faults) counts.set(`${fault.name}: ${verdict(fault)}`, (counts.get(`${fault.name}: ${verdict(fault)}`) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({
      'server restart: happened': 3_333,
      'blackhole: happened': 1_667,
      'blackhole: not seen to happen': 1_666,
      'token expiry: happened': 2_222,
      'token expiry: did not happen': 1_111,
    });
    expect(ledger.faults.at(-1)).toBe(last);
    expect(ledger.faults.length).toBeGreaterThanOrEqual(3);
    expect(ledger.retained().faults).toBeLessThanOrEqual(30);
  });

  it('finds nothing wrong with a run whose faults happened and whose published messages all arrived', () => {
    const ledger = new Ledger();
    ledger.announce('server restart', 1_000).outcome = { happened: true, what: '' };
    ledger.publish(ch, 1);
    ledger.receive(ch, 1);
    ledger.sent = ledger.acked = ledger.broadcasts = 1;
    expect(ledger.failures(false)).toEqual([]);
  });

  it('finds a run failed by a fault that did not happen or was not seen to, a message lost silently, a failed client publish or a failed server broadcast', () => {
    const ledger = new Ledger();
    ledger.announce('server restart', 1_000).outcome = { happened: false, what: 'Error: Redis not reachable within 10000 ms' };
    ledger.announce('token expiry', 2_000);
    ledger.receive(ch, 1);
    ledger.publish(ch, 2);
    ledger.unacked = 2;
    ledger.failedBroadcasts = 3;
    expect(ledger.failures(false)).toEqual(['faults that did not happen: 2', 'messages lost silently: 1', 'client publishes failed: 2', 'server broadcasts failed: 3']);
  });

  it('holds against an interrupted run its failed publishes and broadcasts and the faults that did not happen, not what was still under way', () => {
    const ledger = new Ledger();
    ledger.announce('server restart', 1_000).outcome = { happened: false, what: 'Error: Redis not reachable within 10000 ms' };
    ledger.announce('blackhole', 2_000);
    ledger.receive(ch, 1);
    ledger.publish(ch, 2);
    ledger.unacked = 1;
    ledger.failedBroadcasts = 1;
    expect(ledger.failures(true)).toEqual(['faults that did not happen: 1', 'client publishes failed: 1', 'server broadcasts failed: 1']);
    expect(new Ledger().failures(true)).toEqual([]);
  });

  it('counts an earlier fault, no longer listed, that did not happen among the failures', () => {
    const ledger = new Ledger();
    ledger.announce('token expiry', 0).outcome = { happened: false, what: '' };
    for (let i = 1; i <= 100; i++) ledger.announce('blackhole', i).outcome = { happened: true, what: '' };
    expect(ledger.failures(false)).toEqual(['faults that did not happen: 1']);
  });
});
