import { expect } from 'vitest';
import {
  createPool,
  type ConnectionStatus,
  type EndpointOptions,
  type Pool,
  type PoolEvents,
  type PoolHealth,
  type PoolOptions,
} from '../../src/index.js';
import { poolRuntimeOf } from '../../src/pool/implementations.js';
import type { Clock } from '../../src/environment/clock.js';
import type { WebSocketConstructor } from '../../src/transport/websocket-like.js';
import {
  SimulatedClock,
  createManualEnvironment,
  createMockServer,
  type ManualEnvironment,
  type MockServer,
  type MockServerOptions,
  type MockSocket,
} from '../../src/testing/index.js';
import { settle } from './harness.js';
import { seedFeeds } from '../../src/cli/seed-feeds.js';
import { peakInWindow } from '../bench/lib/stats.js';

/**
 * The pool under test, for the pool's unit tests and its model-based tests: a pool on mock servers, a
 * simulated clock and a manual environment, with every dial, state change, health change and failover
 * recorded. Then the model of the pool machine (`poolModel`) and how its paths are replayed against a
 * real pool (`poolReplay`), checking the pool's invariants after every step.
 */

export const T0 = 1_700_000_000_000;

/** The seed app's eight live feeds, in the order they must start (priority 1 first, then as listed). */
export const FEEDS = seedFeeds;

export const feedUrl = (name: string) => `ws://mock.test/ws/${name}`;

/** The feeds listed lowest priority first (the pool, not the list, decides the start order). */
export const feedEndpoints = (): EndpointOptions[] =>
  [...FEEDS].sort((a, b) => b[1] - a[1]).map(([name, priority]) => ({ name, priority, url: feedUrl(name) }));

/** One socket a connection opened: its url and the clock time of the dial. */
export interface Dial {
  readonly url: string;
  readonly at: number;
  /** The socket, as its mock server sees it. */
  readonly socket: MockSocket;
}

/** A WebSocket constructor that records every dial, then opens the socket on the mock server `route` picks for the url. */
export function recordingWebSocket(route: (url: string) => MockServer, clock: Pick<Clock, 'now'>, dials: Dial[]): WebSocketConstructor {
  class Recording {
    constructor(url: string, protocols?: string | string[]) {
      const at = clock.now();
      const Target = route(url).WebSocket;
      const socket = new Target(url, protocols) as MockSocket;
      dials.push({ url, at, socket });
      return socket as unknown as Recording;
    }
  }
  return Recording as unknown as WebSocketConstructor;
}

/** Most timestamps within any window `[t, t + windowMs)`. */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  return peakInWindow([...times].sort((a, b) => a - b), windowMs);
}

export interface StateChange {
  readonly name: string;
  readonly status: ConnectionStatus;
  readonly previous: ConnectionStatus;
  readonly at: number;
}

export interface PoolHarnessOptions {
  /** @default the eight seed feeds, listed lowest priority first */
  endpoints?: EndpointOptions[];
  server?: MockServerOptions;
  /** The mock server a url is dialed on. @default the one `server` */
  route?: (url: string, server: MockServer) => MockServer;
}

const urlsOf = (endpoint: EndpointOptions): string[] =>
  typeof endpoint.url === 'string' ? [endpoint.url] : Array.isArray(endpoint.url) ? [...(endpoint.url as readonly string[])] : [];

/**
 * A pool on a mock server, a simulated clock and a manual environment. `overrides.defaults` is merged
 * over the harness defaults (the recording WebSocket, a 100 ms backoff without jitter).
 */
export function poolHarness(overrides: Partial<PoolOptions> = {}, options: PoolHarnessOptions = {}) {
  const clock = new SimulatedClock(T0);
  const server = createMockServer({ now: () => clock.now(), ...options.server });
  const env = createManualEnvironment();
  const dials: Dial[] = [];
  const route = options.route;
  const WebSocket = recordingWebSocket(route ? (url) => route(url, server) : () => server, clock, dials);
  const endpoints = options.endpoints ?? feedEndpoints();
  const { defaults, ...rest } = overrides;
  const pool = createPool({
    endpoints,
    clock,
    environment: env,
    random: () => 0.5,
    ...rest,
    defaults: { WebSocket, reconnect: { baseMs: 100, capMs: 1_000, jitter: 0 }, ...defaults },
  });
  const nameOf = new Map<string, string>();
  for (const endpoint of endpoints) for (const url of urlsOf(endpoint)) nameOf.set(url, endpoint.name);
  const states: StateChange[] = [];
  const healths: Array<PoolEvents['health'] & { at: number }> = [];
  const failovers: Array<PoolEvents['failover']> = [];
  pool.on('state', (change) => states.push({ ...change, at: clock.now() }));
  pool.on('health', (change) => healths.push({ ...change, at: clock.now() }));
  pool.on('failover', (event) => failovers.push(event));
  const connection = (name: string) => {
    const found = pool.connection(name);
    if (!found) throw new Error(`no connection named ${name}`);
    return found;
  };
  return {
    clock,
    server,
    env,
    pool,
    dials,
    states,
    healths,
    failovers,
    /** The pool's runtime: its dial budget (`budget.granted`, `budget.grants`), its environment fan-out. */
    get rt() {
      return poolRuntimeOf(pool.actor)!;
    },
    connection,
    /** The endpoint a dial went to. */
    nameOf: (dial: Dial) => nameOf.get(dial.url) ?? dial.url,
    /** Names of the connections in the order they dialed. */
    dialOrder: () => dials.map((dial) => nameOf.get(dial.url) ?? dial.url),
    /** Dials of one endpoint. */
    dialsOf: (name: string) => dials.filter((dial) => nameOf.get(dial.url) === name),
    /** The statuses one connection went through, in order. */
    statesOf: (name: string) => states.filter((change) => change.name === name).map((change) => change.status),
    /** Dial permits the pool's budget granted so far. */
    granted: () => pool.metrics().dials.granted,
    /** The live (opening or open) mock socket of one connection. */
    socketOf(name: string): MockSocket {
      const socket = [...dials].reverse().find((dial) => dial.socket.isLive && nameOf.get(dial.url) === name)?.socket;
      if (!socket) throw new Error(`${name} has no live socket`);
      return socket;
    },
    /** Lets queued microtasks and mock-socket callbacks run. */
    settle,
    /** Moves simulated time and lets the effects land. */
    async advance(ms: number) {
      clock.advance(ms);
      await settle();
    },
    /** Moves simulated time in steps, letting effects land after each. */
    async advanceBy(total: number, step: number) {
      for (let elapsed = 0; elapsed < total; elapsed += step) {
        clock.advance(Math.min(step, total - elapsed));
        await settle();
      }
    },
  };
}

export type PoolHarness = ReturnType<typeof poolHarness>;

/** Every entry into `connecting` or `halfOpen` (a dial) came straight from `queued` (a permit). */
export function expectEveryDialQueued(states: readonly StateChange[]): void {
  for (const change of states) {
    if (change.status === 'connecting' || change.status === 'halfOpen') {
      expect(change.previous, `${change.name} dialed (${change.status}) at ${change.at - T0} ms without waiting in queued`).toBe('queued');
    }
  }
}

