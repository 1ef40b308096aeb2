import { expect, it } from 'vitest';
import { RecentIds } from '../../../src/optimistic/recent-ids.js';

it('remembers the outcome of the last `capacity` ids, forgetting the oldest first', () => {
  const recent = new RecentIds(3);
  for (const id of ['a', 'b', 'c']) recent.set(id, 'confirmed');
  expect(['a', 'b', 'c'].map((id) => recent.has(id))).toEqual([true, true, true]);
  recent.set('d', 'rolledBack');
  expect(['a', 'b', 'c', 'd'].map((id) => recent.get(id))).toEqual([undefined, 'confirmed', 'confirmed', 'rolledBack']);
});

it('an id set again takes its new outcome and counts as the newest', () => {
  const recent = new RecentIds(2);
  recent.set('a', 'rolledBack');
  recent.set('b', 'confirmed');
  recent.set('a', 'confirmed');
  recent.set('c', 'confirmed');
  expect([recent.get('a'), recent.has('b'), recent.get('c')]).toEqual(['confirmed', false, 'confirmed']);
});

it('clear() forgets every id', () => {
  const recent = new RecentIds(2);
  recent.set('a', 'confirmed');
  recent.clear();
  expect(recent.has('a')).toBe(false);
});

it('delete() forgets one id; a value other than an outcome can be kept', () => {
  const recent = new RecentIds<{ change: string }>(2);
  recent.set('a', { change: 'x' });
  recent.set('b', { change: 'y' });
  recent.delete('a');
  expect([recent.has('a'), recent.get('b')]).toEqual([false, { change: 'y' }]);
});
