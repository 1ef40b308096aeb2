import { afterEach, describe, expect, it } from 'vitest';
import { createActor, createMachine } from 'xstate';
import { Store, type Rec } from '../../../inspector/src/store.js';
import { connectInspector, createPool } from '../../../src/index.node.js';
import { createMockServer } from '../../../src/testing/index.js';
import { until } from '../../support/until.js';
import { FakeInspectorSocket, openPage, relay, startTestInspector, type PageRecord } from './support.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A pool of three connections on a mock server, inspected by `inspector`, once all are connected. */
async function connectedPool(inspector: ReturnType<typeof connectInspector>) {
  const mock = createMockServer();
  const endpoints = ['north', 'south', 'east'].map((name) => ({ name, url: `ws://mock.test/${name}` }));
  const pool = createPool({ endpoints, defaults: { WebSocket: mock.WebSocket }, staggerMs: 0, environment: false, inspect: inspector });
  cleanups.push(() => pool.dispose());
  pool.start();
  await until(() => pool.status().health === 'up', 5_000, 'connected');
  return { mock, pool };
}

/** An inspector server with a page open, and a helper sending to it through a relay the spec can cut (it dials again `reconnectMs` later). */
async function behindRelay(reconnectMs: number) {
  const server = await startTestInspector();
  cleanups.push(() => server.close());
  const blip = await relay(server.port);
  cleanups.push(() => blip.close());
  const page = await openPage(server);
  cleanups.push(() => page.close());
  const inspector = connectInspector({ url: `ws://127.0.0.1:${blip.port}`, metricsIntervalMs: false, reconnectMs });
  cleanups.push(() => inspector.close());
  return { blip, page, inspector };
}

describe('connectInspector() back after a blip of its socket', () => {
  it('announces the live socket actors again without the page counting them as dials', async () => {
    const { blip, page, inspector } = await behindRelay(50);
    const { pool } = await connectedPool(inspector);
    await until(() => page.records.filter((r) => r.type === '@xstate.actor' && r.name === 'socket').length === 3, 5_000, 'three dials seen');

    blip.cut();
    await page.find((r) => r.type === '@xstate.actor' && r.name === 'socket' && String(r.sessionId).startsWith('a'), 'the announcement');
    await new Promise((r) => setTimeout(r, 200));

    const store = new Store({ maxEntries: 100_000 });
    for (const rec of page.records) store.ingest(rec as Rec);
    const poolNode = [...store.walk()].find((n) => n.sessions[0]?.kind === 'pool')!;
    const plotted = [...poolNode.series.dials.values()].reduce((a, b) => a + b, 0);
    expect(pool.metrics().dials.granted).toBe(3);
    expect(plotted).toBe(3);
  });
});

const MAX_FRAME = 2 * 1024 * 1024;
const counter = createMachine({ id: 'counter', on: { tick: {} } });
const doc = createMachine({ id: 'doc', context: { text: 'x'.repeat(9 * 1024 * 1024) }, on: { edit: {} } });

/** A helper on a fake socket, open and greeted, that dials again 20 ms after the inspector goes away. */
function fakeInspector(options: { maxBuffered?: number } = {}) {
  const inspector = connectInspector({ url: 'ws://127.0.0.1:1', WebSocket: FakeInspectorSocket as never, metricsIntervalMs: false, reconnectMs: 20, ...options });
  cleanups.push(() => inspector.close());
  FakeInspectorSocket.last.open();
  return { inspector, first: FakeInspectorSocket.last };
}

async function reopened(first: FakeInspectorSocket) {
  await until(() => FakeInspectorSocket.last !== first, 5_000, 'dialed the inspector again');
  const second = FakeInspectorSocket.last;
  second.open();
  return second;
}

/** A pool of three that reconnects every connection while the inspector is away: six dials in all. */
async function poolThroughAnAbsence() {
  const { inspector, first } = fakeInspector();
  const { mock, pool } = await connectedPool(inspector);
  inspector.flush();
  first.drop();
  mock.dropAll();
  await until(() => pool.metrics().dials.granted === 6 && pool.status().health === 'up', 5_000, 'reconnected');
  inspector.flush();
  const second = await reopened(first);
  inspector.flush();
  return { pool, first, second };
}

function creationsPerActor(records: PageRecord[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of records) if (r.type === '@xstate.actor') counts.set(String(r.sessionId), (counts.get(String(r.sessionId)) ?? 0) + 1);
  return counts;
}

describe('connectInspector() back after an absence during which actors were created', () => {
  it('sends each actor created while the inspector was away once, as created', async () => {
    const { first, second } = await poolThroughAnAbsence();
    const before = new Set(creationsPerActor(first.records).keys());
    const createdAway = [...creationsPerActor(second.records)].filter(([id]) => !before.has(id));
    expect(createdAway.length).toBeGreaterThan(0);
    expect(createdAway.filter(([, n]) => n > 1)).toEqual([]);
    const announcedAway = second.records.filter((r) => r.type === '@xstate.actor' && r.announced === true && !before.has(String(r.sessionId)));
    expect(announcedAway).toEqual([]);
  });

  it("the page's dials per pool count the dials made while the inspector was away", async () => {
    const { pool, first, second } = await poolThroughAnAbsence();
    const store = new Store({ maxEntries: 100_000 });
    for (const rec of [...first.records, ...second.records]) store.ingest(rec as Rec);
    const poolNode = [...store.walk()].find((n) => n.sessions[0]?.kind === 'pool')!;
    const plotted = [...poolNode.series.dials.values()].reduce((a, b) => a + b, 0);
    expect(pool.metrics().dials.granted).toBe(6);
    expect(plotted).toBe(6);
  });

  it('announces an actor created while away whose creation the full buffer left out', async () => {
    const { inspector, first } = fakeInspector({ maxBuffered: 4 });
    first.drop();
    const actor = createActor(counter, { inspect: inspector }).start();
    cleanups.push(() => actor.stop());
    for (let i = 0; i < 5; i++) actor.send({ type: 'tick' });
    inspector.flush();
    expect(inspector.dropped).toBeGreaterThan(0);
    const second = await reopened(first);
    expect(second.records.filter((r) => r.type === '@xstate.actor')).toMatchObject([{ name: 'counter', announced: true }]);
  });
});

describe('connectInspector() announcing a live actor too large for a frame when its socket opens again', () => {
  it('leaves it out, counts it in `dropped`, and announces the others', async () => {
    const { inspector, first } = fakeInspector();
    const large = createActor(doc, { inspect: inspector }).start();
    const small = createActor(counter, { inspect: inspector }).start();
    cleanups.push(() => large.stop(), () => small.stop());
    inspector.flush();
    first.drop();
    const droppedWhileAway = inspector.dropped;
    const second = await reopened(first);
    expect(second.sent.filter((frame) => frame.length > MAX_FRAME)).toEqual([]);
    expect(inspector.dropped).toBe(droppedWhileAway + 1);
    expect(second.records.filter((r) => r.type === '@xstate.actor').map((r) => r.name)).toEqual(['counter']);
  });

  it('keeps its socket to the inspector server, which goes on receiving its events', async () => {
    const { blip, page, inspector } = await behindRelay(20);
    await until(() => inspector.status === 'open', 5_000, 'open');
    const large = createActor(doc, { inspect: inspector }).start();
    const small = createActor(counter, { inspect: inspector }).start();
    cleanups.push(() => large.stop(), () => small.stop());
    inspector.flush();
    await page.find((r) => r.type === '@xstate.actor' && r.name === 'counter', 'the small actor');

    blip.cut();
    await page.find((r) => r.type === '@xstate.actor' && r.name === 'counter' && r.announced === true, 'the small actor announced again');
    small.send({ type: 'tick' });
    inspector.flush();
    await page.find((r) => r.type === '@xstate.event' && (r.event as { type?: string }).type === 'tick', 'an event after the blip');
    expect(inspector.status).toBe('open');
  });
});
