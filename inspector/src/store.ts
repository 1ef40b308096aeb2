import { INSPECTION_FORMAT_VERSION, type ConnectionSample, type PoolSample, type TakenTransition } from '../../src/inspection/protocol.js';
import { parseDefinition, stateLabel, type MachineDef } from './definition.js';

/** What a recorded entry is. */
export type Kind = 'actor' | 'event' | 'snapshot' | 'metrics' | 'message';

/** One recorded inspection event, numbered in arrival order. */
export interface Entry {
  seq: number;
  /** Epoch ms. */
  t: number;
  kind: Kind;
  actor: ActorInfo;
  /** The event's type (for a snapshot: the event that caused it; for an actor: `created`). */
  type: string;
  /** The actor that sent the event, if one did. */
  source: ActorInfo | undefined;
  /** The record as received (its definition kept apart). */
  rec: Rec;
  /** For a snapshot: the state in words afterwards. */
  label: string;
  transitions: TakenTransition[] | undefined;
}

/** A received record, loosely typed (it comes from outside). */
export interface Rec {
  type: string;
  sessionId: string;
  createdAt?: string;
  name?: string;
  parentId?: string;
  rootId?: string;
  sourceId?: string;
  definition?: string;
  def?: string;
  snapshot?: Snap;
  event?: { type: string; [key: string]: unknown };
  transitions?: TakenTransition[];
  kind?: 'connection' | 'pool';
  sample?: ConnectionSample | PoolSample;
  channel?: string;
  seq?: number;
  data?: unknown;
  [key: string]: unknown;
}

export interface Snap {
  status?: string;
  value?: unknown;
  context?: Record<string, unknown>;
  children?: Record<string, unknown>;
  tags?: string[];
  [key: string]: unknown;
}

/** One actor session: an actor from its creation to its stop. A tree node holds every session of the same name. */
export interface ActorInfo {
  id: string;
  name: string;
  parent: ActorInfo | undefined;
  node: TreeNode;
  defId: string;
  created: number;
  /** Epoch ms of its creation. */
  createdAt: number;
  /** Seq of the entry that stopped it (Infinity while alive). */
  ended: number;
  /** Seqs of its snapshot entries. */
  snapshots: number[];
  /** The snapshot it was announced with; once older entries are let go, the one it had then. */
  initial: Snap;
  /** What `initial` is as of, when not its creation: the entry let go that brought it, or an announcement (created before it was heard of). */
  initialFrom: { t: number; type: string } | 'announced' | undefined;
  latest: Snap;
  status: string;
  label: string;
  kind: 'pool' | 'connection' | 'other';
  /** Known only from records about it, its creation not (yet) received. */
  bare: boolean;
}

/** A place in the actor tree (`pool › queue › heartbeat`), with every session that has held it. */
export interface TreeNode {
  key: string;
  name: string;
  parent: TreeNode | undefined;
  children: TreeNode[];
  sessions: ActorInfo[];
  depth: number;
  expanded: boolean;
  series: Series;
}

/** Plot data of one tree node, newest last. */
export interface Series {
  t: number[];
  p50: Array<number | null>;
  p95: Array<number | null>;
  p99: Array<number | null>;
  queue: number[];
  inRate: Array<number | null>;
  outRate: Array<number | null>;
  health: number[];
  connected: number[];
  /** Dials (socket actors created) per 100 ms bucket, for a pool. */
  dials: Map<number, number>;
  budget: { ratePerSec: number; burst: number } | null;
  last: ConnectionSample | PoolSample | undefined;
  /** Seqs of the sample entries, oldest first (for the sample as of a moment). */
  samples: number[];
}

/**
 * Ids of the definitions received as text (from a posting window or a file), for every store of the page: the chart
 * keeps its layouts by id, so an id names one machine even in a recording imported after another.
 */
const localDefIds = new Map<string, string>();

const SERIES_LIMIT = 3_600;
/** Dial buckets (100 ms each) a pool's plot shows, up to the newest: the older ones are let go. */
export const DIAL_BUCKETS = 1_200;

/** The types of the records that make entries (the others tell of definitions, or of records dropped). */
export const ENTRY_TYPES: ReadonlySet<string> = new Set(['@xstate.actor', '@xstate.event', '@xstate.snapshot', '@socketchart.metrics', '@socketchart.message']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Leaves out what a record holds in a shape the page cannot read: a snapshot that is not an object, taken transitions that are not a list of objects. */
function readable(rec: Rec): Rec {
  if (!isObject(rec.snapshot)) delete rec.snapshot;
  if (!Array.isArray(rec.transitions) || !rec.transitions.every((t) => isObject(t) && Array.isArray(t.targets))) delete rec.transitions;
  return rec;
}

/** The type of the record's event, if it names one. */
const eventType = (rec: Rec, otherwise: string): string => (typeof rec.event?.type === 'string' ? rec.event.type : otherwise);

/** Whether a sample has the figures the plots and the header read. */
function plottable(rec: Rec): boolean {
  const sample = rec.sample as unknown as Record<string, unknown> | undefined;
  return isObject(sample) && typeof sample.healthScore === 'number' && isObject(rec.kind === 'pool' ? sample.dials : sample.rtt);
}

/** The index of the last of `seqs` (ascending) at or before `seq`, or -1. */
function lastAtOrBefore(seqs: readonly number[], seq: number): number {
  let lo = 0;
  let hi = seqs.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (seqs[mid]! <= seq) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

const newSeries = (): Series => ({ t: [], p50: [], p95: [], p99: [], queue: [], inRate: [], outRate: [], health: [], connected: [], dials: new Map(), budget: null, last: undefined, samples: [] });

/** Deep equality of plain JSON values. */
function same(a: unknown, b: unknown, depth = 0): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || depth > 12) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], depth + 1)) return false;
  return true;
}

/** Shares the members of `next` equal to those of `prev` (snapshots repeat most of their context). */
function share(prev: Snap | undefined, next: Snap): Snap {
  if (!prev) return next;
  for (const key of ['value', 'children', 'tags'] as const) if (same(prev[key], next[key])) (next as Record<string, unknown>)[key] = prev[key];
  const pc = prev.context;
  const nc = next.context;
  if (pc && nc && typeof nc === 'object') {
    if (same(pc, nc)) next.context = pc;
    else for (const key of Object.keys(nc)) if (typeof nc[key] === 'object' && same(pc[key], nc[key])) nc[key] = pc[key];
  }
  return next;
}

export interface StoreOptions {
  /** Entries kept (oldest dropped). */
  maxEntries: number;
}

/**
 * Everything the page knows: the entries in order, the actors (sessions) and the tree they form, the
 * definitions, and plot series. It answers "as of entry `seq`" questions for time travel.
 */
export class Store {
  entries: Entry[] = [];
  /** Seq of `entries[0]`. */
  base = 0;
  private nextSeq = 0;
  readonly actors = new Map<string, ActorInfo>();
  readonly roots: TreeNode[] = [];
  private readonly nodes = new Map<string, TreeNode>();
  private readonly defTexts = new Map<string, string>();
  private readonly defs = new Map<string, MachineDef>();
  readonly types = new Map<string, number>();
  /** Records the server could not send (the page was too slow). */
  droppedUpstream = 0;
  /** Entries dropped here to stay within `maxEntries`. */
  trimmed = 0;
  /** Bumped whenever the tree's shape changes. */
  treeVersion = 0;
  /** Actors created and not yet stopped. */
  live = 0;
  /** Epoch ms of the newest entry (records of several apps, or a creation that came late, arrive out of time order). */
  lastT = 0;

  constructor(readonly options: StoreOptions) {}

  get size(): number {
    return this.entries.length;
  }

  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  entry(seq: number): Entry | undefined {
    return this.entries[seq - this.base];
  }

  definition(defId: string): MachineDef {
    let def = this.defs.get(defId);
    if (!def) {
      def = parseDefinition(this.defTexts.get(defId) ?? '{}');
      this.defs.set(defId, def);
    }
    return def;
  }

  definitionText(defId: string): string | undefined {
    return this.defTexts.get(defId);
  }

  /**
   * Takes one record (from the server, a posting window, or a file); returns the entry it made, if any. What
   * it holds in a shape the page cannot read is left out: a snapshot that is not an object, a sample without
   * its figures, taken transitions that are not a list.
   */
  ingest(rec: Rec): Entry | undefined {
    switch (readable(rec).type) {
      case '@socketchart.definition':
        this.defTexts.set(String(rec.id), String(rec.definition));
        return undefined;
      case '@socketchart.dropped':
        this.droppedUpstream += Number(rec.count) || 0;
        return undefined;
      case '@xstate.actor':
        return this.actorCreated(rec);
      case '@xstate.event':
      case '@xstate.snapshot':
      case '@socketchart.metrics':
      case '@socketchart.message':
        return this.onActorRecord(rec);
      default:
        return undefined;
    }
  }

  private push(partial: Omit<Entry, 'seq'>): Entry {
    const entry = partial as Entry;
    entry.seq = this.nextSeq++;
    this.entries.push(entry);
    this.lastT = Math.max(this.lastT, entry.t);
    this.types.set(entry.type, (this.types.get(entry.type) ?? 0) + 1);
    if (this.entries.length > this.options.maxEntries * 1.1) this.trim();
    return entry;
  }

  private defIdOf(rec: Rec, name: string): string {
    if (typeof rec.def === 'string') return rec.def;
    const text = typeof rec.definition === 'string' ? rec.definition : JSON.stringify({ id: name });
    let id = localDefIds.get(text);
    if (!id) {
      id = `p${localDefIds.size + 1}`;
      localDefIds.set(text, id);
    }
    if (!this.defTexts.has(id)) this.defTexts.set(id, text);
    return id;
  }

  private nodeFor(name: string, parent: ActorInfo | undefined): TreeNode {
    const parentNode = parent?.node;
    let key = parentNode ? `${parentNode.key}/${name}` : name;
    if (!parentNode) {
      // A second root of the same name alive at once is another app: keep them apart.
      let n = 1;
      while (this.nodes.get(key)?.sessions.some((s) => s.ended === Infinity)) key = `${name}#${++n}`;
    }
    let node = this.nodes.get(key);
    if (!node) {
      node = { key, name, parent: parentNode, children: [], sessions: [], depth: parentNode ? parentNode.depth + 1 : 0, expanded: !parentNode, series: newSeries() };
      this.nodes.set(key, node);
      if (parentNode) parentNode.children.push(node);
      else this.roots.push(node);
      this.treeVersion++;
    }
    return node;
  }

  private actorCreated(rec: Rec): Entry {
    const name = String(rec.name ?? rec.sessionId);
    const existing = this.actors.get(rec.sessionId);
    const snapshot = (rec.snapshot ?? { status: 'active' }) as Snap;
    const t = Number(rec.createdAt) || Date.now();
    if (existing?.bare && !rec.bare) return this.complete(existing, rec, snapshot, t);
    if (existing) {
      // Announced again (the app reconnected to the inspector, or its events were left out): its snapshot tells the state it is in.
      const latest = share(existing.latest, snapshot);
      rec.snapshot = existing.latest = latest;
      if (this.definition(existing.defId).isMachine && latest.value !== undefined) existing.label = stateLabel(latest.value);
      const entry = this.push({ t, kind: 'actor', actor: existing, type: 'announced', source: undefined, rec, label: existing.label, transitions: undefined });
      existing.snapshots.push(entry.seq);
      return entry;
    }
    const parent = rec.parentId ? this.actors.get(rec.parentId) : undefined;
    const node = this.nodeFor(name, parent);
    const defId = this.defIdOf(rec, name);
    delete rec.definition;
    rec.def = defId;
    const def = this.definition(defId);
    const actor: ActorInfo = {
      id: rec.sessionId,
      name,
      parent,
      node,
      defId,
      created: this.nextSeq,
      createdAt: t,
      ended: Infinity,
      snapshots: [],
      initial: snapshot,
      initialFrom: rec.announced === true ? 'announced' : undefined,
      latest: snapshot,
      status: snapshot.status ?? 'active',
      label: def.isMachine ? stateLabel(snapshot.value) : '',
      kind: 'other',
      bare: rec.bare === true,
    };
    const context = snapshot.context;
    if (def.id === 'pool') actor.kind = 'pool';
    else if (def.id === 'connection' && context && typeof context === 'object' && 'settings' in context) actor.kind = 'connection';
    this.actors.set(actor.id, actor);
    if (actor.status === 'active') this.live++;
    else actor.ended = this.nextSeq;
    node.sessions.push(actor);
    if (node.sessions.length === 1) this.treeVersion++;
    if (name === 'socket' && rec.announced !== true) this.countDial(actor, t);
    return this.push({ t, kind: 'actor', actor, type: 'created', source: undefined, rec, label: actor.label, transitions: undefined });
  }

  /**
   * The creation of an actor known so far only from records about it: it takes its name, parent and definition
   * (a parent that is the actor itself or below it is left out: it stays a root).
   */
  private complete(actor: ActorInfo, rec: Rec, snapshot: Snap, t: number): Entry {
    const name = String(rec.name ?? rec.sessionId);
    const old = actor.node;
    old.sessions.splice(old.sessions.indexOf(actor), 1);
    actor.parent = rec.parentId ? this.actors.get(rec.parentId) : undefined;
    for (let a = actor.parent; a; a = a.parent) {
      if (a !== actor) continue;
      actor.parent = undefined;
      break;
    }
    actor.name = name;
    actor.createdAt = t;
    actor.node = this.nodeFor(name, actor.parent);
    // In the order of creation, among the sessions created since it was first known (the last one is shown).
    const sessions = actor.node.sessions;
    const later = sessions.findIndex((s) => s.created > actor.created);
    sessions.splice(later === -1 ? sessions.length : later, 0, actor);
    if (actor.node !== old) {
      this.adopt(old, actor.node);
      if (old.sessions.length === 0 && old.children.length === 0) this.removeNode(old);
    }
    actor.defId = this.defIdOf(rec, name);
    delete rec.definition;
    rec.def = actor.defId;
    actor.bare = false;
    if (actor.snapshots.length === 0) {
      actor.latest = actor.initial = snapshot;
      actor.initialFrom = rec.announced === true ? 'announced' : undefined;
    }
    const def = this.definition(actor.defId);
    actor.label = def.isMachine ? stateLabel(actor.latest.value) : '';
    if (def.id === 'pool') actor.kind = 'pool';
    else if (def.id === 'connection') actor.kind = 'connection';
    this.treeVersion++;
    return this.push({ t, kind: 'actor', actor, type: 'created', source: undefined, rec, label: actor.label, transitions: undefined });
  }

  /** Moves the children of `from` (and their sessions) under `to`, merging with children of the same name. */
  private adopt(from: TreeNode, to: TreeNode): void {
    for (const child of [...from.children]) {
      let target = to.children.find((c) => c.name === child.name);
      if (!target) {
        target = { key: `${to.key}/${child.name}`, name: child.name, parent: to, children: [], sessions: [], depth: to.depth + 1, expanded: false, series: child.series };
        this.nodes.set(target.key, target);
        to.children.push(target);
      }
      for (const session of child.sessions) {
        session.node = target;
        target.sessions.push(session);
      }
      child.sessions = [];
      this.adopt(child, target);
      this.nodes.delete(child.key);
      from.children.splice(from.children.indexOf(child), 1);
    }
  }

  /** A socket actor is one dial: counted per 100 ms on the pool above its connection. */
  private countDial(socket: ActorInfo, t: number): void {
    for (let a = socket.parent; a; a = a.parent) {
      if (a.kind !== 'pool') continue;
      const bucket = Math.floor(t / 100);
      const dials = a.node.series.dials;
      dials.set(bucket, (dials.get(bucket) ?? 0) + 1);
      // Buckets come in time order, the oldest first (one that came late goes once those before it have).
      for (const key of dials.keys()) {
        if (key >= bucket - DIAL_BUCKETS) break;
        dials.delete(key);
      }
      return;
    }
  }

  private onActorRecord(rec: Rec): Entry | undefined {
    let actor = this.actors.get(rec.sessionId);
    if (!actor) {
      // Its creation was never received (the page opened late, or it was trimmed): make do with a bare one.
      actor = this.actorCreated({
        type: '@xstate.actor',
        sessionId: rec.sessionId,
        name: String(rec.name ?? rec.sessionId),
        createdAt: rec.createdAt,
        snapshot: rec.type === '@xstate.snapshot' ? rec.snapshot : { status: 'active' },
        bare: true,
      }).actor;
    }
    const t = Number(rec.createdAt) || Date.now();
    switch (rec.type) {
      case '@xstate.event': {
        const source = rec.sourceId ? this.actors.get(rec.sourceId) : undefined;
        return this.push({ t, kind: 'event', actor, type: eventType(rec, '?'), source, rec, label: actor.label, transitions: undefined });
      }
      case '@xstate.snapshot': {
        const snapshot = share(actor.latest, (rec.snapshot ?? {}) as Snap);
        rec.snapshot = snapshot;
        actor.latest = snapshot;
        const def = this.definition(actor.defId);
        if (def.isMachine && snapshot.value !== undefined) actor.label = stateLabel(snapshot.value);
        const status = snapshot.status ?? 'active';
        const statusChanged = status !== actor.status;
        actor.status = status;
        const entry = this.push({ t, kind: 'snapshot', actor, type: eventType(rec, ''), source: undefined, rec, label: actor.label, transitions: rec.transitions });
        actor.snapshots.push(entry.seq);
        if (status !== 'active' && actor.ended === Infinity) {
          actor.ended = entry.seq;
          this.live--;
        }
        if (statusChanged) this.treeVersion++;
        if (actor.kind === 'pool' && snapshot.context) this.poolPoint(actor, t, snapshot.context);
        return entry;
      }
      case '@socketchart.metrics': {
        const entry = this.push({ t, kind: 'metrics', actor, type: 'metrics', source: undefined, rec, label: actor.label, transitions: undefined });
        this.sample(actor, entry, rec);
        return entry;
      }
      default:
        return this.push({ t, kind: 'message', actor, type: rec.channel ? `message ${rec.channel}` : 'message', source: undefined, rec, label: actor.label, transitions: undefined });
    }
  }

  /** Without sampled metrics, a pool's plots come from its snapshots (connected count and health), a point per 100 ms at most. */
  private poolPoint(pool: ActorInfo, t: number, context: Record<string, unknown>): void {
    const s = pool.node.series;
    if (s.last !== undefined || typeof context.connected !== 'number') return;
    const health = context.health === 'up' ? 1 : context.health === 'degraded' ? 0.5 : 0;
    const last = s.t.length - 1;
    if (last >= 0 && t / 1000 - s.t[last]! < 0.1) {
      s.connected[last] = context.connected;
      s.health[last] = health;
      return;
    }
    s.t.push(t / 1000);
    s.connected.push(context.connected);
    s.health.push(health);
    this.bound(s);
  }

  private sample(actor: ActorInfo, { t, seq }: Entry, rec: Rec): void {
    if (!plottable(rec)) return;
    const s = actor.node.series;
    const sample = rec.sample!;
    s.samples.push(seq);
    if (rec.kind === 'pool') {
      const p = sample as PoolSample;
      if (s.last === undefined) for (const key of ['t', 'health', 'connected'] as const) s[key].length = 0;
      s.t.push(t / 1000);
      s.health.push(p.healthScore);
      s.connected.push(p.connected);
      s.budget = p.budget;
    } else {
      const c = sample as ConnectionSample;
      const prev = s.last as ConnectionSample | undefined;
      const prevT = s.t[s.t.length - 1];
      const dt = prevT === undefined ? 0 : t / 1000 - prevT;
      s.t.push(t / 1000);
      s.p50.push(c.rtt.p50);
      s.p95.push(c.rtt.p95);
      s.p99.push(c.rtt.p99);
      s.queue.push(c.queueDepth);
      s.inRate.push(prev && dt > 0 ? Math.max(0, (c.messagesIn - prev.messagesIn) / dt) : null);
      s.outRate.push(prev && dt > 0 ? Math.max(0, (c.messagesOut - prev.messagesOut) / dt) : null);
      s.health.push(c.healthScore);
    }
    s.last = sample;
    this.bound(s);
  }

  private bound(s: Series): void {
    if (s.samples.length > SERIES_LIMIT * 1.1) s.samples.splice(0, s.samples.length - SERIES_LIMIT);
    if (s.t.length <= SERIES_LIMIT * 1.1) return;
    const n = s.t.length - SERIES_LIMIT;
    for (const key of ['t', 'p50', 'p95', 'p99', 'queue', 'inRate', 'outRate', 'health', 'connected'] as const) (s[key] as unknown[]).splice(0, n);
  }

  /** Drops the oldest tenth of the entries, and the sessions that ended before what is left. */
  private trim(): void {
    const n = Math.floor(this.options.maxEntries * 0.1) + (this.entries.length - Math.floor(this.options.maxEntries * 1.1));
    const removed = this.entries.splice(0, n);
    const oldBase = this.base;
    this.base += n;
    this.trimmed += n;
    for (const [id, actor] of this.actors) {
      if (actor.ended >= this.base) continue;
      this.actors.delete(id);
      const node = actor.node;
      node.sessions.splice(node.sessions.indexOf(actor), 1);
      if (node.sessions.length === 0 && node.children.length === 0) this.removeNode(node);
    }
    for (const actor of this.actors.values()) {
      const firstKept = actor.snapshots.findIndex((seq) => seq >= this.base);
      const lastGone = (firstKept === -1 ? actor.snapshots.length : firstKept) - 1;
      if (lastGone < 0) continue;
      const gone = removed[actor.snapshots[lastGone]! - oldBase];
      if (gone?.rec.snapshot) {
        actor.initial = gone.rec.snapshot;
        actor.initialFrom = { t: gone.t, type: gone.type };
      }
      actor.snapshots.splice(0, lastGone);
    }
    this.treeVersion++;
  }

  private removeNode(node: TreeNode): void {
    this.nodes.delete(node.key);
    const siblings = node.parent ? node.parent.children : this.roots;
    siblings.splice(siblings.indexOf(node), 1);
    if (node.parent && node.parent.sessions.length === 0 && node.parent.children.length === 0) this.removeNode(node.parent);
  }

  // ─── As of an entry (time travel) ───────────────────────────────────────────────────────────────

  /** The session of `node` shown at `seq`: the last one created by then. */
  sessionAt(node: TreeNode, seq: number): ActorInfo | undefined {
    let found: ActorInfo | undefined;
    for (const s of node.sessions) if (s.created <= seq) found = s;
    return found;
  }

  /** The actor's snapshot as of `seq`, and the entry that brought it (none for its initial one). */
  snapshotAt(actor: ActorInfo, seq: number): { snapshot: Snap; entry: Entry | undefined } {
    const seqs = actor.snapshots;
    const found = lastAtOrBefore(seqs, seq);
    const entry = found >= 0 ? this.entry(seqs[found]!) : undefined;
    return entry ? { snapshot: entry.rec.snapshot ?? {}, entry } : { snapshot: actor.initial, entry: undefined };
  }

  /** Status and state in words of an actor as of `seq`. */
  stateAt(actor: ActorInfo, seq: number): { status: string; label: string } {
    if (seq >= this.lastSeq) return { status: actor.status, label: actor.label };
    const { snapshot, entry } = this.snapshotAt(actor, seq);
    return { status: snapshot.status ?? 'active', label: entry ? entry.label : this.definition(actor.defId).isMachine ? stateLabel(snapshot.value) : '' };
  }

  /**
   * The newest sample of `node` taken by entry `seq`, and whether it still told the present then: not once the
   * actor had stopped or changed after it (a sender that stops sampling leaves its last sample behind).
   */
  sampleAt(node: TreeNode, seq: number): { entry: Entry; sample: ConnectionSample | PoolSample; current: boolean } | undefined {
    const seqs = node.series.samples;
    let lo = 0;
    let hi = seqs.length - 1;
    let found: number | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (seqs[mid]! <= seq) {
        found = seqs[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const entry = found === undefined ? undefined : this.entry(found);
    const sample = entry?.rec.sample;
    if (!entry || !sample) return undefined;
    const session = this.sessionAt(node, seq);
    if (!session || session.ended <= seq || session.created > entry.seq) return { entry, sample, current: false };
    // A change of state after it makes it a past one; a snapshot that leaves the state in words as it was (a heartbeat round) does not.
    const snapshots = session.snapshots;
    let changed = false;
    for (let i = lastAtOrBefore(snapshots, seq); !changed && i >= 0 && snapshots[i]! > entry.seq; i--) changed = this.entry(snapshots[i]!)?.label !== entry.label;
    return { entry, sample, current: !changed };
  }

  /** The first entry at or after epoch ms `t`. */
  seqAtTime(t: number): number {
    let lo = 0;
    let hi = this.entries.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid]!.t < t) lo = mid + 1;
      else hi = mid;
    }
    return this.base + lo;
  }

  /** Every node, depth first. */
  *walk(nodes: readonly TreeNode[] = this.roots): Generator<TreeNode> {
    for (const node of nodes) {
      yield node;
      yield* this.walk(node.children);
    }
  }

  node(key: string): TreeNode | undefined {
    return this.nodes.get(key);
  }

  /** The record as `@statelyai/inspect` sends it (the definition put back), for export. */
  exportRecord(entry: Entry): Record<string, unknown> {
    const { def, ...rest } = entry.rec;
    if (entry.kind !== 'actor' || typeof def !== 'string') return rest;
    return { ...rest, definition: this.defTexts.get(def) };
  }

  /**
   * The recording to export, as `@statelyai/inspect` sends it: a creation of each actor still shown whose own
   * was let go (parents first, with the snapshot it had at the oldest entry kept), then every entry.
   */
  exportRecords(): Record<string, unknown>[] {
    const records: Record<string, unknown>[] = [];
    const written = new Set<ActorInfo>();
    const createdLater = new Set(this.entries.filter((entry) => entry.kind === 'actor' && entry.type === 'created').map((entry) => entry.actor));
    const create = (actor: ActorInfo): void => {
      if (actor.created >= this.base || written.has(actor) || this.actors.get(actor.id) !== actor) return;
      written.add(actor);
      if (actor.parent) create(actor.parent);
      const { id, name, parent, defId, initial, initialFrom, createdAt, bare } = actor;
      const record = { type: '@xstate.actor', _version: INSPECTION_FORMAT_VERSION, sessionId: id, name, parentId: parent?.id, definition: this.defTexts.get(defId), snapshot: initial, createdAt: String(createdAt), id: null, ...(bare ? { bare } : {}), ...(initialFrom ? { announced: true } : {}) };
      // First known from records let go, its creation kept: written as it was known until then (that creation completes it).
      records.push(createdLater.has(actor) ? { ...record, name: id, parentId: undefined, definition: undefined, bare: true } : record);
    };
    for (const actor of this.actors.values()) create(actor);
    for (const entry of this.entries) records.push(this.exportRecord(entry));
    return records;
  }
}
