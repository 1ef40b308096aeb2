import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { MEMORY_NODE, spawnNode, type NodeProcess } from '../../support/server-process.js';

interface State {
  sizes: Record<string, number>;
  heapUsed: number;
}

/** One user: connects, authenticates, waits for one message on its user channel after `ready` resolves, and leaves. */
function visit(url: string, userId: string): { authenticated: Promise<void>; received: Promise<void>; leave(): Promise<void> } {
  const ws = new WebSocket(url);
  let authenticated!: () => void;
  let received!: () => void;
  let failed!: (error: Error) => void;
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  const failure = new Promise<never>((_, reject) => (failed = reject));
  failure.catch(() => undefined);
  ws.on('error', (error) => failed(error));
  ws.once('open', () => ws.send(JSON.stringify({ type: 'auth', token: userId })));
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { type: string; ch?: string };
    if (frame.type === 'auth_ok') authenticated();
    if (frame.type === 'message' && frame.ch === `user:${userId}`) received();
  });
  return {
    authenticated: Promise.race([new Promise<void>((resolve) => (authenticated = resolve)), failure]),
    received: Promise.race([new Promise<void>((resolve) => (received = resolve)), failure]),
    leave: () => {
      ws.close(1000);
      return closed;
    },
  };
}

async function churn(node: NodeProcess, prefix: string, users: number, batch = 250): Promise<void> {
  for (let start = 0; start < users; start += batch) {
    const ids = Array.from({ length: Math.min(batch, users - start) }, (_, i) => `${prefix}${start + i}`);
    const visits = ids.map((id) => visit(node.url, id));
    await Promise.all(visits.map((one) => one.authenticated));
    await node.request({ type: 'sendToUsers', userIds: ids, data: { hello: 'you' } });
    await Promise.all(visits.map((one) => one.received));
    await Promise.all(visits.map((one) => one.leave()));
  }
}

async function settle(node: NodeProcess, done: (state: State) => boolean, timeoutMs = 8000): Promise<State> {
  const deadline = Date.now() + timeoutMs;
  let state = await node.request<State>({ type: 'state' });
  while (!done(state) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    state = await node.request<State>({ type: 'state' });
  }
  return state;
}

describe('churn: users who come, get a message and leave leave nothing behind', () => {
  let node: NodeProcess;

  beforeAll(async () => {
    node = await spawnNode(MEMORY_NODE, { SC_OPTIONS: JSON.stringify({ historyTtlMs: 1000, maxConnectionsPerUser: 1 }) }, ['--expose-gc']);
  });

  afterAll(async () => {
    await node?.kill();
  });

  it('after 10,000 users each connect, receive one sendToUser and disconnect, every map is back to its size before and the heap near its baseline', async () => {
    await churn(node, 'warmup', 3000);
    const empty = (state: State) => state.sizes.connections === 0 && state.sizes.historyChannels === 0;
    const baseline = await settle(node, empty);
    expect(baseline.sizes.connections).toBe(0);

    const started = Date.now();
    await churn(node, 'user', 10_000);
    const churnMs = Date.now() - started;
    const during = await node.request<State>({ type: 'state' });
    const after = await settle(node, (state) => JSON.stringify(state.sizes) === JSON.stringify(baseline.sizes));
    const growth = after.heapUsed - baseline.heapUsed;
    console.info(
      `[churn] 10,000 users in ${(churnMs / 1000).toFixed(1)} s; right after: ${during.sizes.historyChannels} channels of history kept (TTL 1 s); ` +
        `heap ${((baseline.heapUsed) / 1e6).toFixed(2)} → ${(after.heapUsed / 1e6).toFixed(2)} MB (${(growth / 10).toFixed(0)} B per 1,000 users); ` +
        `maps: ${JSON.stringify(after.sizes)}`,
    );
    expect(after.sizes).toEqual(baseline.sizes);
    expect(growth).toBeLessThan(1_000_000);
    expect(node.stderr()).toBe('');
  });
});
