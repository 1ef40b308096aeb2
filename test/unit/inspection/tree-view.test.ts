// @vitest-environment happy-dom
import { expect, it } from 'vitest';
import { Store, type Rec } from '../../../inspector/src/store.js';
import { TreeView } from '../../../inspector/src/tree-view.js';

/** The actor tree over the page's store, which is a new one once a recording is imported (or the server starts over). */

const rec = (r: Partial<Rec> & { type: string; sessionId: string }, t: number): Rec => ({ createdAt: String(t), _version: '0.7.2', ...r }) as Rec;

it('shows the actors of the store it reads now, once the page has started a new one', () => {
  let store = new Store({ maxEntries: 1_000 });
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:0', name: 'front', snapshot: { status: 'active' } }, 1));
  const container = document.createElement('div');
  const tree = new TreeView(container, () => store);
  const rows = () => Array.from(container.querySelectorAll<HTMLElement>('.tree-row')).filter((row) => row.style.display !== 'none').map((row) => row.dataset.key);
  tree.render(Infinity);
  expect(rows()).toEqual(['front']);
  store = new Store({ maxEntries: 1_000 });
  store.ingest(rec({ type: '@xstate.actor', sessionId: 'x:0', name: 'crossing', snapshot: { status: 'active' } }, 1));
  tree.render(Infinity);
  expect(rows()).toEqual(['crossing']);
});
