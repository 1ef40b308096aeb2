import { afterEach, describe, expect, it } from 'vitest';
import { assign, createActor, createMachine } from 'xstate';
import { connectInspector, createConnection, createPool, InvalidOptionError, type AuthOptions } from '../../../src/index.node.js';
import { createMockServer } from '../../../src/testing/index.js';
import { settle } from '../../support/harness.js';
import { freePort } from '../../support/ports.js';
import { until } from '../../support/until.js';
import { FakeInspectorSocket, openPage, startTestInspector } from './support.js';

/** socketchart's inspector helper: when the inspector is away, restarts, or is closed; what it sends and never sends. */

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const door = createMachine({ id: 'door', initial: 'closed', states: { closed: { on: { open: 'open' } }, open: { on: { close: 'closed' } } } });

describe('connectInspector()', () => {
  it('keeps what happens before the inspector listens, and sends it in order once it does', async () => {
    const port = await freePort();
    const inspector = connectInspector({ url: `ws://127.0.0.1:${port}`, reconnectMs: 30, metricsIntervalMs: false });
    cleanups.push(() => inspector.close());
    const actor = createActor(door, { inspect: inspector }).start();
    actor.send({ type: 'open' });
    actor.send({ type: 'close' });
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(inspector.status).toBe('connecting');
    const server = await startTestInspector({ port });
    cleanups.push(() => server.close());
    const page = await openPage(server);
    cleanups.push(() => page.close());
    await until(() => page.records.filter((r) => r.type === '@xstate.snapshot').length >= 3, 5_000, 'three snapshots');
    const values = page.records.filter((r) => r.type === '@xstate.snapshot').map((r) => (r.snapshot as { value: unknown }).value);
    expect(values).toEqual(['closed', 'open', 'closed']);
    expect(page.records.findIndex((r) => r.type === '@xstate.actor')).toBeLessThan(page.records.findIndex((r) => r.type === '@xstate.snapshot'));
    expect(inspector.status).toBe('open');
    actor.stop();
  });

  it('announces every live actor again to an inspector that restarted, with its current state', async () => {
    const port = await freePort();
    const first = await startTestInspector({ port });
    const inspector = connectInspector({ url: first.wsUrl, reconnectMs: 30, metricsIntervalMs: false });
    cleanups.push(() => inspector.close());
    const mock = createMockServer();
    const pool = createPool({ endpoints: [{ name: 'north', url: 'ws://mock.test/n' }], defaults: { WebSocket: mock.WebSocket }, staggerMs: 0, environment: false, inspect: inspector });
    cleanups.push(() => pool.dispose());
    pool.start();
    await until(() => pool.status().health === 'up', 5_000, 'connected');
    await until(() => first.stats().received > 10, 5_000, 'the first inspector heard it');
    await first.close();
    const second = await startTestInspector({ port });
    cleanups.push(() => second.close());
    const page = await openPage(second);
    cleanups.push(() => page.close());
    const north = await page.find((r) => r.type === '@xstate.actor' && r.name === 'north', 'the connection, announced again');
    expect(JSON.stringify((north.snapshot as { value: unknown }).value)).toContain('connected');
    await page.find((r) => r.type === '@xstate.actor' && r.name === 'pool', 'its pool');
  });

  it('sends data-plane messages only when asked (messages: true), with their channel and sequence number', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const mock = createMockServer();
    const run = async (messages: boolean, name: string) => {
      const inspector = connectInspector({ url: server.wsUrl, metricsIntervalMs: false, messages });
      cleanups.push(() => inspector.close());
      const connection = createConnection({ url: `ws://mock.test/${name}`, name, WebSocket: mock.WebSocket, environment: false, inspect: inspector });
      cleanups.push(() => connection.dispose());
      const got: unknown[] = [];
      connection.subscribe('news:today', (data) => got.push(data));
      connection.start();
      await until(() => connection.status === 'connected', 5_000, `${name} connected`);
      inspector.flush();
      mock.last!.push({ type: 'message', ch: 'news:today', seq: 7, data: { headline: `hello from ${name}` } });
      await until(() => got.length === 1, 5_000, `${name} delivered`);
      inspector.flush();
    };
    await run(false, 'quiet');
    await run(true, 'chatty');
    const page = await openPage(server);
    cleanups.push(() => page.close());
    const message = await page.find((r) => r.type === '@socketchart.message', 'a message');
    expect(message).toMatchObject({ name: 'chatty', channel: 'news:today', seq: 7, data: { headline: 'hello from chatty' } });
    await settle();
    expect(page.records.filter((r) => r.type === '@socketchart.message').map((r) => r.name)).toEqual(['chatty']);
  });

  for (const mode of ['message', 'subprotocol', 'query'] as const satisfies ReadonlyArray<AuthOptions['mode']>) {
    it(`auth mode ${mode}: no token reaches the inspector`, async () => {
      const server = await startTestInspector();
      cleanups.push(() => server.close());
      const inspector = connectInspector({ url: server.wsUrl, metricsIntervalMs: 20, messages: true });
      cleanups.push(() => inspector.close());
      const token = `tok-${mode}-SECRET-4b1d`;
      const mock = createMockServer({ autoAuth: () => true });
      const connection = createConnection({ url: 'ws://mock.test/secure', WebSocket: mock.WebSocket, environment: false, auth: { token, mode }, inspect: inspector });
      cleanups.push(() => connection.dispose());
      connection.start();
      await settle();
      if (mode !== 'message') mock.last!.push({ type: 'auth_ok', userId: 'u1', sessionId: 's1' });
      await until(() => connection.status === 'connected', 5_000, 'connected');
      const page = await openPage(server);
      cleanups.push(() => page.close());
      await page.find((r) => r.type === '@socketchart.metrics', 'a metrics sample');
      expect(JSON.stringify(page.records)).not.toContain(token);
    });
  }

  it('close() ends the socket and every timer; later events are ignored', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const handles = () => {
      const counts: Record<string, number> = {};
      for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
      return counts;
    };
    const before = handles();
    const inspector = connectInspector({ url: server.wsUrl, metricsIntervalMs: 10 });
    const mock = createMockServer();
    const connection = createConnection({ url: 'ws://mock.test/c', WebSocket: mock.WebSocket, environment: false, inspect: inspector });
    connection.start();
    await until(() => server.stats().sources === 1 && server.stats().received > 5, 5_000, 'the inspector heard the connection');
    connection.dispose();
    inspector.close();
    expect(inspector.status).toBe('closed');
    await until(() => server.stats().sources === 0, 5_000, 'the server saw the app leave');
    const received = server.stats().received;
    inspector.next({ type: '@xstate.event' } as never);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(server.stats().received).toBe(received);
    const after = handles();
    for (const [kind, n] of Object.entries(after)) expect(n, `${kind} left open`).toBeLessThanOrEqual(before[kind] ?? 0);
  });

  it('close() while the socket is still connecting closes it', () => {
    const inspector = connectInspector({ url: 'ws://127.0.0.1:1', WebSocket: FakeInspectorSocket as never, metricsIntervalMs: false });
    const socket = FakeInspectorSocket.last;
    inspector.close();
    expect(socket.readyState).toBe(3);
  });

  it('close() first sends the events still queued', () => {
    const inspector = connectInspector({ url: 'ws://127.0.0.1:1', WebSocket: FakeInspectorSocket as never, metricsIntervalMs: false, flushMs: 60_000 });
    const socket = FakeInspectorSocket.last;
    socket.open();
    const actor = createActor(door, { inspect: inspector }).start();
    actor.send({ type: 'open' });
    inspector.close();
    expect(socket.records.filter((r) => r.type === '@xstate.event').map((r) => (r.event as { type: string }).type)).toContain('open');
  });

  it('sends a flush in one frame to an inspector that takes batches, and one event a frame to one that does not', () => {
    const frames = (greet: boolean) => {
      const inspector = connectInspector({ url: 'ws://127.0.0.1:1', WebSocket: FakeInspectorSocket as never, metricsIntervalMs: false, flushMs: 60_000 });
      cleanups.push(() => inspector.close());
      const socket = FakeInspectorSocket.last;
      socket.open(greet);
      createActor(door, { inspect: inspector }).start().send({ type: 'open' });
      inspector.flush();
      return { frames: socket.sent.length, records: socket.records.length };
    };
    const batched = frames(true);
    const single = frames(false);
    expect(batched.records).toBeGreaterThan(2);
    expect(batched.frames).toBe(1);
    expect(single.frames).toBe(single.records);
  });

  it('splits a large flush into frames the inspector server takes (under its 8 MiB)', () => {
    const inspector = connectInspector({ url: 'ws://127.0.0.1:1', WebSocket: FakeInspectorSocket as never, metricsIntervalMs: false, flushMs: 60_000 });
    cleanups.push(() => inspector.close());
    const socket = FakeInspectorSocket.last;
    socket.open();
    const doc = createMachine({ id: 'doc', context: { text: 'x'.repeat(400 * 1024) } });
    for (let i = 0; i < 12; i++) createActor(doc, { inspect: inspector }).start();
    inspector.flush();
    expect(socket.records.filter((r) => r.type === '@xstate.actor')).toHaveLength(12);
    for (const frame of socket.sent) expect(Buffer.byteLength(frame)).toBeLessThanOrEqual(8 * 1024 * 1024);
  });

  it('keeps maxBuffered events while the inspector is away, dropping none of them', () => {
    const run = (maxBuffered: number) => {
      const inspector = connectInspector({ url: 'ws://127.0.0.1:1', WebSocket: FakeInspectorSocket as never, metricsIntervalMs: false, flushMs: 60_000, maxBuffered });
      cleanups.push(() => inspector.close());
      const actor = createActor(door, { inspect: inspector }).start();
      actor.send({ type: 'open' });
      inspector.flush();
      return inspector;
    };
    const kept = run(1_000);
    expect(kept.dropped).toBe(0);
    FakeInspectorSocket.last.open();
    const events = FakeInspectorSocket.last.records.length;
    expect(run(events).dropped).toBe(0);
    expect(run(events - 1).dropped).toBe(1);
  });

  it('sends the state of an actor whose context holds a 1 MiB Buffer (binary as its size), leaving nothing out', () => {
    const inspector = connectInspector({ url: 'ws://127.0.0.1:1', WebSocket: FakeInspectorSocket as never, metricsIntervalMs: false, flushMs: 60_000 });
    cleanups.push(() => inspector.close());
    FakeInspectorSocket.last.open();
    const upload = createMachine({ id: 'upload', context: { chunk: Buffer.alloc(1024 * 1024) } });
    const actor = createActor(upload, { inspect: inspector }).start();
    cleanups.push(() => actor.stop());
    inspector.flush();
    expect(inspector.dropped).toBe(0);
    const created = FakeInspectorSocket.last.records.find((record) => record.type === '@xstate.actor' && record.name === 'upload');
    expect((created?.snapshot as { context?: unknown } | undefined)?.context).toEqual({ chunk: '[1048576 bytes]' });
  });

  it('announces, on its first socket, an actor whose creation the full buffer left out', () => {
    const inspector = connectInspector({ url: 'ws://127.0.0.1:1', WebSocket: FakeInspectorSocket as never, metricsIntervalMs: false, flushMs: 60_000, maxBuffered: 2 });
    cleanups.push(() => inspector.close());
    const socket = FakeInspectorSocket.last;
    const actor = createActor(door, { inspect: inspector }).start();
    cleanups.push(() => actor.stop());
    for (let i = 0; i < 3; i++) actor.send({ type: i % 2 ? 'close' : 'open' });
    inspector.flush();
    expect(inspector.dropped).toBeGreaterThan(0);
    socket.open();
    expect(socket.records.filter((r) => r.type === '@xstate.actor' && r.sessionId === actor.sessionId)).toHaveLength(1);
  });

  it('samples metrics every metricsIntervalMs, after the events that came before each sample', async () => {
    const inspector = connectInspector({ url: 'ws://127.0.0.1:1', WebSocket: FakeInspectorSocket as never, metricsIntervalMs: 10, flushMs: 60_000 });
    cleanups.push(() => inspector.close());
    const socket = FakeInspectorSocket.last;
    socket.open();
    const mock = createMockServer();
    const connection = createConnection({ url: 'ws://mock.test/c', WebSocket: mock.WebSocket, environment: false, inspect: inspector });
    cleanups.push(() => connection.dispose());
    connection.start();
    inspector.flush();
    await until(() => socket.records.filter((r) => r.type === '@socketchart.metrics').length >= 3 && connection.status === 'connected', 5_000, 'three samples, connected');
    await until(() => socket.records.some((r) => r.type === '@socketchart.metrics' && (r.sample as { status: string }).status === 'connected'), 5_000, 'a sample once connected');
    const records = socket.records;
    const firstConnected = records.findIndex((r) => r.type === '@socketchart.metrics' && (r.sample as { status: string }).status === 'connected');
    expect(firstConnected).toBeGreaterThan(0);
    const snapshotsBefore = records.slice(0, firstConnected).filter((r) => r.type === '@xstate.snapshot' && r.sessionId === records[firstConnected]!.sessionId);
    expect(snapshotsBefore.some((r) => JSON.stringify((r.snapshot as { value?: unknown }).value).includes('connected'))).toBe(true);
  });

  it('keeps at most 16 MiB of events while the inspector is away', () => {
    const inspector = connectInspector({ url: 'ws://127.0.0.1:1', WebSocket: FakeInspectorSocket as never, metricsIntervalMs: false, flushMs: 60_000 });
    cleanups.push(() => inspector.close());
    const socket = FakeInspectorSocket.last;
    const doc = createMachine({ id: 'doc', context: { text: 'x'.repeat(1024 * 1024), n: 0 }, on: { edit: { actions: assign({ n: ({ context }) => context.n + 1 }) } } });
    const actor = createActor(doc, { inspect: inspector }).start();
    cleanups.push(() => actor.stop());
    for (let i = 0; i < 40; i++) {
      actor.send({ type: 'edit' });
      inspector.flush();
    }
    socket.open(false);
    expect(inspector.dropped).toBeGreaterThan(0);
    expect(socket.sent.reduce((sum, frame) => sum + frame.length, 0)).toBeLessThanOrEqual(16 * 1024 * 1024);
  });

  it("sends a connection's figures once more as it stops, and none with metricsIntervalMs: false", async () => {
    const lastSamples = async (metricsIntervalMs: number | false) => {
      const inspector = connectInspector({ url: 'ws://127.0.0.1:1', WebSocket: FakeInspectorSocket as never, metricsIntervalMs, flushMs: 60_000 });
      cleanups.push(() => inspector.close());
      const socket = FakeInspectorSocket.last;
      socket.open();
      const mock = createMockServer();
      const connection = createConnection({ url: 'ws://mock.test/c', WebSocket: mock.WebSocket, environment: false, inspect: inspector });
      connection.start();
      await until(() => connection.status === 'connected', 5_000, 'connected');
      inspector.flush();
      const before = socket.sent.length;
      connection.dispose();
      inspector.flush();
      return socket.sent.slice(before).flatMap((text) => [JSON.parse(text)].flat() as Array<{ type: string; sample?: { status: string } }>).filter((r) => r.type === '@socketchart.metrics');
    };
    expect((await lastSamples(60_000)).map((r) => r.sample!.status)).toEqual(['closed']);
    expect(await lastSamples(false)).toEqual([]);
  });

  it('refuses a url that is not ws:// or wss://, and bad numbers, naming the option', () => {
    expect(() => connectInspector({ url: 'http://127.0.0.1:4242' })).toThrow(InvalidOptionError);
    expect(() => connectInspector({ url: 'http://127.0.0.1:4242' })).toThrow(/url/);
    expect(() => connectInspector({ url: 'ws://127.0.0.1:1', metricsIntervalMs: -5 })).toThrow(/metricsIntervalMs/);
    expect(() => connectInspector({ url: 'ws://127.0.0.1:1', maxBuffered: 0 })).toThrow(/maxBuffered/);
  });

  it('refuses a url that is not ws:// or wss:// without repeating its password or token', () => {
    for (const [url, host] of [
      ['https://ann:SECRET-pw-1@inspector.example/', 'inspector.example'],
      ['https://in.example/?token=SECRET-tk-2', 'in.example'],
    ]) {
      const error = (() => {
        try {
          connectInspector({ url });
        } catch (thrown) {
          return thrown as InvalidOptionError;
        }
      })();
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect(error!.message).toContain(host);
      expect(`${error!.message} ${error!.received}`).not.toMatch(/SECRET/);
    }
  });
});
