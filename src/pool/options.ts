import type { AuthOptions, ConnectionOptions } from '../connection/options.js';
import { isInspectOption, resolveClock, resolveEnvironment, type InspectOption } from '../connection/options.js';
import type { Clock } from '../environment/clock.js';
import type { EnvironmentSource } from '../environment/environment.js';
import { InvalidOptionError } from '../protocol/errors.js';
import { redactUrl } from '../protocol/redact.js';
import { poolDefaults as P } from '../connection/defaults.js';
import { dialBudgetSettings, type DialBudgetOptions } from '../policy/dial-budget.js';
import type { BalancingStrategy, HealthPolicy } from './balancer.js';

/** Options a pool owns for all its connections; endpoints cannot set them. */
type PoolOwned = 'dialGate' | 'priority' | 'environment' | 'clock' | 'random' | 'inspect';

/** A connection's options as a pool takes them: `auth` may be given in part, the rest inherited from `defaults` (or by `defaults` from each endpoint). */
type PooledConnectionOptions = Omit<ConnectionOptions, PoolOwned | 'auth'> & { auth?: Partial<AuthOptions> };

/** One endpoint of a pool: a connection's options plus its place in the pool. */
export interface EndpointOptions extends PooledConnectionOptions {
  /** Unique name: `pool.connection(name)`, `send(name, …)`, `subscribe(name, …)`. */
  name: string;
  /** Start order and dial-permit priority (1 first). @default 2 */
  priority?: number;
  /** Group for load-balanced `send(group, …)`. @default none */
  group?: string;
}

export interface PoolOptions {
  /** The connections of the pool (taken as they are at creation: changing the list or an endpoint later changes nothing). */
  endpoints: EndpointOptions[];
  /**
   * Options every endpoint inherits. An endpoint's own win, option by option within a section (`reconnect`,
   * `auth`, `heartbeat`…: `reconnect: { baseMs: 200 }` keeps the `capMs` given here); a section that is not an
   * object (`heartbeat: false`) replaces the whole section. @default {}
   */
  defaults?: Partial<PooledConnectionOptions>;
  /** Delay between starting two connections, in priority order (0 starts all at once). @default 100 */
  staggerMs?: number;
  /** Most endpoints the pool accepts. @default 10000 */
  maxConnections?: number;
  /** Pool-wide dial budget: every dial (first or re-) waits for a permit; `false` lets connections dial freely. @default { ratePerSec: 200, burst: 20 } */
  dialBudget?: DialBudgetOptions | false;
  /** How `send(group, …)` picks a member. @default 'round-robin' */
  balancing?: BalancingStrategy;
  /** When a group member counts as healthy. @default { maxRttMs: 1000 } */
  health?: Partial<HealthPolicy>;
  /** Longest wait for every connection to close after `stop()`. @default 5000 */
  stopTimeoutMs?: number;
  /** Network and page-lifecycle events, listened to once for the whole pool. @default browser events in browsers, none in Node */
  environment?: EnvironmentSource | false;
  /** Source of time. @default the host's timers */
  clock?: Clock;
  /** Source of randomness (jitter, random balancing). @default Math.random */
  random?: () => number;
  /** XState inspection for the pool and every connection: an observer object or a function. @default undefined */
  inspect?: InspectOption;
}

export interface ResolvedPoolOptions {
  endpoints: EndpointOptions[];
  defaults: Partial<PooledConnectionOptions>;
  staggerMs: number;
  maxConnections: number;
  dialBudget: DialBudgetOptions | false;
  balancing: BalancingStrategy;
  health: HealthPolicy;
  stopTimeoutMs: number;
  environment: EnvironmentSource;
  clock: Clock;
  random: () => number;
  inspect: InspectOption | undefined;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
/** A string given where an object goes, as an error shows it: a url without the secrets of its query. */
const shown = (value: unknown) => (typeof value === 'string' ? JSON.stringify(redactUrl(value)) : undefined);

const poolKeys = ['endpoints', 'defaults', 'staggerMs', 'maxConnections', 'dialBudget', 'balancing', 'health', 'stopTimeoutMs', 'environment', 'clock', 'random', 'inspect'];
const ownedKeys: readonly string[] = ['dialGate', 'priority', 'environment', 'clock', 'random', 'inspect'];

function count(path: string, value: unknown, fallback: number, min: number, max = 2 ** 31 - 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(path, `an integer in [${min}, ${max}]`, value);
  }
  return value;
}

/** Validates pool options at creation; connection options are validated when each connection is created. */
export function resolvePoolOptions(input: unknown): ResolvedPoolOptions {
  if (!isObject(input)) throw new InvalidOptionError('options', 'an object', input, shown(input));
  for (const key of Object.keys(input)) if (!poolKeys.includes(key)) throw new InvalidOptionError(key, `one of ${poolKeys.join(', ')}`, 'an unknown option');
  const o = input as Partial<PoolOptions>;
  const maxConnections = count('maxConnections', o.maxConnections, P.maxConnections, 1);
  if (!Array.isArray(o.endpoints) || o.endpoints.length === 0) throw new InvalidOptionError('endpoints', 'a non-empty array of endpoints', o.endpoints, shown(o.endpoints));
  if (o.endpoints.length > maxConnections) throw new InvalidOptionError('endpoints', `at most maxConnections (${maxConnections}) endpoints`, `${o.endpoints.length} endpoints`);
  const names = new Set<string>();
  o.endpoints.forEach((endpoint, index) => {
    if (!isObject(endpoint)) throw new InvalidOptionError(`endpoints[${index}]`, 'an endpoint object', endpoint, shown(endpoint));
    const name = endpoint.name;
    if (typeof name !== 'string' || name === '') throw new InvalidOptionError(`endpoints[${index}].name`, 'a non-empty string', name);
    if (names.has(name)) throw new InvalidOptionError(`endpoints[${index}].name`, 'a name no other endpoint has', name);
    names.add(name);
    for (const key of ['environment', 'clock', 'random', 'inspect', 'dialGate']) {
      if (key in endpoint) throw new InvalidOptionError(`endpoints[${index}].${key}`, 'nothing: the pool sets it for all its connections', 'a value');
    }
    if (endpoint.priority !== undefined && (typeof endpoint.priority !== 'number' || !(endpoint.priority >= 0))) {
      throw new InvalidOptionError(`endpoints[${index}].priority`, 'a number ≥ 0 (1 first)', endpoint.priority);
    }
    if (endpoint.group !== undefined && (typeof endpoint.group !== 'string' || endpoint.group === '')) {
      throw new InvalidOptionError(`endpoints[${index}].group`, 'a non-empty string', endpoint.group);
    }
  });
  for (const endpoint of o.endpoints) {
    if (endpoint.group !== undefined && names.has(endpoint.group)) {
      throw new InvalidOptionError('endpoints', 'group names distinct from endpoint names', endpoint.group);
    }
  }
  if (o.defaults !== undefined && !isObject(o.defaults)) throw new InvalidOptionError('defaults', 'an object of connection options', o.defaults);
  for (const key of Object.keys(o.defaults ?? {})) {
    if (ownedKeys.includes(key)) throw new InvalidOptionError(`defaults.${key}`, 'nothing: the pool sets it for all its connections', 'a value');
    if (key === 'persistence') throw new InvalidOptionError('defaults.persistence', 'nothing: each endpoint keeps its messages in a store of its own (endpoints[i].persistence)', 'a store shared by every endpoint');
  }
  const stores = new Set<unknown>();
  o.endpoints.forEach((endpoint, index) => {
    const store = (endpoint as { persistence?: { store?: unknown } }).persistence?.store;
    if (store === undefined) return;
    if (stores.has(store)) throw new InvalidOptionError(`endpoints[${index}].persistence.store`, 'a store of its own', 'the store of another endpoint');
    stores.add(store);
  });
  let dialBudget: DialBudgetOptions | false = { ...P.dialBudget };
  if (o.dialBudget === false) dialBudget = false;
  else if (o.dialBudget !== undefined) {
    if (!isObject(o.dialBudget)) throw new InvalidOptionError('dialBudget', 'an object or false', o.dialBudget);
    for (const key of Object.keys(o.dialBudget)) {
      if (key !== 'ratePerSec' && key !== 'burst') throw new InvalidOptionError(`dialBudget.${key}`, 'one of ratePerSec, burst', 'an unknown option');
    }
    dialBudget = dialBudgetSettings(o.dialBudget);
  }
  const balancing = o.balancing ?? P.balancing;
  if (!['round-robin', 'least-pending', 'random'].includes(balancing)) {
    throw new InvalidOptionError('balancing', "'round-robin', 'least-pending' or 'random'", balancing);
  }
  if (o.health !== undefined && !isObject(o.health)) throw new InvalidOptionError('health', 'an object', o.health);
  for (const key of Object.keys(o.health ?? {})) {
    if (key !== 'maxRttMs') throw new InvalidOptionError(`health.${key}`, 'maxRttMs', 'an unknown option');
  }
  const health = { maxRttMs: count('health.maxRttMs', o.health?.maxRttMs, P.health.maxRttMs, 1) };
  const environment = resolveEnvironment(o.environment);
  const clock = resolveClock(o.clock);
  if (o.random !== undefined && typeof o.random !== 'function') throw new InvalidOptionError('random', 'a function returning [0, 1)', o.random);
  if (o.inspect !== undefined && !isInspectOption(o.inspect)) throw new InvalidOptionError('inspect', 'an inspection observer or function', o.inspect);
  return {
    // Copies: the connections are made at first use, from what was checked here.
    endpoints: o.endpoints.map((endpoint) => ({ ...endpoint })),
    defaults: { ...o.defaults },
    staggerMs: count('staggerMs', o.staggerMs, P.staggerMs, 0),
    maxConnections,
    dialBudget,
    balancing,
    health,
    stopTimeoutMs: count('stopTimeoutMs', o.stopTimeoutMs, P.stopTimeoutMs, 1),
    environment,
    clock,
    random: o.random ?? Math.random,
    inspect: o.inspect,
  };
}
