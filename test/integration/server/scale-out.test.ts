import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RedisBackendOptions, SocketchartServer } from '../../../src/server/index.js';
import { Redis } from 'ioredis';
import { FaultProxy } from '../../support/fault-proxy.js';
import { roleProxy, type Role } from '../../support/role-proxy.js';
import { testNode, type SocketStandIn } from '../../support/server-connection.js';
import { freePort } from '../../support/ports.js';
import { startRedis, type RedisProcess } from '../../support/redis.js';
import { stateSizes } from '../../../src/server/state-sizes.js';
import { captureLogger, connectAs, connectTo, delay, eventually, httpUrl, SECRET, startServer, type Frame, type TestClient } from './helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/redis-node.ts', import.meta.url));
const HEARTBEAT_MS = 150;
const NODE_TIMEOUT_MS = 600;

/** Walks a subscriber's message and gap frames for one channel: every number after the first is accounted for exactly once, in order. */
function accountedFor(frames: readonly Frame[], ch: string): { seqs: number[]; gaps: [number, number][]; contiguous: boolean } {
  const seqs: number[] = [];
  const gaps: [number, number][] = [];
  let last: number | undefined;
  let contiguous = true;
  for (const frame of frames) {
    if (frame.ch !== ch) continue;
    if (frame.type === 'message') {
      const seq = frame.seq as number;
      if (last !== undefined && seq !== last + 1) contiguous = false;
      seqs.push(seq);
      last = seq;
    } else if (frame.type === 'gap') {
      const from = frame.from as number;
      const to = frame.to as number;
      if (last !== undefined && from !== last + 1) contiguous = false;
      gaps.push([from, to]);
      last = to;
    }
  }
  return { seqs, gaps, contiguous };
}

describe('scale-out over one real Redis', () => {
  let redis: RedisProcess;
  let prefixCounter = 0;
  const nodes: SocketchartServer[] = [];
  const children: ChildProcess[] = [];
  const proxies: FaultProxy[] = [];

  const startNode = async (keyPrefix: string, extra: Parameters<typeof startServer>[0] = {}, url = redis.url, link: RedisBackendOptions = {}) => {
    const node = await startServer({
      rateLimits: { chat: { perMinute: 60_000, burst: 1000 } },
      ...extra,
      redis: { url, keyPrefix, nodeHeartbeatMs: HEARTBEAT_MS, nodeTimeoutMs: NODE_TIMEOUT_MS, connectTimeoutMs: 3000, commandTimeoutMs: 1000, ...link },
    });
    nodes.push(node);
    return node;
  };

  const cluster = async (count: number, extra: Parameters<typeof startServer>[0] = {}) => {
    const prefix = `t${++prefixCounter}:`;
    return Promise.all(Array.from({ length: count }, () => startNode(prefix, extra)));
  };

  /** A node that reaches Redis through a proxy the test can cut and restore. */
  const proxiedNode = async (keyPrefix: string, extra: Parameters<typeof startServer>[0] = {}, link: RedisBackendOptions = {}) => {
    const proxy = new FaultProxy({ host: '127.0.0.1', port: redis.port });
    proxies.push(proxy);
    await proxy.listen();
    return { proxy, node: await startNode(keyPrefix, extra, `redis://127.0.0.1:${proxy.port}`, link) };
  };

  /** Commands time out fast and nodes are taken for dead late: a hiccup of the link is not a dead node. */
  const hiccups: RedisBackendOptions = { nodeTimeoutMs: 5000, commandTimeoutMs: 200 };

  const healthOf = async (node: SocketchartServer) => ((await (await fetch(httpUrl(node, '/healthz'))).json()) as { status: string }).status;

  const spawnNode = (keyPrefix: string): Promise<{ child: ChildProcess; url: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
        env: {
          ...process.env,
          SC_SECRET: SECRET,
          SC_REDIS_URL: redis.url,
          SC_KEY_PREFIX: keyPrefix,
          SC_HEARTBEAT_MS: String(HEARTBEAT_MS),
          SC_NODE_TIMEOUT_MS: String(NODE_TIMEOUT_MS),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      const timer = setTimeout(() => reject(new Error('child node did not start within 15 s')), 15_000);
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /READY (\d+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve({ child, url: `ws://127.0.0.1:${match[1]}/` });
        }
      });
      child.once('exit', (code) => reject(new Error(`child node exited with ${code}`)));
    });

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterEach(async () => {
    children.splice(0).forEach((child) => child.kill('SIGKILL'));
    await Promise.all(nodes.splice(0).map((node) => node.close()));
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  });

  afterAll(async () => {
    await redis?.stop();
  });

  const subscribe = async (client: TestClient, ch: string, since?: number) => {
    client.send({ type: 'subscribe', ch, ...(since === undefined ? {} : { since }) });
    return client.nextOfType('subscribed', { ch });
  };
  /** Joins presence on `ch` with `meta`; the members the server answers with. */
  const join = async (client: TestClient, ch: string, meta: Record<string, unknown>) => {
    client.send({ type: 'presence', ch, action: 'join', meta });
    return (await client.nextOfType('presence_state', { ch })).members;
  };

  it('delivers to a client on node A, in order, what is published on node B and C', async () => {
    const [a, b, c] = await cluster(3);
    const reader = await connectAs(a!, 'reader');
    const writer = await connectAs(b!, 'writer');
    await subscribe(reader, 'chat:room');
    for (let n = 1; n <= 100; n++) writer.send({ type: 'publish', ch: 'chat:room', id: `w${n}`, data: { n } });
    await eventually(() => writer.ofType('ack').length === 100, 5000, '100 acks on node B');
    await c!.broadcast('chat:room', { n: 101 });
    await eventually(() => reader.ofType('message', 'chat:room').length === 101, 5000, '101 messages on node A');
    const frames = reader.ofType('message', 'chat:room');
    expect(frames.map((frame) => (frame.data as { n: number }).n)).toEqual(Array.from({ length: 101 }, (_, i) => i + 1));
    expect(accountedFor(reader.frames, 'chat:room')).toMatchObject({ contiguous: true, gaps: [] });
    expect(writer.ofType('ack').map((ack) => ack.seq)).toEqual(frames.slice(0, 100).map((frame) => frame.seq));
    await Promise.all([reader.close(), writer.close()]);
  });

  it('numbers one channel once across nodes: interleaved publishers on A and B give one gap-free sequence', async () => {
    const [a, b, c] = await cluster(3);
    const reader = await connectAs(c!, 'reader');
    await subscribe(reader, 'chat:shared');
    const left = await connectAs(a!, 'left');
    const right = await connectAs(b!, 'right');
    for (let n = 0; n < 50; n++) {
      left.send({ type: 'publish', ch: 'chat:shared', data: { from: 'left', n } });
      right.send({ type: 'publish', ch: 'chat:shared', data: { from: 'right', n } });
    }
    await eventually(() => reader.ofType('message', 'chat:shared').length === 100, 5000);
    const { seqs, contiguous } = accountedFor(reader.frames, 'chat:shared');
    expect(contiguous).toBe(true);
    expect(new Set(seqs).size).toBe(100);
    const perSender = (who: string) =>
      reader
        .ofType('message', 'chat:shared')
        .filter((frame) => (frame.data as { from: string }).from === who)
        .map((frame) => (frame.data as { n: number }).n);
    expect(perSender('left')).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(perSender('right')).toEqual(Array.from({ length: 50 }, (_, i) => i));
    await Promise.all([reader.close(), left.close(), right.close()]);
  });

  it('resumes across nodes: missed messages are replayed from the shared history, then live continues', async () => {
    const [a, b, c] = await cluster(3);
    const first = await connectAs(a!, 'mobile');
    await subscribe(first, 'chat:resume');
    await b!.broadcast('chat:resume', { n: 1 });
    const seen = await first.nextOfType('message', { ch: 'chat:resume' });
    await first.close();
    for (let n = 2; n <= 10; n++) await b!.broadcast('chat:resume', { n });
    const again = await connectAs(c!, 'mobile');
    const subscribed = await subscribe(again, 'chat:resume', seen.seq as number);
    expect(subscribed.seq).toBe((seen.seq as number) + 9);
    await a!.broadcast('chat:resume', { n: 11 });
    await eventually(() => again.ofType('message', 'chat:resume').length === 10, 5000);
    expect(again.ofType('message', 'chat:resume').map((frame) => (frame.data as { n: number }).n)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(accountedFor(again.frames, 'chat:resume')).toMatchObject({ contiguous: true, gaps: [] });
    await again.close();
  });

  it('replays to a client resubscribing from a number what was published since, though its earlier resume from that number, left while nobody on the node watched the channel, is still reading', async () => {
    const node = await testNode({ implicitChannels: false, redis: { url: redis.url, keyPrefix: `t${++prefixCounter}:`, connectTimeoutMs: 3000 } });
    const { hub, backend } = node.parts;
    const read = backend.read.bind(backend);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    try {
      const ch = 'chat:again';
      const seen = await hub.append(ch, 'seen', undefined, undefined, undefined);
      await hub.append(ch, 'missed', undefined, undefined, undefined);
      const since = seen.outcome === 'stored' ? seen.seq : 0;
      const reads = vi.spyOn(backend, 'read').mockImplementationOnce(async (...args) => {
        const answer = await read(...args);
        await held;
        return answer;
      });
      const first = node.connect('mobile').socket;
      first.receive({ type: 'subscribe', ch, since });
      await eventually(() => reads.mock.calls.length === 1, 3000, 'the first resume reading');
      first.receive({ type: 'unsubscribe', ch });
      await backend.caughtUp();
      await hub.append(ch, 'unheard', undefined, undefined, undefined);
      const resumes = vi.spyOn(hub as unknown as { read: (ch: string, since: number, limit: number) => Promise<unknown> }, 'read');
      const again = node.connect('mobile').socket;
      again.receive({ type: 'subscribe', ch, since });
      await eventually(() => resumes.mock.calls.length === 1, 3000, 'the second resume reading');
      release();
      const data = () => again.sent.filter((frame) => frame.type === 'message').map((frame) => frame.data);
      await eventually(() => data().includes('unheard'), 1000, 'the message published while nobody watched replayed');
      expect(data()).toEqual(['missed', 'unheard']);
    } finally {
      release();
      await node.stop();
    }
  });

  it('answers an explicit gap across nodes when the shared history (MAXLEN) no longer reaches back', async () => {
    const [a, b] = await cluster(2, { historySize: 5 });
    const first = await connectAs(a!, 'mobile');
    const start = await subscribe(first, 'chat:trimmed');
    await first.close();
    for (let n = 1; n <= 9; n++) await a!.broadcast('chat:trimmed', { n });
    const again = await connectAs(b!, 'mobile');
    const since = start.seq as number;
    await subscribe(again, 'chat:trimmed', since);
    await eventually(() => again.ofType('message', 'chat:trimmed').length === 5, 5000);
    expect(again.ofType('gap', 'chat:trimmed')).toEqual([{ type: 'gap', ch: 'chat:trimmed', from: since + 1, to: since + 4 }]);
    expect(again.ofType('message', 'chat:trimmed').map((frame) => (frame.data as { n: number }).n)).toEqual([5, 6, 7, 8, 9]);
    await again.close();
  });

  it('deduplicates a publish id across nodes: acked twice with one seq, delivered once', async () => {
    const [a, b] = await cluster(2);
    const reader = await connectAs(b!, 'reader');
    await subscribe(reader, 'chat:dedup');
    const onA = await connectAs(a!, 'writer');
    onA.send({ type: 'publish', ch: 'chat:dedup', id: 'same', data: 1 });
    const firstAck = await onA.nextOfType('ack');
    const onB = await connectAs(b!, 'writer');
    onB.send({ type: 'publish', ch: 'chat:dedup', id: 'same', data: 1 });
    const secondAck = await onB.nextOfType('ack');
    expect(secondAck).toMatchObject({ seq: firstAck.seq, duplicate: true });
    await reader.nextOfType('message', { ch: 'chat:dedup' });
    await delay(100);
    expect(reader.ofType('message', 'chat:dedup')).toHaveLength(1);
    await Promise.all([reader.close(), onA.close(), onB.close()]);
  });

  it('shares presence and typing across nodes, with automatic leave on disconnect', async () => {
    const [a, b] = await cluster(2);
    const watcher = await connectAs(b!, 'watcher');
    await subscribe(watcher, 'room:global');
    const alice = await connectAs(a!, 'alice');
    const bob = await connectAs(b!, 'bob');
    alice.send({ type: 'presence', ch: 'room:global', action: 'join', meta: { device: 'phone' } });
    await alice.nextOfType('presence_state');
    bob.send({ type: 'presence', ch: 'room:global', action: 'join' });
    await bob.nextOfType('presence_state');
    expect(await watcher.nextOfType('presence')).toMatchObject({ joins: [{ userId: 'alice', meta: { device: 'phone' } }] });
    watcher.send({ type: 'presence', ch: 'room:global', action: 'list' });
    const list = await watcher.nextOfType('presence_state');
    expect((list.members as { userId: string }[]).map((member) => member.userId).sort()).toEqual(['alice', 'bob']);
    alice.send({ type: 'typing', ch: 'room:global', typing: true });
    expect(await watcher.nextOfType('typing')).toMatchObject({ userId: 'alice', typing: true });
    await alice.close();
    expect(await watcher.next((frame) => frame.type === 'presence' && (frame.leaves as unknown[]).length > 0)).toMatchObject({ leaves: [{ userId: 'alice' }] });
    expect(await watcher.nextOfType('typing', { typing: false })).toMatchObject({ userId: 'alice' });
    await Promise.all([watcher.close(), bob.close()]);
  });

  it('replaces the meta of a member who joins again with new meta, announced and listed on every node', async () => {
    const [a, b] = await cluster(2);
    const watcher = await connectAs(b!, 'watcher');
    await subscribe(watcher, 'room:status');
    const alice = await connectAs(a!, 'alice');
    await join(alice, 'room:status', { status: 'online' });
    await watcher.nextOfType('presence');
    expect(await join(alice, 'room:status', { status: 'away' })).toEqual([{ userId: 'alice', meta: { status: 'away' } }]);
    expect(await watcher.nextOfType('presence')).toMatchObject({ joins: [{ userId: 'alice', meta: { status: 'away' } }], leaves: [] });
    watcher.send({ type: 'presence', ch: 'room:status', action: 'list' });
    expect((await watcher.nextOfType('presence_state')).members).toEqual([{ userId: 'alice', meta: { status: 'away' } }]);
    await Promise.all([watcher.close(), alice.close()]);
  });

  it('shows a user with the meta its connection on another node joined with last, announced and listed on every node', async () => {
    const [a, b] = await cluster(2);
    const watcher = await connectAs(a!, 'watcher');
    await subscribe(watcher, 'room:devices');
    const desktop = await connectAs(a!, 'alice');
    await join(desktop, 'room:devices', { device: 'desktop' });
    await watcher.nextOfType('presence');
    const phone = await connectAs(b!, 'alice');
    expect(await join(phone, 'room:devices', { device: 'phone' })).toEqual([{ userId: 'alice', meta: { device: 'phone' } }]);
    expect(await watcher.nextOfType('presence')).toMatchObject({ joins: [{ userId: 'alice', meta: { device: 'phone' } }], leaves: [] });
    const tablet = await connectAs(b!, 'alice');
    await join(tablet, 'room:devices', { device: 'phone' });
    watcher.send({ type: 'presence', ch: 'room:devices', action: 'list' });
    expect((await watcher.nextOfType('presence_state')).members).toEqual([{ userId: 'alice', meta: { device: 'phone' } }]);
    expect(watcher.ofType('presence', 'room:devices')).toHaveLength(2);
    await Promise.all([watcher.close(), desktop.close(), phone.close(), tablet.close()]);
  });

  it('shows a user with the meta of their connection joined last of those left, on any node, once the one shown leaves or disconnects, announced and listed on every node', async () => {
    const [a, b] = await cluster(2);
    const watcher = await connectAs(a!, 'watcher');
    await subscribe(watcher, 'room:left');
    const tabs: TestClient[] = [];
    for (const [node, device] of [[a, 'desktop'], [b, 'phone'], [b, 'tablet'], [a, 'laptop']] as const) {
      const tab = await connectAs(node!, 'alice');
      tabs.push(tab);
      await join(tab, 'room:left', { device });
      await watcher.nextOfType('presence');
    }
    const [desktop, phone, tablet, laptop] = tabs as [TestClient, TestClient, TestClient, TestClient];
    const leave = async (tab: TestClient) => {
      tab.send({ type: 'presence', ch: 'room:left', action: 'leave' });
      return (await tab.nextOfType('presence_state', { ch: 'room:left' })).members;
    };
    expect(await leave(desktop), 'not the one shown').toEqual([{ userId: 'alice', meta: { device: 'laptop' } }]);
    expect(await leave(laptop)).toEqual([{ userId: 'alice', meta: { device: 'tablet' } }]);
    expect(await watcher.nextOfType('presence')).toMatchObject({ joins: [{ userId: 'alice', meta: { device: 'tablet' } }], leaves: [] });
    await tablet.close();
    expect(await watcher.nextOfType('presence')).toMatchObject({ joins: [{ userId: 'alice', meta: { device: 'phone' } }], leaves: [] });
    watcher.send({ type: 'presence', ch: 'room:left', action: 'list' });
    expect((await watcher.nextOfType('presence_state')).members).toEqual([{ userId: 'alice', meta: { device: 'phone' } }]);
    await phone.close();
    expect(await watcher.nextOfType('presence')).toMatchObject({ joins: [], leaves: [{ userId: 'alice' }] });
    await Promise.all([watcher.close(), desktop.close(), laptop.close()]);
  });

  /**
   * Nodes A, B and a watcher's node C on one Redis, built in this process so A's next publish can be held. Alice joins on
   * A and B (the one on `shownOn` last); her connection on A changes the member shown (`first`), then her connection
   * on B changes it again (`second`) while A's publish waits; once the watcher has heard B's announcement, A's is let go.
   */
  const racedPresence = async (ch: string, first: Record<string, unknown>, second: Record<string, unknown>, shownOn: 'A' | 'B') => {
    const keyPrefix = `t${++prefixCounter}:`;
    const [a, b, c] = await Promise.all(Array.from({ length: 3 }, () => testNode({ redis: { url: redis.url, keyPrefix, connectTimeoutMs: 3000 } })));
    const frames = (socket: SocketStandIn, type: string) => socket.sent.filter((frame) => frame.type === type && frame.ch === ch);
    const answered = async (socket: SocketStandIn, frame: Record<string, unknown>) => {
      const count = frames(socket, 'presence_state').length;
      socket.receive({ type: 'presence', ch, ...frame });
      await eventually(() => frames(socket, 'presence_state').length > count, 3000, `the answer to ${JSON.stringify(frame)}`);
    };
    const watcher = c!.connect('watcher').socket;
    watcher.receive({ type: 'subscribe', ch });
    await eventually(() => watcher.ofType('subscribed').length === 1, 3000, 'subscribed');
    const [onA, onB] = [a!.connect('alice').socket, b!.connect('alice').socket];
    const joins = [[onA, { on: 'A' }], [onB, { on: 'B' }]] as const;
    for (const [socket, meta] of shownOn === 'A' ? [...joins].reverse() : joins) await answered(socket, { action: 'join', meta });
    await eventually(() => frames(watcher, 'presence').length === 2, 3000, 'both joins heard');
    const { command } = a!.parts.backend as unknown as { command: Redis };
    const publish = command.publish.bind(command);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const spy = vi.spyOn(command, 'publish').mockImplementationOnce(async (...args: Parameters<Redis['publish']>) => {
      await held;
      return publish(...args);
    });
    try {
      const heard = frames(watcher, 'presence').length;
      const listed = JSON.stringify(await c!.parts.backend.presenceList(ch));
      onA.receive({ type: 'presence', ch, ...first });
      await eventually(async () => JSON.stringify(await c!.parts.backend.presenceList(ch)) !== listed, 3000, 'the change on A made');
      await answered(onB, second);
      const settled = await c!.parts.backend.presenceList(ch);
      await eventually(() => frames(watcher, 'presence').length > heard, 3000, 'the change on B heard');
      release();
      await eventually(() => frames(onA, 'presence_state').length === 2, 3000, 'the change on A answered');
      await c!.parts.backend.caughtUp();
      return { last: frames(watcher, 'presence').at(-1), settled, listed: await c!.parts.backend.presenceList(ch) };
    } finally {
      release();
      spy.mockRestore();
      await Promise.all([a, b, c].map((node) => node!.stop()));
    }
  };

  it('announces two changes of the member shown made on two nodes in the order they were made, though the first node’s announcement would leave late', async () => {
    const { last, settled, listed } = await racedPresence('room:raced', { action: 'join', meta: { v: 3 } }, { action: 'join', meta: { v: 4 } }, 'B');
    expect(settled).toEqual([{ userId: 'alice', meta: { v: 4 } }]);
    expect(last).toMatchObject({ joins: [{ userId: 'alice', meta: { v: 4 } }], leaves: [] });
    expect(listed).toEqual(settled);
  });

  it('announces the leave of a user whose last connection left on one node after the one shown left on another, though the first node’s announcement would leave late', async () => {
    const { last, settled, listed } = await racedPresence('room:raced-leave', { action: 'leave' }, { action: 'leave' }, 'A');
    expect(settled).toEqual([]);
    expect(last).toMatchObject({ joins: [], leaves: [{ userId: 'alice' }] });
    expect(listed).toEqual([]);
  });

  it('shows, once a node dies (SIGKILL) with the connection whose meta was shown and is reaped, the meta of the user’s connection on another node, announced as a join', async () => {
    const prefix = `t${++prefixCounter}:`;
    const survivor = await startNode(prefix);
    const doomed = await spawnNode(prefix);
    const watcher = await connectAs(survivor, 'watcher');
    await subscribe(watcher, 'room:shown');
    const laptop = await connectAs(survivor, 'alice');
    await join(laptop, 'room:shown', { device: 'laptop' });
    await watcher.nextOfType('presence');
    const phone = await connectTo(doomed.url, 'alice');
    expect(await join(phone, 'room:shown', { device: 'phone' })).toEqual([{ userId: 'alice', meta: { device: 'phone' } }]);
    expect(await watcher.nextOfType('presence')).toMatchObject({ joins: [{ userId: 'alice', meta: { device: 'phone' } }] });
    doomed.child.kill('SIGKILL');
    await phone.closed;
    const shown = await watcher.nextOfType('presence', { ch: 'room:shown' }, NODE_TIMEOUT_MS + 3000);
    expect(shown).toMatchObject({ joins: [{ userId: 'alice', meta: { device: 'laptop' } }], leaves: [] });
    watcher.send({ type: 'presence', ch: 'room:shown', action: 'list' });
    expect((await watcher.nextOfType('presence_state')).members).toEqual([{ userId: 'alice', meta: { device: 'laptop' } }]);
    await Promise.all([watcher.close(), laptop.close()]);
  });

  it('shows, once a node closes with the connection whose meta was shown, the meta of the user’s connection on another node, announced as a join', async () => {
    const [a, b] = await cluster(2);
    const watcher = await connectAs(b!, 'watcher');
    await subscribe(watcher, 'room:closing');
    const laptop = await connectAs(b!, 'alice');
    await join(laptop, 'room:closing', { device: 'laptop' });
    const phone = await connectAs(a!, 'alice');
    await join(phone, 'room:closing', { device: 'phone' });
    await watcher.nextOfType('presence');
    await watcher.nextOfType('presence');
    await a!.close();
    expect(await watcher.nextOfType('presence')).toMatchObject({ joins: [{ userId: 'alice', meta: { device: 'laptop' } }], leaves: [] });
    watcher.send({ type: 'presence', ch: 'room:closing', action: 'list' });
    expect((await watcher.nextOfType('presence_state')).members).toEqual([{ userId: 'alice', meta: { device: 'laptop' } }]);
    await Promise.all([watcher.close(), laptop.close()]);
  });

  it('reaps the presence of a node that dies (SIGKILL) and announces the leaves', async () => {
    const prefix = `t${++prefixCounter}:`;
    const survivor = await startNode(prefix);
    const doomed = await spawnNode(prefix);
    const watcher = await connectAs(survivor, 'watcher');
    await subscribe(watcher, 'room:fragile');
    const ghost = await connectTo(doomed.url, 'ghost');
    ghost.send({ type: 'presence', ch: 'room:fragile', action: 'join' });
    await ghost.nextOfType('presence_state');
    await watcher.nextOfType('presence', { ch: 'room:fragile' });
    doomed.child.kill('SIGKILL');
    await ghost.closed;
    const leave = await watcher.next((frame) => frame.type === 'presence' && (frame.leaves as unknown[]).length > 0, NODE_TIMEOUT_MS + 3000);
    expect(leave).toMatchObject({ ch: 'room:fragile', joins: [], leaves: [{ userId: 'ghost' }] });
    watcher.send({ type: 'presence', ch: 'room:fragile', action: 'list' });
    expect((await watcher.nextOfType('presence_state')).members).toEqual([]);
    await watcher.close();
  });

  /**
   * Alice joins `ch` on node A, which reaches Redis through a proxy; a watcher on node B sees her. `cut`
   * takes A's link away until B reaps her presence; once the link heals, the watcher sees her join again
   * and she is listed.
   */
  const reapedThenBack = async (ch: string, cut: (proxy: FaultProxy) => void) => {
    const prefix = `t${++prefixCounter}:`;
    const { proxy, node: a } = await proxiedNode(prefix);
    const b = await startNode(prefix);
    const watcher = await connectAs(b, 'watcher');
    await subscribe(watcher, ch);
    const alice = await connectAs(a, 'alice');
    alice.send({ type: 'presence', ch, action: 'join' });
    await alice.nextOfType('presence_state');
    await watcher.nextOfType('presence', { ch });

    cut(proxy);
    const reaped = await watcher.next((frame) => frame.type === 'presence' && (frame.leaves as unknown[]).length > 0, NODE_TIMEOUT_MS + 5000);
    expect(reaped).toMatchObject({ ch, leaves: [{ userId: 'alice' }] });
    proxy.mode = 'pass';
    const back = await watcher.next((frame) => frame.type === 'presence' && (frame.joins as unknown[]).length > 0, 10_000);
    expect(back).toMatchObject({ ch, joins: [{ userId: 'alice' }], leaves: [] });
    watcher.send({ type: 'presence', ch, action: 'list' });
    expect((await watcher.nextOfType('presence_state')).members).toEqual([{ userId: 'alice' }]);
    await Promise.all([watcher.close(), alice.close()]);
  };

  it('announces again the members of a node reaped during a Redis outage once it is back and registers them again', () =>
    reapedThenBack('room:back', (proxy) => {
      proxy.mode = 'refuse';
      proxy.reset();
    }));

  it('announces again the members of a node its peers took for dead while its link to Redis hung without closing', () =>
    reapedThenBack('room:hung', (proxy) => {
      proxy.mode = 'blackhole';
    }));

  it('announces once the leave of a connection that closed while its node, cut from Redis, was reaped: the reaper told it', async () => {
    const prefix = `t${++prefixCounter}:`;
    const { proxy, node: a } = await proxiedNode(prefix);
    const b = await startNode(prefix);
    const watcher = await connectAs(b, 'watcher');
    await subscribe(watcher, 'room:gone');
    const [alice, bob] = await Promise.all([connectAs(a, 'alice'), connectAs(a, 'bob')]);
    for (const member of [alice, bob]) {
      member.send({ type: 'presence', ch: 'room:gone', action: 'join' });
      await member.nextOfType('presence_state');
    }
    proxy.mode = 'refuse';
    proxy.reset();
    await alice.close();
    await eventually(() => stateSizes(a).pendingLeaves === 1, 3000, 'the leave pending on A');
    const leaves = () => watcher.ofType('presence', 'room:gone').flatMap((frame) => frame.leaves as { userId: string }[]);
    await eventually(() => leaves().length === 2, NODE_TIMEOUT_MS + 5000, 'A reaped');
    proxy.mode = 'pass';
    await watcher.next((frame) => frame.type === 'presence' && (frame.joins as unknown[]).length > 0 && (frame.leaves as unknown[]).length === 0, 10_000);
    await eventually(() => stateSizes(a).pendingLeaves === 0, 3000, 'no leave pending on A');
    await delay(HEARTBEAT_MS * 3);
    expect(leaves().filter(({ userId }) => userId === 'alice')).toHaveLength(1);
    watcher.send({ type: 'presence', ch: 'room:gone', action: 'list' });
    expect((await watcher.nextOfType('presence_state')).members).toEqual([{ userId: 'bob' }]);
    await Promise.all([watcher.close(), bob.close()]);
  });

  it('removes, once Redis is back, the presence of a connection that closed while Redis was unreachable', async () => {
    const logs = captureLogger();
    const { proxy, node } = await proxiedNode(`t${++prefixCounter}:`, { logger: logs.logger });
    const watcher = await connectAs(node, 'watcher');
    await subscribe(watcher, 'room:blip');
    const alice = await connectAs(node, 'alice');
    alice.send({ type: 'presence', ch: 'room:blip', action: 'join' });
    await alice.nextOfType('presence_state');
    await watcher.nextOfType('presence', { ch: 'room:blip' });

    proxy.mode = 'refuse';
    proxy.reset();
    await eventually(async () => (await healthOf(node)) === 'degraded', 3000, 'degraded');
    await alice.close();
    await eventually(() => logs.text().includes('presence leave failed'), 3000, 'the leave failed');
    proxy.mode = 'pass';
    const left = await watcher.next((frame) => frame.type === 'presence' && (frame.leaves as unknown[]).length > 0, 10_000);
    expect(left).toMatchObject({ ch: 'room:blip', joins: [], leaves: [{ userId: 'alice' }] });
    watcher.send({ type: 'presence', ch: 'room:blip', action: 'list' });
    expect((await watcher.nextOfType('presence_state')).members).toEqual([]);
    await watcher.close();
  });

  it('announces no leave, once Redis is back empty, of a user whose other tab closed during the outage while one of theirs on the node stays present', async () => {
    const [a] = await cluster(1);
    const watcher = await connectAs(a!, 'watcher');
    await subscribe(watcher, 'room:tabs');
    const [phone, laptop] = await Promise.all([connectAs(a!, 'alice'), connectAs(a!, 'alice')]);
    for (const tab of [phone, laptop]) {
      tab.send({ type: 'presence', ch: 'room:tabs', action: 'join' });
      await tab.nextOfType('presence_state');
    }
    await redis.kill();
    await eventually(() => !a!.health().backendUp, 3000, 'Redis down');
    await phone.close();
    await eventually(() => stateSizes(a!).pendingLeaves === 1, 3000, 'the leave of the phone pending');
    const before = watcher.ofType('presence', 'room:tabs').length;
    await redis.restart();
    await eventually(() => watcher.ofType('presence', 'room:tabs').length > before && stateSizes(a!).pendingLeaves === 0, 8000, 'alice joined again once Redis is back');
    await delay(HEARTBEAT_MS * 2);
    expect(watcher.ofType('presence', 'room:tabs').slice(before)).toEqual([{ type: 'presence', ch: 'room:tabs', joins: [{ userId: 'alice' }], leaves: [] }]);
    watcher.send({ type: 'presence', ch: 'room:tabs', action: 'list' });
    expect((await watcher.nextOfType('presence_state')).members).toEqual([{ userId: 'alice' }]);
    await Promise.all([watcher.close(), laptop.close()]);
  });

  it('registers again, once Redis takes writes again, the members whose registration it refused (out of memory) while the node recovered', async () => {
    const prefix = `t${++prefixCounter}:`;
    const { proxy, node: a } = await proxiedNode(prefix);
    const users = Array.from({ length: 20 }, (_, i) => `u${i}`);
    const channels = Array.from({ length: 100 }, (_, i) => `chat:m${i}`);
    const clients = await Promise.all(users.map((user) => connectAs(a, user)));
    await Promise.all(
      clients.map(async (client) => {
        for (const ch of channels) client.send({ type: 'presence', ch, action: 'join' });
        await eventually(() => client.ofType('presence_state').length === channels.length, 15_000, 'every join answered');
      }),
    );
    const admin = new Redis(redis.url, { lazyConnect: true });
    const listed = async () => {
      const pipeline = admin.pipeline();
      for (const ch of channels) for (const user of users) pipeline.hexists(`${prefix}pm:${ch}`, user);
      return (await pipeline.exec())!.filter(([, found]) => found === 1).length;
    };
    try {
      await admin.connect();
      expect(await listed()).toBe(users.length * channels.length);
      proxy.mode = 'refuse';
      proxy.reset();
      await eventually(async () => !String(await admin.client('LIST')).includes('name=socketchart:'), 3000, 'the node gone from Redis');
      await admin.flushall();
      const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
      await admin.config('SET', 'maxmemory', String(used + 400_000));
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('RESETSTAT');
      proxy.mode = 'pass';
      await eventually(async () => /errorstat_OOM:count=[1-9]/.test(await admin.info('errorstats')), 8000, 'registrations refused out of memory');
      await admin.config('SET', 'maxmemory', '0');
      await eventually(() => a.health().backendUp, 3000, 'writes taken again');
      await eventually(async () => (await listed()) === users.length * channels.length, 3000, 'every member listed again');
    } finally {
      await admin.config('SET', 'maxmemory', '0');
      admin.disconnect();
    }
    await Promise.all(clients.map((client) => client.close()));
  }, 40_000);

  it('reports Redis down (/healthz degraded, backend_up 0) while its link to Redis hangs and every command times out, and up once it heals', async () => {
    const { proxy, node } = await proxiedNode(`t${++prefixCounter}:`, {}, { ...hiccups, nodeHeartbeatMs: 100 });
    const writer = await connectAs(node, 'writer');
    writer.send({ type: 'publish', ch: 'chat:hung', id: 'before', data: 1 });
    await writer.nextOfType('ack', { id: 'before' });
    expect(node.health()).toMatchObject({ status: 'ok', backendUp: true });
    proxy.mode = 'blackhole';
    writer.send({ type: 'publish', ch: 'chat:hung', id: 'during', data: 2 });
    expect((await writer.nextOfType('error', { id: 'during' }, 3000)).code).toBe('SERVER_ERROR');
    await eventually(() => node.health().status === 'degraded', 3000, 'degraded while every command times out');
    expect(node.health()).toMatchObject({ backendUp: false });
    proxy.mode = 'pass';
    await eventually(() => node.health().backendUp, 8000, 'up again once the link heals');
    writer.send({ type: 'publish', ch: 'chat:hung', id: 'after', data: 3 });
    await writer.nextOfType('ack', { id: 'after' }, 3000);
    await writer.close();
  });

  it('answers a subscribe to a channel nobody on the node watches, made while Redis is unreachable, with SERVER_ERROR (retry), as one to a watched channel; the subscribe again once Redis is back gets the messages', async () => {
    const { proxy, node } = await proxiedNode(`t${++prefixCounter}:`);
    const [reader, writer] = await Promise.all([connectAs(node, 'reader'), connectAs(node, 'writer')]);
    proxy.mode = 'refuse';
    proxy.reset();
    await eventually(() => !node.health().backendUp, 3000, 'Redis down');
    reader.send({ type: 'subscribe', ch: 'chat:outage' });
    expect(await reader.nextOfType('error')).toMatchObject({ code: 'SERVER_ERROR', details: { ch: 'chat:outage', action: 'subscribe' } });
    proxy.mode = 'pass';
    await eventually(() => node.health().backendUp, 8000, 'Redis back');
    await subscribe(reader, 'chat:outage');
    writer.send({ type: 'publish', ch: 'chat:outage', id: 'after', data: 1 });
    expect(await reader.nextOfType('message', { ch: 'chat:outage' })).toMatchObject({ id: 'after', data: 1 });
    await Promise.all([reader.close(), writer.close()]);
  });

  /** Node B sends `after` to alice and to all: on her user channel and broadcast:all she has then `during` and `after`, once each, in order, without a gap. */
  const afterFollowsDuring = async (b: SocketchartServer, alice: TestClient) => {
    await b.sendToUser('alice', 'after');
    await b.broadcastAll('after');
    for (const ch of ['user:alice', 'broadcast:all']) await eventually(() => alice.ofType('message', ch).some((frame) => frame.data === 'after'), 3000, `the message after on ${ch}`);
    for (const ch of ['user:alice', 'broadcast:all']) {
      expect(alice.ofType('message', ch).map((frame) => frame.data), ch).toEqual(['during', 'after']);
      expect(accountedFor(alice.frames, ch), ch).toMatchObject({ contiguous: true, gaps: [] });
    }
  };

  it('delivers to a client on node A, once and in order once its subscriber link to Redis is back, what sendToUser and broadcastAll sent on node B while it was cut, though nothing had come on those channels before', async () => {
    const prefix = `t${++prefixCounter}:`;
    const proxy = roleProxy(redis.port);
    try {
      const a = await startNode(prefix, {}, `redis://127.0.0.1:${await proxy.listen()}`);
      const b = await startNode(prefix);
      const alice = await connectAs(a, 'alice');
      await subscribe(alice, 'chat:probe');
      proxy.block('sub');
      await eventually(() => !a.health().backendUp, 3000, 'node A cut from Redis pub/sub');
      await b.sendToUser('alice', 'during');
      await b.broadcastAll('during');
      await b.broadcast('chat:probe', 'during');
      proxy.allow('sub');
      await alice.nextOfType('message', { ch: 'chat:probe' }, 8000);
      await afterFollowsDuring(b, alice);
      await alice.close();
    } finally {
      proxy.close();
    }
  });

  type RoleProxy = ReturnType<typeof roleProxy>;

  /**
   * Alice connects to node A while `cut` keeps A from reading her user channel's and broadcast:all's numbers; `heal`
   * ends it, and `settleMs` later (a few heartbeats unless told) A's pub/sub link is cut while node B sends on both: she
   * gets what B sent, once and in order, then what follows.
   */
  const implicitUnnumberedAtConnect = async (
    cut: (proxy: RoleProxy) => unknown,
    heal: (proxy: RoleProxy) => unknown,
    link: RedisBackendOptions = {},
    settleMs = 3 * (link.nodeHeartbeatMs ?? HEARTBEAT_MS),
  ) => {
    const prefix = `t${++prefixCounter}:`;
    const logs = captureLogger();
    const proxy = roleProxy(redis.port);
    try {
      const a = await startNode(prefix, { logger: logs.logger }, `redis://127.0.0.1:${await proxy.listen()}`, link);
      const b = await startNode(prefix);
      await cut(proxy);
      const alice = await connectAs(a, 'alice');
      await eventually(() => logs.text().split('implicit subscription failed').length > 2, 3000, 'both implicit starts failed');
      await heal(proxy);
      await eventually(() => a.health().backendUp, 8000, 'node A back');
      await delay(settleMs);
      proxy.block('sub');
      await eventually(() => !a.health().backendUp, 3000, 'node A cut from Redis pub/sub');
      await b.sendToUser('alice', 'during');
      await b.broadcastAll('during');
      proxy.allow('sub');
      await eventually(() => a.health().backendUp, 8000, 'pub/sub back');
      await afterFollowsDuring(b, alice);
      await alice.close();
      return logs;
    } finally {
      proxy.close();
    }
  };

  /** Cuts node A's connections of `roles` from Redis, refused until allowed again. */
  const blocking = (roles: Role[]) => (proxy: RoleProxy) => roles.forEach((role) => proxy.block(role));
  const allowing = (roles: Role[]) => (proxy: RoleProxy) => roles.forEach((role) => proxy.allow(role));

  it('delivers to a client who connected while its node could not send commands to Redis, once and in order, what sendToUser and broadcastAll sent during a later cut of its pub/sub link', () =>
    implicitUnnumberedAtConnect(blocking(['cmd']), allowing(['cmd'])));

  it('delivers to a client who connected while its node was cut from Redis, once and in order, what sendToUser and broadcastAll sent during a later cut of its pub/sub link', () =>
    implicitUnnumberedAtConnect(blocking(['cmd', 'sub']), allowing(['cmd', 'sub'])));

  it('delivers to a client who connected while Redis answered its node too late for a moment, without a lost link, once and in order, what sendToUser and broadcastAll sent during a later cut of its pub/sub link', async () => {
    const logs = await implicitUnnumberedAtConnect(
      (proxy) => proxy.setLag('cmd', 300),
      (proxy) => proxy.setLag('cmd', 0),
      { commandTimeoutMs: 100, nodeHeartbeatMs: 400, nodeTimeoutMs: 5000 },
    );
    expect(logs.text()).not.toContain('redis not answering');
  });

  it('delivers to a client who connected while its node could not send commands to Redis, once and in order, what sendToUser and broadcastAll sent during a cut of its pub/sub link soon after Redis came back, before its next heartbeat', () =>
    implicitUnnumberedAtConnect(blocking(['cmd']), allowing(['cmd']), { nodeHeartbeatMs: 10_000, nodeTimeoutMs: 30_000 }, 300));

  it('delivers to a client who connected while Redis refused her node the pub/sub channels of her user and of broadcast:all (ACL), once and in order, what sendToUser and broadcastAll sent during a later cut of its pub/sub link, once Redis allows them without a lost link; each refusal is logged once, not at every heartbeat', async () => {
    const admin = new Redis(redis.url);
    const username = `acl${++prefixCounter}`;
    try {
      await admin.acl('SETUSER', username, 'on', '>secret', '~*', '+@all', 'resetchannels', '&*:global:*');
      const logs = await implicitUnnumberedAtConnect(
        () => undefined,
        async () => {
          await delay(3 * HEARTBEAT_MS);
          await admin.acl('SETUSER', username, 'allchannels');
        },
        { options: { username, password: 'secret' } },
      );
      expect(logs.text().split('implicit subscription failed').length - 1).toBe(2);
    } finally {
      await admin.acl('DELUSER', username);
      admin.disconnect();
    }
  });

  /** Alice joins `ch` on node A, which reaches Redis through a proxy (with `hiccups`); a watcher on node B sees her. */
  const aliceJoinedOverHiccups = async (ch: string) => {
    const prefix = `t${++prefixCounter}:`;
    const { proxy, node: a } = await proxiedNode(prefix, {}, hiccups);
    const b = await startNode(prefix, {}, redis.url, hiccups);
    const watcher = await connectAs(b, 'watcher');
    await subscribe(watcher, ch);
    const alice = await connectAs(a, 'alice');
    alice.send({ type: 'presence', ch, action: 'join' });
    await alice.nextOfType('presence_state');
    await watcher.nextOfType('presence', { ch });
    return { proxy, a, watcher, alice };
  };

  it('announces the leave of a member whose presence leave timed out while the link to Redis hung for a moment', async () => {
    const { proxy, a, watcher, alice } = await aliceJoinedOverHiccups('room:hiccup');
    proxy.mode = 'blackhole';
    await alice.close();
    await delay(400);
    proxy.mode = 'pass';
    const left = await watcher.next((frame) => frame.type === 'presence' && (frame.leaves as unknown[]).length > 0, 4000);
    expect(left).toMatchObject({ ch: 'room:hiccup', joins: [], leaves: [{ userId: 'alice' }] });
    watcher.send({ type: 'presence', ch: 'room:hiccup', action: 'list' });
    expect((await watcher.nextOfType('presence_state')).members).toEqual([]);
    await eventually(() => stateSizes(a).pendingLeaves === 0, 3000, 'no leave pending on A');
    await watcher.close();
  });

  it('announces once the leave of a member whose presence leave Redis made while its answer was held up', async () => {
    const { proxy, a, watcher, alice } = await aliceJoinedOverHiccups('room:held');
    proxy.mode = 'stall-downstream';
    await alice.close();
    await watcher.next((frame) => frame.type === 'presence' && (frame.leaves as unknown[]).length > 0, 3000);
    await eventually(() => stateSizes(a).pendingLeaves === 1, 3000, 'the leave pending on A');
    proxy.mode = 'pass';
    await eventually(() => stateSizes(a).pendingLeaves === 0, 8000, 'the leave tried again on A');
    watcher.send({ type: 'presence', ch: 'room:held', action: 'list' });
    expect((await watcher.nextOfType('presence_state')).members).toEqual([]);
    expect(watcher.ofType('presence', 'room:held').filter((frame) => (frame.leaves as unknown[]).length > 0)).toHaveLength(1);
    await watcher.close();
  });

  it('does not keep listing a member whose presence join timed out (answered SERVER_ERROR) during a hiccup', async () => {
    const prefix = `t${++prefixCounter}:`;
    const { proxy, node: a } = await proxiedNode(prefix, {}, hiccups);
    const b = await startNode(prefix, {}, redis.url, hiccups);
    const watcher = await connectAs(b, 'watcher');
    const alice = await connectAs(a, 'alice');
    proxy.mode = 'blackhole';
    alice.send({ type: 'presence', ch: 'room:ghost', action: 'join' });
    expect((await alice.nextOfType('error', {}, 3000)).code).toBe('SERVER_ERROR');
    proxy.mode = 'pass';
    await eventually(
      async () => {
        watcher.send({ type: 'presence', ch: 'room:ghost', action: 'list' });
        return ((await watcher.nextOfType('presence_state')).members as unknown[]).length === 0 && stateSizes(a).pendingLeaves === 0;
      },
      3000,
      'the join undone',
    );
    await Promise.all([watcher.close(), alice.close()]);
  });

  it('delivers to a live subscriber, or announces as a gap, a message published after Redis restarted from an older snapshot', async () => {
    const [a, b] = await cluster(2);
    const reader = await connectAs(a!, 'reader');
    await subscribe(reader, 'chat:snap');
    const writer = await connectAs(b!, 'writer');
    for (let n = 1; n <= 3; n++) {
      writer.send({ type: 'publish', ch: 'chat:snap', id: `w${n}`, data: { n } });
      await writer.nextOfType('ack', { id: `w${n}` });
      if (n === 1) await redis.snapshot();
    }
    await eventually(() => reader.ofType('message', 'chat:snap').length === 3, 3000, 'three messages before the restart');
    await redis.restartFromSnapshot();
    await eventually(() => a!.health().backendUp && b!.health().backendUp, 8000, 'both nodes back on Redis');
    let ack: Frame | undefined;
    await eventually(
      async () => {
        writer.send({ type: 'publish', ch: 'chat:snap', id: 'after', data: { n: 'after' } });
        ack = await writer.nextOfType('ack', { id: 'after' }, 1000).catch(() => undefined);
        return ack !== undefined;
      },
      8000,
      'a publish after the restart acked',
    );
    const seq = ack!.seq as number;
    await eventually(
      () =>
        reader.ofType('message', 'chat:snap').some((frame) => frame.id === 'after') ||
        reader.ofType('gap', 'chat:snap').some((frame) => (frame.from as number) <= seq && (frame.to as number) >= seq),
      3000,
      `the message numbered ${seq} delivered or announced as a gap`,
    );
    expect(accountedFor(reader.frames, 'chat:snap').contiguous).toBe(true);
    await Promise.all([reader.close(), writer.close()]);
  });

  it('does not keep listing, after Redis restarted from an older snapshot, a member who left after it: announces the leave again', async () => {
    const [a] = await cluster(1);
    const watcher = await connectAs(a!, 'watcher');
    await subscribe(watcher, 'room:snap');
    const [alice, bob] = await Promise.all([connectAs(a!, 'alice'), connectAs(a!, 'bob')]);
    for (const member of [alice, bob]) {
      member.send({ type: 'presence', ch: 'room:snap', action: 'join' });
      await member.nextOfType('presence_state');
    }
    await redis.snapshot();
    await alice.close();
    const leaves = () => watcher.ofType('presence', 'room:snap').flatMap((frame) => frame.leaves as { userId: string }[]);
    await eventually(() => leaves().length === 1, 3000, 'alice left');
    await redis.restartFromSnapshot();
    await eventually(() => leaves().length === 2, 8000, 'the leave of alice announced again once Redis is back');
    watcher.send({ type: 'presence', ch: 'room:snap', action: 'list' });
    expect((await watcher.nextOfType('presence_state')).members).toEqual([{ userId: 'bob' }]);
    await Promise.all([watcher.close(), bob.close()]);
  });

  it('registers its members again when Redis loses its data without dropping the connection (FLUSHALL): listed and announced on every node', async () => {
    const [a, b] = await cluster(2);
    const watcher = await connectAs(b!, 'watcher');
    await subscribe(watcher, 'room:flushed');
    const alice = await connectAs(a!, 'alice');
    alice.send({ type: 'presence', ch: 'room:flushed', action: 'join', meta: { device: 'phone' } });
    await alice.nextOfType('presence_state');
    await watcher.nextOfType('presence', { ch: 'room:flushed' });
    const admin = new Redis(redis.url, { lazyConnect: true });
    try {
      await admin.connect();
      await admin.flushall();
    } finally {
      admin.disconnect();
    }
    await eventually(
      async () => {
        watcher.send({ type: 'presence', ch: 'room:flushed', action: 'list' });
        return ((await watcher.nextOfType('presence_state', { ch: 'room:flushed' })).members as unknown[]).length === 1;
      },
      3000,
      'alice listed again on node B',
    );
    expect(watcher.ofType('presence', 'room:flushed').at(-1)).toMatchObject({ joins: [{ userId: 'alice', meta: { device: 'phone' } }] });
    expect(a!.health().backendUp && b!.health().backendUp).toBe(true);
    await Promise.all([watcher.close(), alice.close()]);
  });

  it('does not log a user out of a deployment on another Redis database', async () => {
    const production = await startNode('shared:', {}, `${redis.url}/0`);
    const staging = await startNode('shared:', {}, `${redis.url}/2`);
    const alice = await connectAs(production, 'alice');
    await staging.logout('alice', 'staging reset');
    expect(await Promise.race([alice.closed, delay(500).then(() => 'still connected')])).toBe('still connected');
    await alice.close();
  });

  it('logs a user out on every node, and sendToUser reaches the user on every node', async () => {
    const [a, b] = await cluster(2);
    const phone = await connectAs(a!, 'zoe');
    const laptop = await connectAs(b!, 'zoe');
    await delay(50);
    await a!.sendToUser('zoe', { hello: true });
    await Promise.all([phone, laptop].map((client) => client.nextOfType('message', { ch: 'user:zoe' })));
    await b!.logout('zoe');
    expect((await phone.closed).code).toBe(4001);
    expect((await laptop.closed).code).toBe(4001);
  });

  it('accepts a plain redis:// URL as the redis option', async () => {
    const a = await startServer({ redis: redis.url });
    const b = await startServer({ redis: redis.url });
    nodes.push(a, b);
    const reader = await connectAs(a, 'reader');
    await subscribe(reader, 'chat:plain-url');
    await b.broadcast('chat:plain-url', 'hello');
    expect(await reader.nextOfType('message', { ch: 'chat:plain-url' })).toMatchObject({ data: 'hello' });
    expect(a.health()).toMatchObject({ backend: 'redis', backendUp: true, status: 'ok' });
    await reader.close();
  });

  it('refuses to start when Redis cannot be reached within connectTimeoutMs', async () => {
    const nowhere = `redis://127.0.0.1:${await freePort()}`;
    const started = Date.now();
    await expect(startServer({ redis: { url: nowhere, connectTimeoutMs: 300 } })).rejects.toThrow(/Redis not reachable within 300 ms/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('survives Redis being killed mid-stream and restarted empty: nothing crashes, every acked message is delivered or covered by an explicit gap', async () => {
    const [a, b] = await cluster(2);
    const reader = await connectAs(a!, 'reader');
    await subscribe(reader, 'chat:outage');
    const member = await connectAs(a!, 'member');
    member.send({ type: 'presence', ch: 'chat:outage', action: 'join' });
    await member.nextOfType('presence_state');
    const writer = await connectAs(b!, 'writer');
    let n = 0;
    const publishFor = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        n += 1;
        writer.send({ type: 'publish', ch: 'chat:outage', id: `o${n}`, data: { n } });
        await delay(15);
      }
    };
    await publishFor(400);
    const lastBeforeKill = reader.ofType('message', 'chat:outage').at(-1)!;
    await redis.kill();
    await publishFor(400);
    await eventually(() => writer.ofType('error').some((frame) => frame.code === 'SERVER_ERROR'), 3000, 'a publish refused during the outage');
    const health = await (await fetch(httpUrl(a!, '/healthz'))).json();
    expect(health).toMatchObject({ status: 'degraded', backendUp: false });
    await redis.restart();
    await eventually(async () => (await (await fetch(httpUrl(b!, '/healthz'))).json()).backendUp === true, 8000, 'node B back on Redis');
    await eventually(async () => (await (await fetch(httpUrl(a!, '/healthz'))).json()).backendUp === true, 8000, 'node A back on Redis');
    const resumeFrom = n;
    await publishFor(400);
    await eventually(
      () => reader.ofType('message', 'chat:outage').some((frame) => (frame.data as { n: number }).n > resumeFrom),
      5000,
      'live delivery after the restart',
    );
    await eventually(() => writer.ofType('ack').length + writer.ofType('error').length === n, 5000, 'every publish answered');

    const walk = accountedFor(reader.frames, 'chat:outage');
    expect(walk.contiguous).toBe(true);
    expect(walk.gaps.length).toBeGreaterThanOrEqual(1);
    const delivered = new Set(reader.ofType('message', 'chat:outage').map((frame) => frame.id));
    const covered = (seq: number) => walk.gaps.some(([from, to]) => seq >= from && seq <= to);
    const lost = writer.ofType('ack').filter((ack) => !delivered.has(ack.id) && !covered(ack.seq as number));
    expect(lost).toEqual([]);
    const refused = writer.ofType('error');
    expect(refused.every((frame) => frame.code === 'SERVER_ERROR' && typeof frame.id === 'string')).toBe(true);

    const late = await connectAs(b!, 'late');
    await subscribe(late, 'chat:outage', lastBeforeKill.seq as number);
    await eventually(() => late.ofType('message', 'chat:outage').length > 0, 5000, 'replay after the restart');
    const lateWalk = accountedFor(late.frames, 'chat:outage');
    expect(lateWalk.contiguous).toBe(true);
    expect(lateWalk.gaps[0]?.[0]).toBe((lastBeforeKill.seq as number) + 1);

    member.send({ type: 'presence', ch: 'chat:outage', action: 'list' });
    expect((await member.nextOfType('presence_state', {}, 5000)).members).toEqual([{ userId: 'member' }]);
    await Promise.all([reader.close(), writer.close(), member.close(), late.close()]);
  });
});
