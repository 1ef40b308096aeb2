import { afterEach, describe, expect, it } from 'vitest';
import { assign, createActor, createMachine } from 'xstate';
import { WebSocketServer } from 'ws';
import { connectInspector } from '../../../src/index.node.js';
import { freePort } from '../../support/ports.js';
import { until } from '../../support/until.js';
import { FakeInspectorSocket } from './support.js';

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

  it('costs the app about as much per transition with its buffer full as with the inspector there', () => {
    const maxBuffered = 50_000;
    const counter = createMachine({ id: 'counter', on: { tick: {} } });
    const there = connectInspector({ url: 'ws://127.0.0.1:1', WebSocket: FakeInspectorSocket as never, metricsIntervalMs: false, maxBuffered });
    FakeInspectorSocket.last.open(false);
    const away = connectInspector({ url: 'ws://127.0.0.1:1', WebSocket: FakeInspectorSocket as never, metricsIntervalMs: false, maxBuffered });
    cleanups.push(() => there.close(), () => away.close());
    const a = createActor(counter, { inspect: there }).start();
    const b = createActor(counter, { inspect: away }).start();
    cleanups.push(() => a.stop(), () => b.stop());
    const timeTicks = (inspector: typeof there, actor: typeof a, count: number) => {
      const started = performance.now();
      for (let i = 0; i < count; i++) {
        actor.send({ type: 'tick' });
        if (i % 100 === 99) inspector.flush();
      }
      inspector.flush();
      return performance.now() - started;
    };

    timeTicks(there, a, 2_000);
    timeTicks(away, b, maxBuffered / 2 + 1_000); // an event and a snapshot per tick: the buffer is full
    expect(away.dropped).toBeGreaterThan(0);
    const withInspector = Math.min(timeTicks(there, a, 2_000), timeTicks(there, a, 2_000));
    const whileAway = timeTicks(away, b, 2_000);
    expect(whileAway).toBeLessThan(withInspector * 4 + 20);
  }, 60_000);
});
