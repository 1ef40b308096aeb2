import { describe, expect, it } from 'vitest';
import { health$, poolState$ } from '../../../src/rx/index.js';
import { harness, poolOfOne, type Harness } from '../../support/harness.js';

function ended(subscribe: (observer: { complete(): void; error(): void }) => void): { value: boolean } {
  const state = { value: false };
  subscribe({ complete: () => (state.value = true), error: () => (state.value = true) });
  return state;
}

const makePool = (h: Harness) => poolOfOne(h);

// A pool's streams complete when it is disposed, as a connection's do: a subscriber without take/unsubscribe
// keeps no listener on a pool that will never emit again.
describe("a disposed pool: its streams complete, as a disposed connection's do", () => {
  it('health$ and poolState$ subscribed before dispose end when the pool is disposed', async () => {
    const h = harness();
    const pool = makePool(h);
    pool.start();
    await h.settle();
    const health = ended((o) => health$(pool).subscribe(o));
    const state = ended((o) => poolState$(pool).subscribe(o));
    pool.dispose();
    await h.settle();
    expect({ health: health.value, state: state.value }).toEqual({ health: true, state: true });
  });

  it('health$ completes when the pool is disposed while its first value is handled', async () => {
    const h = harness();
    const pool = makePool(h);
    let completed = false;
    health$(pool).subscribe({ next: () => pool.dispose(), complete: () => (completed = true) });
    expect(pool.isDisposed).toBe(true);
    expect(completed).toBe(true);
  });

  it('health$ on an already disposed pool ends', async () => {
    const h = harness();
    const pool = makePool(h);
    pool.dispose();
    const health = ended((o) => health$(pool).subscribe(o));
    await h.settle();
    expect(health.value).toBe(true);
  });
});

