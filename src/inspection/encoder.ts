import type { AnyActorRef, InspectionEvent } from 'xstate';
import { connectionOf } from '../connection/connection.js';
import { convertInspectionEvent, transitionsOf } from './convert.js';
import { INSPECTION_FORMAT_VERSION, type ActorCreated, type ConnectionSample, type InspectionRecord, type MessageReceived, type MetricsSampled, type TakenTransition } from './protocol.js';
import { sampleConnection, sampledKindOf, samplePool, type SampledKind } from './samples.js';
import { toPlain } from './serialize.js';

/** Data-plane messages handed to the inspector (off unless asked for). */
export interface MessageCapture {
  /** At most this many messages a second, over every connection; the rest are left out. @default 50 */
  maxPerSecond?: number;
  /** Strings in a message's data are cut to this length. @default 200 */
  maxStringLength?: number;
  /** Array items and object members kept of a message's data, in all: the rest is told by how many were left out. @default 50 */
  maxMembers?: number;
}

export interface EncoderOptions {
  /** Nesting depth kept of contexts, events and definitions. @default 10 */
  depthLimit?: number;
  /** Hand over each inbound data-plane message too (they never pass through a machine). @default false */
  messages?: boolean | MessageCapture;
  /** Time source (epoch ms). @default Date.now */
  now?: () => number;
  /** Connection and pool metrics are sampled (`sample()`, and a last time as each stops). @default true */
  metrics?: boolean;
}

interface Tracked {
  ref: AnyActorRef;
  kind: SampledKind;
  name: string;
  stopListening?: () => void;
}

type Pending = { event: InspectionEvent; at: number };

/**
 * Turns XState inspection events into the inspection protocol's records, in order, off the hot path:
 * `next()` only queues (it runs inside every transition of every inspected actor); `drain()` converts.
 * It namespaces session ids of every actor system after the first (`s2:x:0`), so that several systems
 * (a pool and standalone connections, each a root with a system of its own) never collide; it follows
 * the live actors (to announce them again to an inspector that joins late) and the connection and pool
 * actors (to sample their metrics).
 */
export class InspectionEncoder {
  private pending: Pending[] = [];
  private readonly depthLimit: number;
  private readonly now: () => number;
  private readonly metrics: boolean;
  private readonly systems = new WeakMap<object, string>();
  private systemCount = 0;
  private readonly live = new Map<string, WeakRef<AnyActorRef>>();
  /** Each actor's name, from its creation: it is followed once it starts (an actor may be made and dropped unstarted, as React StrictMode does). */
  private readonly names = new WeakMap<AnyActorRef, string>();
  private readonly tracked = new Map<string, Tracked>();
  private readonly steps = new WeakMap<AnyActorRef, TakenTransition[]>();
  /** Definition text by machine config: converted once, however many actors run it. */
  private readonly definitions = new WeakMap<object, string>();
  private readonly definitionOf = (config: object, make: () => string): string => {
    let text = this.definitions.get(config);
    if (text === undefined) this.definitions.set(config, (text = make()));
    return text;
  };
  private readonly capture: Required<MessageCapture> | undefined;
  private captured: MessageReceived[] = [];
  private captureWindow = { start: 0, count: 0 };
  /** Called when `next()` queues the first event since the last drain. */
  onPending: (() => void) | undefined;

  constructor(options: EncoderOptions = {}) {
    this.depthLimit = options.depthLimit ?? 10;
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics ?? true;
    const messages = options.messages;
    this.capture = messages ? { maxPerSecond: 50, maxStringLength: 200, maxMembers: 50, ...(messages === true ? {} : messages) } : undefined;
  }

  /** The id an actor is known by in the records: its session id, prefixed for every system after the first. */
  readonly idOf = (ref: AnyActorRef): string => {
    const system = ref.system as object;
    let prefix = this.systems.get(system);
    if (prefix === undefined) {
      prefix = this.systemCount === 0 ? '' : `s${this.systemCount + 1}:`;
      this.systemCount++;
      this.systems.set(system, prefix);
    }
    return prefix + ref.sessionId;
  };

  /** Queues one XState inspection event (cheap: the conversion happens in `drain()`). */
  next(event: InspectionEvent): void {
    if (event.type === '@xstate.action') return;
    if (this.pending.length === 0) this.onPending?.();
    this.pending.push({ event, at: this.now() });
  }

  /** Events queued and not yet drained. */
  get queued(): number {
    return this.pending.length + this.captured.length;
  }

  /** Converts everything queued, in order. */
  drain(): InspectionRecord[] {
    const pending = this.pending;
    const captured = this.captured;
    this.pending = [];
    this.captured = [];
    const out: InspectionRecord[] = [];
    for (const { event, at } of pending) {
      const ref = event.actorRef as AnyActorRef;
      if (event.type === '@xstate.microstep') {
        const taken = transitionsOf(event);
        if (taken.length === 0) continue;
        const known = this.steps.get(ref);
        if (known) known.push(...taken);
        else this.steps.set(ref, taken);
        continue;
      }
      const record = convertInspectionEvent(event, { depthLimit: this.depthLimit, idOf: this.idOf, at, definitionOf: this.definitionOf });
      if (!record) continue;
      if (record.type === '@xstate.actor') this.names.set(ref, record.name);
      else if (record.type === '@xstate.event') {
        if (record.event.type === 'xstate.init') this.follow(ref, record.sessionId);
      } else if (record.type === '@xstate.snapshot') {
        const taken = this.steps.get(ref);
        if (taken) {
          record.transitions = taken;
          this.steps.delete(ref);
        }
        if ((record.snapshot as { status?: string } | null)?.status !== 'active') {
          const last = this.lastSample(record.sessionId, at);
          if (last) out.push(last);
          this.forget(record.sessionId);
        }
      }
      out.push(record);
    }
    if (captured.length > 0) out.push(...captured);
    return out;
  }

  /** `@xstate.actor` records of every live actor but those `except`, with their current snapshots (for an inspector that joins late). */
  announceLive(except?: ReadonlySet<string>): ActorCreated[] {
    const out: ActorCreated[] = [];
    for (const [id, weak] of this.live) {
      const ref = weak.deref();
      if (!ref || ref.getSnapshot().status !== 'active') {
        this.forget(id);
        continue;
      }
      if (except?.has(id)) continue;
      const record = convertInspectionEvent({ type: '@xstate.actor', actorRef: ref, rootId: '' } as InspectionEvent, {
        depthLimit: this.depthLimit,
        idOf: this.idOf,
        at: this.now(),
        definitionOf: this.definitionOf,
      });
      if (record?.type === '@xstate.actor') out.push({ ...record, announced: true });
    }
    return out;
  }

  /** Whether the actor known by `id` is followed and running. */
  isLive(id: string): boolean {
    return this.live.get(id)?.deref()?.getSnapshot().status === 'active';
  }

  /** Connection and pool actors whose metrics are sampled. */
  get sampling(): number {
    return this.tracked.size;
  }

  /** One `@socketchart.metrics` record per live pool and connection actor (a pool's connections sampled with it); a stopped one's last. */
  sample(): MetricsSampled[] {
    const out: MetricsSampled[] = [];
    const at = this.now();
    const fromPools = new Map<string, ConnectionSample>();
    for (const [id, t] of this.tracked) {
      if (t.kind !== 'pool') continue;
      const { pool, connections } = samplePool(t.ref);
      out.push(sampled(t, id, pool, at));
      for (const [name, sample] of Object.entries(connections)) fromPools.set(`${id}/${name}`, sample);
      if (t.ref.getSnapshot().status !== 'active') this.forget(id);
    }
    for (const [id, t] of this.tracked) {
      if (t.kind !== 'connection') continue;
      const parent = (t.ref as { _parent?: AnyActorRef })._parent;
      const sample = (parent && fromPools.get(`${this.idOf(parent)}/${t.name}`)) ?? sampleConnection(t.ref);
      out.push(sampled(t, id, sample, at));
      if (t.ref.getSnapshot().status !== 'active') this.forget(id);
    }
    return out;
  }

  /** The figures of a sampled actor as it stopped (sent once: it is forgotten next). */
  private lastSample(id: string, at: number): MetricsSampled | undefined {
    const t = this.tracked.get(id);
    if (!t || !this.metrics) return undefined;
    return sampled(t, id, t.kind === 'pool' ? samplePool(t.ref).pool : sampleConnection(t.ref), at);
  }

  /** Stops listening to every connection's messages. */
  dispose(): void {
    for (const t of this.tracked.values()) t.stopListening?.();
    this.tracked.clear();
    this.live.clear();
    this.pending = [];
    this.captured = [];
  }

  private follow(ref: AnyActorRef, id: string): void {
    const status = ref.getSnapshot().status;
    if (status !== 'active') return;
    this.live.set(id, new WeakRef(ref));
    if (this.tracked.has(id)) return;
    const kind = sampledKindOf(ref);
    if (!kind) return;
    const name = this.names.get(ref) ?? ref.id;
    const t: Tracked = { ref, kind, name };
    if (kind === 'connection' && this.capture) t.stopListening = this.listen(ref, id, name);
    this.tracked.set(id, t);
  }

  private forget(id: string): void {
    this.live.delete(id);
    const t = this.tracked.get(id);
    if (!t) return;
    t.stopListening?.();
    this.tracked.delete(id);
  }

  private listen(ref: AnyActorRef, id: string, name: string): () => void {
    const capture = this.capture!;
    return connectionOf(ref).on('message', (message) => {
      const now = this.now();
      const window = this.captureWindow;
      if (now - window.start >= 1_000) {
        window.start = now;
        window.count = 0;
      }
      if (window.count >= capture.maxPerSecond) return;
      window.count++;
      if (this.pending.length === 0 && this.captured.length === 0) this.onPending?.();
      this.captured.push({
        type: '@socketchart.message',
        sessionId: id,
        name,
        channel: message.ch,
        seq: message.seq,
        data: toPlain(message.data, { depthLimit: 4, maxStringLength: capture.maxStringLength, maxMembers: capture.maxMembers }),
        createdAt: String(now),
        _version: INSPECTION_FORMAT_VERSION,
      });
    });
  }
}

function sampled(t: Tracked, id: string, sample: MetricsSampled['sample'], at: number): MetricsSampled {
  return { type: '@socketchart.metrics', sessionId: id, name: t.name, kind: t.kind, sample, createdAt: String(at), _version: INSPECTION_FORMAT_VERSION };
}
