import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DialBudget, InvalidOptionError, type DialBudgetOptions } from '../../../src/index.js';
import { SimulatedClock } from '../../../src/testing/index.js';

/** A budget on a simulated clock, with every grant recorded as `[label, clock time]`. */
function budget(options: { ratePerSec?: number; burst?: number } = {}, keepGrants = 0) {
  const clock = new SimulatedClock(1_000);
  const dialBudget = new DialBudget(options, clock, keepGrants);
  const grants: Array<[string, number]> = [];
  const ask = (label: string, priority = 1) => dialBudget.request(priority, () => grants.push([label, clock.now()]));
  return { clock, budget: dialBudget, grants, ask, labels: () => grants.map(([label]) => label) };
}

describe('DialBudget', () => {
  it('grants at once while the burst lasts and nobody waits', () => {
    const { budget: b, grants, ask } = budget({ ratePerSec: 10, burst: 3 });
    ask('a');
    ask('b');
    ask('c');
    expect(grants).toEqual([['a', 1_000], ['b', 1_000], ['c', 1_000]]);
    expect(b.granted).toBe(3);
    expect(b.queued).toBe(0);
  });

  it('then makes requests wait, and grants one permit per 1/ratePerSec with a single timer', () => {
    const { clock, budget: b, grants, ask } = budget({ ratePerSec: 10, burst: 1 });
    ask('a');
    ask('b');
    ask('c');
    expect(grants).toEqual([['a', 1_000]]);
    expect(b.queued).toBe(2);
    expect(clock.pending, 'one timer for the next refill, however many wait').toBe(1);
    clock.advance(99);
    expect(grants).toHaveLength(1);
    clock.advance(1);
    expect(grants.at(-1)).toEqual(['b', 1_100]);
    clock.advance(100);
    expect(grants.at(-1)).toEqual(['c', 1_200]);
    expect(b.queued).toBe(0);
    expect(clock.pending, 'no timer once nobody waits').toBe(0);
  });

  it('grants waiting requests by priority (1 first), first come first served within a priority', () => {
    const { clock, ask, labels } = budget({ ratePerSec: 10, burst: 1 });
    ask('first');
    ask('p3-a', 3);
    ask('p2-a', 2);
    ask('p3-b', 3);
    ask('p1-a', 1);
    ask('p2-b', 2);
    ask('p1-b', 1);
    clock.advance(1_000);
    expect(labels()).toEqual(['first', 'p1-a', 'p1-b', 'p2-a', 'p2-b', 'p3-a', 'p3-b']);
  });

  it('lets nobody jump the queue: with others waiting, a request waits its turn even when a token is there', () => {
    const { clock, budget: b, ask, labels } = budget({ ratePerSec: 10, burst: 1 });
    ask('a');
    ask('b', 2);
    clock.jump(500); // a token is back, but the refill timer has not run yet
    ask('c', 2);
    expect(labels(), 'c waits behind b').toEqual(['a']);
    expect(b.queued).toBe(2);
    clock.advance(0);
    expect(labels()).toEqual(['a', 'b']);
  });

  it('never grants a withdrawn request, and stops its timer when the last waiter withdraws', () => {
    const { clock, budget: b, ask, labels } = budget({ ratePerSec: 10, burst: 1 });
    ask('a');
    const withdrawB = ask('b');
    const withdrawC = ask('c');
    withdrawB();
    expect(b.queued).toBe(1);
    expect(clock.pending).toBe(1);
    withdrawC();
    expect(b.queued).toBe(0);
    expect(clock.pending, 'nobody waits: no timer').toBe(0);
    clock.advance(10_000);
    expect(labels()).toEqual(['a']);
    expect(b.granted).toBe(1);
  });

  it('withdrawing twice, or after the grant, changes nothing', () => {
    const { clock, budget: b, ask, labels } = budget({ ratePerSec: 10, burst: 1 });
    const withdrawA = ask('a');
    ask('b');
    const withdrawC = ask('c');
    withdrawA();
    withdrawC();
    withdrawC();
    expect(b.queued).toBe(1);
    clock.advance(100);
    expect(labels()).toEqual(['a', 'b']);
    expect(clock.pending).toBe(0);
  });

  it('dispose() forgets every waiter and stops its timer: nothing is granted afterwards', () => {
    const { clock, budget: b, ask, labels } = budget({ ratePerSec: 10, burst: 1 });
    ask('a');
    ask('b');
    ask('c', 3);
    b.dispose();
    expect(b.queued).toBe(0);
    expect(clock.pending).toBe(0);
    clock.advance(60_000);
    expect(labels()).toEqual(['a']);
  });

  it('defaults to 200 dials per second with a burst of 20', () => {
    const { clock, ask, grants } = budget();
    for (let i = 0; i < 21; i++) ask(`c${i}`);
    expect(grants).toHaveLength(20);
    clock.advance(4);
    expect(grants).toHaveLength(20);
    clock.advance(1);
    expect(grants.at(-1)).toEqual(['c20', 1_005]);
  });

  it('keeps the times of the last keepGrants grants, and no more', () => {
    const { clock, budget: b, ask } = budget({ ratePerSec: 10, burst: 1 }, 3);
    for (let i = 0; i < 5; i++) ask(`c${i}`);
    clock.advance(1_000);
    expect(b.granted).toBe(5);
    expect(b.grants).toEqual([1_200, 1_300, 1_400]);
    expect(new DialBudget({}, clock).grants, 'none kept by default').toEqual([]);
  });

  it.each([
    [{ ratePerSec: 0 }, 'dialBudget.ratePerSec'],
    [{ ratePerSec: -5 }, 'dialBudget.ratePerSec'],
    [{ ratePerSec: Number.NaN }, 'dialBudget.ratePerSec'],
    [{ ratePerSec: Number.POSITIVE_INFINITY }, 'dialBudget.ratePerSec'],
    [{ burst: 0 }, 'dialBudget.burst'],
    [{ burst: 2.5 }, 'dialBudget.burst'],
    [{ burst: -1 }, 'dialBudget.burst'],
    [{ ratePerSec: null }, 'dialBudget.ratePerSec'],
    [{ burst: null }, 'dialBudget.burst'],
  ])('rejects %o, naming %s', (options, option) => {
    const attempt = () => new DialBudget(options as DialBudgetOptions, new SimulatedClock());
    expect(attempt).toThrow(InvalidOptionError);
    expect(attempt).toThrow(`\`${option}\``);
  });
});

// ---------------------------------------------------------------------------------------------------
// Properties over any schedule of requests

interface Planned {
  /** ms after the previous request. */
  gap: number;
  priority: number;
  /** ms after its request at which it is withdrawn, if it is. */
  withdrawAfter: number | undefined;
}

const plannedRequest = fc.record({
  gap: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 400 })),
  priority: fc.integer({ min: 1, max: 3 }),
  withdrawAfter: fc.option(fc.integer({ min: 0, max: 600 }), { nil: undefined, freq: 4 }),
});
const budgetOptions = fc.record({
  ratePerSec: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.double({ min: 0.5, max: 500, noNaN: true, noDefaultInfinity: true })),
  burst: fc.integer({ min: 1, max: 8 }),
});

interface Tracked {
  priority: number;
  order: number;
  state: 'waiting' | 'granted' | 'withdrawn';
  withdraw: () => void;
}

/**
 * Runs a schedule against a budget on a simulated clock, checking at every grant that the request was
 * still waiting and that no request of a higher priority, nor an older one of the same priority, was
 * waiting. Stops after the action `cut` when given (for dispose()).
 */
function run(options: { ratePerSec: number; burst: number }, schedule: readonly Planned[], cut?: number) {
  const clock = new SimulatedClock(0);
  const b = new DialBudget(options, clock, 100_000);
  const tracked: Tracked[] = [];
  const grantTimes: number[] = [];
  const violations: string[] = [];
  const actions: Array<{ at: number; kind: 'request' | 'withdraw'; index: number }> = [];
  let at = 0;
  schedule.forEach((planned, index) => {
    at += planned.gap;
    actions.push({ at, kind: 'request', index });
    if (planned.withdrawAfter !== undefined) actions.push({ at: at + planned.withdrawAfter, kind: 'withdraw', index });
  });
  actions.sort((x, y) => x.at - y.at || (x.kind === y.kind ? x.index - y.index : x.kind === 'request' ? -1 : 1));

  const grant = (index: number) => {
    const request = tracked[index]!;
    if (request.state !== 'waiting') violations.push(`request ${index} granted while ${request.state}`);
    for (const [other, waiting] of tracked.entries()) {
      if (other === index || waiting.state !== 'waiting') continue;
      if (waiting.priority < request.priority) violations.push(`request ${index} (priority ${request.priority}) granted while ${other} (priority ${waiting.priority}) waited`);
      if (waiting.priority === request.priority && waiting.order < request.order) violations.push(`request ${index} granted before the older ${other} of the same priority`);
    }
    request.state = 'granted';
    grantTimes.push(clock.now());
  };

  const limit = cut ?? actions.length;
  for (const action of actions.slice(0, limit)) {
    clock.advance(action.at - clock.now());
    if (action.kind === 'request') {
      const request: Tracked = { priority: schedule[action.index]!.priority, order: action.index, state: 'waiting', withdraw: () => {} };
      tracked[action.index] = request;
      request.withdraw = b.request(request.priority, () => grant(action.index));
    } else {
      const request = tracked[action.index]!;
      if (request.state === 'waiting') request.state = 'withdrawn';
      request.withdraw();
    }
  }
  return { clock, budget: b, tracked, grantTimes, violations };
}

/** Whether `count` grants within a span of `spanMs` fit in burst + rate × span. */
const fits = (count: number, spanMs: number, { ratePerSec, burst }: { ratePerSec: number; burst: number }) =>
  count <= burst + (ratePerSec * spanMs) / 1_000 + 1e-6;

describe('DialBudget properties', () => {
  it('in any window W, never grants more than burst + ratePerSec × W, whatever the schedule', () => {
    fc.assert(
      fc.property(budgetOptions, fc.array(plannedRequest, { minLength: 1, maxLength: 60 }), (options, schedule) => {
        const { clock, grantTimes } = run(options, schedule);
        clock.advance(((schedule.length + 1) * 1_000) / options.ratePerSec + 1_000);
        for (let i = 0; i < grantTimes.length; i++) {
          for (let j = i; j < grantTimes.length; j++) {
            if (!fits(j - i + 1, grantTimes[j]! - grantTimes[i]!, options)) {
              throw new Error(`${j - i + 1} grants within ${grantTimes[j]! - grantTimes[i]!} ms (${JSON.stringify(options)})`);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('grants a higher priority before a lower one, and in arrival order within a priority', () => {
    fc.assert(
      fc.property(budgetOptions, fc.array(plannedRequest, { minLength: 1, maxLength: 60 }), (options, schedule) => {
        const { clock, violations } = run(options, schedule);
        clock.advance(((schedule.length + 1) * 1_000) / options.ratePerSec + 1_000);
        expect(violations).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('never grants a withdrawn request, grants every other one exactly once in the end, and then holds no timer', () => {
    fc.assert(
      fc.property(budgetOptions, fc.array(plannedRequest, { minLength: 1, maxLength: 60 }), (options, schedule) => {
        const { clock, budget: b, tracked, grantTimes, violations } = run(options, schedule);
        clock.advance(((schedule.length + 1) * 1_000) / options.ratePerSec + 1_000);
        expect(violations, 'withdrawn or twice-granted requests').toEqual([]);
        expect(tracked.filter((request) => request.state === 'waiting'), 'requests never granted').toEqual([]);
        expect(b.granted).toBe(tracked.filter((request) => request.state === 'granted').length);
        expect(b.granted).toBe(grantTimes.length);
        expect(b.grants).toEqual(grantTimes);
        expect(b.queued).toBe(0);
        expect(clock.pending, 'no timer once nobody waits').toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('dispose() at any point leaves no timer and grants nothing more', () => {
    fc.assert(
      fc.property(budgetOptions, fc.array(plannedRequest, { minLength: 1, maxLength: 40 }), fc.nat(), (options, schedule, seed) => {
        const cut = seed % (schedule.length * 2 + 1);
        const { clock, budget: b, grantTimes } = run(options, schedule, cut);
        const before = grantTimes.length;
        b.dispose();
        expect(clock.pending).toBe(0);
        expect(b.queued).toBe(0);
        clock.advance(3_600_000);
        expect(grantTimes).toHaveLength(before);
      }),
      { numRuns: 300 },
    );
  });
});
