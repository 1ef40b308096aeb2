import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { SocketchartServer } from '../../../src/server/index.js';
import { connectAs, delay, open, startServer, wsUrl } from './helpers.js';

/** A raw TCP client that sends the start of an upgrade request, then nothing (slowloris). */
function stall(server: SocketchartServer): Promise<{ socket: Socket; closedAfterMs: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: server.address()!.port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      const openedAt = Date.now();
      socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
      resolve({ socket, closedAfterMs: new Promise((done) => socket.once('close', () => done(Date.now() - openedAt))) });
    });
    socket.once('error', reject);
  });
}

describe('slow handshakes: bounded in time, and counted against maxConnections', () => {
  const servers: SocketchartServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  it('destroys a connection that has not finished its upgrade within handshakeTimeoutMs', async () => {
    const server = await startServer({ handshakeTimeoutMs: 300 });
    servers.push(server);
    const { closedAfterMs } = await stall(server);
    const after = await Promise.race([closedAfterMs, delay(3000).then(() => Number.POSITIVE_INFINITY)]);
    expect(after).toBeGreaterThanOrEqual(250);
    expect(after).toBeLessThan(1500);
  });

  it('counts handshakes in progress against maxConnections, and accepts again once they are gone', async () => {
    const server = await startServer({ handshakeTimeoutMs: 400, maxConnections: 2 });
    servers.push(server);
    const stalled = await Promise.all([stall(server), stall(server)]);
    await expect(open(wsUrl(server))).rejects.toThrow();
    await Promise.all(stalled.map((one) => one.closedAfterMs));
    const client = await connectAs(server, 'patient');
    client.send({ type: 'ping', ts: 1 });
    await client.nextOfType('pong');
    await client.close();
  });
});
