import type { ConnectionOptions } from '../connection/options.js';
import { resolveOptions } from '../connection/options.js';
import { connectionDefaults, poolDefaults } from '../connection/defaults.js';
import type { EnvironmentSource } from '../environment/environment.js';
import type { DialGate } from '../policy/dial-budget.js';
import { InvalidOptionError } from '../protocol/errors.js';
import type { EndpointOptions, ResolvedPoolOptions } from './options.js';

/** What the pool sets for all its connections. */
export interface PoolShared {
  environment: EnvironmentSource | false;
  dialGate?: DialGate;
}

/** Sections of options an endpoint inherits option by option from `defaults` (when both are plain objects: `heartbeat: false` replaces). */
const sections = ['failover', 'auth', 'heartbeat', 'reconnect', 'circuit', 'queue', 'acks', 'rateLimit'];

/** An object literal: not an array, a class instance or a function, whose own options could be merged into. */
const isPlain = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null);

/** `options` without those given as `undefined` (not given: what they would replace stands). */
const defined = <T extends object>(options: T): T => Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as T;

/**
 * The options endpoint `endpoint` runs with: the pool's `defaults`, its own (they win; within a section such
 * as `reconnect` or `auth`, option by option), and what the pool sets for all. Its close handshake is
 * bounded by the pool's `stopTimeoutMs`.
 */
export function endpointConnectionOptions(endpoint: EndpointOptions, pool: ResolvedPoolOptions, shared: PoolShared): ConnectionOptions {
  const { name, priority, group: _group, ...rest } = endpoint;
  const own = defined(rest);
  const given = own.closeTimeoutMs ?? pool.defaults.closeTimeoutMs;
  const closeTimeoutMs = given === undefined || typeof given === 'number' ? Math.min(given ?? connectionDefaults.closeTimeoutMs, pool.stopTimeoutMs) : given;
  const merged: Record<string, unknown> = {};
  for (const key of sections) {
    const inherited = (pool.defaults as Record<string, unknown>)[key];
    const mine = (own as Record<string, unknown>)[key];
    if (isPlain(inherited) && isPlain(mine)) merged[key] = { ...inherited, ...defined(mine) };
  }
  return {
    ...pool.defaults,
    ...own,
    ...merged,
    url: own.url,
    closeTimeoutMs,
    name,
    priority: priority ?? poolDefaults.priority,
    environment: shared.environment,
    clock: pool.clock,
    random: pool.random,
    ...(shared.dialGate ? { dialGate: shared.dialGate } : {}),
  } as ConnectionOptions;
}

/** An error about the options of endpoint `index`, named where the option was given: the endpoint, or the pool's `defaults` (never for `url`: an endpoint dials its own). */
export function endpointOptionError(error: InvalidOptionError, endpoint: EndpointOptions, pool: ResolvedPoolOptions, index: number): InvalidOptionError {
  const [key, option] = error.option.split(/[.[]/) as [string, string | undefined];
  /** `options` set it (for an option of a section, the section itself when it replaces the other's). */
  const sets = (options: object) => {
    const section = (options as Record<string, unknown>)[key];
    return Object.hasOwn(options, key) && !(option !== undefined && sections.includes(key) && isPlain(section) && !Object.hasOwn(section, option));
  };
  return key !== 'url' && !sets(endpoint) && sets(pool.defaults) ? error.within('defaults') : error.within(`endpoints[${index}]`);
}

/** Every endpoint's connection options, checked now (an app's machine that runs `poolLogic()` hears of a bad one at once). */
export function checkEndpoints(pool: ResolvedPoolOptions): void {
  pool.endpoints.forEach((endpoint, index) => {
    try {
      resolveOptions(endpointConnectionOptions(endpoint, pool, { environment: false }));
    } catch (error) {
      throw error instanceof InvalidOptionError ? endpointOptionError(error, endpoint, pool, index) : error;
    }
  });
}
