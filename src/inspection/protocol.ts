/**
 * The inspection protocol: the events `@statelyai/inspect` sends (`@xstate.actor`, `@xstate.event`,
 * `@xstate.snapshot`, each a JSON object, one per WebSocket frame or `postMessage`), plus socketchart's own
 * `@socketchart.*` samples, which other receivers ignore.
 */

/** The `@statelyai/inspect` event format this speaks (its `_version` field). */
export const INSPECTION_FORMAT_VERSION = '0.7.2';

/** The port the offline inspector listens on unless told otherwise. */
export const DEFAULT_INSPECTOR_PORT = 4242;

/**
 * What socketchart's inspector server says to every app that connects: it also takes a JSON array of events
 * in one frame, which socketchart's helper then sends (other receivers get one event per frame).
 */
export const HELLO = { type: '@socketchart.hello', batches: true } as const;

/** Path of the WebSocket the inspector page reads from (apps send to any other path, `/` included). */
export const PAGE_SOCKET_PATH = '/_page';

interface Common {
  /** Epoch milliseconds, as a decimal string (as `@statelyai/inspect` writes it). */
  createdAt: string;
  _version: string;
  /** The actor the event concerns. */
  sessionId: string;
  rootId?: string | undefined;
}

/** An actor was created. `definition` is the JSON text of its machine config (`{"id": name}` for other logic). */
export interface ActorCreated extends Common {
  type: '@xstate.actor';
  name: string;
  parentId?: string | undefined;
  definition?: string | undefined;
  snapshot: unknown;
  id: null;
  /** socketchart's inspector only: created earlier, announced again (to an inspector that joined or came back late). */
  announced?: true | undefined;
}

/** An event was sent to the actor `sessionId` (by `sourceId`, when an actor sent it). */
export interface EventSent extends Common {
  type: '@xstate.event';
  event: { type: string; [key: string]: unknown };
  sourceId?: string | undefined;
  id: string | null;
}

/** The actor `sessionId` has a new snapshot, caused by `event`. */
export interface SnapshotChanged extends Common {
  type: '@xstate.snapshot';
  event: { type: string; [key: string]: unknown };
  snapshot: unknown;
  id: null;
  /**
   * socketchart's inspector only (others leave it out): the transitions taken to reach this snapshot, as
   * state node ids (`connection.link.connecting`), so the page lights exactly those.
   */
  transitions?: TakenTransition[] | undefined;
}

export interface TakenTransition {
  source: string;
  targets: string[];
  /** The event type the transition listens to (`''` for an eventless one). */
  eventType: string;
}

/** A connection's figures at one moment (socketchart's inspector only). */
export interface ConnectionSample {
  status: string;
  rtt: { p50: number | null; p95: number | null; p99: number | null };
  queueDepth: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  connects: number;
  reconnects: number;
  errors: number;
  drops: number;
  healthScore: number;
}

/** A pool's figures at one moment (socketchart's inspector only). */
export interface PoolSample {
  health: string;
  healthScore: number;
  connections: number;
  connected: number;
  dials: { granted: number; waiting: number };
  /** The pool's dial budget, or `null` without one. */
  budget: { ratePerSec: number; burst: number } | null;
}

/** Figures of a connection or a pool actor, sampled by socketchart's inspector helper. */
export interface MetricsSampled extends Common {
  type: '@socketchart.metrics';
  name: string;
  kind: 'connection' | 'pool';
  sample: ConnectionSample | PoolSample;
}

/** A data-plane message a connection received; sent only when the helper is asked to (`messages`). */
export interface MessageReceived extends Common {
  type: '@socketchart.message';
  name: string;
  channel?: string | undefined;
  seq?: number | undefined;
  /** The message's data, depth-limited and cut to a bounded length. */
  data: unknown;
}

export type InspectionRecord = ActorCreated | EventSent | SnapshotChanged | MetricsSampled | MessageReceived;

const TYPES = new Set(['@xstate.actor', '@xstate.event', '@xstate.snapshot', '@socketchart.metrics', '@socketchart.message']);

/** Members that name or date a record: texts when present (`id` may also be null). */
const ID_MEMBERS = ['rootId', 'parentId', 'sourceId', 'createdAt', 'id'] as const;
/** Members that are objects when present. */
const OBJECT_MEMBERS = ['snapshot', 'event', 'sample'] as const;

/**
 * An inspection event as the protocol defines it: an object whose `type` is known, with a `sessionId`, a
 * `_version`, ids that are texts, and a snapshot, event or sample that is an object (not an array).
 */
export function isInspectionRecord(value: unknown): value is InspectionRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record.type === 'string' &&
    TYPES.has(record.type) &&
    typeof record.sessionId === 'string' &&
    typeof record._version === 'string' &&
    ID_MEMBERS.every((key) => record[key] == null || typeof record[key] === 'string') &&
    OBJECT_MEMBERS.every((key) => record[key] == null || (typeof record[key] === 'object' && !Array.isArray(record[key])))
  );
}
