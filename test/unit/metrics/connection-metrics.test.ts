import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConnectionMetrics } from '../../../src/metrics/connection-metrics.js';
import { detectIssues, healthScore, type HealthInput } from '../../../src/metrics/health.js';
import { LatencySamples, percentile } from '../../../src/metrics/latency.js';
import { StateHistory } from '../../../src/metrics/state-history.js';
import { SimulatedClock } from '../../../src/testing/simulated-clock.js';

const HOUR = 3_600_000;
const STATES = ['idle', 'connecting', 'authenticating', 'connected', 'reconnecting', 'closed'] as const;

describe('LatencySamples', () => {
  it('reports null everywhere and count 0 before the first sample', () => {
    const samples = new LatencySamples();
    expect(samples.summary()).toEqual({ p50: null, p95: null, p99: null, last: null, count: 0 });
    expect(samples.percentile(50)).toBeNull();
    expect(samples.last).toBeNull();
  });

  it('computes nearest-rank percentiles over known data', () => {
    const samples = new LatencySamples();
    for (let ms = 100; ms >= 1; ms--) samples.record(ms);
    expect(samples.summary()).toEqual({ p50: 50, p95: 95, p99: 99, last: 1, count: 100 });
    expect(samples.percentile(0)).toBe(1);
    expect(samples.percentile(100)).toBe(100);
  });

  it('uses nearest rank on small sets: p50 of [10, 20, 30, 40] is 20', () => {
    const samples = new LatencySamples();
    for (const ms of [40, 10, 30, 20]) samples.record(ms);
    expect(samples.percentile(50)).toBe(20);
    expect(samples.percentile(75)).toBe(30);
    expect(samples.percentile(76)).toBe(40);
  });

  it('keeps only the last 128 samples once the ring wraps, while count keeps growing', () => {
    const samples = new LatencySamples();
    for (let i = 0; i < 1_000; i++) samples.record(i < 872 ? 1_000_000 : i);
    expect(samples.count).toBe(1_000);
    expect(samples.last).toBe(999);
    expect(samples.percentile(100)).toBe(999);
    expect(samples.percentile(0)).toBe(872);
  });

  it('takes a percentile above 100 as 100 and one below 0 as 0', () => {
    const samples = new LatencySamples();
    for (const ms of [30, 10, 20]) samples.record(ms);
    expect([samples.percentile(250), samples.percentile(-40)]).toEqual([30, 10]);
    expect([percentile([30, 10, 20], 101), percentile([30, 10, 20], -1), percentile([], 50)]).toEqual([30, 10, null]);
  });

  it('ignores non-finite samples', () => {
    const samples = new LatencySamples();
    samples.record(Number.NaN);
    samples.record(Infinity);
    samples.record(5);
    expect(samples.summary()).toEqual({ p50: 5, p95: 5, p99: 5, last: 5, count: 1 });
  });

  it('matches a sort-based nearest-rank reference on arbitrary data', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 400 }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        (data, p) => {
          const samples = new LatencySamples();
          for (const x of data) samples.record(x);
          const kept = data.slice(-128).sort((a, b) => a - b);
          const rank = Math.max(1, Math.ceil((p / 100) * kept.length));
          expect(samples.percentile(p)).toBe(kept[rank - 1]);
        },
      ),
    );
  });
});

describe('StateHistory', () => {
  it('accumulates time in each state, including the ongoing stay in the current one', () => {
    const clock = new SimulatedClock();
    const history = new StateHistory(STATES);
    history.enter('connecting', clock.now());
    clock.advance(120);
    history.enter('connected', clock.now());
    clock.advance(5_000);
    history.enter('reconnecting', clock.now());
    clock.advance(800);
    history.enter('connected', clock.now());
    clock.advance(300);
    expect(history.current).toBe('connected');
    expect(history.timeInState(clock.now())).toEqual({
      idle: 0,
      connecting: 120,
      authenticating: 0,
      connected: 5_300,
      reconnecting: 800,
      closed: 0,
    });
  });

  it('lists recent state changes oldest first', () => {
    const history = new StateHistory(STATES);
    history.enter('idle', 0);
    history.enter('connecting', 10);
    history.enter('connected', 25);
    expect(history.recent()).toEqual([
      { state: 'idle', at: 0 },
      { state: 'connecting', at: 10 },
      { state: 'connected', at: 25 },
    ]);
  });

  it('remembers only the last 100 changes once the ring wraps', () => {
    const history = new StateHistory(STATES);
    for (let i = 0; i < 250; i++) history.enter(i % 2 === 0 ? 'connected' : 'reconnecting', i);
    const recent = history.recent();
    expect(recent).toHaveLength(100);
    expect(recent[0]).toEqual({ state: 'connected', at: 150 });
    expect(recent[99]).toEqual({ state: 'reconnecting', at: 249 });
  });

  it('does not record re-entering the current state as a change', () => {
    const history = new StateHistory(STATES);
    history.enter('connected', 0);
    history.enter('connected', 50);
    expect(history.recent()).toEqual([{ state: 'connected', at: 0 }]);
    expect(history.timeInState(100).connected).toBe(100);
  });

  it('never counts negative time when the clock goes back', () => {
    const history = new StateHistory(STATES);
    history.enter('connecting', 1_000);
    history.enter('connected', 400);
    expect(history.timeInState(300)).toMatchObject({ connecting: 0, connected: 0 });
    history.enter('reconnecting', 900);
    expect(history.timeInState(900)).toMatchObject({ connecting: 0, connected: 500, reconnecting: 0 });
  });

  it('is undefined before its first state, and knows at most 256 states', () => {
    const many = Array.from({ length: 300 }, (_, i) => `s${i}`);
    const history = new StateHistory(many);
    expect(history.current).toBeUndefined();
    history.enter('s255', 0);
    history.enter('s299', 5);
    expect(history.current).toBe('s255');
    expect(history.recent()).toEqual([{ state: 's255', at: 0 }]);
    expect(Object.keys(history.timeInState(10))).toHaveLength(256);
  });

  it('adds a state it was not told about on first entry', () => {
    const history = new StateHistory(['idle']);
    history.enter('idle', 0);
    expect(history.current).toBe('idle');
    history.enter('offline', 10);
    expect(history.current).toBe('offline');
    expect(history.timeInState(40)).toEqual({ idle: 10, offline: 30 });
  });
});

describe('healthScore', () => {
  const healthy: HealthInput = {
    connected: true,
    rttP95: null,
    errorsRecent: 0,
    reconnectsRecent: 0,
    queueDepth: 0,
    queueCapacity: 1_000,
    dropRate: 0,
  };

  it('is 1 for a healthy connected link', () => {
    expect(healthScore(healthy)).toBe(1);
    expect(healthScore({ ...healthy, rttP95: 20 })).toBeGreaterThan(0.99);
  });

  it('is 0 when not connected, whatever else', () => {
    expect(healthScore({ ...healthy, connected: false })).toBe(0);
  });

  it('counts latency over a second as bad', () => {
    expect(healthScore({ ...healthy, rttP95: 1_000 })).toBeLessThanOrEqual(0.2);
    expect(healthScore({ ...healthy, rttP95: 100 })).toBeGreaterThan(0.9);
  });

  it('degrades with recent errors, reconnects, queue fill and drop rate', () => {
    expect(healthScore({ ...healthy, errorsRecent: 3 })).toBeLessThan(0.6);
    expect(healthScore({ ...healthy, reconnectsRecent: 3 })).toBeLessThan(0.5);
    expect(healthScore({ ...healthy, queueDepth: 1_000 })).toBeCloseTo(0.5, 9);
    expect(healthScore({ ...healthy, dropRate: 0.1 })).toBeLessThan(0.4);
  });

  it('has the documented figures: latency halves it at 500 ms and leaves a fifth at 1 s; an error costs ~18 %, a reconnect ~26 %; a full queue halves it; 10 % drops leave ~37 %', () => {
    expect(healthScore({ ...healthy, rttP95: 500 })).toBeCloseTo(0.5, 9);
    expect(healthScore({ ...healthy, rttP95: 1_000 })).toBeCloseTo(0.2, 9);
    expect(healthScore({ ...healthy, errorsRecent: 1 })).toBeCloseTo(Math.exp(-0.2), 9);
    expect(healthScore({ ...healthy, reconnectsRecent: 1 })).toBeCloseTo(Math.exp(-0.3), 9);
    expect(healthScore({ ...healthy, dropRate: 0.1 })).toBeCloseTo(Math.exp(-1), 9);
  });

  it('takes a queue beyond its capacity, or any queue of a capacity of 0, as full', () => {
    expect(healthScore({ ...healthy, queueDepth: 5_000 })).toBeCloseTo(0.5, 9);
    expect(healthScore({ ...healthy, queueDepth: 1, queueCapacity: 0 })).toBeCloseTo(0.5, 9);
    expect(healthScore({ ...healthy, queueDepth: 0, queueCapacity: 0 })).toBe(1);
  });

  it('counts a drop rate above 1 as 1, and negative or NaN inputs as none', () => {
    expect(healthScore({ ...healthy, dropRate: 7 })).toBe(healthScore({ ...healthy, dropRate: 1 }));
    for (const bad of [-5, Number.NaN]) {
      expect(healthScore({ ...healthy, rttP95: bad, errorsRecent: bad, reconnectsRecent: bad, queueDepth: bad, dropRate: bad })).toBe(1);
    }
  });

  const inputArb = fc.record({
    connected: fc.boolean(),
    rttP95: fc.option(fc.double({ min: 0, max: 60_000, noNaN: true }), { nil: null }),
    errorsRecent: fc.nat({ max: 1_000 }),
    reconnectsRecent: fc.nat({ max: 1_000 }),
    queueDepth: fc.nat({ max: 20_000 }),
    queueCapacity: fc.integer({ min: 1, max: 10_000 }),
    dropRate: fc.double({ min: 0, max: 1, noNaN: true }),
  });

  it('always lies in [0, 1]', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const score = healthScore(input);
        expect(score).toBeGreaterThanOrEqual(0);
        expect(score).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('never scores worse inputs higher', () => {
    fc.assert(
      fc.property(
        inputArb,
        fc.record({
          rtt: fc.double({ min: 0, max: 10_000, noNaN: true }),
          errors: fc.nat({ max: 50 }),
          reconnects: fc.nat({ max: 50 }),
          depth: fc.nat({ max: 5_000 }),
          drop: fc.double({ min: 0, max: 1, noNaN: true }),
          disconnect: fc.boolean(),
        }),
        (input, worse) => {
          const worseInput: HealthInput = {
            connected: input.connected && !worse.disconnect,
            rttP95: (input.rttP95 ?? 0) + worse.rtt,
            errorsRecent: input.errorsRecent + worse.errors,
            reconnectsRecent: input.reconnectsRecent + worse.reconnects,
            queueDepth: input.queueDepth + worse.depth,
            queueCapacity: input.queueCapacity,
            dropRate: Math.min(1, input.dropRate + worse.drop),
          };
          expect(healthScore(worseInput)).toBeLessThanOrEqual(healthScore(input));
        },
      ),
    );
  });
});

describe('detectIssues', () => {
  const fine = { healthScore: 0.95, rttP95: 80, queueDepth: 3, queueCapacity: 1_000, dropRate: 0 };

  it('reports nothing for a healthy connection', () => {
    expect(detectIssues(fine)).toEqual([]);
  });

  it('reports each problem with its value, threshold and a recommended action', () => {
    const issues = detectIssues({ healthScore: 0.2, rttP95: 1_500, queueDepth: 900, queueCapacity: 1_000, dropRate: 0.1 });
    expect(issues.map(({ issue, value, threshold }) => ({ issue, value, threshold }))).toEqual([
      { issue: 'high_latency', value: 1_500, threshold: 1_000 },
      { issue: 'poor_health', value: 0.2, threshold: 0.5 },
      { issue: 'large_queue', value: 0.9, threshold: 0.8 },
      { issue: 'drop_rate', value: 0.1, threshold: 0.05 },
    ]);
    for (const issue of issues) expect(issue.action.length).toBeGreaterThan(10);
  });

  it('reports a value only when it is past its threshold, not at it', () => {
    const atThresholds = { healthScore: 0.5, rttP95: 1_000, queueDepth: 800, queueCapacity: 1_000, dropRate: 0.05 };
    expect(detectIssues(atThresholds)).toEqual([]);
    expect(detectIssues({ ...atThresholds, rttP95: null, queueDepth: 1, queueCapacity: 0 }).map((i) => [i.issue, i.value])).toEqual([['large_queue', 1]]);
  });

  it('accepts custom thresholds', () => {
    expect(detectIssues(fine, { latencyMs: 50 }).map((i) => i.issue)).toEqual(['high_latency']);
  });
});

describe('ConnectionMetrics', () => {
  it('counts connects on every entry to connected and reconnects on each after the first', () => {
    const clock = new SimulatedClock();
    const metrics = new ConnectionMetrics(STATES, clock);
    for (const state of ['connecting', 'connected', 'reconnecting', 'connecting', 'connected', 'reconnecting', 'connected']) {
      metrics.onState(state);
    }
    expect(metrics.connects).toBe(3);
    expect(metrics.reconnects).toBe(2);
  });

  it('measures time to recover from leaving connected to connected again', () => {
    const clock = new SimulatedClock();
    const metrics = new ConnectionMetrics(STATES, clock);
    metrics.onState('connecting');
    clock.advance(500);
    metrics.onState('connected');
    expect(metrics.recovery.count).toBe(0);
    clock.advance(10_000);
    metrics.onState('reconnecting');
    clock.advance(1_200);
    metrics.onState('connecting');
    clock.advance(300);
    metrics.onState('connected');
    expect(metrics.recovery.last).toBe(1_500);
    clock.advance(60_000);
    metrics.onState('reconnecting');
    clock.advance(250);
    metrics.onState('connected');
    expect(metrics.recovery.summary()).toEqual({ p50: 250, p95: 1_500, p99: 1_500, last: 250, count: 2 });
  });

  it('ignores a repeated state', () => {
    const metrics = new ConnectionMetrics(STATES, new SimulatedClock());
    metrics.onState('connected');
    metrics.recordRtt(40);
    metrics.onState('connected');
    expect(metrics.connects).toBe(1);
    expect(metrics.reconnects).toBe(0);
    expect(metrics.lastRtt).toBe(40);
  });

  it('counts errors as recent for a minute when no recentWindowMs is given', () => {
    const clock = new SimulatedClock();
    const metrics = new ConnectionMetrics(STATES, clock);
    metrics.onState('connected');
    const extra = { queueDepth: 0, queueCapacity: 1_000 };
    metrics.recordError();
    clock.advance(60_000);
    expect(metrics.snapshot(extra).healthScore).toBeCloseTo(Math.exp(-0.2), 9);
    clock.advance(1);
    expect(metrics.snapshot(extra).healthScore).toBe(1);
  });

  it('produces a JSON-serialisable snapshot with every metric', () => {
    const clock = new SimulatedClock(1_000);
    const metrics = new ConnectionMetrics(STATES, clock);
    metrics.onState('connecting');
    clock.advance(100);
    metrics.onState('connected');
    for (const ms of [20, 30, 40]) metrics.rtt.record(ms);
    metrics.messagesIn = 5;
    metrics.messagesOut = 9;
    metrics.bytesIn = 500;
    metrics.bytesOut = 900;
    metrics.drops = 1;
    metrics.recordError();
    clock.advance(400);
    const snapshot = metrics.snapshot({ queueDepth: 2, queueCapacity: 1_000 });
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    expect(snapshot).toMatchObject({
      state: 'connected',
      connects: 1,
      reconnects: 0,
      timeToRecover: { p50: null, p95: null, p99: null, last: null, count: 0 },
      rtt: { p50: 30, p95: 40, p99: 40, last: 40, count: 3 },
      messagesIn: 5,
      messagesOut: 9,
      bytesIn: 500,
      bytesOut: 900,
      queueDepth: 2,
      drops: 1,
      errors: 1,
      history: [
        { state: 'connecting', at: 1_000 },
        { state: 'connected', at: 1_100 },
      ],
    });
    expect(snapshot.timeInState).toMatchObject({ connecting: 100, connected: 400 });
    expect(snapshot.healthScore).toBeGreaterThan(0);
    expect(snapshot.healthScore).toBeLessThan(0.5);
    expect(snapshot.issues.map((i) => i.issue)).toEqual(['poor_health', 'drop_rate']);
    expect(snapshot.issues[1]?.value).toBeCloseTo(0.1, 9);
  });

  it('has state null, health 0 and a poor_health issue before the first state change', () => {
    const snapshot = new ConnectionMetrics(STATES, new SimulatedClock()).snapshot({ queueDepth: 0, queueCapacity: 1_000 });
    expect(snapshot.state).toBeNull();
    expect(snapshot.healthScore).toBe(0);
    expect(snapshot.issues.map((i) => i.issue)).toEqual(['poor_health']);
  });

  it('lets recent errors weigh on health only within the recent window', () => {
    const clock = new SimulatedClock();
    const metrics = new ConnectionMetrics(STATES, clock, { recentWindowMs: 60_000 });
    metrics.onState('connected');
    const extra = { queueDepth: 0, queueCapacity: 1_000 };
    expect(metrics.snapshot(extra).healthScore).toBe(1);
    for (let i = 0; i < 5; i++) metrics.recordError();
    expect(metrics.snapshot(extra).healthScore).toBeLessThan(0.5);
    clock.advance(60_000);
    expect(metrics.snapshot(extra).healthScore).toBeLessThan(0.5); // exactly the window ago: still recent
    clock.advance(1);
    expect(metrics.snapshot(extra).healthScore).toBe(1);
    expect(metrics.errors).toBe(5);
  });

  it('lets recent reconnects weigh on health within the recent window', () => {
    const clock = new SimulatedClock();
    const metrics = new ConnectionMetrics(STATES, clock, { recentWindowMs: 60_000 });
    const extra = { queueDepth: 0, queueCapacity: 1_000 };
    for (const state of ['connected', 'reconnecting', 'connected']) metrics.onState(state);
    expect(metrics.snapshot(extra).healthScore).toBeCloseTo(Math.exp(-0.3), 9);
    clock.advance(60_001);
    expect(metrics.snapshot(extra).healthScore).toBe(1);
  });

  it('lets an error stop counting as recent once the window has passed, even after the clock stepped back', () => {
    const clock = new SimulatedClock(10 * HOUR);
    const metrics = new ConnectionMetrics(STATES, clock);
    const extra = { queueDepth: 0, queueCapacity: 1_000 };
    metrics.onState('connected');
    metrics.recordError();
    expect(metrics.snapshot(extra).healthScore).toBeLessThan(1);
    clock.jump(-HOUR);
    clock.jump(120_000);
    expect(metrics.snapshot(extra).healthScore, 'the error is two minutes old').toBe(1);
  });

  it('lets a reconnect stop counting as recent once the window has passed, even after the clock stepped back', () => {
    const clock = new SimulatedClock(10 * HOUR);
    const metrics = new ConnectionMetrics(STATES, clock);
    const extra = { queueDepth: 0, queueCapacity: 1_000 };
    for (const state of ['connected', 'reconnecting', 'connected']) metrics.onState(state);
    expect(metrics.snapshot(extra).healthScore).toBeLessThan(1);
    clock.jump(-HOUR);
    clock.jump(120_000);
    expect(metrics.snapshot(extra).healthScore, 'the reconnect is two minutes old').toBe(1);
  });

  it('forgets an error timed before the clock stepped back, and does not count it again when the clock comes back to its time', () => {
    const clock = new SimulatedClock(10 * HOUR);
    const metrics = new ConnectionMetrics(STATES, clock);
    const extra = { queueDepth: 0, queueCapacity: 1_000 };
    metrics.onState('connected');
    metrics.recordError();
    clock.jump(-HOUR);
    expect(metrics.snapshot(extra).healthScore).toBe(1);
    metrics.recordError();
    expect(metrics.snapshot(extra).healthScore, 'an error after the step counts').toBeCloseTo(Math.exp(-0.2), 9);
    clock.jump(HOUR);
    expect(metrics.snapshot(extra).healthScore).toBe(1);
    expect(metrics.errors).toBe(2);
  });

  it('adds up the time spent throttled, the ongoing wait included; an end without a start counts nothing', () => {
    const clock = new SimulatedClock();
    const metrics = new ConnectionMetrics(STATES, clock);
    const extra = { queueDepth: 0, queueCapacity: 1_000 };
    metrics.onThrottle(false);
    clock.advance(5_000);
    metrics.onThrottle(true);
    clock.advance(1_000);
    metrics.onThrottle(false);
    clock.advance(1_000);
    metrics.onThrottle(false);
    metrics.onThrottle(true);
    clock.advance(500);
    expect(metrics.snapshot(extra)).toMatchObject({ throttles: 2, throttledMs: 1_500 });
  });

  it('never counts negative time throttled when the clock steps back during a wait, ongoing or ended', () => {
    const clock = new SimulatedClock(10 * HOUR);
    const metrics = new ConnectionMetrics(STATES, clock);
    const extra = { queueDepth: 0, queueCapacity: 1_000 };
    metrics.onThrottle(true);
    clock.advance(1_000);
    metrics.onThrottle(false);
    metrics.onThrottle(true);
    clock.jump(-HOUR);
    expect(metrics.snapshot(extra).throttledMs, 'the ongoing wait counts nothing').toBe(1_000);
    metrics.onThrottle(false);
    expect(metrics.snapshot(extra).throttledMs, 'the ended wait counts nothing').toBe(1_000);
  });

  it('forgets the last round-trip time once the connection leaves connected: the next link has none until its first pong', () => {
    const metrics = new ConnectionMetrics(STATES, new SimulatedClock());
    metrics.onState('connected');
    metrics.recordRtt(40);
    metrics.onState('reconnecting');
    expect(metrics.lastRtt).toBeNull();
    metrics.onState('connected');
    expect(metrics.lastRtt).toBeNull();
    expect(metrics.rtt.count).toBe(1);
  });

  it('scores latency from the p95 round-trip time: half the pongs at 500 ms halve the health score', () => {
    const metrics = new ConnectionMetrics(STATES, new SimulatedClock());
    metrics.onState('connected');
    for (let i = 0; i < 10; i++) metrics.recordRtt(0);
    for (let i = 0; i < 10; i++) metrics.recordRtt(500);
    const snapshot = metrics.snapshot({ queueDepth: 0, queueCapacity: 1_000 });
    expect(snapshot.rtt).toMatchObject({ p50: 0, p95: 500 });
    expect(snapshot.healthScore).toBeCloseTo(0.5, 9);
  });

  it('scores health 0 in any state but connected, whatever else', () => {
    const metrics = new ConnectionMetrics(STATES, new SimulatedClock());
    for (const state of ['connecting', 'connected', 'reconnecting']) metrics.onState(state);
    const snapshot = metrics.snapshot({ queueDepth: 0, queueCapacity: 1_000 });
    expect(snapshot.state).toBe('reconnecting');
    expect(snapshot.healthScore).toBe(0);
  });

  it('reports a large queue from the queue depth it is given', () => {
    const metrics = new ConnectionMetrics(STATES, new SimulatedClock());
    metrics.onState('connected');
    const snapshot = metrics.snapshot({ queueDepth: 950, queueCapacity: 1_000 });
    expect(snapshot.issues.map((i) => i.issue)).toEqual(['large_queue']);
  });
});
