import {
  createActor,
  fromTransition,
  type ActorLogic,
  type AnyActorScope,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type AnyStateNode,
  type AnyTransitionDefinition,
  type EventObject,
  type InputFrom,
  type InspectionEvent,
  type SnapshotFrom,
  type StateValue,
} from 'xstate';
import { getAdjacencyMap, getShortestPaths, type AdjacencyMap } from 'xstate/graph';

/**
 * Model-based testing for XState v5 machines: traverse a machine with `xstate/graph` (no I/O: actions
 * are not executed, timers are modelled), pick paths that reach every state node and every transition,
 * replay each path against the real system through stimulus functions, and measure the state and
 * transition coverage the real actors reached (through XState inspection).
 *
 * Nothing here knows about any particular machine: events, the world around the machine and the
 * stimuli come from the caller.
 *
 * ```ts
 * const model = createModel({
 *   machine: doorMachine,
 *   input: { … },                                   // what guards and delays read; no I/O
 *   world: { locked: false },                       // what the machine's guards see of the outside
 *   events: ({ world }) => [{ type: 'open' }, { type: world.locked ? 'unlock' : 'lock' }],
 *   before: (world, event) => (event.type === 'lock' ? { locked: true } : event.type === 'unlock' ? { locked: false } : world),
 *   sync: (world) => { input.locked = world.locked },
 * });
 * const coverage = new Coverage([doorMachine]);
 * for (const path of model.paths({ simpleDepth: 4 })) {
 *   it(path.description, () => model.replay(path, {
 *     setup: () => createDoor({ inspect: coverage.inspect }),
 *     stimuli: { open: (door) => door.push(), lock: (door) => door.turnKey(), unlock: (door) => door.turnKey() },
 *     delayed: (door, step) => door.clock.advance(step.elapsed),
 *     assert: (door, state) => expect(door.snapshot.value).toEqual(state.snapshot.value),
 *   }));
 * }
 * // afterwards: coverage.report() / coverage.format()
 * ```
 */

// ---------------------------------------------------------------------------------------------------
// Machine structure: state node ids and transition ids

/**
 * Every state node of a machine below its root, nested ones included, in document order. History nodes
 * are left out: they are pseudo-states, never active (a transition to one enters the states it remembers).
 */
export function stateNodesOf(machine: AnyStateMachine): AnyStateNode[] {
  const nodes: AnyStateNode[] = [];
  const walk = (node: AnyStateNode) => {
    for (const child of Object.values(node.states) as AnyStateNode[]) {
      if (child.type === 'history') continue;
      nodes.push(child);
      walk(child);
    }
  };
  walk(machine.root);
  return nodes;
}

function guardName(guard: unknown): string | undefined {
  if (guard === undefined) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') return guard.name || 'guard';
  if (typeof guard === 'object' && guard !== null && 'type' in guard) return String((guard as { type: unknown }).type);
  return 'guard';
}

function eventLabel(transition: AnyTransitionDefinition): string {
  const type = transition.eventType as string;
  const source = transition.source.id;
  if (type === '') return 'always';
  for (const [prefix, name] of [
    ['xstate.after.', 'after'],
    ['xstate.done.actor.', 'done'],
    ['xstate.error.actor.', 'error'],
  ] as const) {
    if (type.startsWith(prefix)) {
      const rest = type.slice(prefix.length);
      return `${name}(${name === 'after' && rest.endsWith(`.${source}`) ? rest.slice(0, -source.length - 1) : rest})`;
    }
  }
  return type;
}

interface TransitionIndex {
  readonly ids: readonly string[];
  readonly byDefinition: ReadonlyMap<AnyTransitionDefinition, string>;
}

const transitionIndexes = new WeakMap<AnyStateMachine, TransitionIndex>();

function indexTransitions(machine: AnyStateMachine): TransitionIndex {
  const cached = transitionIndexes.get(machine);
  if (cached) return cached;
  const ids: string[] = [];
  const byDefinition = new Map<AnyTransitionDefinition, string>();
  const add = (transition: AnyTransitionDefinition) => {
    if (byDefinition.has(transition)) return;
    const guard = guardName(transition.guard);
    const targets = transition.target?.map((node: AnyStateNode) => node.id).join(', ');
    const base = `${transition.source.id}: ${eventLabel(transition)}${guard ? ` [${guard}]` : ''} → ${targets || '(stays)'}${transition.reenter ? ' (reenter)' : ''}`;
    let id = base;
    for (let n = 2; ids.includes(id); n++) id = `${base} #${n}`;
    ids.push(id);
    byDefinition.set(transition, id);
  };
  for (const node of [machine.root, ...stateNodesOf(machine)]) {
    for (const list of node.transitions.values()) for (const transition of list) add(transition);
    for (const transition of node.always ?? []) add(transition);
  }
  const index = { ids, byDefinition };
  transitionIndexes.set(machine, index);
  return index;
}

/**
 * Every transition of a machine, each named `source: event [guard] → targets`: one per
 * (source state node, event type, guard/target branch), eventless (`always`), delayed (`after`)
 * and invocation (`done` / `error`) transitions included.
 */
export function transitionsOf(machine: AnyStateMachine): readonly string[] {
  return indexTransitions(machine).ids;
}

/** The id `transitionsOf` gives a transition definition, or `undefined` if it is not the machine's. */
export function transitionId(machine: AnyStateMachine, transition: AnyTransitionDefinition): string | undefined {
  return indexTransitions(machine).byDefinition.get(transition);
}

const activeCache = new WeakMap<AnyStateMachine, Map<string, readonly string[]>>();

/** Ids of the state nodes active in a state value (ancestors included, the root excluded). */
export function activeStateIds(machine: AnyStateMachine, value: StateValue): readonly string[] {
  let cache = activeCache.get(machine);
  if (!cache) activeCache.set(machine, (cache = new Map()));
  const key = typeof value === 'string' ? value : JSON.stringify(value);
  const cached = cache.get(key);
  if (cached) return cached;
  const ids: string[] = [];
  const walk = (node: AnyStateNode, v: StateValue) => {
    if (typeof v === 'string') {
      const child = node.states[v] as AnyStateNode | undefined;
      if (child) ids.push(child.id);
      return;
    }
    for (const [key, sub] of Object.entries(v)) {
      const child = node.states[key] as AnyStateNode | undefined;
      if (!child) continue;
      ids.push(child.id);
      if (sub !== undefined) walk(child, sub as StateValue);
    }
  };
  walk(machine.root, value);
  cache.set(key, ids);
  return ids;
}

/**
 * Ids of the state nodes a transition was taken from: its source and the source's ancestors (the root
 * excluded). A transition is taken only from an active state, so they were reached, even when none of
 * them is in any snapshot (a transient initial state, left at once by `always`).
 */
function sourceStateIds(transition: AnyTransitionDefinition): string[] {
  const ids: string[] = [];
  for (let node: AnyStateNode | undefined = transition.source; node?.parent; node = node.parent) ids.push(node.id);
  return ids;
}

// ---------------------------------------------------------------------------------------------------
// Coverage

export interface CoverageFigures {
  reached: number;
  total: number;
  /** Ids not reached, in document order. */
  missing: string[];
}

export interface MachineCoverage {
  /** The machine's id. */
  machine: string;
  states: CoverageFigures;
  transitions: CoverageFigures;
}

const isMachineSnapshot = (snapshot: unknown): snapshot is AnyMachineSnapshot =>
  typeof snapshot === 'object' && snapshot !== null && 'machine' in snapshot && 'value' in snapshot;

/**
 * Counts the state nodes and transitions of one or more machines that actors actually went through.
 * Hand `coverage.inspect` to `createActor(…, { inspect })` (or an `inspect` option that forwards to it):
 * every microstep of every actor running one of the machines is recorded, children included. A machine
 * with other implementations (`machine.provide(…)`) counts as the machine it was made from.
 */
export class Coverage {
  private readonly machines: readonly AnyStateMachine[];
  private readonly states = new Map<AnyStateMachine, Set<string>>();
  private readonly transitions = new Map<AnyStateMachine, Set<string>>();
  private readonly byConfig = new Map<unknown, AnyStateMachine>();

  constructor(machines: readonly AnyStateMachine[]) {
    this.machines = machines;
    for (const machine of machines) {
      this.states.set(machine, new Set());
      this.transitions.set(machine, new Set());
      this.byConfig.set(machine.config, machine);
    }
  }

  /** An inspection observer: `createActor(logic, { inspect: coverage.inspect })`. */
  readonly inspect = (event: InspectionEvent): void => {
    if (event.type !== '@xstate.microstep' && event.type !== '@xstate.snapshot') return;
    const snapshot = event.snapshot;
    if (!isMachineSnapshot(snapshot)) return;
    const running = snapshot.machine as AnyStateMachine;
    const machine = this.byConfig.get(running.config);
    if (!machine) return;
    this.markSnapshot(machine, snapshot);
    if (event.type === '@xstate.microstep') {
      for (const transition of event._transitions) {
        const id = transitionId(running, transition);
        if (id === undefined) continue;
        this.transitions.get(machine)?.add(id);
        this.markStates(machine, sourceStateIds(transition));
      }
    }
  };

  /** Records the state nodes active in a snapshot of one of the machines. */
  markSnapshot(machine: AnyStateMachine, snapshot: AnyMachineSnapshot): void {
    const set = this.states.get(machine);
    if (!set) return;
    for (const id of activeStateIds(machine, snapshot.value as StateValue)) set.add(id);
  }

  markStates(machine: AnyStateMachine, ids: Iterable<string>): void {
    const set = this.states.get(machine);
    if (set) for (const id of ids) set.add(id);
  }

  markTransitions(machine: AnyStateMachine, ids: Iterable<string>): void {
    const set = this.transitions.get(machine);
    if (set) for (const id of ids) set.add(id);
  }

  reachedStates(machine: AnyStateMachine): ReadonlySet<string> {
    return this.states.get(machine) ?? new Set();
  }

  reachedTransitions(machine: AnyStateMachine): ReadonlySet<string> {
    return this.transitions.get(machine) ?? new Set();
  }

  report(): MachineCoverage[] {
    return this.machines.map((machine) => {
      const figures = (all: readonly string[], reached: ReadonlySet<string>): CoverageFigures => {
        const missing = all.filter((id) => !reached.has(id));
        return { reached: all.length - missing.length, total: all.length, missing };
      };
      return {
        machine: machine.id,
        states: figures(
          stateNodesOf(machine).map((node) => node.id),
          this.reachedStates(machine),
        ),
        transitions: figures(transitionsOf(machine), this.reachedTransitions(machine)),
      };
    });
  }

  /** One line per machine: `connection: states 24/24 (100%), transitions 70/70 (100%)`, then what is missing. */
  format(): string {
    const pct = ({ reached, total }: CoverageFigures) => `${reached}/${total} (${total === 0 ? 100 : Math.floor((reached / total) * 1000) / 10}%)`;
    return this.report()
      .map(({ machine, states, transitions }) =>
        [
          `${machine}: states ${pct(states)}, transitions ${pct(transitions)}`,
          ...states.missing.map((id) => `  state not reached: ${id}`),
          ...transitions.missing.map((id) => `  transition not reached: ${id}`),
        ].join('\n'),
      )
      .join('\n');
  }
}

// ---------------------------------------------------------------------------------------------------
// The model: a machine, the world around it, and model time

/**
 * A delayed event the machine has scheduled (an `after` transition, or a delayed `raise`), or one the
 * world has (`ModelConfig.timers`: a child actor's timeout, a server that answers after a while).
 */
export interface ModelTimer {
  readonly id: string;
  readonly event: EventObject;
  /** The delay it was scheduled with, in ms. */
  readonly delay: number;
  /** Model time at which it fires. */
  readonly dueAt: number;
  /** Scheduled by `ModelConfig.timers` (the world), not by the machine. */
  readonly world?: true;
}

/** A timer of the world, as `ModelConfig.timers` starts it. */
export interface WorldTimer {
  /** Unique among the world's timers, and distinct from the machine's delayed event ids. */
  readonly id: string;
  /** The event it brings (to the machine, and to `before` / `after`). */
  readonly event: EventObject;
  /** In ms from the step that starts it. */
  readonly delay: number;
}

/** One vertex of the model graph. */
export interface ModelState<TSnapshot extends AnyMachineSnapshot = AnyMachineSnapshot, TWorld = unknown> {
  readonly status: 'active';
  readonly output: undefined;
  readonly error: undefined;
  /** The machine's snapshot (computed by the pure machine: no action was executed). */
  readonly snapshot: TSnapshot;
  /** What the caller models around the machine (network, page, server…): whatever its guards read. */
  readonly world: TWorld;
  /** Model time, in ms since the start. */
  readonly now: number;
  /** Delayed events scheduled and not cancelled, in scheduling order. */
  readonly timers: readonly ModelTimer[];
  /** Ids (`transitionsOf`) of the transitions the step into this state took, eventless ones included. */
  readonly taken: readonly string[];
  /** Ids of the state nodes the step into this state went through, transient ones included. */
  readonly visited: readonly string[];
  /**
   * The timers the step into this state fired, in order: for an event of the world, those due while it
   * takes its time (`duration`), before it; else the one offered, followed by every other timer due at the
   * same instant (a clock fires them together).
   */
  readonly fired: readonly ModelTimer[];
}

export type ModelStateOf<TMachine extends AnyStateMachine, TWorld> = ModelState<SnapshotFrom<TMachine> & AnyMachineSnapshot, TWorld>;

export interface ModelConfig<TMachine extends AnyStateMachine, TWorld> {
  machine: TMachine;
  /** Input of the machine. Whatever it carries is read by guards and delays; it must not perform I/O. */
  input: InputFrom<TMachine>;
  /** The world at the start. */
  world: TWorld;
  /**
   * The events the world can produce in a state, with representative payloads. Delayed events are
   * added by the model: in every state, only the timer due first is offered; when it fires, every other
   * timer due at the same instant fires with it, in scheduling order, in the same step (nothing can
   * happen between them on a real clock either).
   */
  events(state: ModelStateOf<TMachine, TWorld>): readonly EventObject[];
  /** Changes the world an event brings, before the machine sees it (e.g. an `offline` event). */
  before?(world: TWorld, event: EventObject, state: ModelStateOf<TMachine, TWorld>): TWorld;
  /**
   * Changes to the world that follow from the machine's step (e.g. a resource released on leaving a
   * state); `taken` holds the ids of the transitions the step took.
   */
  after?(world: TWorld, event: EventObject, previous: ModelStateOf<TMachine, TWorld>, next: SnapshotFrom<TMachine>, taken: readonly string[]): TWorld;
  /**
   * Delayed events of the world that the machine's own `after` transitions do not show (a child actor's
   * timeout, a server that answers after a while). Called after every step (`previous` → `next`, with the
   * world as `after` left it): the world's timers to start (one with the id of a pending world timer
   * replaces it) and the ids of those to cancel. They are offered and fire like the machine's timers
   * (only the one due first; model time moves to it); their event types must not be offered by `events`.
   */
  timers?(
    world: TWorld,
    event: EventObject,
    previous: ModelStateOf<TMachine, TWorld>,
    next: SnapshotFrom<TMachine>,
    taken: readonly string[],
  ): { start?: readonly WorldTimer[]; cancel?: readonly string[] } | undefined;
  /** Mirrors the world (and model time) into whatever guards and delays read, before each step. */
  sync?(world: TWorld, now: number): void;
  /** An event the system raises by itself in this state (applied at once, in the same step). */
  internal?(snapshot: SnapshotFrom<TMachine>, world: TWorld): EventObject | undefined;
  /** Changes the world an internal event brings, before the machine sees it. @default none */
  beforeInternal?(world: TWorld, event: EventObject): TWorld;
  /** Model time an event takes (delayed events take the time until their timer); timers due meanwhile fire before it. @default 0 */
  duration?(event: EventObject, state: ModelStateOf<TMachine, TWorld>): number;
  /**
   * The part of a state that decides what can happen next; states with equal abstractions are one
   * vertex. Pending timers are added by the model. @default the state value, the context and the world
   */
  abstract?(snapshot: SnapshotFrom<TMachine>, world: TWorld): unknown;
  /**
   * A short, unique name of an event (path names, edge keys); the model adds ` (delayed)` to the name of a
   * machine's delayed `raise`, so that an event of the world described the same stays another edge. @default its JSON
   */
  describeEvent?(event: EventObject): string;
  /** Most traversal iterations (edges queued) before `xstate/graph` gives up. @default 200000 */
  limit?: number;
}

export interface ModelStep<TState> {
  readonly event: EventObject;
  /** The state the event leads to. */
  readonly state: TState;
}

export interface ModelPath<TState> {
  /** The events of the path, in order (a readable name for a test). */
  readonly description: string;
  readonly start: TState;
  readonly steps: readonly ModelStep<TState>[];
  /** Why the path was chosen: the state nodes and transitions it is the shortest way to. */
  readonly reasons: readonly string[];
}

export interface PathOptions {
  /** Also add the shortest path to every vertex of the model graph (every reachable state × world). @default false */
  vertices?: boolean;
  /** Also add simple paths (no repeated vertex) from the start, of this many steps. @default 0 */
  simpleDepth?: number;
  /** Most simple paths to add (evenly spread over all of them). @default 50 */
  simpleLimit?: number;
}

/** What a stimulus is told about the step it must bring about. */
export interface ReplayStep<TState> {
  readonly index: number;
  readonly event: EventObject;
  readonly before: TState;
  readonly after: TState;
  /** The event of the following step, if any (to arrange the world ahead of time). */
  readonly next: EventObject | undefined;
  /** Model time the step takes (for a delayed event: ms until its timer fires). */
  readonly elapsed: number;
  readonly path: ModelPath<TState>;
}

/** Makes the real system produce one model event. */
export type Stimulus<TSut, TState> = (sut: TSut, step: ReplayStep<TState>) => void | Promise<void>;

export interface ReplayOptions<TSut, TState> {
  /** Builds a fresh system under test for one path. */
  setup(path: ModelPath<TState>): TSut | Promise<TSut>;
  /** Stimuli by event type. */
  stimuli: Readonly<Record<string, Stimulus<TSut, TState>>>;
  /**
   * Stimulus of the machine's delayed events (`after` transitions, delayed `raise`s) without an entry of
   * their own in `stimuli` (typically: advance a clock by `step.elapsed`). A stimulus by type serves both
   * the world's events of that type and a delayed `raise` of it: `step.after.fired` tells them apart.
   */
  delayed?: Stimulus<TSut, TState>;
  /** Checks that the real system is in the state the model predicts; called at the start and after every step. */
  assert(sut: TSut, state: TState, step: ReplayStep<TState> | undefined): void | Promise<void>;
  /** Runs after the path, failed or not; what it throws after a failed path is named in that failure, not reported instead of it. */
  teardown?(sut: TSut, path: ModelPath<TState>, failed: boolean): void | Promise<void>;
  /** Lets the real system settle after a stimulus. @default one `setImmediate` turn */
  settle?(): Promise<void>;
}

export interface MachineModel<TMachine extends AnyStateMachine, TWorld> {
  readonly machine: TMachine;
  /** The model as actor logic, for the `xstate/graph` functions. */
  readonly logic: ActorLogic<ModelStateOf<TMachine, TWorld>, EventObject, undefined>;
  readonly initial: ModelStateOf<TMachine, TWorld>;
  /** Serialized vertex of a state. */
  key(state: ModelStateOf<TMachine, TWorld>): string;
  /** The name of an event in paths: the config's `describeEvent`, with ` (delayed)` for a delayed `raise`. */
  describeEvent(event: EventObject): string;
  /** The events offered in a state: the caller's, plus the timer due first. */
  events(state: ModelStateOf<TMachine, TWorld>): EventObject[];
  /** The model graph (built once, with `xstate/graph`'s `getAdjacencyMap`). */
  adjacency(): AdjacencyMap<ModelStateOf<TMachine, TWorld>, EventObject>;
  size(): { vertices: number; edges: number };
  /** What the model itself can reach: every transition and state node some edge of the graph takes. */
  reachable(): { states: ReadonlySet<string>; transitions: ReadonlySet<string> };
  /**
   * Paths from the start: the shortest path to every reachable state node and through every reachable
   * transition (from `getShortestPaths`), plus simple paths when asked; paths that are prefixes of
   * others are dropped.
   */
  paths(options?: PathOptions): ModelPath<ModelStateOf<TMachine, TWorld>>[];
  /**
   * The path taking the named events from the start, in order (names as `describeEvent` gives them):
   * a hand-written scenario that stays checked against the machine. Throws when an event is not offered.
   */
  path(events: readonly string[], reason?: string): ModelPath<ModelStateOf<TMachine, TWorld>>;
  /** Replays one path against the real system: stimulus, settle, assert, step after step. */
  replay<TSut>(path: ModelPath<ModelStateOf<TMachine, TWorld>>, options: ReplayOptions<TSut, ModelStateOf<TMachine, TWorld>>): Promise<void>;
}

const DELAYED_PREFIX = 'xstate.after.';

/** Whether an event is a delayed (`after`) event. */
export const isDelayedEvent = (event: EventObject): boolean => event.type.startsWith(DELAYED_PREFIX);

/** The timer that fires first (the earliest due; the first scheduled among equals). */
export function nextTimer(timers: readonly ModelTimer[]): ModelTimer | undefined {
  let best: ModelTimer | undefined;
  for (const timer of timers) if (!best || timer.dueAt < best.dueAt) best = timer;
  return best;
}

interface Capture {
  timers: ModelTimer[];
  now: number;
  taken: string[];
  visited: Set<string>;
}

interface RaiseParams {
  event: EventObject;
  id: string | undefined;
  delay: number | undefined;
}

/** Builds a model of a machine: see `ModelConfig`. */
export function createModel<TMachine extends AnyStateMachine, TWorld>(config: ModelConfig<TMachine, TWorld>): MachineModel<TMachine, TWorld> {
  type State = ModelStateOf<TMachine, TWorld>;
  type Snap = SnapshotFrom<TMachine>;
  const { machine } = config;
  const describeEvent = config.describeEvent ?? ((event: EventObject) => JSON.stringify(event));
  // The events of the machine's delayed raises (not `after` ones): named apart from an event of the world
  // described the same, which does not fire the timer.
  const raised = new WeakSet<EventObject>();
  const nameOf = (event: EventObject): string => (raised.has(event) ? `${describeEvent(event)} (delayed)` : describeEvent(event));
  const abstract = config.abstract ?? ((snapshot: Snap, world: TWorld) => ({ value: (snapshot as AnyMachineSnapshot).value, context: (snapshot as AnyMachineSnapshot).context, world }));

  // The actor scope of every model step: actions are not executed; delayed raises and cancels are
  // recorded as model timers, and microsteps (through the public inspection API) as taken transitions.
  let capture: Capture | undefined;
  // `self` has an (inert) parent, so that `sendParent` actions resolve.
  const inert = fromTransition((state: undefined) => state, undefined);
  const self = createActor(inert, { parent: createActor(inert) });
  self.system.inspect((event: InspectionEvent) => {
    if (!capture || event.type !== '@xstate.microstep' || event.actorRef !== self) return;
    for (const transition of event._transitions) {
      const id = transitionId(machine, transition);
      if (id === undefined) continue;
      capture.taken.push(id);
      for (const source of sourceStateIds(transition)) capture.visited.add(source);
    }
    if (isMachineSnapshot(event.snapshot)) for (const id of activeStateIds(machine, event.snapshot.value as StateValue)) capture.visited.add(id);
  });
  const scope = {
    self,
    system: self.system,
    id: 'model',
    sessionId: self.sessionId,
    logger: () => {},
    defer: () => {},
    emit: () => {},
    stopChild: () => {},
    actionExecutor: (action: { type: string; params: unknown }) => {
      if (!capture) return;
      if (action.type === 'xstate.raise') {
        const { event, id, delay } = action.params as RaiseParams;
        if (typeof delay !== 'number') return;
        const timerId = id ?? event.type;
        if (!isDelayedEvent(event)) raised.add(event);
        capture.timers = capture.timers.filter((timer) => timer.id !== timerId);
        capture.timers.push({ id: timerId, event, delay, dueAt: capture.now + delay });
      } else if (action.type === 'xstate.cancel') {
        const { sendId } = action.params as { sendId: string };
        capture.timers = capture.timers.filter((timer) => timer.id !== sendId);
      }
    },
  } as unknown as AnyActorScope;

  const run = (now: number, timers: readonly ModelTimer[], world: TWorld, step: () => Snap) => {
    capture = { timers: [...timers], now, taken: [], visited: new Set() };
    try {
      config.sync?.(world, now);
      let snapshot = step();
      for (const id of activeStateIds(machine, (snapshot as AnyMachineSnapshot).value as StateValue)) capture.visited.add(id);
      for (let i = 0; i < 100; i++) {
        const internal = config.internal?.(snapshot, world);
        if (!internal) break;
        if (config.beforeInternal) world = config.beforeInternal(world, internal);
        config.sync?.(world, now);
        snapshot = machine.transition(snapshot, internal as never, scope) as Snap;
      }
      for (const id of activeStateIds(machine, (snapshot as AnyMachineSnapshot).value as StateValue)) capture.visited.add(id);
      return { snapshot, world, timers: capture.timers, taken: capture.taken, visited: [...capture.visited] };
    } finally {
      capture = undefined;
    }
  };

  const vertexKey = (state: State): string =>
    JSON.stringify([abstract(state.snapshot, state.world), state.timers.map((timer) => [timer.id, timer.dueAt - state.now])]);

  const initial: State = (() => {
    const result = run(0, [], config.world, () => machine.getInitialSnapshot(scope, config.input) as Snap);
    return {
      status: 'active',
      output: undefined,
      error: undefined,
      snapshot: result.snapshot as State['snapshot'],
      world: result.world,
      now: 0,
      timers: result.timers,
      taken: result.taken,
      visited: result.visited,
      fired: [],
    };
  })();

  // Steps are memoized by (vertex, event). Model time is relative: a step taken from a vertex at
  // another time is the same step shifted in time.
  const memo = new Map<string, { from: number; next: State }>();
  const shiftTimers = (timers: readonly ModelTimer[], delta: number) => timers.map((timer) => ({ ...timer, dueAt: timer.dueAt + delta }));
  const shift = (state: State, delta: number): State =>
    delta === 0 ? state : { ...state, now: state.now + delta, timers: shiftTimers(state.timers, delta), fired: shiftTimers(state.fired, delta) };

  /**
   * The pending timer an event is the firing of, if any: a timer of the machine whose event it is (the one
   * `events` offers; for an `after` transition, any event of its type), else a timer of the world of its type.
   */
  const timerOf = (timers: readonly ModelTimer[], event: EventObject): ModelTimer | undefined =>
    timers.find((t) => !t.world && (t.event === event || (isDelayedEvent(event) && t.event.type === event.type))) ??
    (isDelayedEvent(event) ? undefined : timers.find((t) => t.world && t.event.type === event.type));

  /** One event at model time `now`, with `timers` pending: the world before, the machine, the world after. */
  const step = (state: State, event: EventObject, now: number, timers: readonly ModelTimer[]): State => {
    const world = config.before ? config.before(state.world, event, state) : state.world;
    const result = run(now, timers, world, () => machine.transition(state.snapshot, event as never, scope) as Snap);
    const nextWorld = config.after ? config.after(result.world, event, state, result.snapshot, result.taken) : result.world;
    let nextTimers = result.timers;
    const changes = config.timers?.(nextWorld, event, state, result.snapshot, result.taken);
    if (changes) {
      const replaced = new Set([...(changes.cancel ?? []), ...(changes.start ?? []).map((timer) => timer.id)]);
      nextTimers = [
        ...nextTimers.filter((timer) => !(timer.world && replaced.has(timer.id))),
        ...(changes.start ?? []).map((timer): ModelTimer => ({ id: timer.id, event: timer.event, delay: timer.delay, dueAt: now + timer.delay, world: true })),
      ];
    }
    return {
      status: 'active',
      output: undefined,
      error: undefined,
      snapshot: result.snapshot as State['snapshot'],
      world: nextWorld,
      now,
      timers: nextTimers,
      taken: result.taken,
      visited: result.visited,
      fired: [],
    };
  };

  const transition = (state: State, event: EventObject): State => {
    const memoKey = `${vertexKey(state)}\u0000${nameOf(event)}`;
    const cached = memo.get(memoKey);
    if (cached) return shift(cached.next, state.now - cached.from);
    const timer = timerOf(state.timers, event);
    let next: State;
    if (!timer) {
      const at = state.now + (isDelayedEvent(event) ? 0 : (config.duration?.(event, state) ?? 0));
      // The timers due while the event takes its time fire first, each at its own time, as on a real clock.
      const fired: ModelTimer[] = [];
      const taken: string[] = [];
      const visited = new Set<string>();
      let from = state;
      for (let due = nextTimer(from.timers); at > state.now && due && due.dueAt <= at; due = nextTimer(from.timers)) {
        if (fired.length > 100) throw new Error(`More than 100 timers fire before ${at} ms: ${fired.map((t) => t.id).join(', ')}`);
        const current = due;
        fired.push(current);
        from = step(from, current.event, Math.max(from.now, current.dueAt), from.timers.filter((t) => t !== current));
        taken.push(...from.taken);
        for (const id of from.visited) visited.add(id);
      }
      next = step(from, event, at, from.timers);
      if (fired.length > 0) next = { ...next, taken: [...taken, ...next.taken], visited: [...new Set([...visited, ...next.visited])], fired };
    } else {
      // The timer fires, then every other one due by then (scheduled earlier, or by the steps themselves).
      const now = Math.max(state.now, timer.dueAt);
      const fired = [timer];
      next = step(state, timer.event, now, state.timers.filter((t) => t !== timer));
      const taken = [...next.taken];
      const visited = new Set(next.visited);
      for (let due = nextTimer(next.timers); due && due.dueAt <= now; due = nextTimer(next.timers)) {
        if (fired.length > 100) throw new Error(`More than 100 timers fire at ${now} ms: ${fired.map((t) => t.id).join(', ')}`);
        const current = due;
        fired.push(current);
        next = step(next, current.event, now, next.timers.filter((t) => t !== current));
        taken.push(...next.taken);
        for (const id of next.visited) visited.add(id);
      }
      next = { ...next, taken, visited: [...visited], fired };
    }
    memo.set(memoKey, { from: state.now, next });
    return next;
  };

  const eventsOf = (state: State): EventObject[] => {
    if ((state.snapshot as AnyMachineSnapshot).status !== 'active') return [];
    const due = nextTimer(state.timers);
    return [...config.events(state), ...(due ? [due.event] : [])];
  };

  const logic: ActorLogic<State, EventObject, undefined> = {
    transition: (state, event) => transition(state, event),
    getInitialSnapshot: () => initial,
    getPersistedSnapshot: (state) => state,
  };

  const edgesOf = (vertex: { transitions: object } | undefined) =>
    (vertex ? Object.values(vertex.transitions) : []) as Array<{ event: EventObject; state: State }>;

  const traversal = {
    events: eventsOf,
    serializeState: (state: State) => vertexKey(state),
    serializeEvent: nameOf,
    limit: config.limit ?? 200_000,
  };

  let adjacencyCache: AdjacencyMap<State, EventObject> | undefined;
  const adjacency = () => (adjacencyCache ??= getAdjacencyMap(logic, traversal));

  const describePath = (steps: readonly ModelStep<State>[]) => (steps.length === 0 ? '(start)' : steps.map((step) => nameOf(step.event)).join(' → '));

  const reachable = () => {
    const states = new Set<string>(initial.visited);
    const transitions = new Set<string>(initial.taken);
    for (const vertex of Object.values(adjacency())) {
      for (const { state } of edgesOf(vertex)) {
        for (const id of state.visited) states.add(id);
        for (const id of state.taken) transitions.add(id);
      }
    }
    return { states, transitions };
  };

  const paths = (options: PathOptions = {}): ModelPath<State>[] => {
    const adj = adjacency();
    // Shortest path to every vertex, from xstate/graph.
    const toVertex = new Map<string, ModelStep<State>[]>();
    for (const path of getShortestPaths(logic, traversal)) {
      toVertex.set(vertexKey(path.state), path.steps.slice(1).map((step) => ({ event: step.event, state: step.state })));
    }
    // For every state node and transition: the shortest edge path that reaches it.
    const best = new Map<string, ModelStep<State>[]>();
    const offer = (target: string, steps: ModelStep<State>[]) => {
      const current = best.get(target);
      if (!current || steps.length < current.length) best.set(target, steps);
    };
    for (const id of initial.visited) offer(`state ${id}`, []);
    for (const [key, vertex] of Object.entries(adj)) {
      const prefix = toVertex.get(key);
      if (!prefix) continue;
      for (const { event, state } of edgesOf(vertex)) {
        const candidate = () => [...prefix, { event, state }];
        for (const id of state.visited) if ((best.get(`state ${id}`)?.length ?? Infinity) > prefix.length + 1) offer(`state ${id}`, candidate());
        for (const id of state.taken) if ((best.get(`transition ${id}`)?.length ?? Infinity) > prefix.length + 1) offer(`transition ${id}`, candidate());
      }
    }
    const chosen: Array<{ steps: ModelStep<State>[]; reasons: string[] }> = [];
    for (const [reason, steps] of best) chosen.push({ steps, reasons: [reason] });
    if (options.vertices) {
      for (const steps of toVertex.values()) if (steps.length > 0) chosen.push({ steps, reasons: ['model vertex'] });
    }

    // Simple paths of a bounded length from the start (no vertex twice, self-loops skipped).
    const depth = options.simpleDepth ?? 0;
    if (depth > 0) {
      const found: ModelStep<State>[][] = [];
      const onPath = new Set<string>();
      const walk = (key: string, steps: ModelStep<State>[]) => {
        const vertex = adj[key as keyof typeof adj];
        const next = edgesOf(vertex).filter(({ state }) => !onPath.has(vertexKey(state)));
        if (steps.length === depth || next.length === 0) {
          if (steps.length > 0) found.push(steps);
          return;
        }
        for (const { event, state } of next) {
          const nextKey = vertexKey(state);
          onPath.add(nextKey);
          walk(nextKey, [...steps, { event, state }]);
          onPath.delete(nextKey);
        }
      };
      const startKey = vertexKey(initial);
      onPath.add(startKey);
      walk(startKey, []);
      const limit = Math.min(options.simpleLimit ?? 50, found.length);
      for (let i = 0; i < limit; i++) {
        const steps = found[Math.floor((i * found.length) / limit)];
        if (steps) chosen.push({ steps, reasons: [`simple path of ${steps.length} steps`] });
      }
    }

    // The graph keeps one representative state per vertex; replay the events from the start so that
    // every path is one consistent run of the model (payloads and model time included).
    const rederive = (steps: readonly ModelStep<State>[]): ModelStep<State>[] => {
      let state = initial;
      return steps.map((step, index) => {
        const name = nameOf(step.event);
        const event = eventsOf(state).find((candidate) => nameOf(candidate) === name);
        if (!event) throw new Error(`Model path broken at step ${index + 1}: "${name}" is not offered (${describePath(steps)})`);
        const next = transition(state, event);
        if (vertexKey(next) !== vertexKey(step.state)) {
          throw new Error(`The abstraction misses something that decides the next state: "${name}" at step ${index + 1} of ${describePath(steps)}`);
        }
        state = next;
        return { event, state: next };
      });
    };
    for (const candidate of chosen) candidate.steps = rederive(candidate.steps);

    // Drop paths that are prefixes of others (their reasons go to the longer path).
    const keyOf = (steps: readonly ModelStep<State>[]) => steps.map((step) => nameOf(step.event));
    chosen.sort((a, b) => b.steps.length - a.steps.length);
    const kept: Array<{ steps: ModelStep<State>[]; reasons: string[]; keys: string[] }> = [];
    for (const candidate of chosen) {
      const keys = keyOf(candidate.steps);
      const superPath = kept.find((path) => keys.every((key, i) => path.keys[i] === key));
      if (superPath) superPath.reasons.push(...candidate.reasons);
      else kept.push({ ...candidate, keys });
    }
    return kept
      .sort((a, b) => a.steps.length - b.steps.length || a.keys.join('\u0000').localeCompare(b.keys.join('\u0000')))
      .map(({ steps, reasons }) => ({ description: describePath(steps), start: initial, steps, reasons }));
  };

  const pathOf = (names: readonly string[], reason = 'scenario'): ModelPath<State> => {
    let state = initial;
    const steps = names.map((name, index) => {
      const offered = eventsOf(state);
      // a delayed raise answers to its plain name too, when no event of the world has it
      const event = offered.find((candidate) => nameOf(candidate) === name) ?? offered.find((candidate) => describeEvent(candidate) === name);
      if (!event) {
        throw new Error(`"${name}" (step ${index + 1}) is not offered; the model offers: ${offered.map(nameOf).join(', ') || 'nothing'}`);
      }
      state = transition(state, event);
      return { event, state };
    });
    return { description: describePath(steps), start: initial, steps, reasons: [reason] };
  };

  const replay = async <TSut>(path: ModelPath<State>, options: ReplayOptions<TSut, State>): Promise<void> => {
    const settle = options.settle ?? (() => new Promise<void>((resolve) => setImmediate(resolve)));
    const sut = await options.setup(path);
    let failure: unknown;
    let failed = false;
    let index = -1;
    try {
      await options.assert(sut, path.start, undefined);
      let before = path.start;
      for (index = 0; index < path.steps.length; index++) {
        const step = path.steps[index] as ModelStep<State>;
        const replayStep: ReplayStep<State> = {
          index,
          event: step.event,
          before,
          after: step.state,
          next: path.steps[index + 1]?.event,
          elapsed: step.state.now - before.now,
          path,
        };
        const first = step.state.fired[0];
        const firesMachineTimer = isDelayedEvent(step.event) || (first !== undefined && first.world !== true && first.event.type === step.event.type);
        const stimulus = options.stimuli[step.event.type] ?? (firesMachineTimer ? options.delayed : undefined);
        if (!stimulus) throw new Error(`No stimulus for the event type "${step.event.type}"`);
        await stimulus(sut, replayStep);
        await settle();
        await options.assert(sut, step.state, replayStep);
        before = step.state;
      }
    } catch (error) {
      failed = true;
      if (error instanceof Error) {
        const where = index < 0 ? 'at the start' : `at step ${index + 1} (${nameOf((path.steps[index] as ModelStep<State>).event)})`;
        error.message = `${error.message}\n  ${where} of the path: ${path.description}`;
      }
      failure = error;
      throw error;
    } finally {
      try {
        await options.teardown?.(sut, path, failed);
      } catch (error) {
        // the path's failure stays the one reported, naming the teardown's
        if (!failed) throw error;
        if (failure instanceof Error) failure.message += `\n  teardown failed too: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
  };

  return {
    machine,
    logic,
    initial,
    key: vertexKey,
    describeEvent: nameOf,
    events: eventsOf,
    adjacency,
    size: () => {
      const adj = adjacency();
      const vertices = Object.keys(adj).length;
      const edges = Object.values(adj).reduce((sum, vertex) => sum + Object.keys(vertex.transitions).length, 0);
      return { vertices, edges };
    },
    reachable,
    paths,
    path: pathOf,
    replay,
  };
}
