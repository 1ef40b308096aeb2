/** The README's plainProtocol() example, against examples/plain-server.ts: `JWT_SECRET=… npx tsx examples/plain.ts`. */
import { tokenFor } from './token.js';

// #region readme
import { createConnection, plainProtocol } from 'socketchart';

const feed = createConnection({
  url: 'ws://localhost:8090/feed',
  protocol: plainProtocol(), // or plainProtocol({ heartbeat: { ping: 'ping', pong: 'pong' } })
  auth: { token: getToken, mode: 'query', queryParam: 'access_token' },
});
feed.on('message', ({ data }) => handle(data)); // every frame, text (a string) or binary (an ArrayBuffer)
feed.start();
await feed.send('any text'); // strings and binary are written as they are, other values as JSON text
// #endregion

function getToken(): Promise<string> {
  return tokenFor('alice');
}

function handle(data: unknown): void {
  console.log('frame', data);
  if (data === 'echo: any text') feed.stop();
}
