import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, open, startServer, type Frame, type TestClient } from './helpers.js';
import { MEMORY_NODE, spawnNode, type NodeProcess } from '../../support/server-process.js';

const nested = (depth: number, leaf: unknown = 1): string => `${'{"a":'.repeat(depth)}${JSON.stringify(leaf)}${'}'.repeat(depth)}`;
const nestedArray = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** Logs in with the node's any-token-is-its-user-id check. */
async function login(url: string, userId: string): Promise<TestClient> {
  const client = await open(url);
  client.send({ type: 'auth', token: userId });
  await client.nextOfType('auth_ok');
  return client;
}

describe('bad frames against a server process: refused with a typed error, and the process keeps serving', () => {
  let node: NodeProcess;

  beforeAll(async () => {
    node = await spawnNode(MEMORY_NODE, { SC_OPTIONS: JSON.stringify({ maxPayload: 1024 * 1024, rateLimits: { chat: { perMinute: 60_000, burst: 1000 } } }) });
  });

  afterAll(async () => {
    await node.kill();
  });

  /** The process is alive and serves a newcomer end to end: login, subscribe with resume, publish, delivery, ping. */
  async function stillServes(): Promise<void> {
    expect(node.exit()).toBeUndefined();
    const probe = await login(node.url, `probe-${Math.random().toString(36).slice(2)}`);
    probe.send({ type: 'subscribe', ch: 'chat:probe', since: 0 });
    await probe.nextOfType('subscribed', { ch: 'chat:probe' });
    probe.send({ type: 'publish', ch: 'chat:probe', id: 'p', data: { ok: true } });
    await probe.nextOfType('ack', { id: 'p' });
    await probe.nextOfType('message', { ch: 'chat:probe' });
    probe.send({ type: 'ping', ts: 1 });
    await probe.nextOfType('pong');
    await probe.close();
    expect(node.exit()).toBeUndefined();
  }

  it('refuses a presence frame with meta nested 1,500 deep sent before login, closing only that socket with 4001', async () => {
    const stranger = await open(node.url);
    stranger.sendRaw(`{"type":"presence","ch":"chat:x","action":"join","meta":${nested(1500)}}`);
    const error = await stranger.nextOfType('error');
    expect(['AUTHENTICATION_FAILED', 'INVALID_MESSAGE_FORMAT']).toContain(error.code);
    expect((await stranger.closed).code).toBe(4001);
    await stillServes();
  });

  it('refuses anything but auth and ping before login, answering ping', async () => {
    const stranger = await open(node.url);
    stranger.send({ type: 'ping', ts: 5 });
    expect(await stranger.nextOfType('pong')).toEqual({ type: 'pong', ts: 5 });
    stranger.send({ type: 'subscribe', ch: 'chat:x' });
    expect(await stranger.nextOfType('error')).toMatchObject({ code: 'AUTHENTICATION_FAILED' });
    expect((await stranger.closed).code).toBe(4001);
    expect(stranger.ofType('subscribed')).toEqual([]);
    await stillServes();
  });

  it('refuses a presence frame with meta nested 1,500 deep after login, keeping the socket', async () => {
    const client = await login(node.url, 'meta-user');
    client.sendRaw(`{"type":"presence","ch":"chat:x","action":"join","meta":${nested(1500)}}`);
    expect(await client.nextOfType('error')).toMatchObject({ code: 'INVALID_MESSAGE_FORMAT', message: expect.stringMatching(/nest/) });
    client.send({ type: 'ping', ts: 2 });
    await client.nextOfType('pong');
    await client.close();
    await stillServes();
  });

  it('refuses a publish with data nested 6,000 deep, echoing its id; live and resuming subscribers of the channel are unharmed', async () => {
    const reader = await login(node.url, 'reader');
    reader.send({ type: 'subscribe', ch: 'chat:poison' });
    await reader.nextOfType('subscribed', { ch: 'chat:poison' });
    const writer = await login(node.url, 'writer');
    writer.send({ type: 'publish', ch: 'chat:poison', id: 'before', data: 'before' });
    await writer.nextOfType('ack', { id: 'before' });
    writer.sendRaw(`{"type":"publish","ch":"chat:poison","id":"deep","data":${nested(6000)}}`);
    expect(await writer.nextOfType('error', { id: 'deep' })).toMatchObject({ code: 'INVALID_MESSAGE_FORMAT' });
    writer.sendRaw(`{"type":"publish","ch":"chat:poison","id":"deep-array","data":${nestedArray(6000)}}`);
    expect(await writer.nextOfType('error', { id: 'deep-array' })).toMatchObject({ code: 'INVALID_MESSAGE_FORMAT' });
    writer.send({ type: 'publish', ch: 'chat:poison', id: 'after', data: 'after' });
    await writer.nextOfType('ack', { id: 'after' });
    await reader.next((frame) => frame.type === 'message' && frame.data === 'after');
    expect(reader.ofType('message', 'chat:poison').map((frame) => frame.data)).toEqual(['before', 'after']);
    expect(reader.ofType('gap')).toEqual([]);

    const resumer = await login(node.url, 'resumer');
    resumer.send({ type: 'subscribe', ch: 'chat:poison', since: 0 });
    await resumer.next((frame) => frame.type === 'message' && frame.data === 'after');
    expect(resumer.ofType('message', 'chat:poison').map((frame) => frame.data)).toEqual(['before', 'after']);
    await Promise.all([reader.close(), writer.close(), resumer.close()]);
    await stillServes();
  });

  it('refuses frames with huge arrays or too many keys, in any field', async () => {
    const client = await login(node.url, 'wide');
    const many = `[${Array.from({ length: 50_000 }, () => 0).join(',')}]`;
    const keys = `{${Array.from({ length: 20_000 }, (_, i) => `"k${i}":0`).join(',')}}`;
    client.sendRaw(`{"type":"publish","ch":"chat:wide","id":"array","data":${many}}`);
    expect(await client.nextOfType('error', { id: 'array' })).toMatchObject({ code: 'INVALID_MESSAGE_FORMAT' });
    client.sendRaw(`{"type":"publish","ch":"chat:wide","id":"keys","data":${keys}}`);
    expect(await client.nextOfType('error', { id: 'keys' })).toMatchObject({ code: 'INVALID_MESSAGE_FORMAT' });
    client.sendRaw(`{"type":"presence","ch":"chat:wide","action":"join","meta":${keys}}`);
    expect(await client.nextOfType('error')).toMatchObject({ code: 'INVALID_MESSAGE_FORMAT' });
    await client.close();
    await stillServes();
  });

  it('answers wrong types and deep values in every field of every frame type, and keeps serving', async () => {
    const client = await login(node.url, 'fields');
    const deep = nested(3000);
    const frames = [
      `{"type":"auth","token":${deep}}`,
      `{"type":"ping","ts":${deep}}`,
      `{"type":"subscribe","ch":${deep}}`,
      `{"type":"subscribe","ch":"chat:a","since":${deep}}`,
      `{"type":"unsubscribe","ch":${nestedArray(3000)}}`,
      `{"type":"publish","ch":"chat:a","id":${deep},"data":1}`,
      `{"type":"publish","ch":"chat:a","event":${deep},"data":1}`,
      `{"type":"typing","ch":"chat:a","typing":${deep}}`,
      `{"type":${deep}}`,
      `{"type":"presence","ch":"chat:a","action":${deep}}`,
    ];
    for (const raw of frames) client.sendRaw(raw);
    const answers: Frame[] = [];
    for (let i = 0; i < frames.length; i++) answers.push(await client.nextOfType('error'));
    expect(answers.every((frame) => frame.code === 'INVALID_MESSAGE_FORMAT')).toBe(true);
    client.send({ type: 'ping', ts: 3 });
    await client.nextOfType('pong');
    await client.close();
    await stillServes();
  });

  it('logged no internal error while refusing all of the above', () => {
    expect(node.stderr()).toBe('');
  });
});

describe('data the application publishes', () => {
  it('rejects a broadcast whose data JSON cannot encode (too deep, cyclic, undefined), and keeps nothing of it', async () => {
    const server = await startServer();
    try {
      let deep: Record<string, unknown> = {};
      const root = deep;
      for (let i = 0; i < 20_000; i++) deep = (deep.a = {}) as Record<string, unknown>;
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await server.broadcast('chat:app', 'first');
      await expect(server.broadcast('chat:app', root)).rejects.toThrow(TypeError);
      await expect(server.broadcast('chat:app', cyclic)).rejects.toThrow(/cannot be encoded as JSON/);
      await expect(server.broadcast('chat:app', undefined)).rejects.toThrow(/cannot be encoded as JSON/);
      await server.broadcast('chat:app', 'second');
      const reader = await connectAs(server, 'reader');
      reader.send({ type: 'subscribe', ch: 'chat:app', since: 0 });
      await reader.next((frame) => frame.type === 'message' && frame.data === 'second');
      expect(reader.ofType('message', 'chat:app').map((frame) => [frame.data, frame.seq])).toEqual([
        ['first', expect.any(Number)],
        ['second', (reader.ofType('message', 'chat:app')[0]!.seq as number) + 1],
      ]);
      await reader.close();
    } finally {
      await server.close();
    }
  });
});
