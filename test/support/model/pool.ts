import { expect, vi } from 'vitest';
import type { AnyActorRef, EventObject, InspectionEvent, StateValue } from 'xstate';
import { createPool, poolMachine, type ConnectionStatus, type Pool, type PoolHealth } from '../../../src/index.js';
import {
  SimulatedClock,
  createManualEnvironment,
  createMockServer,
  createModel,
  liveSocketCount,
  type Coverage,
  type MachineModel,
  type ManualEnvironment,
  type MockServer,
  type MockSocket,
  type ModelStateOf,
  type ReplayOptions,
  type ReplayStep,
  type Stimulus,
} from '../../../src/testing/index.js';
import { T0, expectEveryDialQueued, maxInWindow, recordingWebSocket, type Dial, type StateChange } from '../pool-harness.js';

// ---------------------------------------------------------------------------------------------------
// The model of the pool machine

/** Two endpoints, listed lowest priority first: the pool starts `alpha` (priority 1) first. */
export const MODEL_ENDPOINTS: ReadonlyArray<{ name: string; priority: number }> = [
  { name: 'beta', priority: 2 },
  { name: 'alpha', priority: 1 },
];
/** The start order the pool must pick. */
export const START_ORDER = ['alpha', 'beta'] as const;
const modelUrl = (name: string) => `ws://mock.test/pool/${name}`;

/**
 * Timing of the replayed pool: a fixed 100 ms backoff (base = cap, no circuit), and the other
 * connection timers (connect, minUptime) far beyond any path. The close handshake is given far longer
 * too, but the pool bounds it by its stop timeout: a connection still closing after `stopTimeoutMs` is
 * closed at that moment. So a path sees the pool's timers (stagger, stopTimeout) and the connections'
 * redials and close timeouts, all modelled.
 */
export const POOL_TIMING = {
  redialMs: 100,
  stopTimeoutMs: 200,
  far: 100_000_000,
  budget: { ratePerSec: 200, burst: 20 },
} as const;

export interface PoolVariant {
  readonly name: string;
  readonly staggerMs: number;
}

export const poolVariants: readonly PoolVariant[] = [
  { name: 'staggerMs 100', staggerMs: 100 },
  { name: 'staggerMs 0', staggerMs: 0 },
];

/**
 * One connection as the world sees it: `pending` dialed (its socket not accepted yet), `up`
 * connected, `down` waiting out its backoff (a redial timer runs), `offline`, `closing` (its close
 * handshake not answered yet: a close timer runs).
 */
export type Link = 'idle' | 'pending' | 'up' | 'down' | 'offline' | 'closing' | 'closed';

export interface PoolWorld {
  /** The connections, in start order (`START_ORDER`). */
  readonly links: readonly Link[];
  /**
   * Stopped by the user (`pool.connection(name).stop()`): it stays stopped — through pool restarts
   * too — until the user starts it again.
   */
  readonly userStopped: readonly boolean[];
  /** Started by the user while the pool was stopping: the user's own, which the stopped pool leaves alone (until the pool starts or stops again). */
  readonly userStarted: readonly boolean[];
  readonly online: boolean;
  /** State changes of the connections the pool machine is yet to hear of (`connection.state`), in order. */
  readonly notices: ReadonlyArray<{ readonly name: string; readonly status: ConnectionStatus; readonly previous: ConnectionStatus }>;
  /** `pool.dispose()` ran: nothing can happen any more. */
  readonly disposed: boolean;
}

export type PoolModel = MachineModel<typeof poolMachine, PoolWorld>;
export type PoolModelState = ModelStateOf<typeof poolMachine, PoolWorld>;

type ModelEvent = EventObject & { readonly via?: string; readonly name?: string; readonly error?: unknown };

/** The error a crashed connection actor reports to its parent (stimulus of `pool: * [isConnectionError]`). */
export const CRASH = new Error('connection actor crashed');
const CRASH_EVENT = `xstate.error.actor.${START_ORDER[0]}`;
const REDIAL_EVENT = 'connection.redial.';
const CLOSE_TIMEOUT_EVENT = 'connection.closeTimeout.';

const STATUS: Readonly<Record<Link, ConnectionStatus>> = {
  idle: 'idle',
  pending: 'connecting',
  up: 'connected',
  down: 'reconnecting',
  offline: 'offline',
  closing: 'closing',
  closed: 'closed',
};
/** Timers each connection owns: connectTimeout, minUptime, the backoff, the close timeout. */
const TIMERS: Readonly<Record<Link, number>> = { idle: 0, pending: 1, up: 1, down: 1, offline: 0, closing: 1, closed: 0 };
/** Sockets each connection owns until the socket closes (`liveSocketCount`). */
const SOCKETS: Readonly<Record<Link, number>> = { idle: 0, pending: 1, up: 1, down: 0, offline: 0, closing: 1, closed: 0 };
/** Connections the pool counts as active (`drained` when there is none). */
const ACTIVE = new Set<Link>(['pending', 'up', 'down', 'offline', 'closing']);
/** Connections listening to the pool's environment fan-out. */
const LISTENING = new Set<Link>(['pending', 'up', 'down', 'offline']);
/** Pool states in which the pool listens to the environment and forwards it. */
const WATCHING = new Set(['starting', 'running', 'stopping']);

export const healthOf = (links: readonly Link[]): PoolHealth => {
  const up = links.filter((link) => link === 'up').length;
  return up === links.length ? 'up' : up === 0 ? 'down' : 'degraded';
};

/** The pool machine's top-level state: idle, starting, running, stopping or stopped. */
export const topState = (value: StateValue): string => (typeof value === 'string' ? value : Object.keys(value)[0]!);

const setAt = <T>(list: readonly T[], index: number, value: T): T[] => list.map((current, i) => (i === index ? value : current));

/** What the server can do to the connections' sockets: accept a dial or drop a connection, one or all. */
function serverChanges(world: PoolWorld): Array<{ via: string; links: Link[] }> {
  const changes: Array<{ via: string; links: Link[] }> = [];
  const pending = world.links.flatMap((link, i) => (link === 'pending' ? [i] : []));
  const up = world.links.flatMap((link, i) => (link === 'up' ? [i] : []));
  for (const i of pending) changes.push({ via: `accept ${START_ORDER[i]}`, links: setAt(world.links, i, 'up') });
  for (const i of up) changes.push({ via: `drop ${START_ORDER[i]}`, links: setAt(world.links, i, 'down') });
  if (pending.length > 1) changes.push({ via: 'accept all', links: world.links.map((link) => (link === 'pending' ? 'up' : link)) });
  if (up.length > 1) changes.push({ via: 'drop all', links: world.links.map((link) => (link === 'up' ? 'down' : link)) });
  return changes;
}

const dialed = (world: PoolWorld): Link => (world.online ? 'pending' : 'offline');

/**
 * The pool starts connection `i` (pool.start() or its stagger): every connection but the ones the
 * user stopped; `start()` dials from idle or closed, and does nothing to one already running.
 */
const poolStarts = (world: PoolWorld, i: number, link: Link): Link =>
  world.userStopped[i] || (link !== 'idle' && link !== 'closed' && link !== 'closing') ? link : dialed(world);

const describeEvent = (event: EventObject): string => {
  const e = event as ModelEvent;
  if (e.type.startsWith('xstate.after.')) return `after ${e.type.split('.')[2]}`;
  if (e.type === CRASH_EVENT) return `${START_ORDER[0]} actor crashes`;
  if (e.type.startsWith(REDIAL_EVENT)) return `redial ${e.type.slice(REDIAL_EVENT.length)}`;
  if (e.type.startsWith(CLOSE_TIMEOUT_EVENT)) return `close timeout ${e.type.slice(CLOSE_TIMEOUT_EVENT.length)}`;
  if (e.type === 'server.change') return `server: ${e.via}`;
  if (e.name !== undefined) return `${e.type}(${e.name})`;
  return e.type;
};

/** The index in `START_ORDER` of a connection named in an event (or in a world timer's event type). */
const indexOf = (name: string | undefined) => {
  const i = START_ORDER.indexOf(name as (typeof START_ORDER)[number]);
  if (i < 0) throw new Error(`no connection named ${name}`);
  return i;
};

export function poolModel(variant: PoolVariant): PoolModel {
  const N = START_ORDER.length;
  const none = Array<boolean>(N).fill(false);
  /** Every close still pending is over (the server answered, or the close timed out). */
  const closed = (world: PoolWorld): PoolWorld => ({ ...world, links: world.links.map((link) => (link === 'closing' ? 'closed' : link)) });

  const model = createModel<typeof poolMachine, PoolWorld>({
    machine: poolMachine,
    input: { settings: { connections: N, staggerMs: variant.staggerMs, stopTimeoutMs: POOL_TIMING.stopTimeoutMs } },
    world: { links: Array<Link>(N).fill('idle'), userStopped: none, userStarted: none, online: true, disposed: false, notices: [] },
    abstract: (snapshot, { notices: _notices, ...world }) => ({ value: snapshot.value, context: { ...snapshot.context, settings: undefined }, world }),
    describeEvent,
    events: ({ snapshot, world }) => {
      if (world.disposed) return [];
      const state = topState(snapshot.value);
      const events: ModelEvent[] = [];
      events.push({ type: 'pool.start' });
      events.push({ type: 'pool.stop' });
      events.push({ type: world.online ? 'env.offline' : 'env.online' });
      for (const change of serverChanges(world)) events.push({ type: 'server.change', via: change.via });
      world.links.forEach((link, i) => {
        const name = START_ORDER[i];
        if (link === 'pending') events.push({ type: 'server.refuse', name });
        if (LISTENING.has(link)) events.push({ type: 'connection.stop', name });
        // The user starts again a connection they stopped; or, while the pool stops, any closed one.
        if (link === 'closed' && ((world.userStopped[i] && (state === 'starting' || state === 'running')) || state === 'stopping')) {
          events.push({ type: 'connection.start', name });
        }
      });
      // The server answers the close handshakes.
      if (world.links.includes('closing')) events.push({ type: 'server.closeAck' });
      if (state === 'running') events.push({ type: CRASH_EVENT, error: CRASH });
      events.push({ type: 'connection.release' });
      return events;
    },
    before: (world, event, state) => {
      const next = change(world, event, state.snapshot);
      const notices = START_ORDER.flatMap((name, i) => {
        const previous = STATUS[world.links[i]!];
        const status = STATUS[next.links[i]!];
        return status === previous ? [] : [{ name, status, previous }];
      });
      return { ...next, notices: [...world.notices, ...notices] };
    },
    // The pool machine hears of every state change of its connections, in order, in the step that brings it.
    internal: (_snapshot, world) => (world.disposed || world.notices.length === 0 ? undefined : { type: 'connection.state', ...world.notices[0]! }),
    beforeInternal: (world, event) => (event.type === 'connection.state' ? { ...world, notices: world.notices.slice(1) } : world),
    // A connection that goes down waits out its backoff; one that closes waits for the server's answer
    // at most the pool's stop timeout: the world's timers.
    timers: (world, _event, previous) => {
      const all = START_ORDER.flatMap((name) => [`redial.${name}`, `close.${name}`]);
      if (world.disposed) return { cancel: all };
      const start = [];
      const cancel = [];
      for (let i = 0; i < N; i++) {
        const name = START_ORDER[i]!;
        const was = previous.world.links[i];
        const is = world.links[i];
        if (is === 'down' && was !== 'down') start.push({ id: `redial.${name}`, event: { type: `${REDIAL_EVENT}${name}` }, delay: POOL_TIMING.redialMs });
        if (is !== 'down' && was === 'down') cancel.push(`redial.${name}`);
        if (is === 'closing' && was !== 'closing') start.push({ id: `close.${name}`, event: { type: `${CLOSE_TIMEOUT_EVENT}${name}` }, delay: POOL_TIMING.stopTimeoutMs });
        if (is !== 'closing' && was === 'closing') cancel.push(`close.${name}`);
      }
      return { start, cancel };
    },
  });

  /** How an event changes the world (the links the machine then hears of). */
  function change(world: PoolWorld, event: EventObject, snapshot: PoolModelState['snapshot']): PoolWorld {
      if (world.disposed) return world;
      const e = event as ModelEvent;
      const state = topState(snapshot.value);
      switch (e.type) {
        case 'pool.start': {
          if (state !== 'idle' && state !== 'stopped' && state !== 'stopping') return world;
          const count = variant.staggerMs === 0 ? N : 1;
          return { ...world, links: world.links.map((link, i) => (i < count ? poolStarts(world, i, link) : link)), userStarted: none };
        }
        case 'pool.stop':
          if (state === 'stopping') return world;
          return {
            ...world,
            links: world.links.map((link) => (link === 'up' || link === 'closing' ? 'closing' : 'closed')),
            userStarted: none,
          };
        case 'env.offline':
          return { ...world, online: false, links: world.links.map((link) => (WATCHING.has(state) && LISTENING.has(link) ? 'offline' : link)) };
        case 'env.online':
          return { ...world, online: true, links: world.links.map((link) => (WATCHING.has(state) && link === 'offline' ? 'pending' : link)) };
        case 'server.change': {
          const change = serverChanges(world).find((candidate) => candidate.via === e.via);
          if (!change) throw new Error(`no server change "${e.via}"`);
          return { ...world, links: change.links };
        }
        case 'server.refuse':
          return { ...world, links: setAt(world.links, indexOf(e.name), 'down') };
        case 'connection.stop': {
          const i = indexOf(e.name);
          return {
            ...world,
            links: setAt(world.links, i, world.links[i] === 'up' ? 'closing' : 'closed'),
            userStopped: setAt(world.userStopped, i, true),
          };
        }
        case 'connection.start': {
          const i = indexOf(e.name);
          return {
            ...world,
            links: setAt(world.links, i, dialed(world)),
            userStopped: setAt(world.userStopped, i, false),
            userStarted: setAt(world.userStarted, i, world.userStarted[i] || state === 'stopping'),
          };
        }
        case 'server.closeAck':
          return closed(world);
        case 'connection.release':
          return { ...world, disposed: true };
        default:
          if (e.type.startsWith('xstate.after.stagger.')) {
            const i = snapshot.context.started;
            return { ...world, links: world.links.map((link, k) => (k === i ? poolStarts(world, k, link) : link)) };
          }
          if (e.type.startsWith(REDIAL_EVENT)) return { ...world, links: setAt(world.links, indexOf(e.type.slice(REDIAL_EVENT.length)), 'pending') };
          if (e.type.startsWith(CLOSE_TIMEOUT_EVENT)) return { ...world, links: setAt(world.links, indexOf(e.type.slice(CLOSE_TIMEOUT_EVENT.length)), 'closed') };
          return world;
      }
  }

  return model;
}

// ---------------------------------------------------------------------------------------------------
// Replaying the model against a real pool

export interface PoolSut {
  readonly pool: Pool;
  readonly clock: SimulatedClock;
  readonly server: MockServer;
  readonly env: ManualEnvironment;
  readonly dials: Dial[];
  readonly states: StateChange[];
  /** Sockets whose close handshake the server has not answered yet. */
  readonly heldCloses: MockSocket[];
  /** `liveSocketCount()` before the pool was created. */
  readonly socketsBefore: number;
  /** Each connection's dials when the user stopped it (none since, until the user starts it again). */
  readonly dialsAtUserStop: Map<string, number>;
}

/** The live (opening or open) sockets of one connection. */
const liveSockets = (sut: PoolSut, name: string) => sut.server.sockets.filter((socket) => socket.isLive && socket.url === modelUrl(name));

function theSocket(sut: PoolSut, name: string, readyState: 0 | 1): MockSocket {
  const sockets = liveSockets(sut, name).filter((socket) => socket.readyState === readyState);
  expect(sockets, `${name}: one ${readyState === 0 ? 'opening' : 'open'} socket`).toHaveLength(1);
  return sockets[0]!;
}

function serverDoes(sut: PoolSut, via: string): void {
  const [verb, who] = via.split(' ') as [string, string];
  const names = who === 'all' ? START_ORDER.filter((name) => liveSockets(sut, name).some((s) => s.readyState === (verb === 'accept' ? 0 : 1))) : [who];
  for (const name of names) {
    if (verb === 'accept') theSocket(sut, name, 0).accept();
    else theSocket(sut, name, 1).drop();
  }
}

const dialsOf = (sut: PoolSut, name: string) => sut.dials.filter((dial) => dial.url === modelUrl(name)).length;

/** After `dispose()`: every actor stopped; no socket, timer or environment listener left. */
export function expectDisposed(sut: PoolSut): void {
  const { pool } = sut;
  expect(pool.actor.getSnapshot().status, 'dispose: the pool actor is stopped').toBe('stopped');
  for (const connection of pool.connections) expect(connection.actor.getSnapshot().status, `dispose: ${connection.name}'s actor is stopped`).toBe('stopped');
  expect(liveSocketCount() - sut.socketsBefore, 'dispose: sockets').toBe(0);
  expect(sut.server.live, 'dispose: sockets the server sees').toHaveLength(0);
  expect(sut.clock.pending, 'dispose: timers').toBe(0);
  expect(sut.env.listenerCount, 'dispose: environment listeners').toBe(0);
}

/**
 * The invariants of the pool, after every step: the real pool is where the model says; every dial had
 * a permit of the budget and waited in `queued` for it, within the budget; at most one socket per
 * connection; a connection the user stopped stays stopped; exactly the timers, sockets, child actors
 * and environment listeners the model's state owns — and none once the pool is stopped or disposed.
 */
export function checkPoolInvariants(sut: PoolSut, state: PoolModelState): void {
  const { pool, clock, env } = sut;
  const world = state.world;
  const metrics = pool.metrics();
  const poolState = topState(state.snapshot.value);

  // The budget: every dial had a permit, asked for in `queued`; never more than the budget allows.
  expect(sut.dials.length, 'budget: one permit per dial').toBe(metrics.dials.granted);
  expect(metrics.dials.waiting, 'budget: nobody waits (the budget is never exhausted in these paths)').toBe(0);
  expectEveryDialQueued(sut.states);
  const times = sut.dials.map((dial) => dial.at);
  for (const windowMs of [1, 100, 1_000]) {
    const bound = POOL_TIMING.budget.burst + (POOL_TIMING.budget.ratePerSec * windowMs) / 1_000;
    expect(maxInWindow(times, windowMs), `budget: dials within ${windowMs} ms`).toBeLessThanOrEqual(bound);
  }

  if (world.disposed) {
    expectDisposed(sut);
    return;
  }

  // stop() leaves nothing behind: once the pool is stopped, every connection it stopped is closed, with
  // no socket and no timer (`stopTimeoutMs` bounds the close handshakes). Only a connection the user
  // started again after stop() may run, and it owns exactly what its state owns (checked below).
  if (poolState === 'stopped' || poolState === 'idle') {
    START_ORDER.forEach((name, i) => {
      if (!world.userStarted[i]) expect(pool.connection(name)!.status, `${name} in ${poolState}`).toBe(poolState === 'stopped' ? 'closed' : 'idle');
    });
    if (!world.userStarted.some(Boolean)) {
      expect(liveSocketCount() - sut.socketsBefore, `sockets in ${poolState}`).toBe(0);
      expect(clock.pending, `timers in ${poolState}`).toBe(0);
    }
  }

  // Where the model says, connection by connection.
  expect(pool.snapshot.value, 'pool state').toEqual(state.snapshot.value);
  expect(pool.snapshot.context.health, 'pool context health').toBe(state.snapshot.context.health);
  expect(pool.status().health, 'status().health').toBe(healthOf(world.links));
  expect(pool.status().state).toBe(poolState);
  START_ORDER.forEach((name, i) => {
    const expected = STATUS[world.links[i]!];
    const actual = pool.status().connections[name];
    const why = world.userStopped[i]
      ? ' (the user stopped it: nothing but the user starts it again, not a pool restart)'
      : actual === 'closed' && expected !== 'closed'
        ? ' (the user did not stop it: the pool must start it)'
        : '';
    expect(actual, `${name}'s status${why}`).toBe(expected);
  });
  expect(pool.connections.map((connection) => connection.name), 'start order: priority first').toEqual([...START_ORDER]);

  // One socket at most per connection; exactly the sockets, timers, children and listeners the state owns.
  START_ORDER.forEach((name, i) => {
    const link = world.links[i]!;
    const connection = pool.connection(name)!;
    expect(liveSockets(sut, name).length, `${name}: at most one open or opening socket`).toBe(link === 'pending' || link === 'up' ? 1 : 0);
    expect(connection.actor.getSnapshot().status, `${name}'s actor runs`).toBe('active');
    expect(Object.keys(connection.snapshot.children).sort(), `${name}: child actors while ${link}`).toEqual(SOCKETS[link] ? ['socket'] : []);
    // A connection the user stopped stays stopped: no dial since, whatever happened to the others.
    if (world.userStopped[i]) {
      expect(['closing', 'closed'], `${name} was stopped by the user`).toContain(connection.status);
      expect(dialsOf(sut, name), `${name} was stopped by the user: no dial since`).toBe(sut.dialsAtUserStop.get(name));
    }
  });
  const poolTimers = state.timers.filter((timer) => !timer.world).length;
  const expectedTimers = world.links.reduce((sum, link) => sum + TIMERS[link], poolTimers);
  expect(clock.pending, `timers (pool: ${poolTimers}, connections: ${world.links.join(', ')})`).toBe(expectedTimers);
  expect(liveSocketCount() - sut.socketsBefore, 'sockets not yet closed').toBe(world.links.reduce((sum, link) => sum + SOCKETS[link], 0));
  // The pool listens while it runs, and while a connection listens (one the user started while the pool stopped).
  const running = poolState === 'starting' || poolState === 'running' || poolState === 'stopping';
  const connectionListens = START_ORDER.some((name) => !['idle', 'closed', 'failed'].includes(pool.connection(name)!.status));
  expect(env.listenerCount, `one environment listener for the whole pool while ${poolState}`).toBe(running || connectionListens ? 1 : 0);
  expect(Object.keys(pool.snapshot.children), 'the pool spawns nothing of its own').toEqual([]);
}

export function poolReplay(variant: PoolVariant, coverage: Coverage): ReplayOptions<PoolSut, PoolModelState> {
  const advance: Stimulus<PoolSut, PoolModelState> = (sut, step) => sut.clock.advance(step.elapsed);
  /** The world's timers (a redial after the backoff, a close timeout) fire as the clock moves. */
  const worldTimers: Record<string, Stimulus<PoolSut, PoolModelState>> = Object.fromEntries(
    START_ORDER.flatMap((name) => [`${REDIAL_EVENT}${name}`, `${CLOSE_TIMEOUT_EVENT}${name}`]).map((type) => [type, advance]),
  );
  const nameOf = (step: ReplayStep<PoolModelState>) => (step.event as ModelEvent).name!;
  const closeAck: Stimulus<PoolSut, PoolModelState> = (sut) => {
    for (const socket of sut.heldCloses.splice(0)) socket.finish(1000, 'client closed', true);
  };

  return {
    setup: () => {
      const clock = new SimulatedClock(T0);
      const server = createMockServer({ autoOpen: false, now: () => clock.now() });
      const heldCloses: MockSocket[] = [];
      server.onClientClose = (socket: MockSocket) => {
        heldCloses.push(socket);
      };
      const env = createManualEnvironment();
      const dials: Dial[] = [];
      const socketsBefore = liveSocketCount();
      const pool = createPool({
        endpoints: MODEL_ENDPOINTS.map(({ name, priority }) => ({ name, priority, url: modelUrl(name) })),
        defaults: {
          WebSocket: recordingWebSocket(() => server, clock, dials),
          heartbeat: false,
          circuit: false,
          reconnect: { baseMs: POOL_TIMING.redialMs, capMs: POOL_TIMING.redialMs, jitter: 0, minUptimeMs: POOL_TIMING.far },
          connectTimeoutMs: POOL_TIMING.far,
          closeTimeoutMs: POOL_TIMING.far,
        },
        staggerMs: variant.staggerMs,
        stopTimeoutMs: POOL_TIMING.stopTimeoutMs,
        dialBudget: { ...POOL_TIMING.budget },
        clock,
        environment: env,
        random: () => 0.5,
        inspect: (event) => coverage.inspect(event as InspectionEvent),
      });
      const states: StateChange[] = [];
      pool.on('state', (change) => states.push({ ...change, at: clock.now() }));
      return { pool, clock, server, env, dials, states, heldCloses, socketsBefore, dialsAtUserStop: new Map() };
    },
    stimuli: {
      'pool.start': (sut) => {
        sut.pool.start();
      },
      'pool.stop': (sut) => {
        sut.pool.stop();
      },
      'env.offline': (sut) => sut.env.emit('offline'),
      'env.online': (sut) => sut.env.emit('online'),
      'server.change': (sut, step) => serverDoes(sut, (step.event as ModelEvent).via!),
      'server.refuse': (sut, step) => theSocket(sut, nameOf(step), 0).drop(),
      'connection.stop': (sut, step) => {
        const name = nameOf(step);
        sut.dialsAtUserStop.set(name, dialsOf(sut, name));
        sut.pool.connection(name)!.stop();
      },
      'connection.start': (sut, step) => {
        const name = nameOf(step);
        sut.dialsAtUserStop.delete(name);
        sut.pool.connection(name)!.start();
      },
      'server.closeAck': closeAck,
      'connection.release': (sut) => sut.pool.dispose(),
      // A connection actor that crashed reports `xstate.error.actor.<id>` to its parent. No real
      // connection can be made to crash without an unhandled error elsewhere, so the event is sent
      // as XState would send it; the pool must re-raise the error (asynchronously) and carry on.
      [CRASH_EVENT]: (sut) => {
        const raised: Array<() => void> = [];
        const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback: () => void) => {
          raised.push(callback);
        });
        try {
          (sut.pool.actor as AnyActorRef).send({ type: CRASH_EVENT, error: CRASH });
        } finally {
          spy.mockRestore();
        }
        expect(raised, 'the pool re-raises a crashed connection\'s error once').toHaveLength(1);
        expect(() => raised[0]!()).toThrow(CRASH);
      },
      ...worldTimers,
    },
    delayed: advance,
    assert: (sut, state) => checkPoolInvariants(sut, state),
    // Every path ends with dispose(), from wherever it left the pool.
    teardown: (sut, path, failed) => {
      if (!path.steps.at(-1)?.state.world.disposed) sut.pool.dispose();
      if (!failed) expectDisposed(sut);
    },
  };
}
