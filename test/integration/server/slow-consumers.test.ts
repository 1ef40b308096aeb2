import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectAs, eventually, metricValue, startServer, type TestClient } from './helpers.js';

const pause = (client: TestClient) => (client.ws as unknown as { _socket: Socket })._socket.pause();
const resume = (client: TestClient) => (client.ws as unknown as { _socket: Socket })._socket.resume();

describe('slow consumers: the send-buffer bound holds however the application writes', () => {
  it('closes paused subscribers with 4008 during a broadcast loop that never yields to I/O, and holds at most the bound for them', async () => {
    const maxBufferedBytes = 256 * 1024;
    const server = await startServer({ maxBufferedBytes, rateLimits: { chat: { perMinute: 1e6, burst: 1e6 } } });
    const paused = await Promise.all(Array.from({ length: 5 }, (_, i) => connectAs(server, `paused${i}`)));
    const neighbour = await connectAs(server, 'neighbour');
    for (const client of paused) client.send({ type: 'subscribe', ch: 'chat:firehose' });
    neighbour.send({ type: 'subscribe', ch: 'chat:quiet' });
    await Promise.all([...paused.map((client) => client.nextOfType('subscribed')), neighbour.nextOfType('subscribed')]);
    paused.forEach(pause);

    const payload = 'x'.repeat(1024);
    const before = await server.metrics.metrics();
    const bytesBefore = metricValue(before, 'socketchart_bytes_out_total') ?? 0;
    for (let i = 0; i < 20_000; i++) await server.broadcast('chat:firehose', payload);
    const bytesHandedToSockets = (metricValue(await server.metrics.metrics(), 'socketchart_bytes_out_total') ?? 0) - bytesBefore;

    paused.forEach(resume);
    const codes = await Promise.all(paused.map(async (client) => (await client.closed).code));
    expect(codes).toEqual([4008, 4008, 4008, 4008, 4008]);
    console.info(`[slow consumers] 5 paused subscribers of 20,000 × 1 KB: ${(bytesHandedToSockets / 1e6).toFixed(1)} MB written to their sockets before they were closed`);
    expect(bytesHandedToSockets).toBeLessThan(5 * 20_000 * 1024 * 0.5);

    await server.broadcast('chat:quiet', 'still here');
    await eventually(() => neighbour.ofType('message', 'chat:quiet').length === 1);
    await neighbour.close();
    await server.close();
  });
});
