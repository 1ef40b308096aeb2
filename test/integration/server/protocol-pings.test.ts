import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { stateSizes } from '../../../src/server/state-sizes.js';
import { connectAs, eventually, open, startServer, wsUrl, type TestClient } from './helpers.js';

const PAYLOAD = Buffer.alloc(125, 1);

/** Stops reading, then sends `count` protocol-level pings of 125 bytes, each of which asks the server for a pong. */
function pingWithoutReading(client: TestClient, count: number): void {
  (client.ws as unknown as { _socket: Socket })._socket.pause();
  for (let i = 0; i < count && client.ws.readyState === client.ws.OPEN; i++) client.ws.ping(PAYLOAD);
}

describe('protocol-level pings from a client that reads nothing', () => {
  it('cut the socket off (before and after authentication) instead of buffering a pong for each, and the server keeps nothing of it', async () => {
    const server = await startServer();
    const [stranger, member] = await Promise.all([open(wsUrl(server)), connectAs(server, 'pinger')]);
    for (const client of [stranger, member]) pingWithoutReading(client, 160_000);
    await eventually(() => stateSizes(server).connections === 0, 5000, 'both sockets cut off');
    expect(stateSizes(server)).toMatchObject({ users: 0, subscriptions: 0 });
    const after = await connectAs(server, 'after');
    after.send({ type: 'ping', ts: 1 });
    await after.nextOfType('pong');
    await after.close();
    await server.close();
  });
});
