import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createConnection, fileStore, type Connection } from '../../src/index.node.js';
import type { SocketchartServer } from '../../src/server/index.js';
import { FaultProxy } from '../../src/testing/fault-proxy.js';
import { until } from '../support/until.js';
import { cleanupsAfterEach, startReferenceServer } from '../support/reference-server.js';

const cleanups = cleanupsAfterEach();

describe('persisted messages against the reference server', () => {
  it('acknowledged messages in flight when the app dies are sent again by the next run and stored once each', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'socketchart-restart-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const server: SocketchartServer = await startReferenceServer({
      channels: [{ pattern: 'orders:*', subscribe: true, publish: true }],
    });
    const port = server.address()!.port;
    const proxy = new FaultProxy({ host: '127.0.0.1', port });
    await proxy.listen();
    cleanups.push(async () => {
      await proxy.close();
      await server.close();
    });
    const connect = (name: string, url: string, store?: ReturnType<typeof fileStore>): Connection => {
      const connection = createConnection({
        url,
        name,
        auth: { token: name },
        heartbeat: false,
        reconnect: { baseMs: 50, capMs: 100 },
        ...(store ? { persistence: { store } } : {}),
      });
      cleanups.push(() => connection.dispose());
      return connection;
    };
    const reader = connect('reader', `ws://127.0.0.1:${port}`);
    const got: unknown[] = [];
    reader.subscribe('orders:1', (data) => got.push(data));
    reader.start();

    const path = join(dir, 'outbox.jsonl');
    const firstStore = fileStore({ path });
    const first = connect('app', `ws://127.0.0.1:${proxy.port}`, firstStore);
    first.start();
    await until(() => first.isConnected && reader.isConnected);
    await new Promise((resolve) => setTimeout(resolve, 50));
    proxy.mode = 'stall-downstream';
    for (let n = 1; n <= 5; n++) void first.send({ n }, { channel: 'orders:1', ack: true }).catch(() => {});
    await until(() => got.length === 5);
    await firstStore.close();
    // The app dies here: its acks never arrived, its messages stay in the file.
    proxy.mode = 'refuse';
    proxy.reset();

    const secondStore = fileStore({ path });
    expect(secondStore.load().map((message) => message.ack)).toEqual([true, true, true, true, true]);
    const second = connect('app', `ws://127.0.0.1:${port}`, secondStore);
    const restored: unknown[] = [];
    second.on('restored', (event) => restored.push(event));
    second.start();
    await until(() => second.isConnected && second.queued === 0);
    await until(() => secondStore.load().length === 0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(restored).toEqual([{ messages: 5, expired: 0 }]);
    expect(got).toEqual([1, 2, 3, 4, 5].map((n) => ({ n })));
    await secondStore.close();
  });
});
