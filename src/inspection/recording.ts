import { createHash } from 'node:crypto';
import { isInspectionRecord, type ActorCreated, type InspectionRecord } from './protocol.js';
import { redactJsonText, redactRecord } from './redact.js';

/** A record as the page receives it: an actor's definition is sent once (`@socketchart.definition`) and referred to by `def`. */
export interface PageDefinition {
  type: '@socketchart.definition';
  id: string;
  /** The machine config as JSON text, exactly as the app sent it. */
  definition: string;
}

export interface RecordingOptions {
  /** Records kept for pages that open later (oldest dropped first). @default 200000 */
  maxEvents?: number;
  /**
   * Bytes kept (as JSON text): records, definitions and live actors with their latest snapshots. Over it the
   * oldest records go first, then the oldest live actors' snapshots, then those actors. @default 64 MiB
   */
  maxBytes?: number;
}

interface Stored {
  seq: number;
  text: string;
  def: string | undefined;
}

interface LiveActor {
  seq: number;
  /** The app (its socket) that announced it: its actors end when it goes. */
  source: number;
  record: ActorCreated & { def?: string };
  snapshot: unknown;
  /** Characters of the records that carried its creation and its latest snapshot: it counts them in `bytes`. */
  created: number;
  latest: number;
}

/**
 * What the inspector server keeps: the last records (bounded by count and bytes), each actor definition
 * once while a kept record or a live actor refers to it, and every live actor with its latest snapshot,
 * so that a page opened late sees the whole tree. Live actors count against the same bytes: once the
 * records have gone, the oldest are summarised (their snapshot let go), then forgotten.
 * Each source's records are namespaced (`a1:x:0`, `a2:x:0`), so that no app's session ids collide with another's.
 */
export class Recording {
  private readonly maxEvents: number;
  private readonly maxBytes: number;
  private ring: Stored[] = [];
  private head = 0;
  private bytes = 0;
  private seq = 0;
  private readonly definitions = new Map<string, string>();
  readonly definitionTexts = new Map<string, string>();
  /** Each definition's first text as received, the characters it holds, and how many kept records and live actors refer to it. */
  private readonly definitionUses = new Map<string, { text: string; size: number; uses: number }>();
  private readonly live = new Map<string, LiveActor>();
  /** Live actors whose snapshot was let go to stay within `maxBytes`, oldest first. */
  private readonly summarised = new Map<string, LiveActor>();
  /** Live actors forgotten to stay within `maxBytes`. */
  private forgotten = 0;

  constructor(options: RecordingOptions = {}) {
    this.maxEvents = options.maxEvents ?? 200_000;
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  }

  /** Records stored now. */
  get size(): number {
    return this.ring.length - this.head;
  }

  /** Actors alive as of the last record. */
  get liveActors(): number {
    return this.live.size + this.summarised.size;
  }

  /**
   * Takes one record as received (`prefix` namespaces its ids); returns the text pages receive and the
   * definition it refers to, or `undefined` for something that is not an inspection record.
   */
  add(value: unknown, prefix = '', source = 0): { text: string; def: string | undefined } | undefined {
    if (!isInspectionRecord(value)) return undefined;
    const record = redactRecord(prefix ? namespaced(value, prefix) : value);
    let def: string | undefined;
    let stored: InspectionRecord & { def?: string } = record;
    if (record.type === '@xstate.actor') {
      if (typeof record.definition === 'string') def = this.intern(record.definition);
      stored = { ...record, definition: undefined, ...(def ? { def } : {}) };
    }
    const text = JSON.stringify(stored);
    if (record.type === '@xstate.actor') {
      this.use(def, 1);
      this.forgetLive(record.sessionId);
      this.live.set(record.sessionId, { seq: this.seq, source, record: stored as LiveActor['record'], snapshot: record.snapshot, created: text.length, latest: 0 });
      this.bytes += text.length;
    } else if (record.type === '@xstate.snapshot') {
      const live = this.live.get(record.sessionId) ?? this.summarised.get(record.sessionId);
      const status = (record.snapshot as { status?: unknown } | null)?.status;
      if (live && status !== undefined && status !== 'active') this.forgetLive(record.sessionId);
      else if (live) {
        live.snapshot = record.snapshot;
        this.bytes += text.length - live.latest;
        live.latest = text.length;
        if (this.summarised.delete(record.sessionId)) this.live.set(record.sessionId, live);
      }
    }
    this.ring.push({ seq: this.seq++, text, def });
    this.use(def, 1);
    this.bytes += text.length;
    this.trim();
    return { text, def };
  }

  /**
   * The app `source` has gone (its socket closed): each of its actors still alive is recorded as stopped,
   * so that no page shows it running. Returns those records, for the pages open now.
   */
  endSource(source: number): Array<{ text: string; def: string | undefined }> {
    const ended: Array<{ text: string; def: string | undefined }> = [];
    for (const [sessionId, actor] of [...this.live, ...this.summarised]) {
      if (actor.source !== source) continue;
      const snapshot = typeof actor.snapshot === 'object' && actor.snapshot !== null ? { ...actor.snapshot, status: 'stopped' } : { status: 'stopped' };
      const stopped = { type: '@xstate.snapshot', _version: actor.record._version, sessionId, rootId: actor.record.rootId, snapshot, event: { type: '@socketchart.source.closed' } };
      const added = this.add(stopped, '', source);
      if (added) ended.push(added);
      else this.forgetLive(sessionId);
    }
    return ended;
  }

  /**
   * Everything a page opening now needs, in order: how many live actors were summarised or forgotten
   * (`@socketchart.dropped`), live actors whose creation is no longer stored (announced again with their
   * latest snapshot, `announced`), then every stored record.
   */
  replay(): Array<{ text: string; def: string | undefined }> {
    const first = this.ring[this.head]?.seq ?? this.seq;
    const out: Array<{ text: string; def: string | undefined }> = [];
    const dropped = this.summarised.size + this.forgotten;
    if (dropped > 0) out.push({ text: JSON.stringify({ type: '@socketchart.dropped', count: dropped }), def: undefined });
    const early = [...this.live.values(), ...this.summarised.values()].filter((actor) => actor.seq < first).sort((a, b) => a.seq - b.seq);
    for (const actor of early) out.push({ text: JSON.stringify({ ...actor.record, snapshot: actor.snapshot, announced: true }), def: actor.record.def });
    for (let i = this.head; i < this.ring.length; i++) {
      const stored = this.ring[i]!;
      out.push({ text: stored.text, def: stored.def });
    }
    return out;
  }

  /** The record that carries definition `id` to a page. */
  definitionRecord(id: string): string {
    return JSON.stringify({ type: '@socketchart.definition', id, definition: this.definitionTexts.get(id) ?? '{}' } satisfies PageDefinition);
  }

  /**
   * A definition's id follows from its redacted text, so that one let go and taken again is one a page already holds.
   * Only its first text is kept to look it up by: others that differ in a secret only are redacted again each time.
   */
  private intern(definition: string): string {
    let id = this.definitions.get(definition);
    if (id !== undefined) return id;
    const redacted = redactJsonText(definition);
    id = `d${createHash('sha256').update(redacted).digest('base64url').slice(0, 16)}`;
    if (this.definitionUses.has(id)) return id;
    this.definitions.set(definition, id);
    this.definitionUses.set(id, { text: definition, size: redacted.length + definition.length, uses: 0 });
    this.definitionTexts.set(id, redacted);
    this.bytes += redacted.length + definition.length;
    return id;
  }

  private forgetLive(sessionId: string): void {
    const actor = this.live.get(sessionId) ?? this.summarised.get(sessionId);
    if (!actor) return;
    this.use(actor.record.def, -1);
    this.bytes -= actor.created + actor.latest;
    this.live.delete(sessionId);
    this.summarised.delete(sessionId);
  }

  /** Lets go of a live actor's snapshot and of whatever its creation carried beyond its place in the tree. */
  private summarise(sessionId: string, actor: LiveActor): void {
    const { type, _version, parentId, rootId, name, createdAt, def } = actor.record;
    actor.record = { type, _version, sessionId, parentId, rootId, name, createdAt, def, id: null, snapshot: undefined };
    actor.snapshot = { status: 'active' };
    this.bytes -= actor.created + actor.latest;
    actor.created = JSON.stringify({ ...actor.record, snapshot: actor.snapshot }).length;
    actor.latest = 0;
    this.bytes += actor.created;
    this.live.delete(sessionId);
    this.summarised.set(sessionId, actor);
  }

  /** Counts a reference to definition `id`; one no longer referred to is let go. */
  private use(id: string | undefined, delta: 1 | -1): void {
    const definition = id === undefined ? undefined : this.definitionUses.get(id);
    if (!definition) return;
    definition.uses += delta;
    if (definition.uses > 0) return;
    this.definitionUses.delete(id!);
    this.definitionTexts.delete(id!);
    this.definitions.delete(definition.text);
    this.bytes -= definition.size;
  }

  private trim(): void {
    while (this.ring.length - this.head > this.maxEvents || (this.bytes > this.maxBytes && this.ring.length - this.head > 1)) {
      const stored = this.ring[this.head]!;
      this.bytes -= stored.text.length;
      this.use(stored.def, -1);
      this.ring[this.head] = undefined as never;
      this.head++;
    }
    for (const [sessionId, actor] of this.live) {
      if (this.bytes <= this.maxBytes || this.live.size === 1) break;
      this.summarise(sessionId, actor);
    }
    for (const sessionId of this.summarised.keys()) {
      if (this.bytes <= this.maxBytes) break;
      this.forgetLive(sessionId);
      this.forgotten++;
    }
    if (this.head > 4096 && this.head * 2 > this.ring.length) {
      this.ring = this.ring.slice(this.head);
      this.head = 0;
    }
  }
}

const prefixed = (prefix: string, id: unknown) => (typeof id === 'string' ? prefix + id : id);

function namespaced(record: InspectionRecord, prefix: string): InspectionRecord {
  const out = { ...record, sessionId: prefix + record.sessionId } as unknown as Record<string, unknown>;
  if ('parentId' in out) out.parentId = prefixed(prefix, out.parentId);
  if ('rootId' in out && out.rootId !== 'anonymous') out.rootId = prefixed(prefix, out.rootId);
  if ('sourceId' in out) out.sourceId = prefixed(prefix, out.sourceId);
  return out as unknown as InspectionRecord;
}
