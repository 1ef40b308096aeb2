import { describe, expect, it } from 'vitest';
import { createActor, createMachine, type InspectionEvent } from 'xstate';
import { InspectionEncoder } from '../../../src/inspection/encoder.js';
import type { ConnectionSample, InspectionRecord, MetricsSampled, PoolSample } from '../../../src/inspection/protocol.js';
import { connectionLogic, createConnection, createPool } from '../../../src/index.js';
import { createMockServer } from '../../../src/testing/index.js';
import { harness } from '../../support/harness.js';
import { until } from '../../support/until.js';

const toggle = createMachine({
  id: 'toggle',
  initial: 'off',
  states: {
    off: { entry: () => {}, on: { flip: 'on', pass: 'passing' } },
    passing: { always: 'on' },
    on: { entry: () => {}, on: { flip: 'off', halt: 'done' } },
    done: { type: 'final' },
  },
});

/** An encoder fed by one actor of `toggle`, and every inspection event the actor produced. */
function inspected() {
  const encoder = new InspectionEncoder({ now: () => 1_000 });
  const seen: InspectionEvent[] = [];
  const actor = createActor(toggle, {
    inspect: (event) => {
      seen.push(event);
      encoder.next(event);
    },
  });
  return { encoder, seen, actor };
}

describe('InspectionEncoder', () => {
  it('queues every inspection event but actions, which the protocol does not carry', () => {
    const { encoder, seen, actor } = inspected();
    actor.start();
    actor.send({ type: 'flip' });
    expect(seen.some((event) => event.type === '@xstate.action')).toBe(true);
    expect(encoder.queued).toBe(seen.filter((event) => event.type !== '@xstate.action').length);
  });

  it('hands the transitions a step took to the snapshot that follows it', () => {
    const { encoder, actor } = inspected();
    actor.start();
    encoder.drain();
    actor.send({ type: 'flip' });
    const records = encoder.drain();
    expect(records.map((record) => record.type)).toEqual(['@xstate.event', '@xstate.snapshot']);
    expect(records[1]).toMatchObject({ transitions: [{ source: 'toggle.off', targets: ['toggle.on'], eventType: 'flip' }] });
  });

  it('hands every transition of a step to its snapshot, the eventless ones included', () => {
    const { encoder, actor } = inspected();
    actor.start();
    encoder.drain();
    actor.send({ type: 'pass' });
    const snapshot = encoder.drain().find((record) => record.type === '@xstate.snapshot');
    expect(snapshot).toMatchObject({
      transitions: [
        { source: 'toggle.off', targets: ['toggle.passing'], eventType: 'pass' },
        { source: 'toggle.passing', targets: ['toggle.on'], eventType: '' },
      ],
    });
  });

  it('hands each snapshot the transitions of its own step only', () => {
    const { encoder, actor } = inspected();
    actor.start();
    encoder.drain();
    actor.send({ type: 'flip' });
    actor.send({ type: 'flip' });
    const snapshots = encoder.drain().filter((record) => record.type === '@xstate.snapshot');
    expect(snapshots.map((record) => (record as { transitions?: unknown }).transitions)).toEqual([
      [{ source: 'toggle.off', targets: ['toggle.on'], eventType: 'flip' }],
      [{ source: 'toggle.on', targets: ['toggle.off'], eventType: 'flip' }],
    ]);
  });

  it("names each actor's parent, and the root of its tree, two levels down", () => {
    const leaf = createMachine({ id: 'leaf' });
    const middle = createMachine({ id: 'middle', invoke: { id: 'leaf', src: leaf } });
    const top = createMachine({ id: 'top', invoke: { id: 'middle', src: middle } });
    const encoder = new InspectionEncoder();
    createActor(top, { inspect: (event) => encoder.next(event) }).start();
    const created = encoder.drain().filter((record) => record.type === '@xstate.actor') as Array<{ name: string; sessionId: string; parentId?: string; rootId?: string }>;
    const byName = Object.fromEntries(created.map((record) => [record.name, record]));
    expect(byName.middle!.parentId).toBe(byName.top!.sessionId);
    expect(byName.leaf!.parentId).toBe(byName.middle!.sessionId);
    expect(byName.leaf!.rootId).toBe(byName.top!.sessionId);
  });

  it('announces no actor that has stopped, even before its last snapshot is drained', () => {
    const { encoder, actor } = inspected();
    actor.start();
    encoder.drain();
    actor.stop();
    expect(encoder.announceLive()).toEqual([]);
  });

  it('announces a live actor to an inspector that joins late, and no longer once it has stopped', () => {
    const { encoder, actor } = inspected();
    actor.start();
    encoder.drain();
    expect(encoder.announceLive().map((record) => [record.sessionId, record.announced])).toEqual([[actor.sessionId, true]]);
    actor.send({ type: 'flip' });
    actor.send({ type: 'halt' });
    encoder.drain();
    expect(encoder.announceLive()).toEqual([]);
  });

  it('stops sampling a connection once its last snapshot says it stopped', async () => {
    const encoder = new InspectionEncoder();
    const server = createMockServer();
    const connection = createConnection({ url: 'ws://test.invalid/x', WebSocket: server.WebSocket, inspect: (event) => encoder.next(event) });
    connection.start();
    encoder.drain();
    expect(encoder.sampling).toBe(1);
    connection.dispose();
    encoder.drain();
    expect(encoder.sampling).toBe(0);
  });

  it('neither samples nor announces a connection actor that was stopped before it ever started', () => {
    const encoder = new InspectionEncoder();
    const server = createMockServer();
    const actor = createActor(connectionLogic({ url: 'ws://test.invalid/x', WebSocket: server.WebSocket, environment: false }), { inspect: (event) => encoder.next(event) });
    actor.stop();
    encoder.drain();
    expect(encoder.sampling).toBe(0);
    expect(encoder.announceLive()).toEqual([]);
    expect(encoder.sample()).toEqual([]);
  });
});

describe('InspectionEncoder: the last sample of an actor that stops', () => {
  const metricsOf = (records: readonly InspectionRecord[]) => records.filter((record): record is MetricsSampled => record.type === '@socketchart.metrics');
  const stopOf = (records: readonly InspectionRecord[], sessionId: string) =>
    records.findIndex((record) => record.type === '@xstate.snapshot' && record.sessionId === sessionId && (record.snapshot as { status?: string }).status !== 'active');

  it("samples a connection once more as it stops, just before its stop, with its figures at the end; never after", async () => {
    const encoder = new InspectionEncoder();
    const server = createMockServer();
    const connection = createConnection({ url: 'ws://test.invalid/x', WebSocket: server.WebSocket, environment: false, inspect: (event) => encoder.next(event) });
    connection.start();
    await until(() => connection.status === 'connected', 5_000, 'connected');
    encoder.drain();
    const [periodic] = encoder.sample();
    expect((periodic!.sample as ConnectionSample).status).toBe('connected');
    connection.dispose();
    const records = encoder.drain();
    const last = metricsOf(records);
    expect(last.map((record) => [record.sessionId, (record.sample as ConnectionSample).status])).toEqual([[periodic!.sessionId, 'closed']]);
    expect(records.indexOf(last[0]!)).toBe(stopOf(records, periodic!.sessionId) - 1);
    expect(encoder.sample()).toEqual([]);
    expect(metricsOf(encoder.drain())).toEqual([]);
  });

  /** A pool of one connection, up, whose events an encoder has drained so far. */
  async function inspectedPool() {
    const encoder = new InspectionEncoder();
    const server = createMockServer();
    const pool = createPool({ endpoints: [{ name: 'a', url: 'ws://test.invalid/a' }], defaults: { WebSocket: server.WebSocket }, staggerMs: 0, environment: false, inspect: (event) => encoder.next(event) });
    pool.start();
    await until(() => pool.status().health === 'up', 5_000, 'up');
    encoder.drain();
    return { encoder, pool };
  }

  it('samples a pool and each of its connections once more as the pool stops; never after', async () => {
    const { encoder, pool } = await inspectedPool();
    expect(encoder.sample().map((record) => record.kind)).toEqual(['pool', 'connection']);
    pool.dispose();
    const last = metricsOf(encoder.drain());
    expect(last.map((record) => [record.kind, record.name])).toEqual(expect.arrayContaining([['pool', 'pool'], ['connection', 'a']]));
    expect(last).toHaveLength(2);
    expect((last.find((record) => record.kind === 'pool')!.sample as PoolSample).connected).toBe(0);
    expect(encoder.sample()).toEqual([]);
  });

  it('samples a pool and its connection that stopped before their stop was drained once, never again', async () => {
    const { encoder, pool } = await inspectedPool();
    pool.dispose();
    expect(encoder.sample().map((record) => record.kind)).toEqual(['pool', 'connection']);
    expect(encoder.sample()).toEqual([]);
    expect(metricsOf(encoder.drain())).toEqual([]);
  });

  it('samples no actor as it stops when metrics are not sampled (metrics: false)', async () => {
    const encoder = new InspectionEncoder({ metrics: false });
    const server = createMockServer();
    const connection = createConnection({ url: 'ws://test.invalid/x', WebSocket: server.WebSocket, environment: false, inspect: (event) => encoder.next(event) });
    connection.start();
    encoder.drain();
    connection.dispose();
    expect(metricsOf(encoder.drain())).toEqual([]);
  });
});

describe('InspectionEncoder: data-plane messages', () => {
  /** A connected connection whose inbound messages an encoder captures, and a clock the test moves. */
  async function capturing(messages: true | { maxPerSecond?: number; maxStringLength?: number }) {
    let now = 10_000;
    const encoder = new InspectionEncoder({ messages, now: () => now });
    const h = harness({ heartbeat: false, inspect: (event) => encoder.next(event) });
    await h.connect();
    encoder.drain();
    const push = (count: number, data: unknown = 'hello') => {
      for (let i = 0; i < count; i++) h.server.last!.push({ type: 'message', ch: 'feed', seq: i + 1, data });
    };
    const captured = () => encoder.drain().filter((record) => record.type === '@socketchart.message');
    return { encoder, push, captured, advance: (ms: number) => (now += ms), h };
  }

  it('captures at most maxPerSecond messages in each second, over every connection', async () => {
    const { push, captured, advance } = await capturing({ maxPerSecond: 3 });
    push(5);
    expect(captured()).toHaveLength(3);
    advance(999);
    push(1);
    expect(captured()).toHaveLength(0);
    advance(1);
    push(5);
    expect(captured()).toHaveLength(3);
  });

  it('with messages: true, captures 50 a second and cuts strings at 200 characters', async () => {
    const { push, captured } = await capturing(true);
    push(60, 'x'.repeat(300));
    const records = captured();
    expect(records).toHaveLength(50);
    expect((records[0] as { data: unknown }).data).toBe(`${'x'.repeat(200)}… (300 characters)`);
  });

  it('keeps the start of a large message: 50 members at most, with how many were left out', async () => {
    const { push, captured } = await capturing(true);
    push(1, { prices: Array.from({ length: 20_000 }, (_, i) => i) });
    const [record] = captured() as Array<{ data: { prices: unknown[] } }>;
    expect(record!.data.prices).toHaveLength(50);
    expect(record!.data.prices.at(-1)).toBe('… (19951 more)');
  });

  it('captures nothing more once disposed, though the connection lives on', async () => {
    const { encoder, push, h } = await capturing(true);
    encoder.dispose();
    push(3);
    expect(encoder.queued).toBe(0);
    expect(h.connection.status).toBe('connected');
  });

  it('cuts long strings of a message to maxStringLength, and tells the transport once there is something to send', async () => {
    const { encoder, push, captured } = await capturing({ maxStringLength: 4 });
    let told = 0;
    encoder.onPending = () => told++;
    push(2, { text: 'abcdefgh' });
    expect(told).toBe(1);
    expect(captured().map((record) => (record as { data: unknown }).data)).toEqual([{ text: 'abcd… (8 characters)' }, { text: 'abcd… (8 characters)' }]);
    push(1);
    expect(told).toBe(2);
  });
});
