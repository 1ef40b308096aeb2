/** The README's smaller bundle, against examples/server.ts: `JWT_SECRET=… npx tsx examples/base-connection.ts`. */
import { tokenFor } from './token.js';

// #region readme
import { createBaseConnection, PresenceFeature } from 'socketchart';

// Reconnects, heartbeat, auth, queue and acks as createConnection; of the optional parts, presence only.
const connection = createBaseConnection({
  url: 'ws://localhost:8080',
  auth: { token: () => fetchToken() },
  features: [PresenceFeature],
});

connection.start();
const members = await connection.presence.join('chat:lobby', { name: 'Ann' });
render(members);
// connection.channel('chat:lobby') would throw InvalidOptionError: ChannelIterationFeature is not in `features`
connection.stop();
// #endregion

console.log('joined, stopped');

function fetchToken(): Promise<string> {
  return tokenFor('ann');
}

function render(members: Array<{ userId: string }>): void {
  console.log('members', members.map((member) => member.userId).join(', '));
}
