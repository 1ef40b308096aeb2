import { expect, it } from 'vitest';
import { snapshotSource } from '../../../src/connection/snapshot-source.js';
import { harness } from '../../support/harness.js';

/** The connection's snapshots as an actor-like source (what `useConnectionSelector` and Vue's selector read). */

const shapeOf = (snapshot: ReturnType<ReturnType<typeof snapshotSource>['getSnapshot']>) => ({
  value: snapshot.value,
  status: snapshot.status,
  tags: [...snapshot.tags].sort(),
  settled: snapshot.hasTag('settled'),
  closed: snapshot.matches('closed'),
});

it('a connection disposed while connected reads as one stopped by stop(): closed, settled and socketless', async () => {
  const stopped = harness();
  await stopped.connect();
  stopped.connection.stop();
  await stopped.settle();
  const disposed = harness();
  await disposed.connect();
  const source = snapshotSource(disposed.connection);
  disposed.connection.dispose();
  expect(shapeOf(source.getSnapshot())).toEqual({ value: 'closed', status: 'stopped', tags: ['settled', 'socketless'], settled: true, closed: true });
  expect(shapeOf(source.getSnapshot())).toEqual(shapeOf(snapshotSource(stopped.connection).getSnapshot()));
});

it('tells its subscribers the disposed snapshot, the same object getSnapshot() gives from then on', async () => {
  const h = harness();
  await h.connect();
  const source = snapshotSource(h.connection);
  const seen: unknown[] = [];
  const subscription = source.subscribe((snapshot) => seen.push(snapshot));
  h.connection.dispose();
  expect(seen.at(-1)).toBe(source.getSnapshot());
  expect(source.getSnapshot().hasTag('settled')).toBe(true);
  subscription.unsubscribe();
});
