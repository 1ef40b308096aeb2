/** The README's Quickstart, against examples/server.ts: `JWT_SECRET=… npx tsx examples/quickstart.ts`. */
import { tokenFor } from './token.js';

// #region readme
import { createConnection } from 'socketchart';

const connection = createConnection({
  url: 'ws://localhost:8080',
  auth: { token: async ({ reason }) => fetchToken({ force: reason !== 'connect' }) },
  heartbeat: { intervalMs: 30_000, timeoutMs: 5_000 },
});

connection.on('state', ({ previous, status }) => console.log(previous, '→', status));
connection.on('error', (error) => console.warn(error.code, error.recovery, error.message));

const unsubscribe = connection.subscribe('chat:lobby', (data, message) => render(data, message.seq));
connection.start();

await connection.send({ text: 'hi' }, { channel: 'chat:lobby', priority: 'high', ttl: 10_000 });
await connection.send({ order: 42 }, { channel: 'orders:1', ack: true }); // resolves on the server's ack

connection.stop(); // code 1000; queued sends reject with CLOSED
// #endregion

unsubscribe();
console.log('acknowledged, stopped');

/** The app's token source: `force` asks for a new token rather than a cached one. */
async function fetchToken({ force }: { force: boolean }): Promise<string> {
  if (force) console.log('a fresh token');
  return tokenFor('alice');
}

function render(data: unknown, seq: number | undefined): void {
  console.log('render', JSON.stringify(data), 'seq', seq);
}
