import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { SocketchartServer } from '../../../src/server/index.js';
import { stateSizes } from '../../../src/server/state-sizes.js';
import { connectAs, delay, eventually, metricValue, startServer, type TestClient } from './helpers.js';

const socketOf = (client: TestClient) => (client.ws as unknown as { _socket: Socket })._socket;
const HEARTBEAT_MS = 300;
const CH = 'chat:archive';

/** A server whose `chat:archive` retains `count` messages of 2 KB: 8,000 are more than the kernel's socket buffers on loopback take, and what a replay may leave in the send buffer. */
async function serverWithArchive(count: number): Promise<SocketchartServer> {
  const server = await startServer({ heartbeatIntervalMs: HEARTBEAT_MS, historySize: count, historyMaxBytesPerChannel: 4 * count * 1024, rateLimits: { chat: { perMinute: 1e6, burst: 1e6 } } });
  for (let n = 0; n < count; n++) await server.broadcast(CH, { n, text: 'x'.repeat(2000) });
  return server;
}

describe('a replay waiting on a socket that takes none of its backlog', () => {
  let server: SocketchartServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('closes with 4008 a subscriber that stops reading mid-replay yet keeps sending frames, within a few heartbeat intervals, and lets go of it', async () => {
    server = await serverWithArchive(8000);
    const staller = await connectAs(server, 'staller');
    staller.send({ type: 'subscribe', ch: CH, since: 0 });
    await staller.nextOfType('subscribed', { ch: CH });
    socketOf(staller).pause();
    const chatter = setInterval(() => staller.send({ type: 'pong' }), HEARTBEAT_MS / 3);
    const slowConsumers = async () => metricValue(await server!.metrics.metrics(), 'socketchart_slow_consumers_total');
    try {
      for (let i = 0; i < 50; i++) await server.broadcast(CH, { live: i });
      await eventually(async () => (await slowConsumers()) === 1, 10 * HEARTBEAT_MS, 'the stalled socket told a slow consumer');
    } finally {
      clearInterval(chatter);
      socketOf(staller).resume();
    }
    expect((await staller.closed).code).toBe(4008);
    await eventually(() => stateSizes(server!).connections === 0);
    expect(stateSizes(server)).toMatchObject({ subscriptions: 0, users: 0 });
  });

  it('keeps a subscriber that reads its replay slowly (its socket paused half a heartbeat interval at a time, frames sent meanwhile), and delivers all of it in order', async () => {
    const count = 8000;
    server = await serverWithArchive(count);
    const slow = await connectAs(server, 'slow');
    const started = Date.now();
    slow.send({ type: 'subscribe', ch: CH, since: 0 });
    await slow.nextOfType('subscribed', { ch: CH });
    const socket = socketOf(slow);
    const alive = setInterval(() => slow.send({ type: 'pong' }), HEARTBEAT_MS / 3);
    const deadline = Date.now() + 20_000;
    const received = () => slow.ofType('message', CH).length;
    while (received() < count && slow.closeCode === undefined && Date.now() < deadline) {
      socket.pause();
      await delay(HEARTBEAT_MS / 2);
      const before = received();
      socket.resume();
      // Reads 200 frames (400 KB) of the backlog before it pauses again, however busy the machine: slow, never stalled.
      while (received() < Math.min(before + 200, count) && slow.closeCode === undefined && Date.now() < deadline) await delay(1);
    }
    clearInterval(alive);
    expect(slow.closeCode).toBeUndefined();
    expect(Date.now() - started).toBeGreaterThan(3 * HEARTBEAT_MS);
    expect(slow.ofType('message', CH).map((frame) => (frame.data as { n: number }).n)).toEqual(Array.from({ length: count }, (_, n) => n));
    await slow.close();
  }, 30_000);
});
