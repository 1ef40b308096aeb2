import { afterEach, describe, expect, it } from 'vitest';
import { assign, createActor, createMachine } from 'xstate';
import { connectInspector, createPool } from '../../../src/index.node.js';
import { createMockServer } from '../../../src/testing/index.js';
import { until } from '../../support/until.js';
import { openPage, startTestInspector } from './support.js';

/** connectInspector() and the inspector server's largest frame (8 MiB): the helper keeps its one socket. */

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A helper connected to a fresh inspector server and greeted, with a page open and its status followed. */
async function connected() {
  const server = await startTestInspector();
  cleanups.push(() => server.close());
  const page = await openPage(server);
  cleanups.push(() => page.close());
  const inspector = connectInspector({ url: server.wsUrl, metricsIntervalMs: false });
  cleanups.push(() => inspector.close());
  await until(() => inspector.status === 'open', 5_000, 'open');
  await new Promise((r) => setTimeout(r, 100)); // the server's hello: batches from now on
  const statuses: string[] = [inspector.status];
  const poll = setInterval(() => {
    if (statuses[statuses.length - 1] !== inspector.status) statuses.push(inspector.status);
  }, 2);
  cleanups.push(() => clearInterval(poll));
  // Records of a second app socket are namespaced `a2:` by the server: the helper had to dial again.
  const redialed = () => page.records.some((r) => typeof r.sessionId === 'string' && r.sessionId.startsWith('a2:'));
  return { inspector, page, statuses, redialed };
}

describe('connectInspector() and large frames', () => {
  it('keeps its one socket while a pool starts 600 connections (no batch over the server’s maxPayload)', async () => {
    const { inspector, statuses, redialed } = await connected();
    const mock = createMockServer();
    const endpoints = Array.from({ length: 600 }, (_, i) => ({ name: `feed${i}`, url: `ws://mock.test/${i}` }));
    const pool = createPool({ endpoints, defaults: { WebSocket: mock.WebSocket }, staggerMs: 0, environment: false, inspect: inspector });
    cleanups.push(() => pool.dispose());
    pool.start();
    await until(() => pool.status().health === 'up', 15_000, 'connected');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(statuses).toEqual(['open']);
    expect(redialed()).toBe(false);
  }, 30_000);

  it('leaves out an event larger than the server takes, counts it in `dropped`, and sends the next ones', async () => {
    const { inspector, page, statuses, redialed } = await connected();
    const huge = 'x'.repeat(9 * 1024 * 1024);
    const doc = createMachine({ id: 'doc', context: { text: '' }, on: { load: { actions: assign({ text: ({ event }) => (event as unknown as { text: string }).text }) }, ping: {} } });
    const actor = createActor(doc, { inspect: inspector }).start();
    cleanups.push(() => actor.stop());
    inspector.flush();
    actor.send({ type: 'load', text: huge } as never);
    inspector.flush();
    actor.send({ type: 'ping' });
    inspector.flush();
    await page.find((r) => r.type === '@xstate.event' && (r.event as { type?: string }).type === 'ping', 'the event after the huge one');
    expect(inspector.dropped).toBeGreaterThan(0);
    expect(statuses).toEqual(['open']);
    expect(redialed()).toBe(false);
  });
});
