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

  it('bounds a paused subscriber by the bytes of its frames, whatever their characters: text in CJK holds no more than ASCII text of the same size', async () => {
    const maxBufferedBytes = 4 * 1024 * 1024;
    /** Bytes one paused subscriber received, once it read again, before it was closed with 4008, for a payload of 3 KB. */
    const heldFor = async (payload: string) => {
      const server = await startServer({ maxBufferedBytes, rateLimits: { chat: { perMinute: 1e6, burst: 1e6 } } });
      const client = await connectAs(server, 'paused');
      client.send({ type: 'subscribe', ch: 'chat:wide' });
      await client.nextOfType('subscribed');
      let received = 0;
      client.ws.on('message', (data: Buffer) => (received += data.length));
      pause(client);
      const cutOff = async () => (metricValue(await server.metrics.metrics(), 'socketchart_slow_consumers_total') ?? 0) > 0;
      for (let i = 0; i < 20_000 && !(i % 100 === 0 && (await cutOff())); i++) {
        await server.broadcast('chat:wide', payload);
        if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      resume(client);
      expect((await client.closed).code).toBe(4008);
      await server.close();
      return received;
    };
    const ascii = await heldFor('x'.repeat(3 * 1024));
    const cjk = await heldFor('漢'.repeat(1024));
    console.info(`[slow consumers] bound ${maxBufferedBytes / 2 ** 20} MiB: ${(ascii / 2 ** 20).toFixed(1)} MiB of ASCII text, ${(cjk / 2 ** 20).toFixed(1)} MiB of CJK text received by a paused subscriber before 4008`);
    expect(cjk).toBeLessThan(ascii * 1.5);
  }, 30_000);

  it('writes a resume replay larger than the bound (8 channels × 1 MB of retained history) at the pace the client reads it, instead of closing it with 4008', async () => {
    const server = await startServer({ rateLimits: { chat: { perMinute: 1e6, burst: 1e6 } } });
    const channels = ['chat:a', 'chat:b', 'chat:c', 'chat:d', 'chat:e', 'chat:f', 'chat:g', 'chat:h'];
    const text = 'x'.repeat(1000);
    for (const ch of channels) for (let n = 0; n < 1000; n++) await server.broadcast(ch, { n, text });
    for (let attempt = 0; attempt < 3; attempt++) {
      const client = await connectAs(server, 'alice');
      for (const ch of channels) client.send({ type: 'subscribe', ch, since: 0 });
      const replayed = () => channels.every((ch) => client.ofType('message', ch).length === 1000);
      await eventually(() => replayed() || client.closeCode !== undefined, 10_000, 'replay or close');
      expect(client.closeCode, `attempt ${attempt}: closed after ${client.ofType('message').length} messages`).toBeUndefined();
      expect(channels.map((ch) => client.ofType('message', ch).map((frame) => (frame.data as { n: number }).n))).toEqual(channels.map(() => Array.from({ length: 1000 }, (_, n) => n)));
      await client.close();
    }
    await server.close();
  }, 30_000);
});
