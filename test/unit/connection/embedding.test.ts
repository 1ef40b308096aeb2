import { afterEach, describe, expect, it, vi } from 'vitest';
import { assign, createActor, sendTo, setup, type AnyActorRef } from 'xstate';
import {
  connectionLogic,
  connectionMachine,
  connectionOf,
  poolLogic,
  poolOf,
  statusOf,
  type ConnectionLogic,
  type ConnectionOptions,
  type ConnectionSettings,
} from '../../../src/index.js';
import { SimulatedClock, createManualEnvironment, createMockServer } from '../../../src/testing/index.js';
import { settle } from '../../support/harness.js';
import { machineSettings } from '../../support/machine-settings.js';

/**
 * The machines run without socketchart's handle: the pure machine on its own, `connectionLogic()` /
 * `poolLogic()` with plain `createActor`, and a connection or a pool invoked or spawned inside an app's
 * own machine, which follows its states.
 */

function world() {
  const clock = new SimulatedClock(1_700_000_000_000);
  const server = createMockServer({ now: () => clock.now() });
  const env = createManualEnvironment();
  const options: ConnectionOptions = { url: 'ws://mock.test/app', WebSocket: server.WebSocket, clock, environment: env, random: () => 0.5, reconnect: { baseMs: 100, capMs: 100 } };
  return { clock, server, env, options };
}

const settings: ConnectionSettings = machineSettings({
  connectTimeoutMs: 1_000,
  authTimeoutMs: 1_000,
  closeTimeoutMs: 1_000,
  reconnect: { baseMs: 100, capMs: 100, multiplier: 2, jitter: 0, minUptimeMs: 5_000, restartWindowMs: 1_000, tryLaterMs: 1_000 },
  circuit: { failureThreshold: 3, recoveryMs: 1_000, recoveryMultiplier: 2, maxRecoveryMs: 4_000 },
  heartbeat: false,
  refreshLeadMs: 0,
});

/** An app whose own states follow its connection: online, degraded (on its way back), offline. */
const appMachine = (connection: ConnectionLogic) =>
  setup({
    types: {} as { context: { statuses: string[] } },
    actors: { connection },
    actions: {
      note: assign(({ context }, status: string) => ({ statuses: [...context.statuses, status] })),
    },
    guards: {
      is: (_, { status, among }: { status: string; among: readonly string[] }) => among.includes(status),
    },
  }).createMachine({
    id: 'app',
    context: { statuses: [] },
    initial: 'offline',
    invoke: {
      id: 'connection',
      src: 'connection',
      onSnapshot: [
        {
          guard: { type: 'is', params: ({ event }) => ({ status: statusOf(event.snapshot), among: ['connected'] }) },
          target: '.online',
          actions: { type: 'note', params: ({ event }) => statusOf(event.snapshot) },
        },
        {
          guard: { type: 'is', params: ({ event }) => ({ status: statusOf(event.snapshot), among: ['reconnecting', 'circuitOpen', 'connecting', 'queued'] }) },
          target: '.degraded',
          actions: { type: 'note', params: ({ event }) => statusOf(event.snapshot) },
        },
        { target: '.offline', actions: { type: 'note', params: ({ event }) => statusOf(event.snapshot) } },
      ],
    },
    entry: sendTo('connection', { type: 'connection.start' }),
    states: { online: {}, degraded: {}, offline: {} },
    on: { 'app.quit': { actions: sendTo('connection', { type: 'connection.stop' }) } },
  });

describe('the pure machines run on their own', () => {
  it('createActor(connectionMachine) runs the statechart with its stub implementations: it dials nothing, times out and backs off', () => {
    const clock = new SimulatedClock();
    const actor = createActor(connectionMachine, { input: { settings }, clock }).start();
    actor.send({ type: 'connection.start' });
    expect(statusOf(actor.getSnapshot())).toBe('connecting');
    clock.advance(1_000);
    expect(statusOf(actor.getSnapshot()), 'the stub socket never opens: the connect timeout fires').toBe('reconnecting');
    expect(actor.getSnapshot().context.lastError).toMatchObject({ code: 'TIMEOUT' });
    actor.send({ type: 'connection.stop' });
    expect(statusOf(actor.getSnapshot())).toBe('closed');
    expect(clock.pending).toBe(0);
    actor.stop();
  });

  it('the pure machine follows socket events it is sent, and ignores those of a socket it no longer owns', () => {
    const actor = createActor(connectionMachine, { input: { settings } }).start();
    actor.send({ type: 'connection.start' });
    const { socket } = actor.getSnapshot().context;
    actor.send({ type: 'socket.open', socket: socket + 1 });
    expect(statusOf(actor.getSnapshot()), 'a stale socket id').toBe('connecting');
    actor.send({ type: 'socket.open', socket });
    expect(statusOf(actor.getSnapshot())).toBe('connected');
    expect(actor.getSnapshot().hasTag('writable')).toBe(true);
    actor.send({ type: 'env.offline' });
    expect(statusOf(actor.getSnapshot())).toBe('offline');
    expect(actor.getSnapshot().context.online).toBe(false);
    actor.stop();
  });
});

describe('connectionLogic(): a connection without the handle', () => {
  it('createActor(connectionLogic(options)) needs no input, connects, and connectionOf() gives its data plane', async () => {
    const { server, clock, options } = world();
    const actor = createActor(connectionLogic(options), { clock }).start();
    const connection = connectionOf(actor);
    expect(connectionOf(actor), 'one handle per actor').toBe(connection);
    const received: unknown[] = [];
    connection.subscribe('news', (data) => received.push(data));
    actor.send({ type: 'connection.start' });
    await settle();
    expect(statusOf(actor.getSnapshot())).toBe('connected');
    expect(server.last?.sentOfType('subscribe')).toEqual([{ type: 'subscribe', ch: 'news' }]);
    server.last!.push({ type: 'message', ch: 'news', seq: 1, data: 'hello' });
    await connection.send({ hi: 1 }, { channel: 'news' });
    expect(received).toEqual(['hello']);
    expect(server.last?.sentOfType('publish')).toHaveLength(1);
    actor.send({ type: 'connection.stop' });
    await settle();
    expect(statusOf(actor.getSnapshot())).toBe('closed');
    actor.stop();
    expect(server.live).toHaveLength(0);
    expect(clock.pending).toBe(0);
  });

  it('reads the environment as the actor is created: started offline, it waits offline and dials when the network is back', async () => {
    const { server, env, clock, options } = world();
    env.emit('offline');
    const actor = createActor(connectionLogic(options), { clock }).start();
    actor.send({ type: 'connection.start' });
    expect(statusOf(actor.getSnapshot())).toBe('offline');
    expect(server.sockets).toHaveLength(0);
    env.emit('online');
    await settle();
    expect(statusOf(actor.getSnapshot())).toBe('connected');
    actor.stop();
  });

  it('reads the environment as it is started: created online, started after the network went down, it dials nothing', async () => {
    const { server, env, clock, options } = world();
    const actor = createActor(connectionLogic(options), { clock }).start();
    env.emit('offline');
    actor.send({ type: 'connection.start' });
    await settle();
    expect(server.sockets).toHaveLength(0);
    expect(statusOf(actor.getSnapshot())).toBe('offline');
    actor.stop();
  });

  it('reads the environment as it is started again: closed, then started after the network went down, it dials nothing', async () => {
    const { server, env, clock, options } = world();
    const actor = createActor(connectionLogic(options), { clock }).start();
    actor.send({ type: 'connection.start' });
    await settle();
    actor.send({ type: 'connection.stop' });
    await settle();
    expect(statusOf(actor.getSnapshot())).toBe('closed');
    env.emit('offline');
    actor.send({ type: 'connection.start' });
    await settle();
    expect(server.sockets, 'the first dial only').toHaveLength(1);
    expect(statusOf(actor.getSnapshot())).toBe('offline');
    actor.stop();
  });

  it('with closeWhenHidden, started while the page is hidden (hidden after the actor was created), it dials nothing', async () => {
    const { server, env, clock, options } = world();
    const actor = createActor(connectionLogic({ ...options, closeWhenHidden: true }), { clock }).start();
    env.emit('hidden');
    actor.send({ type: 'connection.start' });
    await settle();
    expect(server.sockets).toHaveLength(0);
    expect(statusOf(actor.getSnapshot())).toBe('suspended');
    actor.stop();
  });

  it('the handle reads isDisposed and emits disposed, once, when the app stops its actor; start() then refuses', async () => {
    const { clock, options } = world();
    const actor = createActor(connectionLogic(options), { clock }).start();
    const connection = connectionOf(actor);
    actor.send({ type: 'connection.start' });
    await settle();
    const told: string[] = [];
    connection.on('disposed', ({ name }) => told.push(name));
    actor.stop();
    expect(told).toEqual([connection.name]);
    expect(connection.isDisposed).toBe(true);
    expect(connection.status).toBe('closed');
    expect(() => connection.start()).toThrow(/disposed/);
  });

  it('stop() on the handle of an actor the app has stopped does nothing', async () => {
    const { clock, options } = world();
    const actor = createActor(connectionLogic(options), { clock }).start();
    const connection = connectionOf(actor);
    connection.start();
    await settle();
    actor.stop();
    expect(connection.isDisposed).toBe(true);
    expect(() => connection.stop()).not.toThrow();
  });

  it('a handle disposed before the app stops its actor emits disposed once', async () => {
    const { clock, options } = world();
    const actor = createActor(connectionLogic(options), { clock }).start();
    const connection = connectionOf(actor);
    actor.send({ type: 'connection.start' });
    await settle();
    let told = 0;
    connection.on('disposed', () => told++);
    connection.dispose();
    expect(connection.isDisposed).toBe(true);
    actor.stop();
    expect(told).toBe(1);
  });

  it('connectionOf() refuses an actor that is not a connection', () => {
    const other = createActor(setup({}).createMachine({})).start();
    expect(() => connectionOf(other)).toThrow(TypeError);
  });
});

describe('connectionLogic() on the host timers (createActor without a clock)', () => {
  const DAY = 86_400_000;
  afterEach(() => vi.useRealTimers());

  /** A connection as the README's Embedding section runs it: XState's own clock, host timers (faked here), where a delay over 2^31 - 1 ms fires at once. */
  async function embedded(server: ReturnType<typeof createMockServer>, tokens: string[]) {
    const token = async () => `t${tokens.push('t')}`;
    const options: ConnectionOptions = { url: 'ws://mock.test/app', WebSocket: server.WebSocket, environment: false, heartbeat: false, circuit: false, auth: { token } };
    const actor = createActor(connectionLogic(options)).start();
    actor.send({ type: 'connection.start' });
    await settle();
    await settle();
    expect(statusOf(actor.getSnapshot())).toBe('connected');
    return actor;
  }

  /** Host time (faked) forward in steps of 10 ms, the mock server's answers landing between them. */
  async function run(ms: number) {
    for (let left = ms; left > 0; left -= 10) {
      vi.advanceTimersByTime(Math.min(10, left));
      await settle();
    }
  }

  it('a 30-day session is not refreshed in a loop', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const server = createMockServer({ sessionTtlMs: 30 * DAY });
    const tokens: string[] = [];
    const actor = await embedded(server, tokens);
    await run(1_000);
    expect(tokens, 'the token of the dial only').toHaveLength(1);
    expect(server.last!.sentOfType('auth')).toHaveLength(1);
    actor.stop();
  });

  it('a 4029 close with a retry_after of 30 days dials nothing a second later', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const server = createMockServer();
    const actor = await embedded(server, []);
    server.last!.closeFromServer(4029, `retry_after=${30 * 86_400}`);
    await settle();
    expect(statusOf(actor.getSnapshot())).toBe('reconnecting');
    await run(1_000);
    expect(server.sockets).toHaveLength(1);
    actor.stop();
  });
});

describe('a connection inside an app machine', () => {
  it('an invoked connection is started by its app, whose own states follow it: offline → online → degraded → online', async () => {
    const { server, clock, options } = world();
    const app = createActor(appMachine(connectionLogic(options)), { clock }).start();
    await settle();
    expect(app.getSnapshot().value).toBe('online');
    server.last!.drop();
    await settle();
    expect(app.getSnapshot().value, 'the connection backs off').toBe('degraded');
    clock.advance(100);
    await settle();
    expect(app.getSnapshot().value).toBe('online');
    expect(app.getSnapshot().context.statuses).toEqual(['idle', 'connecting', 'connected', 'reconnecting', 'connecting', 'connected']);
    app.send({ type: 'app.quit' });
    await settle();
    expect(app.getSnapshot().value).toBe('offline');
    app.stop();
    expect(server.live, 'stopping the app stops its connection').toHaveLength(0);
    expect(clock.pending).toBe(0);
  });

  it('stopping the app closes the socket of a running connection and leaves no timer and no environment listener', async () => {
    const { server, clock, env, options } = world();
    const app = createActor(appMachine(connectionLogic({ ...options, heartbeat: { intervalMs: 1_000, timeoutMs: 500 } })), { clock }).start();
    await settle();
    expect(app.getSnapshot().value).toBe('online');
    expect(env.listenerCount).toBe(1);
    app.stop();
    expect(server.live).toHaveLength(0);
    expect(clock.pending).toBe(0);
    expect(env.listenerCount).toBe(0);
  });

  it('stopping the actor while a subscribe refused by the control rate limit waits to be asked again leaves no timer', async () => {
    const { server, clock, options } = world();
    const actor = createActor(connectionLogic({ ...options, heartbeat: false }), { clock }).start();
    connectionOf(actor).subscribe('feed', () => {});
    actor.send({ type: 'connection.start' });
    await settle();
    const timers = clock.pending;
    const limited = { type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'rate limit exceeded for control', retry_after: 2 };
    server.last!.push({ ...limited, details: { scope: 'control', ch: 'feed', action: 'subscribe', retry_after_ms: 2_000 } });
    expect(clock.pending, 'the subscribe is asked again later').toBe(timers + 1);
    actor.stop();
    expect(server.live).toHaveLength(0);
    expect(clock.pending).toBe(0);
  });

  it('spawned connections are each their own connection, with their own runtime', async () => {
    const { server, clock, options } = world();
    const logic = connectionLogic(options);
    const parent = setup({ types: {} as { context: { refs: AnyActorRef[] } }, actors: { connection: logic } }).createMachine({
      context: { refs: [] },
      on: {
        'app.open': { actions: assign(({ context, spawn }) => ({ refs: [...context.refs, spawn('connection')] })) },
      },
    });
    const app = createActor(parent, { clock }).start();
    app.send({ type: 'app.open' });
    app.send({ type: 'app.open' });
    const [a, b] = app.getSnapshot().context.refs as [AnyActorRef, AnyActorRef];
    a.send({ type: 'connection.start' });
    b.send({ type: 'connection.start' });
    await settle();
    expect(server.sockets).toHaveLength(2);
    expect(connectionOf(a)).not.toBe(connectionOf(b));
    expect([connectionOf(a).status, connectionOf(b).status]).toEqual(['connected', 'connected']);
    app.stop();
    expect(server.live).toHaveLength(0);
  });
});

describe('poolLogic(): a pool inside an app machine', () => {
  it('an invoked pool creates its connections as its children, starts them in priority order, and its health is followed', async () => {
    const { server, clock, env } = world();
    const logic = poolLogic({
      endpoints: [
        { name: 'low', url: 'ws://mock.test/low', priority: 2 },
        { name: 'high', url: 'ws://mock.test/high', priority: 1 },
      ],
      defaults: { WebSocket: server.WebSocket },
      staggerMs: 0,
      clock,
      environment: env,
    });
    const app = setup({ types: {} as { context: { health: string } }, actors: { pool: logic } }).createMachine({
      context: { health: 'down' },
      invoke: { id: 'pool', src: 'pool', onSnapshot: { actions: assign(({ event }) => ({ health: String((event.snapshot as { context: { health: string } }).context.health) })) } },
      entry: sendTo('pool', { type: 'pool.start' }),
    });
    const actor = createActor(app, { clock }).start();
    await settle();
    expect(server.sockets.map((socket) => socket.url)).toEqual(['ws://mock.test/high', 'ws://mock.test/low']);
    expect(actor.getSnapshot().context.health).toBe('up');
    const pool = poolOf(actor.getSnapshot().children.pool as AnyActorRef);
    expect(pool.connections.map((connection) => connection.name)).toEqual(['high', 'low']);
    server.sockets[0]!.drop();
    await settle();
    expect(actor.getSnapshot().context.health).toBe('degraded');
    actor.stop();
    expect(server.live, 'stopping the app stops the pool and its connections').toHaveLength(0);
    expect(clock.pending).toBe(0);
    expect(pool.connections.map((connection) => connection.actor.getSnapshot().status)).toEqual(['stopped', 'stopped']);
  });
});
