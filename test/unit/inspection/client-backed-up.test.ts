import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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

/** The sessions announced (`announced: true`) on `socket`, one entry per announcement. */
function announcements(socket: FakeInspectorSocket): string[] {
  return socket.records.filter((r) => r.type === '@xstate.actor' && r.announced === true).map((r) => String(r.sessionId));
}

function greetedInspector() {
  const inspector = connectInspector({ url: 'ws://127.0.0.1:1', WebSocket: FakeInspectorSocket as never, metricsIntervalMs: false });
  cleanups.push(() => inspector.close());
  const socket = FakeInspectorSocket.last;
  socket.open();
  return { inspector, socket };
}

/** A `counter` actor whose last event the socket, backed up, left out. */
function counterWhileBackedUp() {
  const { inspector, socket } = greetedInspector();
  const actor = createActor(counter, { inspect: inspector }).start();
  cleanups.push(() => actor.stop());
  inspector.flush();
  socket.bufferedAmount = BACKED_UP;
  actor.send({ type: 'tick' });
  inspector.flush();
  return { inspector, socket, actor };
}

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

  it('announces each live actor once when the socket drains, not again at every flush after', () => {
    const { inspector, socket, actor } = counterWhileBackedUp();
    socket.bufferedAmount = 0;
    for (let i = 0; i < 3; i++) {
      actor.send({ type: 'tick' });
      inspector.flush();
    }
    expect(announcements(socket)).toEqual([actor.sessionId]);
  });

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

  it('shows on the page the state an actor was announced in once the socket drains, not the one before the events left out', () => {
    const { inspector, socket } = greetedInspector();
    const actor = createActor(child, { inspect: inspector }).start();
    cleanups.push(() => actor.stop());
    inspector.flush();
    socket.bufferedAmount = BACKED_UP;
    actor.send({ type: 'go' });
    inspector.flush();
    socket.bufferedAmount = 0;
    inspector.flush();
    expect(announcements(socket)).toEqual([actor.sessionId]);
    const store = new Store({ maxEntries: 10_000 });
    for (const record of socket.records) store.ingest(record as Rec);
    const shown = store.actors.get(actor.sessionId)!;
    expect({ row: store.stateAt(shown, store.lastSeq).label, snapshot: store.snapshotAt(shown, store.lastSeq).snapshot.value }).toEqual({ row: 'b', snapshot: 'b' });
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

describe('connectInspector() with a socket that backed up, then closed', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    cleanups.push(() => vi.useRealTimers());
  });

  /** `socket` closes under the helper, which dials again (after the default `reconnectMs`) and is greeted. */
  function redialed(socket: FakeInspectorSocket): FakeInspectorSocket {
    socket.drop();
    vi.advanceTimersByTime(1_000);
    const next = FakeInspectorSocket.last;
    expect(next).not.toBe(socket);
    next.open();
    return next;
  }

  it('announces each live actor once to the new socket', () => {
    const { inspector, socket, actor } = counterWhileBackedUp();

    const next = redialed(socket);
    actor.send({ type: 'tick' });
    inspector.flush();
    expect(announcements(next)).toEqual([actor.sessionId]);
  });

  it('tells the new socket nothing of an actor whose stop the old one left out, when the new one backs up and drains', () => {
    const { inspector, socket, other } = jobStoppedWhileBackedUp();
    const jobId = socket.records.find((r) => r.type === '@xstate.actor' && r.name === 'job')!.sessionId;

    const next = redialed(socket);
    next.bufferedAmount = BACKED_UP;
    other.send({ type: 'tick' });
    inspector.flush();
    next.bufferedAmount = 0;
    other.send({ type: 'tick' });
    inspector.flush();
    expect(next.records.filter((r) => r.sessionId === jobId)).toEqual([]);
    expect(announcements(next)).toContain(other.sessionId);
  });
});
