import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocketchartServer } from '../../../src/server/index.js';
import { connectAs, open, startServer, wsUrl, type TestClient } from './helpers.js';

describe('frame validation: every inbound frame is checked, and a bad one never hurts anyone else', () => {
  let server: SocketchartServer;
  let client: TestClient;
  let neighbour: TestClient;

  beforeAll(async () => {
    server = await startServer({ maxPayload: 4096 });
    client = await connectAs(server, 'sender');
    neighbour = await connectAs(server, 'neighbour');
    neighbour.send({ type: 'subscribe', ch: 'chat:calm' });
    await neighbour.nextOfType('subscribed');
  });

  afterAll(async () => {
    await Promise.all([client.close(), neighbour.close()]);
    await server.close();
  });

  const errorFor = async (raw: string | Buffer, binary = false) => {
    client.sendRaw(raw, binary);
    return client.nextOfType('error');
  };

  it('answers malformed JSON with INVALID_MESSAGE_FORMAT', async () => {
    expect(await errorFor('{"type": "ping", ')).toEqual({ type: 'error', code: 'INVALID_MESSAGE_FORMAT', message: 'malformed JSON' });
  });

  it('answers a JSON value that is not an object', async () => {
    for (const raw of ['[]', '42', '"ping"', 'null']) {
      expect(await errorFor(raw)).toEqual({ type: 'error', code: 'INVALID_MESSAGE_FORMAT', message: 'a frame must be a JSON object' });
    }
  });

  it('answers a frame without a string type', async () => {
    expect(await errorFor('{"ts": 1}')).toEqual({ type: 'error', code: 'INVALID_MESSAGE_FORMAT', message: 'a frame needs a string "type"' });
  });

  it('answers an unknown frame type, naming it', async () => {
    expect(await errorFor('{"type":"launch_missiles"}')).toEqual({
      type: 'error',
      code: 'INVALID_MESSAGE_FORMAT',
      message: 'unknown frame type "launch_missiles"',
      details: { type: 'launch_missiles' },
    });
  });

  it('answers a publish without data, naming the field, and echoes the publish id', async () => {
    expect(await errorFor('{"type":"publish","ch":"chat:calm","id":"p-1"}')).toMatchObject({
      code: 'INVALID_MESSAGE_FORMAT',
      message: 'invalid "publish" frame',
      id: 'p-1',
      details: { issues: [{ path: 'data' }] },
    });
  });

  it('answers fields of the wrong type or out of range', async () => {
    const cases: [string, string][] = [
      ['{"type":"subscribe","ch":"chat:calm","since":-1}', 'since'],
      ['{"type":"subscribe","ch":"chat:calm","since":1.5}', 'since'],
      ['{"type":"typing","ch":"chat:calm","typing":"yes"}', 'typing'],
      ['{"type":"presence","ch":"chat:calm","action":"kick"}', 'action'],
      ['{"type":"ping","ts":"now"}', 'ts'],
      ['{"type":"auth","token":""}', 'token'],
    ];
    for (const [raw, field] of cases) {
      expect(await errorFor(raw)).toMatchObject({ code: 'INVALID_MESSAGE_FORMAT', details: { issues: [{ path: field }] } });
    }
  });

  it('answers invalid channel names', async () => {
    for (const ch of ['chat', 'chat:', ':x', 'a:b:c:d', 'chat:*', 'chat:with space', 'chat:{userId}', `chat:${'x'.repeat(300)}`]) {
      expect(await errorFor(JSON.stringify({ type: 'subscribe', ch }))).toMatchObject({ code: 'INVALID_MESSAGE_FORMAT', details: { issues: [{ path: 'ch' }] } });
    }
  });

  it('answers a binary frame with INVALID_MESSAGE_FORMAT and keeps the socket', async () => {
    expect(await errorFor(Buffer.from([1, 2, 3]), true)).toMatchObject({ code: 'INVALID_MESSAGE_FORMAT', message: expect.stringContaining('binary') });
  });

  it('answers deeply nested JSON without crashing', async () => {
    expect(await errorFor(`${'['.repeat(2000)}${']'.repeat(2000)}`)).toMatchObject({ code: 'INVALID_MESSAGE_FORMAT' });
  });

  it('does not let __proto__ in a payload pollute anything', async () => {
    neighbour.send({ type: 'subscribe', ch: 'chat:proto' });
    await neighbour.nextOfType('subscribed', { ch: 'chat:proto' });
    client.sendRaw('{"type":"publish","ch":"chat:proto","id":"proto","data":{"__proto__":{"polluted":true}}}');
    await client.nextOfType('ack', { id: 'proto' });
    const delivered = await neighbour.nextOfType('message', { ch: 'chat:proto' });
    expect(JSON.stringify(delivered.data)).toBe('{"__proto__":{"polluted":true}}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('still serves the sender after all of the above', async () => {
    client.send({ type: 'ping', ts: 7 });
    expect(await client.nextOfType('pong')).toEqual({ type: 'pong', ts: 7 });
  });

  it('closes with 1007 on invalid UTF-8 in a text frame, and only that socket', async () => {
    const victim = await connectAs(server, 'utf8');
    victim.sendRaw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), false);
    expect((await victim.closed).code).toBe(1007);
    neighbour.send({ type: 'ping', ts: 8 });
    await neighbour.nextOfType('pong');
  });

  it('closes with 1009 on a frame larger than maxPayload, and only that socket', async () => {
    const big = await connectAs(server, 'big');
    big.send({ type: 'publish', ch: 'chat:calm', data: 'x'.repeat(5000) });
    expect((await big.closed).code).toBe(1009);
    neighbour.send({ type: 'ping', ts: 9 });
    await neighbour.nextOfType('pong');
    expect(neighbour.ofType('message', 'chat:calm')).toEqual([]);
  });

  it('accepts a frame just under maxPayload', async () => {
    client.send({ type: 'publish', ch: 'chat:calm', id: 'fits', data: 'x'.repeat(3900) });
    await client.nextOfType('ack', { id: 'fits' });
    expect((await neighbour.nextOfType('message', { ch: 'chat:calm' })).id).toBe('fits');
  });

  it('closes with 4001 after INVALID_MESSAGE_FORMAT when the first frame of an unauthenticated socket is garbage', async () => {
    const stranger = await open(wsUrl(server));
    stranger.sendRaw('garbage');
    expect(await stranger.nextOfType('error')).toMatchObject({ code: 'INVALID_MESSAGE_FORMAT' });
    expect((await stranger.closed).code).toBe(4001);
  });
});
