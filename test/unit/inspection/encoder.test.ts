import { describe, expect, it } from 'vitest';
import { createActor, createMachine, type InspectionEvent } from 'xstate';
import { InspectionEncoder } from '../../../src/inspection/encoder.js';
import { createConnection } from '../../../src/index.js';
import { createMockServer } from '../../../src/testing/index.js';
import { harness } from '../../support/harness.js';

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
