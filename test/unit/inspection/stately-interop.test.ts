import { createInspector, createWebSocketInspector, createWebSocketReceiver } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';
import { afterEach, describe, expect, it } from 'vitest';
import { createActor, createMachine } from 'xstate';
import { connectInspector, createConnection, createPool } from '../../../src/index.node.js';
import { InspectionEncoder } from '../../../src/inspection/encoder.js';
import { createMockServer } from '../../../src/testing/index.js';
import { settle } from '../../support/harness.js';
import { freePort } from '../../support/ports.js';
import { until } from '../../support/until.js';
import { openPage, startTestInspector } from './support.js';

/**
 * Both ways of @statelyai/inspect's protocol: its own WebSocket inspector sends to socketchart's
 * inspector server, and socketchart's helper sends what its own receivers read — the same events,
 * field for field, as its `createInspector` makes from XState's inspection.
 */

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A machine whose run goes through an event, a delayed transition and a nested state. */
const door = createMachine({
  id: 'door',
  initial: 'closed',
  context: { opens: 0 },
  states: {
    closed: { on: { open: 'opening' } },
    opening: { after: { 5: 'open' } },
    open: { initial: 'wide', states: { wide: {} }, on: { close: 'closed' } },
  },
});

describe('@statelyai/inspect → the socketchart inspector', () => {
  it("createWebSocketInspector({ url }) sends a pool, its connections and their children to the page, definitions included", async () => {
    const inspector = await startTestInspector();
    cleanups.push(() => inspector.close());
    const stately = createWebSocketInspector({ url: inspector.wsUrl });
    cleanups.push(() => stately.stop());
    const mock = createMockServer();
    const pool = createPool({
      endpoints: [
        { name: 'alpha', url: 'ws://mock.test/a' },
        { name: 'beta', url: 'ws://mock.test/b' },
      ],
      defaults: { WebSocket: mock.WebSocket },
      staggerMs: 0,
      environment: false,
      inspect: stately.inspect,
    });
    cleanups.push(() => pool.dispose());
    pool.start();
    await until(() => pool.status().health === 'up', 5_000, 'both connected');
    const page = await openPage(inspector);
    cleanups.push(() => page.close());

    const poolActor = await page.find((r) => r.type === '@xstate.actor' && r.name === 'pool', 'the pool actor');
    const alpha = await page.find((r) => r.type === '@xstate.actor' && r.name === 'alpha', 'a connection actor');
    expect(alpha.parentId).toBe(poolActor.sessionId);
    await page.find((r) => r.type === '@xstate.actor' && r.name === 'socket' && r.parentId === alpha.sessionId, "alpha's socket actor");
    const definition = page.records.find((r) => r.type === '@socketchart.definition' && r.id === alpha.def);
    expect(JSON.parse(String(definition?.definition))).toMatchObject({ id: 'connection', initial: 'idle' });
    await page.find((r) => r.type === '@xstate.snapshot' && r.sessionId === alpha.sessionId && JSON.stringify((r.snapshot as { value?: unknown }).value).includes('connected'), 'alpha connected');
    await page.find((r) => r.type === '@xstate.event' && r.sessionId === alpha.sessionId && (r.event as { type: string }).type === 'socket.open', 'socket.open sent to alpha');
    expect(inspector.stats().rejected).toBe(0);
  });
});

describe("socketchart's helper speaks the same protocol", () => {
  it("its records are @statelyai/inspect's, field for field (definition, snapshot, event, ids)", async () => {
    const stately: Array<Record<string, unknown>> = [];
    const reference = createInspector({ send: (event) => void stately.push(JSON.parse(JSON.stringify(event))) });
    const encoder = new InspectionEncoder();
    const actor = createActor(door, {
      inspect: (event) => {
        encoder.next(event);
        reference.inspect.next?.(event);
      },
    });
    // @statelyai/inspect converts on a timer of 0 ms (reading an actor's snapshot then); ours drains right after it.
    const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
    const ours: Array<Record<string, unknown>> = [];
    const drain = () => ours.push(...encoder.drain().map((record) => JSON.parse(JSON.stringify(record)) as Record<string, unknown>));
    actor.start();
    actor.send({ type: 'open' });
    await tick();
    drain();
    await new Promise((resolve) => setTimeout(resolve, 30));
    actor.send({ type: 'close' });
    await tick();
    drain();
    expect(ours.length).toBe(stately.length);
    expect(ours.length).toBeGreaterThanOrEqual(8);
    ours.forEach((record, i) => {
      const theirs = stately[i]!;
      expect(record.type, `record ${i}`).toBe(theirs.type);
      const { createdAt: _a, definition: ourDefinition, transitions: _t, ...ourRest } = record;
      const { createdAt: _b, definition: theirDefinition, ...theirRest } = theirs;
      expect(ourRest, `record ${i} (${String(record.type)})`).toEqual(theirRest);
      expect(typeof record.createdAt).toBe('string');
      if (theirDefinition !== undefined) expect(JSON.parse(String(ourDefinition))).toEqual(JSON.parse(String(theirDefinition)));
    });
    expect(ours.filter((r) => r.type === '@xstate.snapshot').map((r) => (r.snapshot as { value: unknown }).value)).toEqual(['closed', 'opening', { open: 'wide' }, 'closed']);
  });

  it("connectInspector() → @statelyai/inspect's own inspector server → its createWebSocketReceiver reads the events", async () => {
    const port = await freePort();
    const statelyServer = createInspectorServer({ port, autoOpen: false });
    cleanups.push(() => statelyServer.stop());
    await new Promise((resolve) => setTimeout(resolve, 50));
    const received: Array<{ type: string; name?: string; _version?: string; snapshot?: { value?: unknown } }> = [];
    const receiver = createWebSocketReceiver({ server: `ws://127.0.0.1:${port}` });
    receiver.subscribe((event) => void received.push(event as never));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const inspector = connectInspector({ url: `ws://127.0.0.1:${port}`, metricsIntervalMs: false });
    cleanups.push(() => inspector.close());
    const actor = createActor(door, { inspect: inspector });
    actor.start();
    actor.send({ type: 'open' });
    await until(() => received.some((e) => e.type === '@xstate.snapshot' && JSON.stringify(e.snapshot?.value) === '{"open":"wide"}'), 5_000, 'the open door, as Stately receives it');
    expect(received.find((e) => e.type === '@xstate.actor')).toMatchObject({ name: 'door', _version: expect.any(String) });
    expect(received.some((e) => e.type === '@xstate.event')).toBe(true);
    actor.stop();
  });

  it('createConnection({ inspect: inspector }) and createPool({ inspect: inspector }) in one line each reach the page', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const inspector = connectInspector({ url: server.wsUrl, metricsIntervalMs: 50 });
    cleanups.push(() => inspector.close());
    const mock = createMockServer();
    const connection = createConnection({ url: 'ws://mock.test/solo', name: 'solo', WebSocket: mock.WebSocket, environment: false, inspect: inspector });
    const pool = createPool({ endpoints: [{ name: 'member', url: 'ws://mock.test/m' }], defaults: { WebSocket: mock.WebSocket }, staggerMs: 0, environment: false, inspect: inspector });
    cleanups.push(() => connection.dispose(), () => pool.dispose());
    connection.start();
    pool.start();
    await settle();
    const page = await openPage(server);
    cleanups.push(() => page.close());
    const solo = await page.find((r) => r.type === '@xstate.actor' && r.name === 'solo', 'the standalone connection');
    const member = await page.find((r) => r.type === '@xstate.actor' && r.name === 'member', 'the pool member');
    expect(solo.sessionId, 'two actor systems, two namespaces').not.toBe(member.sessionId);
    const poolSample = await page.find((r) => r.type === '@socketchart.metrics' && r.kind === 'pool', "the pool's metrics");
    expect(poolSample.sample).toMatchObject({ connections: 1, budget: { ratePerSec: 200, burst: 20 } });
    const soloSample = await page.find((r) => r.type === '@socketchart.metrics' && r.sessionId === solo.sessionId, "the standalone connection's metrics");
    expect(soloSample.sample).toMatchObject({ status: 'connected', queueDepth: 0, rtt: { p50: null } });
  });
});
