import { expect, it } from 'vitest';
import { Store, type Rec } from '../../../inspector/src/store.js';

/** A pool's dials per 100 ms over a long session: the page keeps what its plot can show, not every bucket since it opened. */

const rec = (r: Partial<Rec> & { type: string; sessionId: string }, t: number): Rec => ({ createdAt: String(t), _version: '0.7.2', ...r }) as Rec;

it('keeps a bounded number of dial buckets for a pool that dials all day, and still counts the recent ones', () => {
  const store = new Store({ maxEntries: 10_000 });
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'p', name: 'pool', definition: JSON.stringify({ id: 'pool' }), snapshot: { status: 'active' } }, 0));
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'c', name: 'feed', parentId: 'p', definition: JSON.stringify({ id: 'connection' }), snapshot: { status: 'active', context: { settings: {} } } }, 0));
  // A dial every 150 ms for two hours (48,000 of them), each socket stopped as the next one opens.
  const start = 1_700_000_000_000;
  for (let i = 0; i < 48_000; i++) {
    const t = start + i * 150;
    store.ingest(rec({ type: '@xstate.actor', sessionId: `s${i}`, name: 'socket', parentId: 'c', snapshot: { status: 'active' } }, t));
    store.ingest(rec({ type: '@xstate.snapshot', sessionId: `s${i}`, event: { type: 'xstate.stop' }, snapshot: { status: 'stopped' } }, t + 100));
  }
  const dials = store.node('pool')!.series.dials;
  expect(dials.size).toBeLessThanOrEqual(1_300);
  const last = Math.floor((start + 47_999 * 150) / 100);
  expect(dials.get(last)).toBe(1);
  expect([...dials.keys()].filter((b) => b > last - 1_200).reduce((n, b) => n + dials.get(b)!, 0)).toBe(800);
});
