import { expect, it } from 'vitest';
import { createActor, sendTo, setup } from 'xstate';
import { connectionLogic, connectionOf, statusOf, type ConnectionOptions } from '../../../src/index.js';
import { SimulatedClock, createManualEnvironment, createMockServer } from '../../../src/testing/index.js';
import { settle } from '../../support/harness.js';

/** A connection actor restored from a persisted snapshot: its socket was not saved with it, so it starts afresh. */

function world() {
  const clock = new SimulatedClock(1_700_000_000_000);
  const server = createMockServer({ now: () => clock.now() });
  const env = createManualEnvironment();
  const options: ConnectionOptions = { url: 'ws://mock.test/app', WebSocket: server.WebSocket, clock, environment: env, heartbeat: false };
  return { clock, server, options };
}

it('a connection actor restored from the persisted snapshot of a connected one starts afresh: idle, no socket, and connects once started', async () => {
  const { clock, server, options } = world();
  const logic = connectionLogic(options);
  const first = createActor(logic, { clock }).start();
  first.send({ type: 'connection.start' });
  await settle();
  expect(statusOf(first.getSnapshot())).toBe('connected');
  const saved = first.getPersistedSnapshot();
  first.stop();
  await settle();

  const restored = createActor(logic, { clock, snapshot: saved }).start();
  await settle();
  expect(restored.getSnapshot().status).toBe('active');
  expect(statusOf(restored.getSnapshot()), 'not the saved connected: no socket came back').toBe('idle');
  expect(connectionOf(restored).status).toBe('idle');
  restored.send({ type: 'connection.start' });
  await settle();
  expect(connectionOf(restored).status).toBe('connected');
  expect(server.live).toHaveLength(1);
  restored.stop();
  await settle();
  expect(server.live).toHaveLength(0);
});

it('a connection embedded in an app machine whose persisted snapshot is restored starts afresh, and the app starts it again', async () => {
  const { clock, server, options } = world();
  const app = setup({ actors: { feed: connectionLogic(options) } }).createMachine({
    id: 'app',
    invoke: { id: 'feed', src: 'feed' },
    entry: sendTo('feed', { type: 'connection.start' }),
    on: { 'app.resume': { actions: sendTo('feed', { type: 'connection.start' }) } },
  });
  const first = createActor(app, { clock }).start();
  await settle();
  expect(statusOf(first.getSnapshot().children.feed!.getSnapshot())).toBe('connected');
  const saved = first.getPersistedSnapshot();
  first.stop();
  await settle();

  const restored = createActor(app, { clock, snapshot: saved }).start();
  await settle();
  const feed = restored.getSnapshot().children.feed!;
  expect(restored.getSnapshot().status).toBe('active');
  expect(statusOf(feed.getSnapshot())).toBe('idle');
  restored.send({ type: 'app.resume' });
  await settle();
  expect(connectionOf(feed).status).toBe('connected');
  restored.stop();
  await settle();
  expect(server.live).toHaveLength(0);
});
