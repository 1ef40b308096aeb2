import { afterEach, describe, expect, it } from 'vitest';
import { Store, type Rec } from '../../../inspector/src/store.js';
import { connectInspector, createPool } from '../../../src/index.node.js';
import { createMockServer } from '../../../src/testing/index.js';
import { until } from '../../support/until.js';
import { openPage, relay, startTestInspector } from './support.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('connectInspector() back after a blip of its socket', () => {
  it('announces the live socket actors again without the page counting them as dials', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const blip = await relay(server.port);
    cleanups.push(() => blip.close());
    const page = await openPage(server);
    cleanups.push(() => page.close());
    const inspector = connectInspector({ url: `ws://127.0.0.1:${blip.port}`, metricsIntervalMs: false, reconnectMs: 50 });
    cleanups.push(() => inspector.close());
    const mock = createMockServer();
    const endpoints = ['north', 'south', 'east'].map((name) => ({ name, url: `ws://mock.test/${name}` }));
    const pool = createPool({ endpoints, defaults: { WebSocket: mock.WebSocket }, staggerMs: 0, environment: false, inspect: inspector });
    cleanups.push(() => pool.dispose());
    pool.start();
    await until(() => pool.status().health === 'up', 5_000, 'connected');
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
