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

/**
 * The options endpoint `endpoint` runs with: the pool's `defaults`, its own (they win), and what the pool
 * sets for all. Its close handshake is bounded by the pool's `stopTimeoutMs`.
 */
export function endpointConnectionOptions(endpoint: EndpointOptions, pool: ResolvedPoolOptions, shared: PoolShared): ConnectionOptions {
  const { name, priority, group: _group, ...own } = endpoint;
  const given = own.closeTimeoutMs ?? pool.defaults.closeTimeoutMs;
  const closeTimeoutMs = given === undefined || typeof given === 'number' ? Math.min(given ?? connectionDefaults.closeTimeoutMs, pool.stopTimeoutMs) : given;
  return {
    ...pool.defaults,
    ...own,
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

/** An error about the options of endpoint `index`, named where the option was given: the endpoint, or the pool's `defaults`. */
export function endpointOptionError(error: InvalidOptionError, endpoint: EndpointOptions, pool: ResolvedPoolOptions, index: number): InvalidOptionError {
  const key = error.option.split(/[.[]/)[0]!;
  return !Object.hasOwn(endpoint, key) && Object.hasOwn(pool.defaults, key) ? error.within('defaults') : error.within(`endpoints[${index}]`);
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
