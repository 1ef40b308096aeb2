import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromCallback, type AnyActorRef } from 'xstate';
import { createConnection } from '../../../src/index.js';
import { SimulatedClock, createMockServer } from '../../../src/testing/index.js';
import { sharedParent } from '../../../src/connection/actor-system.js';
import { settle } from '../../support/harness.js';
import { collectRethrown } from '../../support/rethrown.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('connections sharing one actor system', () => {
  it('connections on one clock share one XState system', () => {
    const clock = new SimulatedClock();
    const { WebSocket } = createMockServer();
    const a = createConnection({ url: 'ws://a.test', WebSocket, clock });
    const b = createConnection({ url: 'ws://b.test', WebSocket, clock });
    expect(a.actor.system).toBe(b.actor.system);
  });

  it('an error of an actor in the shared system is rethrown on a later turn, not swallowed by the shared parent', async () => {
    const rethrown = collectRethrown();
    const broken = new Error('actor broke');
    createActor(
      fromCallback(() => {
        throw broken;
      }),
      { parent: sharedParent(new SimulatedClock()) },
    ).start();
    await settle();
    expect(rethrown).toEqual([broken]);
  });

  it('disposing one cancels its own timers only: the others keep their heartbeat', async () => {
    const clock = new SimulatedClock();
    const server = createMockServer();
    const options = { WebSocket: server.WebSocket, clock, heartbeat: { intervalMs: 1_000, timeoutMs: 500 } };
    const a = createConnection({ url: 'ws://a.test', ...options }).start();
    const b = createConnection({ url: 'ws://b.test', ...options }).start();
    await settle();
    const pendingBoth = clock.pending;
    a.dispose();
    expect(clock.pending).toBeLessThan(pendingBoth);
    expect(clock.pending).toBeGreaterThan(0);
    for (let i = 0; i < 50; i++) {
      clock.advance(1_000);
      await settle();
    }
    const socketB = server.sockets.find((socket) => socket.url === 'ws://b.test')!;
    expect(socketB.sentOfType('ping')).toHaveLength(50);
    expect(b.status).toBe('connected');
    expect(b.metrics().rtt.count).toBe(50);
    b.dispose();
    expect(clock.pending).toBe(0);
  });
});

const optionsOf = (actor: AnyActorRef) => (actor as unknown as { options: Record<string, unknown> }).options;
const socketOf = (actor: AnyActorRef) => (actor.getSnapshot() as { children: Record<string, AnyActorRef> }).children.socket!;

describe('actor options in a shared system', () => {
  it('a connection actor and its socket actor keep the options XState was given', async () => {
    const clock = new SimulatedClock();
    const { WebSocket } = createMockServer();
    const connection = createConnection({ url: 'ws://a.test', WebSocket, clock, name: 'orders' }).start();
    await settle();
    const root = optionsOf(connection.actor);
    expect(root.id).toBe('orders');
    expect(root.parent).toBe(connection.actor._parent);
    expect(root.input).toMatchObject({ settings: expect.objectContaining({ connectTimeoutMs: expect.any(Number) }) });
    const socket = optionsOf(socketOf(connection.actor));
    expect(socket).toMatchObject({ id: 'socket', src: 'socket', parent: connection.actor, input: { socket: expect.any(Number), urlIndex: 0 } });
    connection.dispose();
  });

  it('a key of its own that an actor was created with is kept', async () => {
    const clock = new SimulatedClock();
    const { WebSocket } = createMockServer();
    const connection = createConnection({ url: 'ws://a.test', WebSocket, clock });
    const hub = connection.actor._parent!;
    const { createActor, createMachine } = await import('xstate');
    const child = createActor(createMachine({}), { parent: hub, id: 'mine', systemId: 'mine', tenant: 'acme' } as never);
    expect(optionsOf(child)).toMatchObject({ id: 'mine', systemId: 'mine', parent: hub, tenant: 'acme' });
    connection.dispose();
  });

  it('the options of every connection and socket actor share one hidden class (V8 gives XState\'s spread a new one per actor)', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/option-shapes.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', fixture], { timeout: 30_000 });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({
      connected: 60,
      rootsShareShape: true,
      socketsShareShape: true,
      poolRootsShareShape: true,
      poolSocketsShareShape: true,
    });
  }, 40_000);
});
