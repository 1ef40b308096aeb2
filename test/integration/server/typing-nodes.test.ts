import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RedisBackendOptions, SocketchartServer } from '../../../src/server/index.js';
import { FaultProxy } from '../../support/fault-proxy.js';
import { startRedis, type RedisProcess } from '../../support/redis.js';
import { stateSizes } from '../../../src/server/state-sizes.js';
import { connectAs, eventually, startServer, type TestClient } from './helpers.js';

/** One user typing in tabs connected to different nodes sharing one real Redis. */
describe('typing across nodes', () => {
  let redis: RedisProcess;
  let prefixes = 0;
  const nodes: SocketchartServer[] = [];
  const proxies: FaultProxy[] = [];
  const clients: TestClient[] = [];

  const startNode = async (keyPrefix: string, typingTimeoutMs: number, url = redis.url) => {
    const link: RedisBackendOptions = { url, keyPrefix, nodeHeartbeatMs: 150, nodeTimeoutMs: 5000, connectTimeoutMs: 3000, commandTimeoutMs: 1000 };
    const node = await startServer({ typingTimeoutMs, redis: link });
    nodes.push(node);
    return node;
  };

  const connect = async (node: SocketchartServer, userId: string) => {
    const client = await connectAs(node, userId);
    clients.push(client);
    return client;
  };

  /** A watcher subscribed on node B, and alice with a tab on node A and one on node B. */
  const setUp = async ({ typingTimeoutMs = 60_000, proxied = false } = {}) => {
    const prefix = `ty${++prefixes}:`;
    let proxy: FaultProxy | undefined;
    if (proxied) {
      proxy = new FaultProxy({ host: '127.0.0.1', port: redis.port });
      proxies.push(proxy);
      await proxy.listen();
    }
    const a = await startNode(prefix, typingTimeoutMs, proxy ? `redis://127.0.0.1:${proxy.port}` : redis.url);
    const b = await startNode(prefix, typingTimeoutMs);
    const watcher = await connect(b, 'watcher');
    watcher.send({ type: 'subscribe', ch: 'chat:room' });
    await watcher.nextOfType('subscribed', { ch: 'chat:room' });
    const [onA, onB] = [await connect(a, 'alice'), await connect(b, 'alice')];
    const typing = (tab: TestClient, on: boolean) => tab.send({ type: 'typing', ch: 'chat:room', typing: on });
    const typingSeen = () => watcher.ofType('typing', 'chat:room').map((frame) => `${String(frame.userId)}:${String(frame.typing)}`);
    /** Both tabs typing, each seen by the watcher. */
    const bothTyping = async () => {
      typing(onA, true);
      await watcher.nextOfType('typing', { typing: true });
      typing(onB, true);
      await watcher.nextOfType('typing', { typing: true });
    };
    /** A message published by `tab` has reached the watcher: what its node announced before has too. */
    const barrier = async (tab: TestClient, id: string) => {
      tab.send({ type: 'publish', ch: 'chat:room', id, data: id });
      await tab.nextOfType('ack', { id });
      await watcher.nextOfType('message', { id });
    };
    return { a, b, proxy, watcher, onA, onB, typing, typingSeen, bothTyping, barrier };
  };

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await Promise.all(nodes.splice(0).map((node) => node.close()));
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  });

  afterAll(async () => {
    await redis?.stop();
  });

  it('keeps a user typing while their tab on another node still types, and tells the stop once their last tab stops', async () => {
    const { watcher, onA, onB, typing, typingSeen, bothTyping, barrier } = await setUp();
    await bothTyping();
    typing(onA, false);
    await barrier(onA, 'after-a-stopped');
    await barrier(onB, 'b-still-typing');
    expect(typingSeen()).toEqual(['alice:true', 'alice:true']);
    typing(onB, false);
    await watcher.nextOfType('typing', { typing: false });
    await barrier(onA, 'after-b-stopped');
    expect(typingSeen()).toEqual(['alice:true', 'alice:true', 'alice:false']);
  });

  it('keeps a user typing when their tab on another node disconnects, and tells the stop once the last tab disconnects', async () => {
    const { a, watcher, onA, onB, typingSeen, bothTyping, barrier } = await setUp();
    const probe = await connect(a, 'probe');
    await bothTyping();
    await onA.close();
    await eventually(() => stateSizes(a).users === 1, 3000, 'the tab on A gone');
    await barrier(probe, 'after-a-left');
    await barrier(onB, 'b-still-typing');
    expect(typingSeen()).toEqual(['alice:true', 'alice:true']);
    await onB.close();
    expect(await watcher.nextOfType('typing', { typing: false })).toMatchObject({ userId: 'alice' });
  });

  it('tells the stop once the tab still typing on another node times out', async () => {
    const { watcher, onA, onB, typing, typingSeen, bothTyping, barrier } = await setUp({ typingTimeoutMs: 1500 });
    await bothTyping();
    typing(onA, false);
    await barrier(onA, 'after-a-stopped');
    await barrier(onB, 'b-still-typing');
    expect(typingSeen()).toEqual(['alice:true', 'alice:true']);
    expect(await watcher.nextOfType('typing', { typing: false }, 5000)).toMatchObject({ userId: 'alice' });
    expect(typingSeen()).toEqual(['alice:true', 'alice:true', 'alice:false']);
  });

  it('does not leave a user typing for ever when the node of their other typing tab lost Redis (as in a crash): the stop is told once its typing expires', async () => {
    const { proxy, watcher, onB, typing, typingSeen, bothTyping, barrier } = await setUp({ typingTimeoutMs: 1500, proxied: true });
    await bothTyping();
    proxy!.mode = 'refuse';
    proxy!.reset();
    typing(onB, false);
    await barrier(onB, 'after-b-stopped');
    expect(typingSeen(), 'the tab on A may still type').toEqual(['alice:true', 'alice:true']);
    expect(await watcher.nextOfType('typing', { typing: false }, 5000)).toMatchObject({ userId: 'alice' });
    expect(typingSeen()).toEqual(['alice:true', 'alice:true', 'alice:false']);
  });

  it('closed while it waits to check on a user typing on another node, a node leaves no check behind', async () => {
    const { b, onB, typing, bothTyping, barrier } = await setUp();
    await bothTyping();
    typing(onB, false);
    await barrier(onB, 'after-b-stopped');
    expect(stateSizes(b).typingChecks).toBe(1);
    await b.close();
    expect(stateSizes(b).typingChecks).toBe(0);
  });
});
