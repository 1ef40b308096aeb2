import { describe, expect, it } from 'vitest';
import { createConnection, type Connection } from '../../src/index.node.js';
import type { SocketchartServer } from '../../src/server/index.js';
import { FaultProxy } from '../../src/testing/fault-proxy.js';
import { until } from '../support/until.js';
import { cleanupsAfterEach, startReferenceServer } from '../support/reference-server.js';

const cleanups = cleanupsAfterEach();

async function setup() {
  const server: SocketchartServer = await startReferenceServer({
    channels: [{ pattern: 'orders:*', subscribe: true, publish: true }],
  });
  const port = server.address()!.port;
  const proxy = new FaultProxy({ host: '127.0.0.1', port });
  await proxy.listen();
  const connect = (name: string, url: string): Connection =>
    createConnection({ url, name, auth: { token: async () => name }, reconnect: { baseMs: 50, capMs: 100 }, acks: { timeoutMs: 5_000 } });
  const publisher = connect('publisher', `ws://127.0.0.1:${proxy.port}`);
  const subscriber = connect('subscriber', `ws://127.0.0.1:${port}`);
  cleanups.push(async () => {
    publisher.dispose();
    subscriber.dispose();
    await proxy.close();
    await server.close();
  });
  return { server, proxy, publisher, subscriber };
}

describe('acknowledged publishes against the reference server', () => {
  it('resolves with the ack of the publish', async () => {
    const { publisher, subscriber } = await setup();
    const got: unknown[] = [];
    subscriber.subscribe('orders:1', (data) => got.push(data));
    subscriber.start();
    publisher.start();
    await until(() => publisher.isConnected && subscriber.isConnected);
    await publisher.send({ order: 1 }, { channel: 'orders:1', ack: true });
    await until(() => got.length === 1);
    expect(got).toEqual([{ order: 1 }]);
  });

  it('an ack lost with its socket: the publish is written again after the reconnect and stored once (exactly once)', async () => {
    const { publisher, subscriber, proxy } = await setup();
    const got: unknown[] = [];
    subscriber.subscribe('orders:2', (data) => got.push(data));
    subscriber.start();
    publisher.start();
    await until(() => publisher.isConnected && subscriber.isConnected);
    await new Promise((resolve) => setTimeout(resolve, 100));
    proxy.mode = 'stall-downstream';
    let settled = false;
    const sent = publisher.send({ order: 2 }, { channel: 'orders:2', ack: true }).then(() => (settled = true));
    await until(() => got.length === 1);
    expect(settled).toBe(false);
    proxy.reset();
    proxy.mode = 'pass';
    await sent;
    expect(publisher.metrics().reconnects).toBeGreaterThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(got).toEqual([{ order: 2 }]);
  });
});
