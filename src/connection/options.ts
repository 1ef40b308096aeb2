import type { AuthMode, ProtocolAdapter } from '../protocol/adapter.js';
import { jsonProtocol } from '../protocol/json-protocol.js';
import { InvalidOptionError } from '../protocol/errors.js';
import type { Clock } from '../environment/clock.js';
import { MAX_TIMER_MS, systemClock } from '../environment/clock.js';
import type { EnvironmentSource } from '../environment/environment.js';
import { noEnvironment } from '../environment/environment.js';
import { browserEnvironment } from '../environment/browser.js';
import type { WebSocketConstructor } from '../transport/websocket-like.js';
import { defaultWebSocket } from '../transport/websocket-like.js';
import type { OverflowPolicy } from '../queue/outbound-queue.js';
import type { DialGate } from '../policy/dial-budget.js';
import type { RateLimit, RateLimitOptions } from '../policy/rate-limiter.js';
import type { MessageStore } from '../storage/message-store.js';
import { shareResolved } from './shared-options.js';
import { redactUrl } from '../protocol/redact.js';
import { connectionDefaults as D } from './defaults.js';

import type { InspectionEvent, Observer } from 'xstate';
import type { TokenReason } from '../../machines/connection.types.js';

export type { TokenReason };

/** Returns the token to present; may be async. Called on every dial and before expiry. */
export type TokenProvider = (context: { reason: TokenReason }) => string | Promise<string>;

export interface AuthOptions {
  /** The token, or a function (possibly async) that returns a fresh one. */
  token: string | TokenProvider;
  /**
   * How the token reaches the server: the first frame after open, a `Sec-WebSocket-Protocol` entry,
   * or the URL query (legacy; redacted from every log, error and metric).
   * @default 'message'
   */
  mode?: AuthMode;
  /** Query parameter carrying the token in `query` mode. @default 'token' */
  queryParam?: string;
  /**
   * How long before `expiresAt` the token is refreshed in-band, without dropping the socket (a session
   * shorter than this, as the client's clock sees it, is refreshed halfway through). @default 30000
   */
  refreshLeadMs?: number;
}

export interface ReconnectOptions {
  /** First backoff delay, at least 1 ms. @default 1000 */
  baseMs?: number;
  /** Largest backoff delay. @default 30000 */
  capMs?: number;
  /** Growth factor between attempts. @default 2 */
  multiplier?: number;
  /** Random spread as a ratio of the delay (0 disables jitter). @default 0.5 */
  jitter?: number;
  /** A connection up this long counts as stable: attempts reset and the next drop retries at once. @default 5000 */
  minUptimeMs?: number;
  /** After a 1012 (server restart) the retry is spread uniformly over this window. @default 2000 */
  restartWindowMs?: number;
  /**
   * After a 1013 (try again later) or a 4029 without `retry_after`, wait at least this long. A wait the
   * server asked for is waited out even when the network or the page comes back in the meantime.
   * @default 10000
   */
  tryLaterMs?: number;
}

export interface CircuitOptions {
  /** Consecutive failed attempts that open the circuit. @default 5 */
  failureThreshold?: number;
  /** How long the circuit stays open before one probe. @default 30000 */
  recoveryMs?: number;
  /** Growth of the recovery time on every repeated trip. @default 2 */
  recoveryMultiplier?: number;
  /** Largest recovery time. @default 300000 */
  maxRecoveryMs?: number;
}

export interface HeartbeatOptions {
  /** Time from connecting, and from the end of each probe, to the next ping (inbound traffic does not put it off); between keepalive pings while the page is hidden. @default 30000 */
  intervalMs?: number;
  /** How long to wait for the pong before the socket is declared dead. @default 5000 */
  timeoutMs?: number;
}

export interface QueueOptions {
  /** Most messages held while the fast path is closed. @default 1000 */
  maxMessages?: number;
  /** Most bytes held while the fast path is closed. @default 1048576 */
  maxBytes?: number;
  /** What happens when the queue is full. @default 'evict-lowest' */
  overflow?: OverflowPolicy;
  /** Time-to-live of a queued message unless `send()` says otherwise (ms; `0` for none). @default 0 */
  defaultTtlMs?: number;
  /** `bufferedAmount` above which `send()` queues instead of writing. @default 1048576 */
  highWaterMark?: number;
}

/** A logger; every argument it receives has tokens redacted. */
export interface Logger {
  debug?(message: string, details?: Record<string, unknown>): void;
  info?(message: string, details?: Record<string, unknown>): void;
  warn?(message: string, details?: Record<string, unknown>): void;
  error?(message: string, details?: Record<string, unknown>): void;
}

export interface AckOptions {
  /** How long the server's ack may take after a write before the message is written again. @default 10000 */
  timeoutMs?: number;
  /** Writes per message (the first included) before its promise rejects with TIMEOUT. @default 3 */
  maxAttempts?: number;
}

export interface PersistenceOptions {
  /**
   * Where queued messages and unacknowledged `ack: true` messages are kept so that they survive a restart
   * of the app: `webStorageStore()` or `indexedDbStore()` in browsers, `fileStore()` in Node, `memoryStore()`
   * in tests. Give every connection its own store. Messages a previous run left are queued again when the
   * store has loaded, or when the connection next starts if it is closed by then (acknowledged ones with
   * their ids, so the server keeps them once), oldest first: those that do not fit in the queue, the newest,
   * fail with QUEUE_OVERFLOW; their outcome is reported by `restored` and `error` events. Nothing is written
   * until the store has loaded, for `connectTimeoutMs` at most (then the store is reported, and what it loads
   * later is queued behind what this run queued). `stop()` and `dispose()` settle every message (CLOSED) and
   * clear it from the store.
   */
  store: MessageStore;
}

export interface FailoverOptions {
  /** Consecutive failed dials on the current url before moving to the next one. @default 3 */
  after?: number;
  /** While on a backup url, dial the primary again once this long has passed since failing over. @default 60000 */
  primaryRetryMs?: number;
}

export interface ConnectionOptions {
  /**
   * The server address (`ws:` or `wss:`); several addresses (primary first) for failover; or a
   * function returning the address at each dial.
   */
  url: string | readonly string[] | (() => string);
  /** How the connection moves between several urls. @default { after: 3, primaryRetryMs: 60000 } */
  failover?: FailoverOptions;
  /** A name for logs, metrics and the inspector. @default the url's host and path */
  name?: string;
  /** WebSocket constructor: the browser's, `ws` or `mock-socket`. @default globalThis.WebSocket, or `ws` in Node */
  WebSocket?: WebSocketConstructor;
  /** Extra subprotocols to offer. @default [] */
  protocols?: string[];
  /** Wire protocol adapter. @default jsonProtocol */
  protocol?: ProtocolAdapter;
  /** Authentication; none when absent. @default undefined */
  auth?: AuthOptions;
  /** Heartbeat; `false` turns it off. @default { intervalMs: 30000, timeoutMs: 5000 } */
  heartbeat?: HeartbeatOptions | false;
  /** Reconnection backoff. @default see ReconnectOptions */
  reconnect?: ReconnectOptions;
  /** Circuit breaker; `false` turns it off. @default see CircuitOptions */
  circuit?: CircuitOptions | false;
  /** Outbound queue used while the fast path is closed. @default see QueueOptions */
  queue?: QueueOptions;
  /** Messages sent with `ack: true`. @default { timeoutMs: 10000, maxAttempts: 3 } */
  acks?: AckOptions;
  /** Client-side rate limits: messages wait in the queue (outbound `throttled`) instead of being refused. @default { channels: {}, followServer: true } */
  rateLimit?: RateLimitOptions;
  /** Keep queued and unacknowledged messages across restarts of the app. @default undefined (kept in memory only) */
  persistence?: PersistenceOptions;
  /** Longest wait for the token (from a token provider) and the socket to open; also for `persistence.store` to load. @default 10000 */
  connectTimeoutMs?: number;
  /** Longest wait for the server's answer to the auth frame. @default 10000 */
  authTimeoutMs?: number;
  /** Longest wait for the close handshake after `stop()`. @default 2000 */
  closeTimeoutMs?: number;
  /** Largest outbound message; bigger ones reject with MESSAGE_TOO_LARGE. @default 65536 */
  maxMessageBytes?: number;
  /** Largest inbound frame accepted; bigger ones are dropped with MESSAGE_TOO_LARGE. @default 1048576 */
  maxInboundBytes?: number;
  /** Network and page-lifecycle events; `false` ignores the environment. @default browser events in browsers, none in Node */
  environment?: EnvironmentSource | false;
  /** Close the socket while the page is hidden and reopen it when visible. @default false */
  closeWhenHidden?: boolean;
  /** Source of time; tests pass a SimulatedClock. @default the host's timers */
  clock?: Clock;
  /** Source of randomness for jitter. @default Math.random */
  random?: () => number;
  /** Receives lifecycle logs, tokens redacted. @default no logging */
  logger?: Logger;
  /**
   * XState inspection: an observer object or a function, as `createActor` takes it (e.g.
   * `createBrowserInspector().inspect` from `@statelyai/inspect`, or the offline inspector's). The
   * connection then runs in an actor system of its own. @default undefined
   */
  inspect?: InspectOption;
  /** Permission to dial, shared with other connections (a pool passes its dial budget); every dial waits in `queued` for it. @default none: dial freely */
  dialGate?: DialGate;
  /** Priority of this connection's dials at the gate (1 first). @default 1 */
  priority?: number;
}

export interface ResolvedOptions {
  /** The addresses in failover order (one for a single url). */
  urls: readonly string[] | undefined;
  url: string | (() => string);
  failover: Required<FailoverOptions>;
  name: string;
  WebSocket: WebSocketConstructor;
  protocols: string[];
  protocol: ProtocolAdapter;
  auth: Required<AuthOptions> | undefined;
  heartbeat: Required<HeartbeatOptions> | false;
  reconnect: Required<ReconnectOptions>;
  circuit: Required<CircuitOptions> | false;
  queue: Required<QueueOptions>;
  acks: Required<AckOptions>;
  rateLimit: { connection: RateLimit | undefined; channels: Readonly<Record<string, RateLimit>>; followServer: boolean; configured: boolean };
  store: MessageStore | undefined;
  connectTimeoutMs: number;
  authTimeoutMs: number;
  closeTimeoutMs: number;
  maxMessageBytes: number;
  maxInboundBytes: number;
  environment: EnvironmentSource;
  closeWhenHidden: boolean;
  clock: Clock;
  random: () => number;
  logger: Logger | undefined;
  inspect: InspectOption | undefined;
  dialGate: DialGate | undefined;
  priority: number;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** An object with these methods (an environment, a clock, a store…). */
const hasMethods = (value: unknown, ...methods: string[]): value is Record<string, unknown> =>
  isObject(value) && methods.every((method) => typeof value[method] === 'function');

const MAX_DELAY = MAX_TIMER_MS;
const ANY = Number.MAX_SAFE_INTEGER;

function num(path: string, value: unknown, fallback: number, min: number, max = ANY, integer = true): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new InvalidOptionError(path, `${integer ? 'an integer' : 'a number'} in [${min}, ${max === ANY ? '∞' : max}]`, value);
  }
  return value;
}

function section(path: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  // a string is not shown: it may be a token given as `auth`
  if (!isObject(value)) throw new InvalidOptionError(path, 'an object', value, typeof value === 'string' ? 'a string' : undefined);
  return value;
}

/** An option that may be absent, else of this `typeof`. */
function optional(path: string, value: unknown, type: 'function' | 'boolean', expected: string): void {
  if (value !== undefined && typeof value !== type) throw new InvalidOptionError(path, expected, value);
}

function checkKeys(path: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const hint = key === 'urls' && known.includes('url') ? ' (several urls go in `url`, as an array)' : '';
    throw new InvalidOptionError(path ? `${path}.${key}` : key, `one of ${known.join(', ')}${hint}`, 'an unknown option');
  }
}

/**
 * The range of a numeric option: `[min, max = MAX_DELAY, kind = 'integer']`. A `min` naming another option
 * of the same section means at least that one (whose value then also raises the default). `null`: an
 * option that is not a number (checked on its own).
 */
type Range = readonly [min: number | string, max?: number, kind?: 'ratio'] | null;

/** Every option of each section, in the order they are checked; their defaults are in `connectionDefaults`. */
const sections = {
  '': {
    url: null, failover: null, name: null, WebSocket: null, protocols: null, protocol: null, auth: null, heartbeat: null, reconnect: null,
    circuit: null, queue: null, acks: null, rateLimit: null, persistence: null, connectTimeoutMs: [1], authTimeoutMs: [1], closeTimeoutMs: [1],
    maxMessageBytes: [1, ANY], maxInboundBytes: [1, ANY], environment: null, closeWhenHidden: null, clock: null, random: null, logger: null,
    inspect: null, dialGate: null, priority: [0, 1_000_000, 'ratio'],
  } satisfies Record<keyof ConnectionOptions, Range>,
  failover: { after: [1, 1_000], primaryRetryMs: [0] } satisfies Record<keyof FailoverOptions, Range>,
  auth: { token: null, mode: null, queryParam: null, refreshLeadMs: [0] } satisfies Record<keyof AuthOptions, Range>,
  heartbeat: { intervalMs: [1], timeoutMs: [1] } satisfies Record<keyof HeartbeatOptions, Range>,
  reconnect: {
    baseMs: [1], capMs: ['baseMs'], multiplier: [1, 100, 'ratio'], jitter: [0, 1, 'ratio'], minUptimeMs: [0], restartWindowMs: [0], tryLaterMs: [0],
  } satisfies Record<keyof ReconnectOptions, Range>,
  circuit: {
    failureThreshold: [1, 1_000], recoveryMs: [1], recoveryMultiplier: [1, 100, 'ratio'], maxRecoveryMs: ['recoveryMs'],
  } satisfies Record<keyof CircuitOptions, Range>,
  queue: { maxMessages: [1, ANY], maxBytes: [1, ANY], overflow: null, defaultTtlMs: [0], highWaterMark: [1, ANY] } satisfies Record<keyof QueueOptions, Range>,
  acks: { timeoutMs: [1], maxAttempts: [1, 1_000] } satisfies Record<keyof AckOptions, Range>,
  persistence: { store: null } satisfies Record<keyof PersistenceOptions, Range>,
  rateLimit: { connection: null, channels: null, followServer: null } satisfies Record<keyof RateLimitOptions, Range>,
};

type Section = keyof typeof sections;

/**
 * Section `name` of `value` (the top level for `''`): an object with only its known options, and each of its
 * numbers in range or defaulted. Returns what was given, and the numbers.
 */
function resolveSection(name: Section, value: unknown): { given: Record<string, unknown>; numbers: Record<string, number> } {
  if (name === '' && !isObject(value)) throw new InvalidOptionError('options', 'an object', value);
  const given = section(name, value);
  const ranges: Readonly<Record<string, Range>> = sections[name];
  checkKeys(name, given, Object.keys(ranges));
  const defaults = (name ? D[name as keyof typeof D] : D) as Readonly<Record<string, number>>;
  const numbers: Record<string, number> = {};
  for (const [key, range] of Object.entries(ranges)) {
    if (range === null) continue;
    const [min, max = MAX_DELAY, kind] = range;
    const floor = typeof min === 'string' ? numbers[min]! : min;
    numbers[key] = num(name ? `${name}.${key}` : key, given[key], Math.max(defaults[key]!, floor), floor, max, kind !== 'ratio');
  }
  return { given, numbers };
}

/** The methods every `ProtocolAdapter` has. */
const adapterMethods = [
  'subprotocols',
  'authFrame',
  'awaitsAuthAnswer',
  'refreshFrame',
  'pingFrame',
  'pongFrame',
  'encode',
  'subscribeFrame',
  'unsubscribeFrame',
  'decode',
] as const satisfies ReadonlyArray<keyof ProtocolAdapter>;

/** Where inspection events go: an observer (`next`, `error`, `complete`) or a function. */
export type InspectOption = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

export const isInspectOption = (value: unknown): value is InspectOption =>
  typeof value === 'function' ||
  (isObject(value) && ['next', 'error', 'complete'].some((key) => typeof value[key] === 'function'));

const interned = new Map<string, object>();
const NO_PROTOCOLS: string[] = /* @__PURE__ */ Object.freeze([]) as unknown as string[];

/** Connections with equal settings share one frozen copy of them (a few hundred bytes each otherwise). */
function intern<T extends object>(kind: string, value: T): T {
  const key = kind + JSON.stringify(value);
  const known = interned.get(key);
  if (known) return known as T;
  if (interned.size < 512) interned.set(key, Object.freeze(value));
  return value;
}

/** The `environment` option: a source, `false` for none, or the browser's events when there are any. */
export function resolveEnvironment(value: unknown): EnvironmentSource {
  if (value === false) return noEnvironment;
  const env = value ?? browserEnvironment() ?? noEnvironment;
  if (!hasMethods(env, 'subscribe')) throw new InvalidOptionError('environment', 'an EnvironmentSource', env);
  return env as unknown as EnvironmentSource;
}

/** The `clock` option: a Clock, or the host's timers. */
export function resolveClock(value: unknown): Clock {
  const clock = value ?? systemClock;
  if (!hasMethods(clock, 'now', 'setTimeout', 'clearTimeout')) {
    throw new InvalidOptionError('clock', 'a Clock (now, setTimeout, clearTimeout)', value);
  }
  return clock as unknown as Clock;
}

/** Validates options at creation; throws InvalidOptionError naming the first bad option. */
export function resolveOptions(input: unknown): ResolvedOptions {
  const { given, numbers } = resolveSection('', input);
  const o = given as Partial<ConnectionOptions>;

  const isWsUrl = (value: unknown) => typeof value === 'string' && /^wss?:\/\//i.test(value);
  /** A url as an error may show it: its query's secrets removed. */
  const shown = (value: unknown) => (typeof value === 'string' ? JSON.stringify(redactUrl(value, isObject(o.auth) && typeof o.auth.queryParam === 'string' ? o.auth.queryParam : undefined)) : undefined);
  let urls: readonly string[] | undefined;
  if (Array.isArray(o.url)) {
    if (o.url.length === 0) throw new InvalidOptionError('url', 'at least one ws:// or wss:// URL', o.url);
    urls = Object.freeze([...(o.url as string[])]);
    urls.forEach((url, index) => {
      if (!isWsUrl(url)) throw new InvalidOptionError(`url[${index}]`, 'a ws:// or wss:// URL', url, shown(url));
    });
  } else if (typeof o.url === 'string') {
    if (!isWsUrl(o.url)) throw new InvalidOptionError('url', 'a ws:// or wss:// URL', o.url, shown(o.url));
  } else if (typeof o.url !== 'function') {
    throw new InvalidOptionError('url', 'a ws:// or wss:// URL, an array of them, or a function returning one', o.url);
  }
  const failover = intern('failover', resolveSection('failover', o.failover).numbers as Required<FailoverOptions>);

  const WebSocketCtor = o.WebSocket ?? defaultWebSocket();
  if (typeof WebSocketCtor !== 'function') {
    throw new InvalidOptionError('WebSocket', 'a WebSocket constructor (none is global here: pass `ws` or use the Node entry)', o.WebSocket);
  }
  if (o.protocols !== undefined && (!Array.isArray(o.protocols) || o.protocols.some((p) => typeof p !== 'string' || p === ''))) {
    throw new InvalidOptionError('protocols', 'an array of non-empty strings', o.protocols);
  }
  const protocol = o.protocol ?? jsonProtocol;
  if (!isObject(protocol)) throw new InvalidOptionError('protocol', 'a ProtocolAdapter', o.protocol);
  for (const method of adapterMethods) {
    if (typeof protocol[method] !== 'function') throw new InvalidOptionError(`protocol.${method}`, 'a function (see ProtocolAdapter)', protocol[method]);
  }
  for (const method of ['closeRule', 'normalizeCloseCode', 'presenceFrame', 'typingFrame'] as const) optional(`protocol.${method}`, protocol[method], 'function', 'a function, or nothing');
  for (const flag of ['acknowledges', 'startsOperations'] as const) optional(`protocol.${flag}`, protocol[flag], 'boolean', 'a boolean, or nothing');
  const operations = protocol.operations;
  if (operations !== undefined && !hasMethods(operations, 'start', 'stop')) {
    throw new InvalidOptionError('protocol.operations', 'an OperationCodec (start, stop), or nothing', operations);
  }

  let auth: ResolvedOptions['auth'];
  if (o.auth !== undefined) {
    const { given: a, numbers } = resolveSection('auth', o.auth);
    if (!(typeof a.token === 'string' && a.token !== '') && typeof a.token !== 'function') {
      throw new InvalidOptionError('auth.token', 'a non-empty string or a token provider function', a.token === undefined ? undefined : 'an invalid token');
    }
    const mode = a.mode ?? D.auth.mode;
    if (mode !== 'message' && mode !== 'subprotocol' && mode !== 'query') {
      throw new InvalidOptionError('auth.mode', "'message', 'subprotocol' or 'query'", mode);
    }
    const queryParam = a.queryParam ?? D.auth.queryParam;
    if (typeof queryParam !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(queryParam)) {
      throw new InvalidOptionError('auth.queryParam', 'a URL-safe parameter name', queryParam);
    }
    auth = { token: a.token as string | TokenProvider, mode, queryParam, refreshLeadMs: numbers.refreshLeadMs! };
  }

  const heartbeat = o.heartbeat === false ? false : intern('heartbeat', resolveSection('heartbeat', o.heartbeat).numbers as Required<HeartbeatOptions>);
  const reconnect = intern('reconnect', resolveSection('reconnect', o.reconnect).numbers as Required<ReconnectOptions>);
  const circuit = o.circuit === false ? false : intern('circuit', resolveSection('circuit', o.circuit).numbers as Required<CircuitOptions>);

  const q = resolveSection('queue', o.queue);
  const overflow = q.given.overflow ?? D.queue.overflow;
  if (overflow !== 'reject' && overflow !== 'evict-lowest') throw new InvalidOptionError('queue.overflow', "'reject' or 'evict-lowest'", overflow);
  const queue = intern('queue', { ...q.numbers, overflow } as Required<QueueOptions>);
  const acks = intern('acks', resolveSection('acks', o.acks).numbers as Required<AckOptions>);

  const rateLimit = resolveRateLimit(o.rateLimit);
  let store: MessageStore | undefined;
  if (o.persistence !== undefined) {
    const candidate = resolveSection('persistence', o.persistence).given.store as Partial<MessageStore> | undefined;
    if (!hasMethods(candidate, 'load', 'put', 'delete')) {
      throw new InvalidOptionError('persistence.store', 'a MessageStore (load, put, delete)', candidate);
    }
    store = candidate as MessageStore;
  }
  const environment = resolveEnvironment(o.environment);
  const clock = resolveClock(o.clock);
  optional('random', o.random, 'function', 'a function returning [0, 1)');
  if (o.logger !== undefined && !isObject(o.logger)) throw new InvalidOptionError('logger', 'a logger object', o.logger);
  if (o.inspect !== undefined && !isInspectOption(o.inspect)) throw new InvalidOptionError('inspect', 'an inspection observer or function', o.inspect);
  optional('closeWhenHidden', o.closeWhenHidden, 'boolean', 'a boolean');
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '')) throw new InvalidOptionError('name', 'a non-empty string', o.name);
  if (o.dialGate !== undefined && !hasMethods(o.dialGate, 'request')) {
    throw new InvalidOptionError('dialGate', 'a DialGate (request(priority, grant))', o.dialGate);
  }

  const single = urls ? urls[0]! : (o.url as string | (() => string));
  return shareResolved({
    urls,
    url: single,
    failover,
    name: o.name ?? (typeof single === 'string' ? nameFromUrl(single) : 'connection'),
    WebSocket: WebSocketCtor,
    protocols: o.protocols === undefined || o.protocols.length === 0 ? NO_PROTOCOLS : [...o.protocols],
    protocol,
    auth,
    heartbeat,
    reconnect,
    circuit,
    queue,
    acks,
    rateLimit,
    store,
    connectTimeoutMs: numbers.connectTimeoutMs!,
    authTimeoutMs: numbers.authTimeoutMs!,
    closeTimeoutMs: numbers.closeTimeoutMs!,
    maxMessageBytes: numbers.maxMessageBytes!,
    maxInboundBytes: numbers.maxInboundBytes!,
    environment,
    closeWhenHidden: o.closeWhenHidden ?? D.closeWhenHidden,
    clock,
    random: o.random ?? Math.random,
    logger: o.logger,
    inspect: o.inspect,
    dialGate: o.dialGate,
    priority: numbers.priority!,
  });
}

function resolveLimit(path: string, value: unknown): RateLimit {
  const l = section(path, value);
  checkKeys(path, l, ['perMinute', 'burst']);
  if (l.perMinute === undefined) throw new InvalidOptionError(`${path}.perMinute`, 'a number > 0', undefined);
  if (l.burst === undefined) throw new InvalidOptionError(`${path}.burst`, 'an integer >= 1', undefined);
  const perMinute = num(`${path}.perMinute`, l.perMinute, 0, Number.MIN_VALUE, 1e9, false);
  return { perMinute, burst: num(`${path}.burst`, l.burst, 1, 1, 1e9) };
}

function resolveRateLimit(value: unknown): ResolvedOptions['rateLimit'] {
  const r = resolveSection('rateLimit', value).given;
  const connection = r.connection === undefined ? undefined : resolveLimit('rateLimit.connection', r.connection);
  const c = section('rateLimit.channels', r.channels);
  const channels: Record<string, RateLimit> = Object.fromEntries(
    Object.entries(c).map(([type, limit]) => {
      if (type === '' || type.includes(':')) throw new InvalidOptionError(`rateLimit.channels.${type}`, 'a channel type (a name without `:`)', type);
      return [type, resolveLimit(`rateLimit.channels.${type}`, limit)];
    }),
  );
  optional('rateLimit.followServer', r.followServer, 'boolean', 'a boolean');
  const configured = connection !== undefined || Object.keys(channels).length > 0;
  return intern('rateLimit', {
    connection,
    channels: configured ? channels : D.rateLimit.channels,
    followServer: (r.followServer as boolean | undefined) ?? D.rateLimit.followServer,
    configured,
  });
}

function nameFromUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return 'connection';
  }
}
