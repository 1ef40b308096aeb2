import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { SocketchartServer } from '../../../src/server/index.js';
import { startRedis, type RedisProcess } from '../../support/redis.js';
import { roleProxy } from '../../support/role-proxy.js';
import { connectAs, delay, eventually, httpUrl, startServer } from './helpers.js';

/** A node's two Redis connections (commands, pub/sub) lag or fail apart from each other. */
let redis: RedisProcess;
const proxies: ReturnType<typeof roleProxy>[] = [];
const nodes: SocketchartServer[] = [];

const redisOptions = (url: string, keyPrefix: string) => ({ url, keyPrefix, connectTimeoutMs: 3000, commandTimeoutMs: 1000, nodeHeartbeatMs: 200, nodeTimeoutMs: 5000 });

async function node(keyPrefix: string, direct = false) {
  const proxy = roleProxy(redis.port);
  proxies.push(proxy);
  const url = direct ? redis.url : `redis://127.0.0.1:${await proxy.listen()}`;
  const server = await startServer({ redis: redisOptions(url, keyPrefix) });
  nodes.push(server);
  return { proxy, server };
}

beforeAll(async () => {
  redis = await startRedis();
});

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((server) => server.close()));
  proxies.splice(0).forEach((proxy) => proxy.close());
});

afterAll(async () => {
  await redis?.stop();
});

it('a subscribe without since delivers a message published after the subscribe arrived, even when pub/sub lags the command connection', async () => {
  const { proxy, server } = await node('race:');
  const alice = await connectAs(server, 'alice');
  proxy.setLag('sub', 300);
  alice.send({ type: 'subscribe', ch: 'chat:race' });
  await delay(50); // the subscribe has reached Redis; its history read waits for the (lagging) SUBSCRIBE reply
  const { seq } = await server.broadcast('chat:race', { n: 1 });
  const subscribed = await alice.nextOfType('subscribed', { ch: 'chat:race' });
  await alice.nextOfType('message', { ch: 'chat:race', seq }, 2000);
  expect(subscribed.seq).toBe(seq - 1);
  await alice.close();
});

it('holds a hole a failed history read cannot fill instead of announcing a gap, and fills it from history once Redis is back', async () => {
  const ch = 'chat:blip';
  const { proxy, server: nodeA } = await node('gap:');
  const { server: nodeB } = await node('gap:', true);
  const probe = new Redis(redis.url);
  const alice = await connectAs(nodeA, 'alice');
  alice.send({ type: 'subscribe', ch });
  await alice.nextOfType('subscribed', { ch });
  const m0 = await nodeB.broadcast(ch, { n: 0 });
  await alice.nextOfType('message', { seq: m0.seq });

  proxy.block('cmd');
  proxy.block('sub');
  const m1 = await nodeB.broadcast(ch, { n: 1 }); // node A's pub/sub is down: kept in history only
  const m2 = await nodeB.broadcast(ch, { n: 2 });
  proxy.allow('sub');
  const subscribers = async () => Number(((await probe.pubsub('NUMSUB', `gap:chan:${ch}`)) as [string, number])[1]);
  await eventually(async () => (await subscribers()) === 1, 5000, 'node A subscribed again');
  const m3 = await nodeB.broadcast(ch, { n: 3 }); // node A sees 3 after 0 and cannot read history yet
  await delay(300);
  expect(alice.frames.filter((frame) => frame.type === 'message' || frame.type === 'gap').map((frame) => frame.seq ?? 'gap')).toEqual([m0.seq]);

  proxy.allow('cmd');
  await eventually(async () => ((await (await fetch(httpUrl(nodeA, '/healthz'))).json()) as { status: string }).status === 'ok', 8000, 'node A healthy');
  await alice.nextOfType('message', { seq: m3.seq }, 5000);
  expect({ seqs: alice.ofType('message', ch).map((frame) => frame.seq), gaps: alice.ofType('gap', ch) }).toEqual({ seqs: [m0.seq, m1.seq, m2.seq, m3.seq], gaps: [] });
  probe.disconnect();
  await alice.close();
});
