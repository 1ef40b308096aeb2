/** A machine definition (the config `@statelyai/inspect` sends as JSON text), read as states and transitions. */

export type StateType = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

export interface StateDef {
  /** The state node id (`connection.link.connecting`, or the config's own `id`). */
  id: string;
  key: string;
  type: StateType;
  parent: StateDef | undefined;
  children: StateDef[];
  /** Key of the initial child. */
  initial: string | undefined;
  tags: string[];
  /** Ids of the actors this state invokes. */
  invokes: string[];
  entry: string[];
  exit: string[];
}

export interface TransitionDef {
  id: string;
  source: string;
  targets: string[];
  /** What the edge says: `socket.open [fromOwnSocket]`, `after connectTimeout`, `always`, `done: heartbeat`. */
  label: string;
  /** Event types that take it (`''` for an eventless one). */
  eventType: string;
}

export interface MachineDef {
  /** The machine's id (`connection`), or the logic's name. */
  id: string;
  /** A state machine (else a callback, promise or other logic with no states). */
  isMachine: boolean;
  root: StateDef;
  states: Map<string, StateDef>;
  transitions: TransitionDef[];
  /** States were nested deeper than `MAX_DEPTH`: those below it are left out. */
  cut: boolean;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

/** States nested deeper than this are left out (a hostile definition must not exhaust the stack). */
export const MAX_DEPTH = 32;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = <T>(v: T | T[] | undefined | null): T[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

/** The name of an action, guard or actor as serialized: a string, `{ type }`, or a function's `{ type: name }`. */
function nameOf(v: Json | undefined): string {
  if (typeof v === 'string') return v;
  if (isObj(v) && typeof v.type === 'string') return v.type === '' ? 'ƒ' : v.type.replace(/^xstate\./, '');
  return '';
}

/** Reads a machine config (JSON text or object). Anything without `states` is logic with no chart. */
export function parseDefinition(source: string | Json): MachineDef {
  let config: Json;
  try {
    config = typeof source === 'string' ? (JSON.parse(source) as Json) : source;
  } catch {
    config = {};
  }
  const cfg: Obj = isObj(config) ? config : {};
  const id = typeof cfg.id === 'string' ? cfg.id : '(machine)';
  const states = new Map<string, StateDef>();
  const configs = new Map<StateDef, Obj>();
  let cut = false;

  const build = (c: Obj, key: string, parent: StateDef | undefined, depth = 0): StateDef => {
    const nodeId = typeof c.id === 'string' && parent ? c.id : parent ? `${parent.id}.${key}` : id;
    let childConfigs = isObj(c.states) ? c.states : {};
    if (depth === MAX_DEPTH && Object.keys(childConfigs).length > 0) {
      cut = true;
      childConfigs = {};
    }
    const hasChildren = Object.keys(childConfigs).length > 0;
    const type: StateType =
      c.type === 'parallel' ? 'parallel' : c.type === 'final' ? 'final' : c.type === 'history' ? 'history' : hasChildren ? 'compound' : 'atomic';
    const node: StateDef = {
      id: nodeId,
      key,
      type,
      parent,
      children: [],
      initial: typeof c.initial === 'string' ? c.initial : isObj(c.initial) && typeof c.initial.target === 'string' ? c.initial.target : undefined,
      tags: list(c.tags as Json[] | Json).filter((t): t is string => typeof t === 'string'),
      invokes: list(c.invoke as Json[] | Json).map((inv, i) => (isObj(inv) ? (typeof inv.id === 'string' ? inv.id : nameOf(inv.src) || `${nodeId}:invocation[${i}]`) : '')),
      entry: list(c.entry as Json[] | Json).map(nameOf).filter(Boolean),
      exit: list(c.exit as Json[] | Json).map(nameOf).filter(Boolean),
    };
    states.set(nodeId, node);
    configs.set(node, c);
    for (const [childKey, childConfig] of Object.entries(childConfigs)) {
      if (isObj(childConfig)) node.children.push(build(childConfig, childKey, node, depth + 1));
    }
    return node;
  };
  const root = build(cfg, id, undefined);

  const childByPath = (from: StateDef, path: string[]): StateDef | undefined => {
    let node: StateDef | undefined = from;
    for (const key of path) node = node?.children.find((c) => c.key === key);
    return node;
  };
  const resolve = (source: StateDef, target: string): StateDef | undefined => {
    if (target.startsWith('#')) return states.get(target.slice(1));
    if (target.startsWith('.')) return childByPath(source, target.slice(1).split('.'));
    return childByPath(source.parent ?? source, target.split('.'));
  };

  const transitions: TransitionDef[] = [];
  const add = (source: StateDef, event: string, eventType: string, value: Json | undefined) => {
    for (const raw of list(value as Json[] | Json)) {
      const t: Obj = typeof raw === 'string' ? { target: raw } : isObj(raw) ? raw : {};
      const targets = list(t.target as Json[] | Json)
        .filter((x): x is string => typeof x === 'string')
        .map((x) => resolve(source, x)?.id)
        .filter((x): x is string => x !== undefined);
      if (targets.length === 0) continue;
      const guard = t.guard === undefined ? '' : nameOf(t.guard) || 'guard';
      transitions.push({ id: `t${transitions.length}`, source: source.id, targets, label: guard ? `${event} [${guard}]` : event, eventType });
    }
  };
  for (const [node, c] of configs) {
    if (isObj(c.on)) for (const [event, value] of Object.entries(c.on)) add(node, event, event, value);
    if (isObj(c.after)) for (const [delay, value] of Object.entries(c.after)) add(node, `after ${/^\d+$/.test(delay) ? `${delay} ms` : delay}`, `xstate.after.${delay}.${node.id}`, value);
    if (c.always !== undefined) add(node, 'always', '', c.always);
    if (c.onDone !== undefined) add(node, 'done', `xstate.done.state.${node.id}`, c.onDone);
    list(c.invoke as Json[] | Json).forEach((inv, i) => {
      if (!isObj(inv)) return;
      const invokeId = node.invokes[i] ?? '';
      if (inv.onDone !== undefined) add(node, `done: ${invokeId}`, `xstate.done.actor.${invokeId}`, inv.onDone);
      if (inv.onError !== undefined) add(node, `error: ${invokeId}`, `xstate.error.actor.${invokeId}`, inv.onError);
    });
  }
  return { id, isMachine: root.children.length > 0, root, states, transitions, cut };
}

/** The ids of the states a snapshot's `value` says are active (ancestors included). */
export function activeStates(def: MachineDef, value: unknown): Set<string> {
  const active = new Set<string>();
  if (!def.isMachine) return active;
  const walk = (node: StateDef, v: unknown) => {
    active.add(node.id);
    if (typeof v === 'string') {
      const child = node.children.find((c) => c.key === v);
      if (child) active.add(child.id);
    } else if (isObj(v)) {
      for (const [key, inner] of Object.entries(v)) {
        const child = node.children.find((c) => c.key === key);
        if (child) walk(child, inner);
      }
    }
  };
  walk(def.root, value);
  return active;
}

/** A state value in words: the deepest state before a parallel split (`connected`, `reconnecting`, `starting.launching` → `launching`). */
export function stateLabel(value: unknown): string {
  let v = value;
  let label = '';
  for (let depth = 0; depth < 16; depth++) {
    if (typeof v === 'string') return v;
    if (!isObj(v)) return label;
    const keys = Object.keys(v);
    if (keys.length !== 1) return label;
    label = keys[0]!;
    v = v[label];
  }
  return label;
}

/** Every active leaf, as a path (`link.connected.liveness.quiet`). */
export function activeLeaves(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix + value];
  if (!isObj(value)) return [];
  return Object.entries(value).flatMap(([key, inner]) => activeLeaves(inner, `${prefix}${key}.`));
}

/**
 * The transitions taken between two snapshots: those the sender listed (socketchart's helper does), or else
 * the ones whose event matches and whose source was active and targets are active now.
 */
export function takenTransitions(
  def: MachineDef,
  before: Set<string>,
  after: Set<string>,
  eventType: string,
  listed?: ReadonlyArray<{ source: string; targets: string[]; eventType: string }>,
): Set<string> {
  const taken = new Set<string>();
  if (listed && listed.length > 0) {
    for (const step of listed) {
      for (const t of def.transitions) {
        if (t.source !== step.source || t.eventType !== step.eventType) continue;
        if (t.targets.length === step.targets.length && t.targets.every((x) => step.targets.includes(x))) taken.add(t.id);
      }
    }
    return taken;
  }
  for (const t of def.transitions) {
    const eventless = t.eventType === '';
    if (!eventless && t.eventType !== eventType) continue;
    if (!(before.has(t.source) || (eventless && after.has(t.source)))) continue;
    if (!t.targets.every((x) => after.has(x))) continue;
    if (eventless && t.targets.every((x) => before.has(x))) continue;
    taken.add(t.id);
  }
  return taken;
}
