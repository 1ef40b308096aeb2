// @vitest-environment happy-dom
import { expect, it } from 'vitest';
import { LogView, summary } from '../../../inspector/src/log-view.js';
import { Store, type Rec } from '../../../inspector/src/store.js';

/** The event log over a store: what its counter says and which entries its rows show. */

const rec = (r: Partial<Rec> & { type: string; sessionId: string }, t: number): Rec => ({ createdAt: String(t), _version: '0.7.2', ...r }) as Rec;
const door = JSON.stringify({ id: 'door', initial: 'shut', states: { shut: { on: { push: 'open' } }, open: { on: { push: 'shut' } } } });

/** `rows()`: the rows drawn (those in view); `count()`: how many the list holds. */
function logOver(store: Store): { log: LogView; counter: HTMLElement; rows: () => string[]; count: () => number } {
  const container = document.createElement('div');
  const counter = document.createElement('span');
  const log = new LogView(container, () => store, counter);
  const rows = () => Array.from(container.querySelectorAll<HTMLElement>('.log-row')).filter((row) => row.style.display !== 'none').map((row) => row.textContent ?? '');
  return { log, counter, rows, count: () => Number(container.dataset.rows) };
}

function door3(): Store {
  const store = new Store({ maxEntries: 1_000 });
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:0', name: 'front', definition: door, snapshot: { status: 'active', value: 'shut' } }, 1));
  for (let i = 0; i < 3; i++) store.ingest(rec({ type: '@xstate.event', sessionId: 'x:0', event: { type: 'push', n: i } }, 2 + i));
  return store;
}

it('says, while paused, how many events arrived since the pause, and keeps showing the rows it had', () => {
  const store = door3();
  const { log, counter, count } = logOver(store);
  log.render();
  expect(counter.textContent).toBe('4 shown');
  log.paused = true;
  for (let i = 0; i < 5; i++) store.ingest(rec({ type: '@xstate.event', sessionId: 'x:0', event: { type: 'push', n: 10 + i } }, 10 + i));
  log.render();
  expect(counter.textContent).toBe('paused · 5 new');
  expect(count()).toBe(4);
  log.paused = false;
  log.render();
  expect(counter.textContent).toBe('9 shown');
  expect(count()).toBe(9);
});

it('applies a filter changed while paused to the rows it shows, still without the newer events', () => {
  const store = door3();
  const { log, counter, rows } = logOver(store);
  log.render();
  log.paused = true;
  store.ingest(rec({ type: '@xstate.event', sessionId: 'x:0', event: { type: 'push', n: 7 } }, 20));
  log.setFilter({ search: '"n":1' });
  log.render();
  expect(rows()).toHaveLength(1);
  expect(rows()[0]).toContain('n: 1');
  expect(counter.textContent).toBe('paused · 0 new');
});

it('finds a snapshot by what its context holds', () => {
  const store = new Store({ maxEntries: 1_000 });
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:0', name: 'front', definition: door, snapshot: { status: 'active', value: 'shut', context: { visitors: 0 } } }, 1));
  store.ingest(rec({ type: '@xstate.snapshot', sessionId: 'x:0', event: { type: 'push' }, snapshot: { status: 'active', value: 'open', context: { visitors: 0, lastVisitor: 'mallory' } } }, 2));
  const { log, rows } = logOver(store);
  log.setFilter({ search: 'mallory' });
  log.render();
  expect(rows()).toHaveLength(1);
  expect(rows()[0]).toContain('→ open');
});

it('does not say created of an actor announced, created before the inspector heard of it', () => {
  const store = new Store({ maxEntries: 1_000 });
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:0', name: 'pool', snapshot: { status: 'active' } }, 1));
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:1', name: 'front', parentId: 'x:0', definition: door, snapshot: { status: 'active', value: 'open' }, announced: true }, 2));
  const { log, rows } = logOver(store);
  log.render();
  expect(rows()[1]).toMatch(/front.*announced, created earlier by pool$/);
});

it('says created once of an actor first known from its events, when its creation arrives', () => {
  const store = new Store({ maxEntries: 1_000 });
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:0', name: 'pool', snapshot: { status: 'active' } }, 1));
  store.ingest(rec({ type: '@xstate.event', sessionId: 'x:1', event: { type: 'push' } }, 2));
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:1', name: 'front', parentId: 'x:0', definition: door, snapshot: { status: 'active', value: 'shut' } }, 1));
  const said = store.entries.filter((entry) => entry.kind === 'actor' && entry.actor.id === 'x:1').map(summary);
  expect(said.filter((text) => text.startsWith('created'))).toEqual(['created by pool']);
});
