import { describe, expect, it } from 'vitest';
import { endpointConnectionOptions } from '../../../src/pool/endpoint-options.js';
import { resolvePoolOptions, type EndpointOptions, type PoolOptions } from '../../../src/pool/options.js';
import { DialBudget } from '../../../src/policy/dial-budget.js';
import { SimulatedClock, createManualEnvironment, createMockServer } from '../../../src/testing/index.js';

/** The options each endpoint's connection runs with: the pool's defaults, its own over them, and what the pool sets for all. */

const { WebSocket } = createMockServer();
const endpoint = (own: Partial<EndpointOptions> = {}): EndpointOptions => ({ name: 'a', url: 'ws://mock.test/a', ...own });
const optionsOf = (own: Partial<EndpointOptions>, pool: Partial<PoolOptions> = {}) => {
  const resolved = resolvePoolOptions({ endpoints: [endpoint(own)], ...pool, defaults: { WebSocket, ...pool.defaults } });
  return endpointConnectionOptions(resolved.endpoints[0]!, resolved, { environment: false }) as unknown as Record<string, unknown>;
};

const token = () => 'tok';

describe('endpoint connection options', () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>]>([
    ['failover', { after: 5, primaryRetryMs: 9_000 }, { after: 2 }, { after: 2, primaryRetryMs: 9_000 }],
    ['auth', { token, mode: 'query' }, { mode: 'subprotocol' }, { token, mode: 'subprotocol' }],
    ['heartbeat', { intervalMs: 1_234, timeoutMs: 100 }, { timeoutMs: 50 }, { intervalMs: 1_234, timeoutMs: 50 }],
    ['reconnect', { baseMs: 100, capMs: 5_000 }, { baseMs: 200 }, { baseMs: 200, capMs: 5_000 }],
    ['circuit', { failureThreshold: 2, recoveryMs: 1_000 }, { failureThreshold: 4 }, { failureThreshold: 4, recoveryMs: 1_000 }],
    ['queue', { maxMessages: 10, maxBytes: 2_048 }, { maxMessages: 20 }, { maxMessages: 20, maxBytes: 2_048 }],
    ['acks', { timeoutMs: 500, maxAttempts: 5 }, { maxAttempts: 1 }, { timeoutMs: 500, maxAttempts: 1 }],
    ['rateLimit', { followServer: false, channels: { news: { perMinute: 6, burst: 1 } } }, { channels: { chat: { perMinute: 60, burst: 5 } } }, { followServer: false, channels: { chat: { perMinute: 60, burst: 5 } } }],
  ])('%s: an endpoint inherits the options of defaults it does not give, and its own win', (section, inherited, own, expected) => {
    expect(optionsOf({ [section]: own }, { defaults: { [section]: inherited } })[section]).toEqual(expected);
  });

  it('an option an endpoint gives as undefined is one it does not give: that of defaults stands, in a section too', () => {
    const own = { auth: undefined, heartbeat: undefined, reconnect: { baseMs: undefined, capMs: 1_000 } };
    const options = optionsOf(own, { defaults: { auth: { token }, heartbeat: false, reconnect: { baseMs: 200, capMs: 5_000 } } });
    expect([options.auth, options.heartbeat, options.reconnect]).toEqual([{ token }, false, { baseMs: 200, capMs: 1_000 }]);
  });

  it('a section that is not an object replaces the whole section, either way', () => {
    expect(optionsOf({ heartbeat: false }, { defaults: { heartbeat: { intervalMs: 1_234 } } }).heartbeat).toBe(false);
    expect(optionsOf({ heartbeat: { intervalMs: 1_234 } }, { defaults: { heartbeat: false } }).heartbeat).toEqual({ intervalMs: 1_234 });
  });

  it('a section given as an instance of a class is taken whole, its methods kept', () => {
    class SessionAuth {
      readonly mode = 'subprotocol' as const;
      token(): string {
        return 'session';
      }
    }
    const auth = new SessionAuth();
    expect(optionsOf({ auth }, { defaults: { auth: { token, mode: 'query' } } }).auth).toBe(auth);
  });

  it('closeTimeoutMs is the endpoint\'s own, else that of defaults, else 2000 ms, and never longer than the pool\'s stopTimeoutMs', () => {
    expect(optionsOf({}).closeTimeoutMs).toBe(2_000);
    expect(optionsOf({}, { stopTimeoutMs: 500 }).closeTimeoutMs).toBe(500);
    expect(optionsOf({ closeTimeoutMs: 300 }, { defaults: { closeTimeoutMs: 700 } }).closeTimeoutMs).toBe(300);
    expect(optionsOf({}, { defaults: { closeTimeoutMs: 700 } }).closeTimeoutMs).toBe(700);
    expect(optionsOf({ closeTimeoutMs: 4_000 }, { stopTimeoutMs: 3_000 }).closeTimeoutMs).toBe(3_000);
  });

  it("takes the pool's environment, clock, random source and dial gate, its name, and priority 2 unless given; its group stays with the pool", () => {
    const clock = new SimulatedClock();
    const random = () => 0.25;
    const resolved = resolvePoolOptions({ endpoints: [endpoint({ group: 'feeds' }), endpoint({ name: 'b', priority: 1 })], defaults: { WebSocket }, clock, random });
    const environment = createManualEnvironment();
    const dialGate = new DialBudget({ ratePerSec: 10, burst: 1 }, clock, 100);
    const [a, b] = resolved.endpoints.map((each) => endpointConnectionOptions(each, resolved, { environment, dialGate }));
    expect(a).toMatchObject({ name: 'a', priority: 2, environment, clock, random, dialGate });
    expect(a).not.toHaveProperty('group');
    expect(b).toMatchObject({ name: 'b', priority: 1 });
    expect(endpointConnectionOptions(resolved.endpoints[0]!, resolved, { environment: false })).not.toHaveProperty('dialGate');
    dialGate.dispose();
  });
});
