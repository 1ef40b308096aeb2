/**
 * Client fuzzing: a connection (json, graphql-transport-ws or plain protocol) with subscriptions, presence
 * joins and watches, pending acks and requests, GraphQL operations and an optimistic store is fed hostile
 * frames by its (mock) server, seeded and deterministic. Spec: test/unit/connection/inbound-fuzz.test.ts;
 * a longer run: `npx tsx test/support/fuzz/client-run.ts --seed 7 --runs 4 --frames 400 [--protocol json]`.
 *
 * After every batch of frames it checks:
 *   - nothing is thrown out of the library (synchronously from the socket callback, or "later" on a microtask);
 *   - the connection actor is not in XState's `error` status, and is still connected (no frame may drop it);
 *   - metrics hold no NaN or negative counter;
 *   - every error reported (on('error'), lastError, rejections, state reasons) is a SocketchartError with a
 *     known code and holds no run of 8 or more of the token's characters;
 *   - a valid message on a subscribed channel is still delivered (graphql: a `next` of a live operation);
 *   - an acknowledged request or optimistic update reports a sequence number the wire carries, or none;
 *   - requests and presence calls settle once acks.timeoutMs * maxAttempts has passed;
 * and at the end of a run, after stop(), that every promise it made has settled.
 */
import { ErrorCode, createConnection, graphqlTransportWsProtocol, isSocketchartError, plainProtocol, type Connection, type SocketchartError } from '../../../src/index.js';
import { createOptimisticStore } from '../../../src/optimistic/index.js';
import { isSeq } from '../../../src/protocol/wire.js';
import { seededRandom } from '../chaos/random.js';
import { harness, type Harness } from '../harness.js';

// ---------------------------------------------------------------- frame generator (raw JSON text)

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const chance = (r: Rand, p: number) => r() < p;
const int = (r: Rand, n: number) => Math.floor(r() * n);

const CHANNELS = ['chat:1', 'room', 'docs:1', 'never:subscribed', '__proto__', 'constructor', ''];
const SERVER_TYPES = ['auth_ok', 'ping', 'pong', 'subscribed', 'unsubscribed', 'ack', 'message', 'gap', 'presence', 'presence_state', 'typing', 'rate_limit_status', 'error'];
const GQL_TYPES = ['connection_ack', 'ping', 'pong', 'next', 'error', 'complete', 'subscribe', 'ka'];
const CODES = [...Object.values(ErrorCode), 'NOPE', ''];
const ACTIONS = ['subscribe', 'publish', 'join', 'leave', 'list', 'presence', 'typing'];
const SCOPES = ['control', 'default', 'connection', 'chat', '__proto__', ''];

interface Ctx {
  r: Rand;
  token: string;
  ids: string[];
}

const json = (v: unknown) => JSON.stringify(v);
const numbers = ['0', '-0', '1', '-1', '1.5', '1e400', '-1e400', '1e308', '9007199254740991', '9007199254740993', '1e-320', '42', '3', '2'];

function deep(r: Rand): string {
  const depth = pick(r, [40, 200, 6000, 20000]);
  const leaf = pick(r, ['1', '"x"', 'null']);
  return chance(r, 0.5) ? '['.repeat(depth) + leaf + ']'.repeat(depth) : '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
}

function str(c: Ctx): string {
  const { r } = c;
  return pick(r, [
    () => json(pick(r, CHANNELS)),
    () => json(pick(r, c.ids)),
    () => json(c.token),
    () => json(`Invalid token ${c.token}`),
    () => json(`${'context '.repeat(20)}token ${c.token} rejected`),
    () => json('x'.repeat(pick(r, [0, 1, 100, 70_000]))),
    () => json('__proto__'),
    () => json('constructor'),
    () => json('\ud800 lone surrogate'),
    () => json(pick(r, CODES)),
  ])();
}

/** Any JSON value, as text. */
function value(c: Ctx, depth = 0): string {
  const { r } = c;
  const k = int(r, depth > 2 ? 4 : 8);
  switch (k) {
    case 0:
      return pick(r, numbers);
    case 1:
      return str(c);
    case 2:
      return pick(r, ['null', 'true', 'false']);
    case 3:
      return pick(r, ['{}', '[]', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"x":1}}}']);
    case 4:
      return `[${Array.from({ length: int(r, 4) }, () => value(c, depth + 1)).join(',')}]`;
    case 5:
      return obj(c, depth + 1);
    case 6:
      return deep(r);
    default:
      return member(c);
  }
}

function obj(c: Ctx, depth: number): string {
  const { r } = c;
  const keys = ['ch', 'userId', 'meta', 'id', 'code', 'retry_after', 'scope', 'action', '__proto__', 'constructor', 'x'];
  return `{${Array.from({ length: int(r, 4) }, () => `${json(pick(r, keys))}:${value(c, depth + 1)}`).join(',')}}`;
}

function member(c: Ctx): string {
  const { r } = c;
  return `{"userId":${chance(r, 0.8) ? json(pick(r, ['u1', 'u2', 'user-1', '__proto__'])) : value(c, 3)}${chance(r, 0.5) ? `,"meta":${chance(r, 0.2) ? deep(r) : value(c, 2)}` : ''}}`;
}

const members = (c: Ctx) => `[${Array.from({ length: int(c.r, 4) }, () => (chance(c.r, 0.8) ? member(c) : value(c, 3))).join(',')}]`;

/** A field and a value for it: mostly the right kind, often not. */
function field(c: Ctx, name: string): string {
  const { r } = c;
  if (chance(r, 0.3)) return value(c);
  switch (name) {
    case 'ch':
      return json(pick(r, CHANNELS));
    case 'id':
    case 'request_id':
      return json(pick(r, c.ids));
    case 'seq':
    case 'from':
    case 'to':
    case 'ts':
    case 'limit':
    case 'burst':
    case 'remaining':
    case 'reset_at':
    case 'window_seconds':
    case 'retry_after':
    case 'expiresAt':
      return pick(r, numbers);
    case 'code':
      return json(pick(r, CODES));
    case 'scope':
      return json(pick(r, SCOPES));
    case 'joins':
    case 'leaves':
    case 'members':
      return members(c);
    case 'details':
      return `{"ch":${json(pick(r, CHANNELS))},"action":${json(pick(r, ACTIONS))}${chance(r, 0.5) ? `,"scope":${json(pick(r, SCOPES))}` : ''}${chance(r, 0.5) ? `,"retry_after":${pick(r, numbers)}` : ''}${chance(r, 0.3) ? `,"token":${json(c.token)}` : ''}}`;
    case 'error':
      return `{"code":${json(pick(r, CODES))},"message":${str(c)},"details":${field(c, 'details')}}`;
    case 'payload':
      return chance(r, 0.5) ? `[{"message":${str(c)}}]` : `{"data":${value(c, 2)}}`;
    case 'typing':
    case 'duplicate':
      return pick(r, ['true', 'false', '1']);
    default:
      return value(c);
  }
}

const FIELDS = ['ch', 'seq', 'id', 'data', 'event', 'from', 'ts', 'joins', 'leaves', 'members', 'userId', 'typing', 'limit', 'burst', 'remaining', 'reset_at', 'window_seconds', 'scope', 'code', 'message', 'details', 'retry_after', 'error', 'request_id', 'expiresAt', 'sessionId', 'duplicate', 'reason', 'payload', '__proto__', 'constructor', 'to'];

/** The fields a valid frame of each type has. */
const SHAPES: Record<string, string[]> = {
  auth_ok: ['userId', 'sessionId', 'expiresAt'],
  ping: ['ts'],
  pong: ['ts'],
  subscribed: ['ch', 'seq'],
  unsubscribed: ['ch', 'reason'],
  ack: ['id', 'seq', 'duplicate', 'data'],
  message: ['ch', 'seq', 'id', 'data', 'event', 'from', 'ts'],
  gap: ['ch', 'from', 'to'],
  presence: ['ch', 'joins', 'leaves'],
  presence_state: ['ch', 'members'],
  typing: ['ch', 'userId', 'typing'],
  rate_limit_status: ['scope', 'limit', 'burst', 'remaining', 'reset_at', 'window_seconds'],
  error: ['code', 'message', 'details', 'id', 'retry_after'],
  connection_ack: ['payload'],
  next: ['id', 'payload'],
  complete: ['id'],
};

/** A frame of a known type with its fields, each valid-looking or (one in three) hostile. */
function templated(c: Ctx, types: readonly string[]): string {
  const { r } = c;
  const type = pick(r, types);
  const shape = SHAPES[type] ?? [];
  const parts = [`"type":${json(type)}`];
  for (const name of shape) {
    if (chance(r, 0.1)) continue;
    const v = name === 'ch' && chance(r, 0.7) ? json(pick(r, ['room', 'chat:1', 'docs:1'])) : name === 'members' || name === 'joins' || name === 'leaves' ? members(c) : chance(r, 0.33) ? value(c) : field(c, name);
    parts.push(`${json(name)}:${v}`);
  }
  if (type === 'error' && chance(r, 0.3)) parts.push(`"error":${field(c, 'error')}`);
  return `{${parts.join(',')}}`;
}

/** One hostile frame: text (JSON or not) or binary. */
export function frame(c: Ctx, types: readonly string[]): string | ArrayBuffer | Uint8Array {
  const { r } = c;
  const roll = r();
  if (roll < 0.04) return new ArrayBuffer(pick(r, [0, 1, 3, 7, 1023, 65_537]));
  if (roll < 0.06) return new Uint8Array(pick(r, [0, 5, 9]));
  if (roll < 0.1) return pick(r, ['', 'not json', '{', '[]', 'null', '"type"', '{"type":5}', '{"type":null}', '\u0000', `{"type":"message"`, 'x'.repeat(2_000_000)]);
  if (chance(r, 0.5)) return templated(c, types);
  const type = chance(r, 0.9) ? pick(r, types) : pick(r, [c.token, `t${'y'.repeat(100)}`, '__proto__', 'constructor', 'toString']);
  const n = 1 + int(r, 6);
  const parts = [`"type":${json(type)}`];
  for (let i = 0; i < n; i++) {
    const name = pick(r, FIELDS);
    parts.push(`${json(name)}:${field(c, name)}`);
  }
  return `{${parts.join(',')}}`;
}

// ---------------------------------------------------------------- scenario and invariants

export type FuzzProtocol = 'json' | 'graphql' | 'plain';

export interface Violation {
  seed: number;
  protocol: string;
  batch: number;
  invariant: string;
  detail: string;
  frames: string[];
}

const short = (f: unknown) => (typeof f === 'string' ? (f.length > 300 ? `${f.slice(0, 300)}…(${f.length})` : f) : `<binary ${(f as ArrayBuffer).byteLength}>`);

/** Whether the text holds a run of 8 or more of the token's characters (what the connection redacts). */
function leaks(text: string, token: string): boolean {
  for (let i = 0; i + 8 <= token.length; i++) if (text.includes(token.slice(i, i + 8))) return true;
  return false;
}

function describeError(e: unknown): string {
  try {
    return isSocketchartError(e) ? `${e.code}: ${e.message} ${JSON.stringify(e.details) ?? ''}` : String(e);
  } catch {
    return isSocketchartError(e) ? `${e.code}: ${e.message}` : String(e);
  }
}

interface AckEntry {
  attempts: number;
  refusals: number;
  heldUntil: number;
  deadline: number;
  waiting: boolean;
}

/**
 * The connection's acknowledged messages in flight, read from its internals (the runtime's outbound side and its
 * ack tracker): what explains a request not settled yet. Throws when they moved, so that the fuzzer is updated
 * rather than blind.
 */
function acksInFlight(conn: Connection): AckEntry[] {
  const rt = (conn as unknown as { rt?: object }).rt;
  if (rt === undefined || !('outbound_' in rt)) throw new Error('client fuzz: the connection runtime keeps no outbound_ any more: update acksInFlight()');
  const acks = (rt.outbound_ as { acks?: { inFlight?: unknown } } | undefined)?.acks;
  if (acks === undefined) return [];
  if (!(acks.inFlight instanceof Map)) throw new Error('client fuzz: the ack tracker keeps no inFlight map any more: update acksInFlight()');
  return [...(acks.inFlight as Map<string, AckEntry>).values()].map(({ attempts, refusals, heldUntil, deadline, waiting }) => ({ attempts, refusals, heldUntil, deadline, waiting }));
}

/** The last sequence number the connection's router passed on the channel, read from its internals; throws when they moved. */
function lastSeq(conn: Connection, channel: string): number | undefined {
  const rt = (conn as unknown as { rt?: object }).rt;
  if (rt === undefined || !('routes' in rt)) throw new Error('client fuzz: the connection runtime has no routes any more: update lastSeq()');
  const routes = rt.routes as { lastSeq?: unknown } | undefined;
  if (routes === undefined) return undefined;
  if (typeof routes.lastSeq !== 'function') throw new Error('client fuzz: the router has no lastSeq() any more: update lastSeq()');
  return (routes as { lastSeq(channel: string): number | undefined }).lastSeq(channel);
}

/** One run: a connection on `protocolName` fed `frames` hostile frames, in batches of `batchSize`, the invariants checked after each batch. */
export async function fuzzRun(seed: number, protocolName: FuzzProtocol, frames: number, batchSize = 25): Promise<{ violations: Violation[]; framesSent: number; batches: number }> {
  const r = seededRandom(seed);
  const token = `tk${Array.from({ length: 78 }, () => pick(r, [...'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'])).join('')}`;
  const ids = ['m-1', 'm-2', 'm-3', 'op-1', 'op-2', 'q1', 'x', '', '__proto__'];
  const c: Ctx = { r, token, ids };
  const violations: Violation[] = [];
  let batch = 0;
  let recent: string[] = [];
  const violate = (invariant: string, detail: string) => {
    if (violations.some((v) => v.invariant === invariant)) return; // first of each kind per run
    violations.push({ seed, protocol: protocolName, batch, invariant, detail, frames: recent.slice(-batchSize) });
  };

  // errors thrown "later" by the library (rethrowLater, an unguarded listener)
  const rethrown: unknown[] = [];
  const queue = globalThis.queueMicrotask;
  globalThis.queueMicrotask = (cb) =>
    queue(() => {
      try {
        cb();
      } catch (error) {
        rethrown.push(error);
      }
    });

  try {
    const options =
      protocolName === 'graphql'
        ? { protocol: graphqlTransportWsProtocol() }
        : protocolName === 'plain'
          ? { protocol: plainProtocol({ heartbeat: { ping: 'PING', pong: 'PONG' } }) }
          : {};
    const h: Harness = harness(
      { auth: protocolName === 'plain' ? { token, mode: 'query' as const } : { token }, heartbeat: { intervalMs: 5_000, timeoutMs: 2_000 }, acks: { timeoutMs: 1_000, maxAttempts: 2 }, ...options },
      protocolName === 'json' ? {} : { autoAuth: false, autoPong: false },
      (o) => createConnection(o),
    );
    const conn: Connection = h.connection;
    if (protocolName === 'graphql') {
      h.server.onFrame = (s, f) => {
        if (f.json?.type === 'connection_init') s.push({ type: 'connection_ack' });
        if (f.json?.type === 'ping') s.push({ type: 'pong' });
      };
    } else if (protocolName === 'plain') {
      h.server.onFrame = (s, f) => {
        if (f.raw === 'PING') s.push('PONG');
      };
    }
    const errors: SocketchartError[] = [];
    conn.on('error', (e) => errors.push(e));
    const states: string[] = [];
    conn.on('state', (s) => {
      states.push(s.status);
      if (s.reason && leaks(s.reason, token)) violate('no token in a state reason', s.reason);
    });

    const delivered = new Map<string, unknown[]>();
    const listen = (ch: string) => conn.subscribe(ch, (data) => (delivered.get(ch) ?? delivered.set(ch, []).get(ch)!).push(data));
    const promises: Array<{ what: string; settled: boolean; reason?: unknown; timed: boolean }> = [];
    const track = (what: string, p: Promise<unknown>, timed: boolean) => {
      const entry = { what, settled: false, timed } as { what: string; settled: boolean; reason?: unknown; timed: boolean };
      promises.push(entry);
      p.then(
        () => (entry.settled = true),
        (e) => {
          entry.settled = true;
          entry.reason = e;
        },
      );
    };

    await h.connect();
    listen('chat:1');
    listen('room');
    // a server may refuse a channel (AUTHORIZATION_FAILED for its subscribe): the probes need it subscribed again
    conn.on('refused', ({ ch }) => {
      if (ch === 'room') listen('room');
    });
    let iterator: AsyncIterator<unknown> | undefined;
    let store: ReturnType<typeof createOptimisticStore<{ id: string; v: unknown }>> | undefined;
    if (protocolName === 'json') {
      iterator = conn.channel('chat:1', { bufferSize: 10_000, overflow: 'drop-oldest' });
      store = createOptimisticStore<{ id: string; v: unknown }>({ connection: conn, channel: 'docs:1', key: (d) => (d && typeof d === 'object' ? (d as { id?: string }).id : undefined) as string });
      store.on('error', (e) => errors.push(e));
      conn.presence.watch('room');
    }
    let opSeq = 0;
    const seqChecked = (receipt: { seq?: number }) => {
      if (receipt.seq !== undefined && !isSeq(receipt.seq)) violate('an ack reports a seq the wire carries, or none', String(receipt.seq));
    };
    const pending = () => {
      if (protocolName === 'json') {
        track('request', conn.request({ n: batch }, { channel: 'chat:1', id: `m-${(batch % 3) + 1}` }).then(seqChecked), true);
        track('presence.join', conn.presence.join('room', { b: batch }), true);
        track('presence.list', conn.presence.list('chat:1'), true);
        track('optimistic.update', store!.update('k', { id: 'k', v: batch }).then(seqChecked), true);
      } else if (protocolName === 'graphql') {
        opSeq++;
        try {
          track('execute', conn.execute({ query: '{ a }' }, { id: `op-${opSeq}` }), false);
        } catch {
          /* id still live */
        }
      }
    };
    let lastGood = 1_000_000;
    const pushAll = (list: Array<string | ArrayBuffer | Uint8Array>) => {
      for (const f of list) {
        recent.push(short(f));
        try {
          h.server.last!.push(f);
        } catch (error) {
          violate('nothing thrown out of the socket callback', describeError(error));
        }
      }
    };

    const types = protocolName === 'graphql' ? GQL_TYPES : SERVER_TYPES;
    let sent = 0;
    while (sent < frames) {
      batch++;
      recent = [];
      pending();
      await h.settle();
      const list = Array.from({ length: batchSize }, () => frame(c, types));
      for (const f of list) {
        pushAll([f]);
        if (chance(r, 0.3)) await h.settle();
      }
      sent += list.length;
      await h.settle();
      await h.settle();

      // invariants
      if (rethrown.length > 0) violate('nothing thrown out of the library later (uncaught)', rethrown.map(describeError).join(' | '));
      rethrown.length = 0;
      const snap = conn.actor.getSnapshot();
      if (snap.status === 'error') violate('actor never in error status', String(snap.error));
      for (const [k, v] of Object.entries(conn.metrics() as unknown as Record<string, unknown>)) {
        if (typeof v === 'number' && (Number.isNaN(v) || v < 0)) violate('metrics are numbers >= 0', `${k}=${v}`);
      }
      for (const e of [...errors, conn.lastError].filter(Boolean)) {
        if (!isSocketchartError(e) || !Object.values(ErrorCode).includes((e as SocketchartError).code)) violate('errors are SocketchartErrors', describeError(e));
        else if (leaks(describeError(e), token)) violate(`no token in an error (${(e as SocketchartError).message.slice(0, 16)}…)`, describeError(e).slice(0, 300));
      }
      errors.length = 0;
      if (conn.status !== 'connected') {
        violate('hostile frames never drop the connection', `${conn.status} (${states.join('>')}) ${describeError(conn.lastError)}`);
        await h.elapse(60_000);
        if ((conn.status as string) !== 'connected') break; // not back after a minute: the rest of the run would tell nothing
      }
      // a valid message still gets through
      if (protocolName === 'json') {
        lastGood++;
        const last = lastSeq(conn, 'room');
        const probes = [{ type: 'message', ch: 'room', data: { probe: lastGood } }];
        if (last === undefined || last < 2 ** 53 - 2) probes.push({ type: 'message', ch: 'room', seq: (last ?? 0) + 1, data: { probe: -lastGood } } as never);
        const before = delivered.get('room')?.length ?? 0;
        pushAll(probes.map((p) => JSON.stringify(p)));
        await h.settle();
        if ((delivered.get('room')?.length ?? 0) !== before + probes.length) violate('a valid message is still delivered', `room probes ${JSON.stringify(probes)} lastSeq=${last}`);
      } else if (protocolName === 'graphql') {
        const got: unknown[] = [];
        const id = `live-${batch}`;
        const stop = conn.operation({ query: 'subscription { s }' }, { next: (v) => got.push(v) }, { id });
        await h.settle();
        pushAll([JSON.stringify({ type: 'next', id, payload: { data: 1 } })]);
        await h.settle();
        if (got.length !== 1) violate('a valid next is still delivered', id);
        stop();
      } else {
        const before = (delivered.get('any') ?? []).length;
        const off = conn.on('message', (m) => (delivered.get('any') ?? delivered.set('any', []).get('any')!).push(m.data));
        pushAll(['hello']);
        await h.settle();
        off();
        if ((delivered.get('any') ?? []).length !== before + 1) violate('a valid message is still delivered', 'plain');
      }
      // time-bounded calls settle
      await h.elapse(5_000, 500);
      for (const p of promises) {
        if (!p.timed || p.settled) continue;
        const acks = acksInFlight(conn);
        // a message acknowledged may still wait: for a rate limit (the server's word, however long), the link, or its next attempt
        const scheduled = conn.throttled || conn.queued > 0 || acks.some((e) => e.waiting || (e.deadline > h.clock.now() && e.deadline < Infinity));
        if ((p.what === 'request' || p.what === 'optimistic.update') && scheduled) continue;
        violate('requests and presence calls settle within their timeout', `${JSON.stringify(acks)} now=${h.clock.now()} ${p.what} (queued ${conn.queued}, throttled ${conn.throttled}, store pending ${store?.pending()})`);
      }
    }
    for (const p of promises) if (p.reason !== undefined && leaks(describeError(p.reason), token)) violate('no token in a rejection', describeError(p.reason).slice(0, 300));
    conn.stop();
    await h.elapse(5_000, 500);
    for (const p of promises) if (!p.settled) violate('every promise settles after stop()', p.what);
    if (rethrown.length > 0) violate('nothing thrown out of the library later (uncaught)', rethrown.map(describeError).join(' | '));
    void iterator?.return?.();
    store?.dispose();
    conn.dispose();
    return { violations, framesSent: sent, batches: batch };
  } finally {
    globalThis.queueMicrotask = queue;
  }
}

export interface ClientFuzzFigures {
  violations: Violation[];
  framesSent: number;
  runs: number;
  batches: number;
}

/** `runs` runs per protocol of `frames` hostile frames each (100 at most for plain), run `i` seeded `seed * 1000 + i`. */
export async function fuzzClient({ seed, runs, frames, protocols = ['json', 'graphql', 'plain'] }: { seed: number; runs: number; frames: number; protocols?: readonly FuzzProtocol[] }): Promise<ClientFuzzFigures> {
  const figures: ClientFuzzFigures = { violations: [], framesSent: 0, runs: 0, batches: 0 };
  for (const protocol of protocols) {
    for (let i = 0; i < runs; i++) {
      const result = await fuzzRun(seed * 1000 + i, protocol, protocol === 'plain' ? Math.min(frames, 100) : frames);
      figures.violations.push(...result.violations);
      figures.framesSent += result.framesSent;
      figures.batches += result.batches;
      figures.runs++;
    }
  }
  return figures;
}

/** The first violation of each invariant per protocol, with the last frames before it. */
export function describeViolations(violations: readonly Violation[]): string[] {
  const seen = new Map<string, Violation>();
  for (const v of violations) if (!seen.has(`${v.protocol}:${v.invariant}`)) seen.set(`${v.protocol}:${v.invariant}`, v);
  return [...seen.values()].map((v) => [`[${v.protocol} seed ${v.seed} batch ${v.batch}] ${v.invariant}`, `  ${v.detail.slice(0, 400)}`, ...v.frames.slice(-8).map((f) => `    ${f.slice(0, 200)}`)].join('\n'));
}
