import type { InspectionEvent, Observer } from 'xstate';
import { InvalidOptionError } from '../protocol/errors.js';
import { redactUrl } from '../protocol/redact.js';
import { ReadyState, defaultWebSocket, type WebSocketConstructor, type WebSocketLike } from '../transport/websocket-like.js';
import { InspectionEncoder, type MessageCapture } from './encoder.js';
import { DEFAULT_INSPECTOR_PORT, HELLO, INSPECTION_FORMAT_VERSION, type InspectionRecord, type SnapshotChanged } from './protocol.js';

export interface InspectorOptions {
  /** Where the inspector listens (`npx socketchart inspect`). @default 'ws://127.0.0.1:4242' */
  url?: string;
  /** WebSocket constructor. @default the global `WebSocket`; `ws` in Node (once `socketchart` is imported) */
  WebSocket?: WebSocketConstructor;
  /** How often connection and pool metrics are sampled and sent, in ms (and once more as each stops); `false`: never. @default 1000 */
  metricsIntervalMs?: number | false;
  /**
   * Also send the data-plane messages each connection receives (they never pass through a machine, so
   * inspection sees none of them otherwise): `true`, or a cap. @default false
   */
  messages?: boolean | MessageCapture;
  /** Nesting depth kept of contexts, events and definitions (as `@statelyai/inspect`'s `serializationDepthLimit`). @default 10 */
  serializationDepthLimit?: number;
  /** Events kept while the inspector is unreachable (oldest dropped first). @default 10000 */
  maxBuffered?: number;
  /** Wait before dialing the inspector again after it went away, in ms. @default 1000 */
  reconnectMs?: number;
  /** Events are converted and sent at most this often, in ms (never inside a transition). @default 16 */
  flushMs?: number;
}

/** `'connecting'`, `'open'`, or `'closed'` (after `close()`). */
export type InspectorStatus = 'connecting' | 'open' | 'closed';

/**
 * An inspection observer that sends to socketchart's inspector (or to any receiver of
 * `@statelyai/inspect`'s WebSocket events): pass it as the `inspect` option, as it is.
 */
export interface SocketchartInspector extends Observer<InspectionEvent> {
  next(event: InspectionEvent): void;
  /** This observer (the shape of `@statelyai/inspect`'s inspectors, whose `.inspect` is what `inspect` takes). */
  readonly inspect: Observer<InspectionEvent>;
  readonly url: string;
  readonly status: InspectorStatus;
  /** Events left out: while the inspector was unreachable and the buffer was full, or while the socket was backed up. */
  readonly dropped: number;
  /** Converts and sends everything queued now. */
  flush(): void;
  /** Closes the socket and stops every timer; later events are ignored. */
  close(): void;
}

/** A socket write backlog above which events are left out rather than queued without bound. */
const BACKLOG_LIMIT = 16 * 1024 * 1024;
/** Events per frame once the receiver takes batches. */
const BATCH = 2_000;
/** Characters per frame: at most 6 MiB of UTF-8, under the inspector server's 8 MiB. A single longer event is left out. */
const MAX_FRAME = 2 * 1024 * 1024;

type Timer = ReturnType<typeof setTimeout>;

/** A timer that never keeps a Node process alive. */
function later(fn: () => void, ms: number): Timer {
  const timer = setTimeout(fn, ms);
  (timer as { unref?: () => void }).unref?.();
  return timer;
}

/** What a record tells the inspector of an actor's life: that it runs (created or announced), that it ended, or nothing. */
type Life = { sessionId: string; rootId: string | undefined; running: boolean } | undefined;

/** A record as it goes out: its JSON text, and what it tells of an actor's life. */
interface Encoded {
  text: string;
  life: Life;
}

function lifeOf(record: InspectionRecord): Life {
  if (record.type !== '@xstate.actor' && record.type !== '@xstate.snapshot') return undefined;
  const status = (record.snapshot as { status?: unknown } | null)?.status;
  const running = status === undefined || status === 'active';
  if (record.type === '@xstate.snapshot' && running) return undefined;
  return { sessionId: record.sessionId, rootId: record.rootId, running };
}

/** The stop of an actor whose own stop was left out, as `@statelyai/inspect` sends a snapshot. */
function stoppedSnapshot(sessionId: string, rootId: string | undefined): SnapshotChanged {
  return {
    type: '@xstate.snapshot',
    event: { type: 'xstate.stop' },
    snapshot: { status: 'stopped' },
    sessionId,
    rootId,
    createdAt: String(Date.now()),
    id: null,
    _version: INSPECTION_FORMAT_VERSION,
  };
}

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new InvalidOptionError(name, 'a positive number', value);
  return value;
}

/**
 * Connects to the offline inspector (`npx socketchart inspect`, or the demo's `--inspect`) and returns
 * the observer to hand to `createConnection({ inspect })`, `createPool({ inspect })` or `createActor(…, { inspect })`.
 * Events go out in `@statelyai/inspect`'s format, one per frame, with each pool's and connection's
 * metrics sampled alongside. It dials again while the inspector is away and, when it comes back, first
 * announces every live actor. Nothing secret is sent: socketchart's machines hold no token.
 *
 * ```ts
 * import { connectInspector } from 'socketchart/inspect';
 * const pool = createPool({ endpoints, inspect: connectInspector() });
 * ```
 */
export function connectInspector(options: InspectorOptions = {}): SocketchartInspector {
  const url = options.url ?? `ws://127.0.0.1:${DEFAULT_INSPECTOR_PORT}`;
  if (typeof url !== 'string' || !/^wss?:\/\//.test(url)) throw new InvalidOptionError('url', 'a ws:// or wss:// URL', url, typeof url === 'string' ? JSON.stringify(redactUrl(url)) : undefined);
  const WebSocket = options.WebSocket ?? defaultWebSocket();
  if (typeof WebSocket !== 'function') throw new InvalidOptionError('WebSocket', 'a WebSocket constructor (none is global here: pass `ws`)', WebSocket);
  const metricsMs = options.metricsIntervalMs === false ? false : positive('metricsIntervalMs', options.metricsIntervalMs, 1_000);
  const maxBuffered = positive('maxBuffered', options.maxBuffered, 10_000);
  const reconnectMs = positive('reconnectMs', options.reconnectMs, 1_000);
  const flushMs = positive('flushMs', options.flushMs, 16);
  const encoder = new InspectionEncoder({ depthLimit: options.serializationDepthLimit ?? 10, messages: options.messages ?? false, metrics: metricsMs !== false });

  let ws: WebSocketLike | undefined;
  /** The receiver said it takes arrays of events (socketchart's server does; others get one per frame). */
  let batches = false;
  let status: InspectorStatus = 'connecting';
  let dropped = 0;
  /** The socket has been open before (a new one is a reconnect). */
  let opened = false;
  let droppedAtOpen = 0;
  /** Events were left out while the socket was backed up: once it drains, every live actor is announced again and every one gone is told stopped. */
  let lost = false;
  /** Actors the receiver on this socket heard of and has not heard stop, with their root's id. */
  const told = new Map<string, string | undefined>();
  /** Events kept while away: `buffered[head]` on (the ones before it were dropped). */
  let buffered: Array<Encoded | undefined> = [];
  let head = 0;
  /** Characters held in `buffered`: kept under the limit a live socket may back up. */
  let bufferedBytes = 0;
  let flushTimer: Timer | undefined;
  let metricsTimer: Timer | undefined;
  let redialTimer: Timer | undefined;

  /** Notes what the receiver has now heard of an actor's life. */
  const hear = (life: Life) => {
    if (!life) return;
    if (life.running) told.set(life.sessionId, life.rootId);
    else told.delete(life.sessionId);
  };
  /** The record's text, or `undefined` (counted in `dropped`) for one too large for a frame. */
  const encode = (record: InspectionRecord): Encoded | undefined => {
    const text = JSON.stringify(record);
    if (text.length <= MAX_FRAME) return { text, life: lifeOf(record) };
    dropped++;
    return undefined;
  };
  /** Keeps an event while the inspector is away (the oldest dropped first). */
  const keep = (item: Encoded) => {
    buffered.push(item);
    bufferedBytes += item.text.length;
    while (buffered.length - head > maxBuffered || (bufferedBytes > BACKLOG_LIMIT && buffered.length - head > 1)) {
      bufferedBytes -= buffered[head]!.text.length;
      buffered[head++] = undefined;
      dropped++;
    }
    if (head > 1024 && head * 2 > buffered.length) {
      buffered = buffered.slice(head);
      head = 0;
    }
  };
  /** Empties the away-buffer, returning what it kept. */
  const takeBacklog = (): Encoded[] => {
    const kept = buffered.slice(head) as Encoded[];
    buffered = [];
    head = 0;
    bufferedBytes = 0;
    return kept;
  };
  /** Sends `items` in one frame of `text`, or keeps them while the inspector is away. */
  const write = (items: readonly Encoded[], text: string) => {
    if (ws?.readyState !== ReadyState.OPEN) {
      for (const item of items) keep(item);
      return;
    }
    if (ws.bufferedAmount > BACKLOG_LIMIT) {
      dropped += items.length;
      lost = true;
      return;
    }
    ws.send(text);
    for (const item of items) hear(item.life);
  };
  /** Sends records in order, batched when the receiver takes batches; one too large for a frame is left out. */
  const deliver = (records: readonly InspectionRecord[]) => {
    const batching = batches && ws?.readyState === ReadyState.OPEN;
    let frame: Encoded[] = [];
    let size = 0;
    const sendFrame = () => {
      if (frame.length > 0) write(frame, `[${frame.map((item) => item.text).join(',')}]`);
      frame = [];
      size = 0;
    };
    for (const record of records) {
      const item = encode(record);
      if (!item) continue;
      if (!batching) write([item], item.text);
      else {
        if (frame.length === BATCH || size + item.text.length + 2 > MAX_FRAME) sendFrame();
        frame.push(item);
        size += item.text.length + 1;
      }
    }
    sendFrame();
  };
  /** Stops of the actors the receiver heard of that are gone, their own stop left out. */
  const stopsLeftOut = (): SnapshotChanged[] => {
    const stops: SnapshotChanged[] = [];
    for (const [sessionId, rootId] of told) if (!encoder.isLive(sessionId)) stops.push(stoppedSnapshot(sessionId, rootId));
    return stops;
  };
  /** Delivers records; first, once a socket that left events out has drained, what those events would have told. */
  const send = (records: readonly InspectionRecord[]) => {
    if (!lost || ws?.readyState !== ReadyState.OPEN || ws.bufferedAmount > BACKLOG_LIMIT) return deliver(records);
    lost = false;
    deliver([...encoder.announceLive(), ...records]);
    deliver(stopsLeftOut());
  };
  /** Live actors to announce to a new socket, but those whose creation `backlog` holds (it tells of them). */
  const announcementsBesides = (backlog: readonly Encoded[]) => {
    const created = new Set<string>();
    for (const { life } of backlog) if (life?.running) created.add(life.sessionId);
    return encoder.announceLive(created);
  };

  const flush = () => {
    flushTimer = undefined;
    if (status === 'closed') return;
    send(encoder.drain());
    if (metricsMs !== false && encoder.sampling > 0 && metricsTimer === undefined) metricsTimer = later(sample, metricsMs);
  };
  const sample = () => {
    metricsTimer = undefined;
    if (status === 'closed') return;
    send(encoder.drain());
    send(encoder.sample());
    if (metricsMs !== false && encoder.sampling > 0) metricsTimer = later(sample, metricsMs);
  };
  encoder.onPending = () => {
    if (flushTimer === undefined && status !== 'closed') flushTimer = later(flush, flushMs);
  };

  const dial = () => {
    redialTimer = undefined;
    if (status === 'closed') return;
    status = 'connecting';
    let socket: WebSocketLike;
    try {
      socket = new WebSocket(url);
    } catch {
      redialTimer = later(dial, reconnectMs);
      return;
    }
    ws = socket;
    batches = false;
    socket.onopen = () => {
      if (ws !== socket) return;
      status = 'open';
      // In order: what was kept while away, then what happened since. An inspector that may have missed
      // actors (this is a reconnect, or the buffer overflowed) first hears of every live one.
      const missed = opened || dropped > droppedAtOpen;
      opened = true;
      droppedAtOpen = dropped;
      lost = false;
      const backlog = takeBacklog();
      if (missed) deliver(announcementsBesides(backlog));
      for (const item of backlog) {
        socket.send(item.text);
        hear(item.life);
      }
      send(encoder.drain());
    };
    socket.onmessage = (event) => {
      if (typeof event.data === 'string' && event.data.includes(HELLO.type)) {
        try {
          batches = (JSON.parse(event.data) as { batches?: unknown }).batches === true;
        } catch {
          // another receiver's message: ignored
        }
      }
    };
    socket.onerror = () => {};
    socket.onclose = () => {
      if (ws !== socket) return;
      ws = undefined;
      told.clear();
      if (status === 'closed') return;
      status = 'connecting';
      redialTimer = later(dial, reconnectMs);
    };
  };
  dial();

  const inspector: SocketchartInspector = {
    next(event: InspectionEvent) {
      if (status === 'closed') return;
      try {
        encoder.next(event);
      } catch {
        dropped++;
      }
    },
    get inspect() {
      return inspector;
    },
    url,
    get status() {
      return status;
    },
    get dropped() {
      return dropped;
    },
    flush() {
      if (flushTimer !== undefined) clearTimeout(flushTimer);
      flush();
    },
    close() {
      if (status === 'closed') return;
      if (flushTimer !== undefined) clearTimeout(flushTimer);
      flush();
      status = 'closed';
      for (const timer of [flushTimer, metricsTimer, redialTimer]) if (timer !== undefined) clearTimeout(timer);
      flushTimer = metricsTimer = redialTimer = undefined;
      encoder.dispose();
      takeBacklog();
      told.clear();
      const socket = ws;
      ws = undefined;
      if (socket && (socket.readyState === ReadyState.OPEN || socket.readyState === ReadyState.CONNECTING)) socket.close(1000, 'inspector closed');
    },
  };
  return inspector;
}
