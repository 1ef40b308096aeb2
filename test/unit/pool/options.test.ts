import { describe, expect, it } from 'vitest';
import { poolRuntimeOf } from '../../../src/pool/implementations.js';
import { InvalidOptionError, createPool, memoryStore, poolLogic, type PoolOptions } from '../../../src/index.js';
import { SimulatedClock, createManualEnvironment, createMockServer } from '../../../src/testing/index.js';

/** createPool(options) validates every option at creation; an error names the option it is about. */

const { WebSocket } = createMockServer();
const ok = (name: string) => ({ name, url: `ws://mock.test/${name}` });
const base: PoolOptions = { endpoints: [ok('a'), ok('b')], defaults: { WebSocket } };

/** The InvalidOptionError createPool throws for these options (fails the test when it does not throw one). */
function rejected(options: unknown): InvalidOptionError {
  try {
    createPool(options as PoolOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error(`createPool accepted ${JSON.stringify(options)}`);
}

const endpoints = (...list: unknown[]) => ({ ...base, endpoints: list });
const sharedStore = memoryStore();

describe('createPool options validation', () => {
  it('an endpoint given `urls` is told that several urls go in `url`, as an array', () => {
    const error = rejected(endpoints({ name: 'a', urls: ['ws://mock.test/a', 'ws://mock.test/b'] }));
    expect(error.option).toBe('endpoints[0].urls');
    expect(error.message).toContain('several urls go in `url`, as an array');
  });

  it.each<[string, unknown, string]>([
    ['options that are not an object', 'ws://mock.test', 'options'],
    ['an unknown option', { ...base, stagger: 100 }, 'stagger'],
    ['no endpoints', { defaults: { WebSocket } }, 'endpoints'],
    ['an empty endpoint list', { ...base, endpoints: [] }, 'endpoints'],
    ['endpoints that are not a list', { ...base, endpoints: ok('a') }, 'endpoints'],
    ['an endpoint that is not an object', endpoints(ok('a'), 'ws://mock.test/b'), 'endpoints[1]'],
    ['an endpoint without a name', endpoints(ok('a'), { url: 'ws://mock.test/b' }), 'endpoints[1].name'],
    ['an endpoint with an empty name', endpoints({ name: '', url: 'ws://mock.test/a' }), 'endpoints[0].name'],
    ['two endpoints with one name', endpoints(ok('a'), ok('b'), ok('a')), 'endpoints[2].name'],
    ['an endpoint without a url', endpoints(ok('a'), { name: 'b' }), 'endpoints[1].url'],
    ['an endpoint with an http url', endpoints(ok('a'), { name: 'b', url: 'http://mock.test/b' }), 'endpoints[1].url'],
    ['a bad url in an endpoint\'s failover list', endpoints({ name: 'a', url: ['ws://mock.test/a', 'ftp://b'] }), 'endpoints[0].url[1]'],
    ['a bad connection option in an endpoint', endpoints(ok('a'), { ...ok('b'), heartbeat: { intervalMs: -1 } }), 'endpoints[1].heartbeat.intervalMs'],
    ['an unknown connection option in an endpoint', endpoints({ ...ok('a'), reconect: {} }), 'endpoints[0].reconect'],
    ['a negative priority', endpoints({ ...ok('a'), priority: -1 }), 'endpoints[0].priority'],
    ['a priority that is not a number', endpoints({ ...ok('a'), priority: 'high' }), 'endpoints[0].priority'],
    ['a NaN priority', endpoints({ ...ok('a'), priority: Number.NaN }), 'endpoints[0].priority'],
    ['an empty group name', endpoints({ ...ok('a'), group: '' }), 'endpoints[0].group'],
    ['a group name that is not a string', endpoints({ ...ok('a'), group: 7 }), 'endpoints[0].group'],
    ['a group named like an endpoint', endpoints(ok('a'), { ...ok('b'), group: 'a' }), 'endpoints'],
    ['an endpoint setting the pool-owned environment', endpoints({ ...ok('a'), environment: createManualEnvironment() }), 'endpoints[0].environment'],
    ['an endpoint setting the pool-owned clock', endpoints(ok('a'), { ...ok('b'), clock: new SimulatedClock() }), 'endpoints[1].clock'],
    ['an endpoint setting the pool-owned random', endpoints({ ...ok('a'), random: Math.random }), 'endpoints[0].random'],
    ['an endpoint setting the pool-owned inspect', endpoints({ ...ok('a'), inspect: () => {} }), 'endpoints[0].inspect'],
    ['an endpoint setting the pool-owned dialGate', endpoints({ ...ok('a'), dialGate: { request: () => () => {} } }), 'endpoints[0].dialGate'],
    ['defaults that are not an object', { ...base, defaults: 'ws' }, 'defaults'],
    ['defaults setting the pool-owned priority', { ...base, defaults: { WebSocket, priority: 1 } }, 'defaults.priority'],
    ['defaults setting the pool-owned clock', { ...base, defaults: { WebSocket, clock: new SimulatedClock() } }, 'defaults.clock'],
    ['defaults setting the pool-owned environment', { ...base, defaults: { WebSocket, environment: false } }, 'defaults.environment'],
    ['defaults setting the pool-owned dialGate', { ...base, defaults: { WebSocket, dialGate: { request: () => () => {} } } }, 'defaults.dialGate'],
    ['defaults setting the pool-owned random', { ...base, defaults: { WebSocket, random: Math.random } }, 'defaults.random'],
    ['defaults setting the pool-owned inspect', { ...base, defaults: { WebSocket, inspect: () => {} } }, 'defaults.inspect'],
    ['a persistence store in defaults (every connection would restore the same messages)', { ...base, defaults: { WebSocket, persistence: { store: memoryStore() } } }, 'defaults.persistence'],
    ['one persistence store for two endpoints', endpoints({ ...ok('a'), persistence: { store: sharedStore } }, { ...ok('b'), persistence: { store: sharedStore } }), 'endpoints[1].persistence.store'],
    ['a bad connection option in defaults', { ...base, defaults: { WebSocket, connectTimeoutMs: 0 } }, 'defaults.connectTimeoutMs'],
    ['a negative staggerMs', { ...base, staggerMs: -1 }, 'staggerMs'],
    ['a fractional staggerMs', { ...base, staggerMs: 12.5 }, 'staggerMs'],
    ['a staggerMs that is not a number', { ...base, staggerMs: '100' }, 'staggerMs'],
    ['a staggerMs beyond what a timer can wait', { ...base, staggerMs: 2 ** 31 }, 'staggerMs'],
    ['maxConnections 0', { ...base, maxConnections: 0 }, 'maxConnections'],
    ['a fractional maxConnections', { ...base, maxConnections: 1.5 }, 'maxConnections'],
    ['more endpoints than maxConnections', { ...base, maxConnections: 1 }, 'endpoints'],
    ['a dialBudget that is neither an object nor false', { ...base, dialBudget: true }, 'dialBudget'],
    ['a dialBudget rate of 0', { ...base, dialBudget: { ratePerSec: 0 } }, 'dialBudget.ratePerSec'],
    ['an infinite dialBudget rate', { ...base, dialBudget: { ratePerSec: Number.POSITIVE_INFINITY } }, 'dialBudget.ratePerSec'],
    ['a dialBudget burst of 0', { ...base, dialBudget: { burst: 0 } }, 'dialBudget.burst'],
    ['a fractional dialBudget burst', { ...base, dialBudget: { burst: 2.5 } }, 'dialBudget.burst'],
    ['a null dialBudget rate (not the default)', { ...base, dialBudget: { ratePerSec: null } }, 'dialBudget.ratePerSec'],
    ['a null dialBudget burst (not the default)', { ...base, dialBudget: { burst: null } }, 'dialBudget.burst'],
    ['an unknown balancing strategy', { ...base, balancing: 'fastest' }, 'balancing'],
    ['health that is not an object', { ...base, health: 500 }, 'health'],
    ['a health.maxRttMs of 0', { ...base, health: { maxRttMs: 0 } }, 'health.maxRttMs'],
    ['a fractional health.maxRttMs', { ...base, health: { maxRttMs: 0.5 } }, 'health.maxRttMs'],
    ['a stopTimeoutMs of 0', { ...base, stopTimeoutMs: 0 }, 'stopTimeoutMs'],
    ['a stopTimeoutMs that is not a number', { ...base, stopTimeoutMs: '5s' }, 'stopTimeoutMs'],
    ['an environment without subscribe()', { ...base, environment: { isOnline: () => true } }, 'environment'],
    ['a clock without setTimeout()', { ...base, clock: { now: () => 0 } }, 'clock'],
    ['a random that is not a function', { ...base, random: 0.5 }, 'random'],
    ['an inspect that is not a function', { ...base, inspect: 'console' }, 'inspect'],
  ])('rejects %s, naming `%s`', (_what, options, option) => {
    const error = rejected(options);
    expect(error.option).toBe(option);
    expect(error.message).toContain(`\`${option}\``);
  });

  it('a url given where the options or an endpoint go is refused without the token its query carries', () => {
    const url = 'ws://mock.test/?token=s3cr3t-t0k3n';
    for (const options of [url, { ...base, endpoints: url }, endpoints(ok('a'), url)]) expect(rejected(options).message).not.toContain('s3cr3t');
  });

  it('names a bad endpoint by its place in the list, not its place in the start order', () => {
    const error = rejected(endpoints({ ...ok('late'), priority: 9 }, { ...ok('early'), priority: 1, url: 'http://mock.test/early' }));
    expect(error.option).toBe('endpoints[1].url');
  });

  it('says which group name clashes with an endpoint', () => {
    expect(rejected(endpoints(ok('a'), { ...ok('b'), group: 'a' })).message).toContain('"a"');
  });

  it('says how many endpoints were given when they exceed maxConnections', () => {
    const error = rejected({ ...base, endpoints: [ok('a'), ok('b'), ok('c')], maxConnections: 2 });
    expect(error.message).toContain('maxConnections (2)');
    expect(error.message).toContain('3 endpoints');
  });

  it('runs the endpoints as given to createPool(), though the app changes its list or an endpoint before the pool is first used', () => {
    const list = [ok('a'), ok('b')];
    const pool = createPool({ ...base, endpoints: list, maxConnections: 2 });
    list.push(ok('c'), ok('d'));
    list[0]!.name = 'b';
    expect(pool.connections.map((connection) => connection.name)).toEqual(['a', 'b']);
    expect(pool.status().connections).toEqual({ a: 'idle', b: 'idle' });
    pool.dispose();
  });

  it('accepts as many endpoints as maxConnections, and the documented defaults', () => {
    const pool = createPool({ ...base, maxConnections: 2 });
    const { options, budget } = poolRuntimeOf(pool.actor)!;
    expect(options).toMatchObject({ staggerMs: 100, maxConnections: 2, balancing: 'round-robin', health: { maxRttMs: 1_000 }, stopTimeoutMs: 5_000 });
    expect(options.dialBudget).toEqual({ ratePerSec: 200, burst: 20 });
    expect(budget).toBeDefined();
    pool.dispose();
    const free = createPool({ ...base, staggerMs: 0, dialBudget: false, balancing: 'least-pending', health: { maxRttMs: 50 } });
    expect(poolRuntimeOf(free.actor)!.budget).toBeUndefined();
    expect(poolRuntimeOf(free.actor)!.options).toMatchObject({ staggerMs: 0, balancing: 'least-pending', health: { maxRttMs: 50 } });
    free.dispose();
  });

  it('lets an endpoint\'s own options win over the defaults', async () => {
    const server = createMockServer();
    const pool = createPool({
      endpoints: [{ ...ok('a'), heartbeat: false }, ok('b')],
      defaults: { WebSocket: server.WebSocket, heartbeat: { intervalMs: 1_234, timeoutMs: 100 } },
      staggerMs: 0,
      clock: new SimulatedClock(),
      environment: false,
    });
    pool.start();
    await new Promise<void>((resolve) => setImmediate(resolve));
    const liveness = (name: string) => (pool.connection(name)!.snapshot.value as { link?: { connected?: { liveness?: string } } }).link?.connected?.liveness;
    expect(liveness('a')).toBe('unmonitored');
    expect(liveness('b')).toBe('quiet');
    pool.dispose();
  });

  it("inherits within a section: an endpoint's own reconnect options win, option by option, over those of defaults", () => {
    const pool = createPool({
      endpoints: [{ ...ok('a'), reconnect: { baseMs: 200 } }, ok('b')],
      defaults: { WebSocket, reconnect: { capMs: 5_000, jitter: 0.1 } },
      environment: false,
    });
    expect(pool.connection('a')!.snapshot.context.settings.reconnect).toMatchObject({ baseMs: 200, capMs: 5_000, jitter: 0.1 });
    expect(pool.connection('b')!.snapshot.context.settings.reconnect).toMatchObject({ baseMs: 1_000, capMs: 5_000, jitter: 0.1 });
    pool.dispose();
  });

  it('an endpoint that sets only auth.mode keeps the token provider of defaults.auth', async () => {
    const server = createMockServer();
    const pool = createPool({
      endpoints: [{ ...ok('a'), auth: { mode: 'subprotocol' } }, ok('b')],
      defaults: { WebSocket: server.WebSocket, auth: { token: () => 'tok' } },
      staggerMs: 0,
      clock: new SimulatedClock(),
      environment: false,
    });
    pool.start();
    await new Promise<void>((resolve) => setImmediate(resolve));
    const [a, b] = server.sockets;
    expect(a!.protocols).toContain('socketchart.token.tok');
    expect(b!.sentOfType('auth')).toHaveLength(1);
    pool.dispose();
  });

  it('heartbeat: false or circuit: false on an endpoint still turns the section off, and the defaults are left as given', () => {
    const pool = createPool({
      endpoints: [{ ...ok('a'), heartbeat: false, circuit: false, rateLimit: { channels: { chat: { perMinute: 60, burst: 5 } } } }, ok('b')],
      defaults: { WebSocket, heartbeat: { intervalMs: 1_234 }, circuit: { failureThreshold: 2 }, rateLimit: { channels: { news: { perMinute: 6, burst: 1 } }, followServer: false } },
      environment: false,
    });
    const settings = (name: string) => pool.connection(name)!.snapshot.context.settings;
    expect([settings('a').heartbeat, settings('a').circuit]).toEqual([false, false]);
    expect(settings('b').heartbeat).toMatchObject({ intervalMs: 1_234 });
    expect(settings('b').circuit).toMatchObject({ failureThreshold: 2 });
    const rateLimit = poolRuntimeOf(pool.actor)!.options.defaults.rateLimit;
    expect(rateLimit, 'defaults are left as given').toEqual({ channels: { news: { perMinute: 6, burst: 1 } }, followServer: false });
    pool.dispose();
  });

  it('names a bad option of a defaults section where it was given, though the endpoint sets another option of that section', () => {
    expect(rejected({ ...endpoints({ ...ok('a'), reconnect: { baseMs: 200 } }), defaults: { WebSocket, reconnect: { jitter: 2 } } }).option).toBe('defaults.reconnect.jitter');
    expect(rejected({ ...endpoints({ ...ok('a'), reconnect: { jitter: 2 } }), defaults: { WebSocket, reconnect: { baseMs: 200 } } }).option).toBe('endpoints[0].reconnect.jitter');
  });

  it.each<[string, unknown, string]>([
    ['dialBudget', { ...base, dialBudget: { rate: 10 } }, 'dialBudget.rate'],
    ['health', { ...base, health: { maxRtt: 100 } }, 'health.maxRtt'],
  ])('rejects a misspelt key inside %s, naming it (it would silently fall back to the default)', (_section, options, option) => {
    const error = rejected(options);
    expect(error.option).toBe(option);
  });
});

describe('endpoint connection options, checked as createConnection checks them', () => {
  it('names a bad option on the endpoint when the endpoint and defaults both give it', () => {
    expect(rejected({ ...endpoints({ ...ok('a'), connectTimeoutMs: -1 }), defaults: { WebSocket, connectTimeoutMs: 1_000 } }).option).toBe('endpoints[0].connectTimeoutMs');
    expect(rejected({ ...endpoints({ ...ok('a'), reconnect: { jitter: 2 } }), defaults: { WebSocket, reconnect: { jitter: 0.1 } } }).option).toBe('endpoints[0].reconnect.jitter');
  });

  it('an endpoint without a url is told so on the endpoint, though defaults give one: each endpoint dials its own', () => {
    const error = rejected({ endpoints: [{ name: 'a' }], defaults: { WebSocket, url: 'ws://mock.test/shared' } });
    expect(error.option).toBe('endpoints[0].url');
  });

  it('closeTimeoutMs given as a string, on an endpoint or in defaults, is refused and named where it was given', () => {
    const onEndpoint = rejected(endpoints({ ...ok('a'), closeTimeoutMs: '100' }));
    expect([onEndpoint.option, onEndpoint.received]).toEqual(['endpoints[0].closeTimeoutMs', '"100"']);
    const inDefaults = rejected({ ...base, defaults: { WebSocket, closeTimeoutMs: 'abc' } });
    expect([inDefaults.option, inDefaults.received]).toEqual(['defaults.closeTimeoutMs', '"abc"']);
  });

  it('an unknown key in defaults is named defaults.<key>; one on an endpoint, endpoints[i].<key>', () => {
    expect(rejected({ ...base, defaults: { WebSocket, heartbeet: {} } }).option).toBe('defaults.heartbeet');
    expect(rejected(endpoints(ok('a'), { ...ok('b'), heartbeet: {} })).option).toBe('endpoints[1].heartbeet');
  });

  it('poolLogic() checks every endpoint at once, as createPool() does', () => {
    expect(() => poolLogic({ endpoints: [{ name: 'a', url: 'http://not-a-ws-url' }], defaults: { WebSocket } })).toThrow(/`endpoints\[0\]\.url`/);
    expect(() => poolLogic({ ...base, defaults: { WebSocket, heartbeat: { intervalMs: -1 } } })).toThrow(/`defaults\.heartbeat\.intervalMs`/);
  });

  it('poolLogic() refuses a bad dialBudget at once, as createPool() does', () => {
    const error = (() => {
      try {
        poolLogic({ ...base, dialBudget: { ratePerSec: -1 } });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe('dialBudget.ratePerSec');
    expect(() => poolLogic({ ...base, dialBudget: { burst: null as never } })).toThrow(/`dialBudget\.burst`/);
  });

  it('an endpoint named "__proto__" is listed in status() and metrics() like any other', () => {
    const pool = createPool({ endpoints: [ok('__proto__'), ok('other')], defaults: { WebSocket } });
    expect(Object.keys(pool.status().connections).sort()).toEqual(['__proto__', 'other']);
    expect(Object.keys(pool.metrics().connections).sort()).toEqual(['__proto__', 'other']);
    expect(Object.hasOwn(pool.metrics().connections, '__proto__')).toBe(true);
    pool.dispose();
  });

  it('subscribe(endpoint, listener) with a listener that is not a function is an InvalidOptionError', () => {
    const pool = createPool(base);
    const subscribe = pool.subscribe as unknown as (endpoint: string, listener: unknown) => unknown;
    expect(() => subscribe.call(pool, 'a', 42)).toThrow(InvalidOptionError);
    expect(() => subscribe.call(pool, 'a', undefined)).toThrow(InvalidOptionError);
    pool.dispose();
  });
});
