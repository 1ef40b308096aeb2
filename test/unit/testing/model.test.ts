import { describe, expect, it } from 'vitest';
import { createActor, createMachine, raise } from 'xstate';
import { Coverage, createModel, SimulatedClock, stateNodesOf } from '../../../src/testing/index.js';

describe('createModel: a delayed raise', () => {
  // In `a`, the machine raises `tick` to itself in 100 ms; `tick` takes it to `b`.
  const machine = createMachine({
    id: 'tick',
    initial: 'a',
    states: {
      a: { entry: raise({ type: 'tick' }, { delay: 100 }), on: { tick: 'b' } },
      b: {},
    },
  });
  const model = createModel({ machine, input: undefined as never, world: {}, events: () => [] });

  it('is a model timer of the machine, due at its delay', () => {
    expect(model.initial.timers.map((timer) => [timer.event.type, timer.dueAt, timer.world])).toEqual([['tick', 100, undefined]]);
    expect(model.events(model.initial).map((event) => event.type)).toEqual(['tick']);
  });

  it('fires at its due time: model time moves to it, and it is consumed and reported as fired', () => {
    const [step] = model.path(['{"type":"tick"}']).steps;
    expect(step!.state.snapshot.value).toBe('b');
    expect(step!.state.now).toBe(100);
    expect(step!.state.timers).toEqual([]);
    expect(step!.state.fired.map((timer) => [timer.event.type, timer.dueAt])).toEqual([['tick', 100]]);
  });

  it('is replayed through the `delayed` stimulus, which advances the clock by step.elapsed: the real actor agrees', async () => {
    const elapsed: number[] = [];
    await model.replay(model.path(['{"type":"tick"}']), {
      setup: () => {
        const clock = new SimulatedClock();
        return { clock, actor: createActor(machine, { clock }).start() };
      },
      stimuli: {},
      delayed: (sut, step) => {
        elapsed.push(step.elapsed);
        sut.clock.advance(step.elapsed);
      },
      assert: (sut, state) => expect(sut.actor.getSnapshot().value).toEqual(state.snapshot.value),
      settle: async () => {},
    });
    expect(elapsed).toEqual([100]);
  });

  it('is replayed through a stimulus of its own event type when there is one, which tells it from the world\'s by step.after.fired', async () => {
    const fired: string[][] = [];
    await model.replay(model.path(['{"type":"tick"}']), {
      setup: () => {
        const clock = new SimulatedClock();
        return { clock, actor: createActor(machine, { clock }).start() };
      },
      stimuli: {
        tick: (sut, step) => {
          fired.push(step.after.fired.map((timer) => timer.id));
          sut.clock.advance(step.elapsed);
        },
      },
      assert: (sut, state) => expect(sut.actor.getSnapshot().value).toEqual(state.snapshot.value),
      settle: async () => {},
    });
    expect(fired).toEqual([['tick']]);
  });

  it('replay() reports the failed step, not an error its teardown throws after it, and names the teardown\'s error with it', async () => {
    const replay = model.replay(model.path(['{"type":"tick"}']), {
      setup: () => ({ actor: createActor(machine).start() }),
      stimuli: {},
      delayed: () => {},
      assert: (sut, state) => expect(sut.actor.getSnapshot().value, 'the real actor').toEqual(state.snapshot.value),
      teardown: () => {
        throw new Error('teardown could not stop the server');
      },
      settle: async () => {},
    });
    await expect(replay).rejects.toThrow(/the real actor[\s\S]*at step 1 \(.*tick.*\) of the path[\s\S]*teardown could not stop the server/);
  });

  it('replay() rejects with the teardown\'s error when the path itself passed', async () => {
    const replay = model.replay(model.path(['{"type":"tick"}']), {
      setup: () => {
        const clock = new SimulatedClock();
        return { clock, actor: createActor(machine, { clock }).start() };
      },
      stimuli: {},
      delayed: (sut, step) => sut.clock.advance(step.elapsed),
      assert: (sut, state) => expect(sut.actor.getSnapshot().value).toEqual(state.snapshot.value),
      teardown: () => {
        throw new Error('teardown could not stop the server');
      },
      settle: async () => {},
    });
    await expect(replay).rejects.toThrow('teardown could not stop the server');
  });

  it('an event of the world of the same type is the world\'s: it moves no time and leaves the timer pending', () => {
    const withWorld = createModel({ machine, input: undefined as never, world: {}, events: () => [{ type: 'tick', from: 'world' }] });
    const [step] = withWorld.path(['{"type":"tick","from":"world"}']).steps;
    expect(step!.state.snapshot.value).toBe('b');
    expect(step!.state.now).toBe(0);
    expect(step!.state.fired).toEqual([]);
    expect(step!.state.timers.map((timer) => [timer.event.type, timer.dueAt])).toEqual([['tick', 100]]);
  });
});

it('a delayed raise and an event of the world with the same JSON are two edges, each with its own outcome and name', () => {
  // In `a`, the machine raises `tick` to itself in 100 ms, and the world can send a `tick` of its own.
  const machine = createMachine({
    id: 'tick',
    initial: 'a',
    states: { a: { entry: raise({ type: 'tick' }, { delay: 100 }), on: { tick: 'b' } }, b: {} },
  });
  const model = createModel({ machine, input: undefined as never, world: {}, events: ({ snapshot }) => (snapshot.value === 'a' ? [{ type: 'tick' }] : []) });
  const adjacency = model.adjacency();
  const edges = Object.values(adjacency[model.key(model.initial) as keyof typeof adjacency]!.transitions) as Array<{ state: typeof model.initial }>;
  expect(edges.map(({ state }) => [state.now, state.timers.length, state.fired.length]).sort()).toEqual([
    [0, 1, 0],
    [100, 0, 1],
  ]);
  const paths = model.paths({ vertices: true });
  expect(paths.find((path) => path.steps.length === 1 && path.steps[0]!.state.fired.length === 1)).toBeDefined();
  expect(new Set(paths.map((path) => path.description)).size).toBe(paths.length);
});

describe('Coverage and model reachability', () => {
  // `back` returns to `a` through its history node: to `a.y`, where `go` left it.
  const withHistory = createMachine({
    id: 'h',
    initial: 'a',
    states: {
      a: { initial: 'x', states: { x: { on: { go: 'y' } }, y: {}, hist: { type: 'history' } }, on: { out: 'c' } },
      c: { on: { back: 'a.hist' } },
    },
  });
  // `checking` is left at once, by an eventless transition.
  const transientStart = createMachine({ id: 'm', initial: 'checking', states: { checking: { always: 'ready' }, ready: { on: { go: 'done' } }, done: {} } });

  it('stateNodesOf leaves out history nodes: they are pseudo-states, never active', () => {
    expect(stateNodesOf(withHistory).map((node) => node.id)).toEqual(['h.a', 'h.a.x', 'h.a.y', 'h.c']);
  });

  it('a machine fully exercised reaches 100 % of its states and transitions even when it has a history node', () => {
    const coverage = new Coverage([withHistory]);
    const actor = createActor(withHistory, { inspect: coverage.inspect }).start();
    for (const type of ['go', 'out', 'back']) actor.send({ type });
    expect(actor.getSnapshot().value).toEqual({ a: 'y' });
    const [report] = coverage.report();
    expect(report!.states).toEqual({ reached: 4, total: 4, missing: [] });
    expect(report!.transitions.missing).toEqual([]);
  });

  it('a transient initial state, left at once by `always`, counts as reached by Coverage', () => {
    const coverage = new Coverage([transientStart]);
    const actor = createActor(transientStart, { inspect: coverage.inspect }).start();
    actor.send({ type: 'go' });
    const [report] = coverage.report();
    expect(report!.transitions.missing).toEqual([]);
    expect(report!.states).toEqual({ reached: 3, total: 3, missing: [] });
  });

  it('a transient initial state counts as reachable by the model, and as visited by its start', () => {
    const model = createModel({ machine: transientStart, input: undefined as never, world: {}, events: () => [{ type: 'go' }] });
    expect([...model.reachable().transitions]).toContain('m.checking: always → m.ready');
    expect([...model.reachable().states].sort()).toEqual(['m.checking', 'm.done', 'm.ready']);
    expect(model.initial.visited).toContain('m.checking');
  });

  it('the source of a transition taken from a nested state counts as reached with its ancestors', () => {
    const nested = createMachine({
      id: 'n',
      initial: 'outer',
      states: { outer: { initial: 'inner', states: { inner: { always: '#n.after' } } }, after: {} },
    });
    const coverage = new Coverage([nested]);
    createActor(nested, { inspect: coverage.inspect }).start();
    expect(coverage.report()[0]!.states).toEqual({ reached: 3, total: 3, missing: [] });
  });
});

it('an event of the world that takes time lets the timers due meanwhile fire first, as the real clock does', async () => {
  // In `a`, `after(100)` leads to `b`; `work` leads from `a` to `c`, and takes 500 ms.
  const machine = createMachine({ id: 'slow', initial: 'a', states: { a: { after: { 100: 'b' }, on: { work: 'c' } }, b: {}, c: {} } });
  const model = createModel({ machine, input: undefined as never, world: {}, events: () => [{ type: 'work' }], duration: () => 500 });
  const path = model.path(['{"type":"work"}']);
  expect(path.steps[0]!.state.now).toBe(500);
  await model.replay(path, {
    setup: () => {
      const clock = new SimulatedClock();
      return { clock, actor: createActor(machine, { clock }).start() };
    },
    stimuli: {
      work: (sut, step) => {
        sut.clock.advance(step.elapsed);
        sut.actor.send({ type: 'work' });
      },
    },
    assert: (sut, state) => expect(sut.actor.getSnapshot().value).toEqual(state.snapshot.value),
    settle: async () => {},
  });
  expect(path.steps[0]!.state.snapshot.value).toBe('b');
  expect(path.steps[0]!.state.fired.map((timer) => timer.dueAt)).toEqual([100]);
});
