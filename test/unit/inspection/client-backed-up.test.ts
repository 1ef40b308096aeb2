import { afterEach, describe, expect, it } from 'vitest';
import { createActor, createMachine } from 'xstate';
import { Store, type Rec } from '../../../inspector/src/store.js';
import { connectInspector } from '../../../src/index.node.js';
import { FakeInspectorSocket } from './support.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** More than the helper lets its socket back up (16 MiB). */
const BACKED_UP = 64 * 1024 * 1024;

const counter = createMachine({ id: 'counter', on: { tick: {} } });
const job = createMachine({ id: 'job', initial: 'running', states: { running: {} } });
const child = createMachine({ id: 'child', initial: 'a', states: { a: { on: { go: 'b' } }, b: {} } });

function greetedInspector() {
  const inspector = connectInspector({ url: 'ws://127.0.0.1:1', WebSocket: FakeInspectorSocket as never, metricsIntervalMs: false });
  cleanups.push(() => inspector.close());
  const socket = FakeInspectorSocket.last;
  socket.open();
  return { inspector, socket };
}

describe('connectInspector() with a backed-up socket', () => {
  it('counts every event left out in `dropped`, not every batch', () => {
    const { inspector, socket } = greetedInspector();
    const actor = createActor(counter, { inspect: inspector }).start();
    cleanups.push(() => actor.stop());
    inspector.flush();
    socket.bufferedAmount = BACKED_UP;
    for (let i = 0; i < 100; i++) actor.send({ type: 'tick' }); // 100 × (event + snapshot)
    inspector.flush();
    expect(inspector.dropped).toBe(200);
  });

  it('announces the actors whose creation it left out once the socket drains', async () => {
    const { inspector, socket } = greetedInspector();
    socket.bufferedAmount = BACKED_UP;
    const actor = createActor(child, { inspect: inspector }).start();
    cleanups.push(() => actor.stop());
    inspector.flush();
    expect(inspector.dropped).toBeGreaterThan(0);

    socket.bufferedAmount = 0;
    actor.send({ type: 'go' });
    inspector.flush();
    const sessionId = socket.records.find((r) => r.type === '@xstate.snapshot')?.sessionId;
    expect(sessionId).toBeDefined();
    expect(socket.records.some((r) => r.type === '@xstate.actor' && r.sessionId === sessionId)).toBe(true);
  });

  /** A `job` actor that stopped while the socket was backed up (its stop left out), and a `counter` still running. */
  function jobStoppedWhileBackedUp() {
    const { inspector, socket } = greetedInspector();
    const other = createActor(counter, { inspect: inspector }).start();
    cleanups.push(() => other.stop());
    const worker = createActor(job, { inspect: inspector }).start();
    inspector.flush();
    socket.bufferedAmount = BACKED_UP;
    worker.stop();
    inspector.flush();
    return { inspector, socket, other };
  }

  it('tells the inspector that an actor stopped while events were left out, once the socket drains', () => {
    const { inspector, socket, other } = jobStoppedWhileBackedUp();
    expect(inspector.dropped).toBeGreaterThan(0);

    socket.bufferedAmount = 0;
    other.send({ type: 'tick' });
    inspector.flush();
    const store = new Store({ maxEntries: 10_000 });
    for (const record of socket.records) store.ingest(record as Rec);
    const shown = [...store.walk()].find((node) => node.name === 'job')!;
    expect(shown.sessions.map((session) => session.status)).toEqual(['stopped']);
    const jobId = socket.records.find((r) => r.type === '@xstate.actor' && r.name === 'job')!.sessionId;
    expect(socket.records.at(-1)).toMatchObject({ type: '@xstate.snapshot', sessionId: jobId, snapshot: { status: 'stopped' }, event: { type: 'xstate.stop' } });
  });

  it('tells it once, however often the socket backs up again', () => {
    const { inspector, socket, other } = jobStoppedWhileBackedUp();
    socket.bufferedAmount = 0;
    inspector.flush();
    socket.bufferedAmount = BACKED_UP;
    other.send({ type: 'tick' });
    inspector.flush();
    socket.bufferedAmount = 0;
    other.send({ type: 'tick' });
    inspector.flush();
    const stops = socket.records.filter((r) => r.type === '@xstate.snapshot' && (r.snapshot as { status?: string }).status === 'stopped');
    const jobId = socket.records.find((r) => r.type === '@xstate.actor' && r.name === 'job')!.sessionId;
    expect(stops.map((r) => r.sessionId)).toEqual([jobId]);
  });

  it('sends nothing of an actor that was created and stopped while events were left out', () => {
    const { inspector, socket } = greetedInspector();
    socket.bufferedAmount = BACKED_UP;
    const worker = createActor(job, { inspect: inspector }).start();
    inspector.flush();
    worker.stop();
    inspector.flush();
    socket.bufferedAmount = 0;
    inspector.flush();
    expect(socket.records).toEqual([]);
  });
});
