import { afterEach, describe, expect, it } from 'vitest';
import { assign, createActor, createMachine } from 'xstate';
import { WebSocketServer } from 'ws';
import { connectInspector } from '../../../src/index.node.js';
import { freePort } from '../../support/ports.js';
import { until } from '../../support/until.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const BACKLOG_LIMIT = 16 * 1024 * 1024;

describe('connectInspector() while the inspector is away', () => {
  it('keeps no more bytes than it would let a live socket back up (16 MiB)', async () => {
    const port = await freePort();
    const inspector = connectInspector({ url: `ws://127.0.0.1:${port}`, metricsIntervalMs: false, reconnectMs: 50 });
    cleanups.push(() => inspector.close());
    const big = 'x'.repeat(1024 * 1024);
    const machine = createMachine({ id: 'doc', context: { text: big, n: 0 }, on: { edit: { actions: assign({ n: ({ context }) => context.n + 1 }) } } });
    const actor = createActor(machine, { inspect: inspector }).start();
    cleanups.push(() => actor.stop());
    for (let i = 0; i < 40; i++) {
      actor.send({ type: 'edit' });
      inspector.flush();
    }
    let received = 0;
    const wss = new WebSocketServer({ port, host: '127.0.0.1' });
    cleanups.push(() => new Promise((resolve) => {
      for (const client of wss.clients) client.terminate();
      wss.close(resolve);
    }));
    wss.on('connection', (socket) => socket.on('message', (data: Buffer) => (received += data.length)));
    await until(() => inspector.status === 'open', 5_000, 'the inspector came back');
    await new Promise((resolve) => setTimeout(resolve, 500));
    console.log(`backlog delivered after reconnect: ${(received / 1024 / 1024).toFixed(1)} MiB for 40 transitions; dropped=${inspector.dropped}`);
    // the away-buffer (at most BACKLOG_LIMIT), then the live actor announced once more (about 1 MiB)
    expect(received).toBeLessThanOrEqual(BACKLOG_LIMIT + 2 * 1024 * 1024);
  });
});
