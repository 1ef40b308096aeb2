import { Redis } from 'ioredis';
import { afterAll, beforeAll, it } from 'vitest';
import { RedisBackend } from '../../../src/server/backend/redis.js';
import type { ChannelSignal } from '../../../src/server/backend/types.js';
import { RetentionRules } from '../../../src/server/retention.js';
import { announced, CHANNELS, checkAgainstModel, nodeOf, presenceSeeds, type PresenceSystem } from '../../support/presence-model.js';
import { startRedis, type RedisProcess } from '../../support/redis.js';
import { silentLogger } from './helpers.js';

/** Two Redis backends as two nodes on one Redis, their presence against the model of the rule in test/support/presence-model.ts. */
const RUNS = 40;
const STEPS = 40;

let redis: RedisProcess;
let inspector: Redis;

/** A started node whose heartbeat never runs during a run: only a node started after a peer was marked dead reaps it. */
async function node(prefix: string, nodeId: string) {
  const backend = new RedisBackend({
    redis: { url: redis.url, options: {}, keyPrefix: prefix, nodeHeartbeatMs: 600_000, nodeTimeoutMs: 1_200_000, connectTimeoutMs: 3000, commandTimeoutMs: 1000 },
    nodeId,
    retention: new RetentionRules([], { size: 100, maxBytes: 1_000_000 }),
    historyTtlMs: 60_000,
    dedupWindowMs: 10_000,
    logger: silentLogger(),
  });
  const heard: { ch: string; signal: ChannelSignal }[] = [];
  await backend.start({ message: () => undefined, channelSignal: (ch, signal) => heard.push({ ch, signal }), globalSignal: () => undefined, recovered: () => undefined, status: () => undefined });
  return { backend, heard };
}

type Node = Awaited<ReturnType<typeof node>>;

/** Nodes a and b; each ref's operations go through its own node. A reap marks a node dead and starts a third node, whose first heartbeat reaps it, and answers what the other node heard. */
async function redisPresence(prefix: string): Promise<{ system: PresenceSystem; close: () => Promise<void> }> {
  const nodes: Record<string, Node> = { a: await node(prefix, 'a'), b: await node(prefix, 'b') };
  for (const { backend } of Object.values(nodes)) for (const ch of CHANNELS) await backend.watch(ch);
  const system: PresenceSystem = {
    async apply(op) {
      if (op.kind === 'reap') {
        const survivor = nodes[op.node === 'a' ? 'b' : 'a']!;
        survivor.heard.length = 0;
        await inspector.zadd(`${prefix}nodes:alive`, 0, op.node);
        const reaper = await node(prefix, 'reaper');
        await reaper.backend.close();
        await survivor.backend.caughtUp();
        return announced(survivor.heard);
      }
      const { backend } = nodes[nodeOf(op.ref)]!;
      if (op.kind === 'leave') return backend.presenceLeave(op.ch, op.ref, op.userId);
      return op.kind === 'join' ? backend.presenceJoin(op.ch, op.ref, op.member) : backend.presenceUpdate(op.ch, op.ref, op.member);
    },
    list: (ch) => nodes.a!.backend.presenceList(ch),
  };
  const close = async () => {
    await Promise.all(Object.values(nodes).map(({ backend }) => backend.close()));
  };
  return { system, close };
}

beforeAll(async () => {
  redis = await startRedis();
  inspector = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await inspector.connect();
});

afterAll(async () => {
  inspector?.disconnect();
  await redis?.stop();
});

it('answers each presence join, update and leave on either node, lists the members of each channel, and announces the reap of a dead node once per channel and user, as the rule does', async () => {
  for (const seed of presenceSeeds(RUNS, 20_261_207)) {
    const { system, close } = await redisPresence(`pm${seed}:`);
    try {
      await checkAgainstModel(system, seed, STEPS, { reaps: true });
    } finally {
      await close();
    }
  }
});
