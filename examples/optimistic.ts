/** The README's optimistic updates, against examples/server.ts: `JWT_SECRET=… npx tsx examples/optimistic.ts`. */
import { createConnection, createOptimisticStore } from 'socketchart';
import { tokenFor } from './token.js';

interface Todo {
  id: string;
  title: string;
  done: boolean;
}

const connection = createConnection({ url: 'ws://localhost:8080', auth: { token: () => tokenFor('alice') } }).start();

// #region readme
const todos = createOptimisticStore<Todo>({ connection, channel: 'todos:42', key: (todo) => todo.id });
todos.subscribe(({ key, value, pending }) => render(key, value, pending > 0));
todos.on('conflict', ({ key }) => toast(`${key} was changed by someone else`));
await todos.update('t3', { id: 't3', title: 'Write the report', done: false }); // a new key: shown at once
await todos.update('t3', (todo) => ({ ...todo!, done: true })); // shown at once; rolled back if refused
// #endregion

console.log('confirmed', JSON.stringify(todos.get('t3')));
connection.stop();

function render(key: string, value: Todo | undefined, pending: boolean): void {
  console.log('render', key, JSON.stringify(value), pending ? 'pending' : 'confirmed');
}

function toast(text: string): void {
  console.warn(text);
}
