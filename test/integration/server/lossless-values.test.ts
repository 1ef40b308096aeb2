import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocketchartServer } from '../../../src/server/index.js';
import { stateSizes } from '../../../src/server/state-sizes.js';
import { connectAs, delay, startServer, type TestClient } from './helpers.js';

describe('values a frame carries are kept as sent, or refused with a typed error; never changed silently', () => {
  let server: SocketchartServer;
  let sender: TestClient;
  let reader: TestClient;

  beforeAll(async () => {
    server = await startServer();
    sender = await connectAs(server, 'sender');
    reader = await connectAs(server, 'reader');
    for (const ch of ['chat:numbers', 'chat:meta']) {
      reader.send({ type: 'subscribe', ch });
      await reader.nextOfType('subscribed', { ch });
    }
  });

  afterAll(async () => {
    await Promise.all([sender.close(), reader.close()]);
    await server.close();
  });

  it('refuses a publish whose data holds a number beyond the range of a double (1e400), echoing its id, and stores nothing', async () => {
    const before = stateSizes(server).retainedMessages;
    sender.sendRaw('{"type":"publish","ch":"chat:numbers","id":"huge","data":{"x":1e400}}');
    expect(await sender.next((frame) => frame.id === 'huge')).toMatchObject({ type: 'error', code: 'INVALID_MESSAGE_FORMAT', id: 'huge' });
    sender.sendRaw('{"type":"publish","ch":"chat:numbers","id":"deep-huge","data":[1,[2,{"y":-1e999}]]}');
    expect(await sender.next((frame) => frame.id === 'deep-huge')).toMatchObject({ type: 'error', code: 'INVALID_MESSAGE_FORMAT', id: 'deep-huge' });
    await delay(50);
    expect(stateSizes(server).retainedMessages).toBe(before);
    expect(reader.ofType('message', 'chat:numbers')).toEqual([]);
  });

  it('refuses a publish whose data holds an integer no double holds exactly (2^53 + 1, a 20-digit id), echoing its id, and stores nothing', async () => {
    const before = stateSizes(server).retainedMessages;
    sender.sendRaw('{"type":"publish","ch":"chat:numbers","id":"past-2^53","data":{"n":9007199254740993}}');
    expect(await sender.next((frame) => frame.id === 'past-2^53')).toMatchObject({ type: 'error', code: 'INVALID_MESSAGE_FORMAT', id: 'past-2^53' });
    sender.sendRaw('{"type":"publish","ch":"chat:numbers","id":"long-id","data":[1,{"ids":["x",-12345678901234567891]}]}');
    const refused = await sender.next((frame) => frame.id === 'long-id');
    expect(refused).toMatchObject({ type: 'error', code: 'INVALID_MESSAGE_FORMAT', id: 'long-id' });
    expect(String(refused.message)).toMatch(/as a string/);
    await delay(50);
    expect(stateSizes(server).retainedMessages).toBe(before);
    expect(reader.ofType('message', 'chat:numbers')).toEqual([]);
  });

  it('delivers integers a double holds exactly however large (2^53, 2^64), and long digit strings, as sent', async () => {
    sender.sendRaw('{"type":"publish","ch":"chat:numbers","id":"exact","data":[9007199254740992,18446744073709551616,-9007199254740991,"12345678901234567891",{"k\\"":"\\"9007199254740993"}]}');
    expect(await sender.nextOfType('ack', { id: 'exact' })).toBeDefined();
    const delivered = await reader.nextOfType('message', { ch: 'chat:numbers' });
    expect(delivered.data).toEqual([2 ** 53, 2 ** 64, -(2 ** 53 - 1), '12345678901234567891', { 'k"': '"9007199254740993' }]);
  });

  it('delivers the largest and smallest doubles as sent', async () => {
    sender.sendRaw('{"type":"publish","ch":"chat:numbers","id":"edges","data":[1.7976931348623157e308,-1.7976931348623157e308,5e-324]}');
    expect(await sender.nextOfType('ack', { id: 'edges' })).toBeDefined();
    const delivered = await reader.nextOfType('message', { ch: 'chat:numbers' });
    expect(delivered.data).toEqual([Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE]);
  });

  it('keeps a presence meta key named __proto__ (at any depth) as sent, in presence_state and in the join announced to subscribers', async () => {
    const meta = '{"__proto__":{"role":"x"},"name":"s","nested":{"__proto__":1}}';
    sender.sendRaw(`{"type":"presence","ch":"chat:meta","action":"join","meta":${meta}}`);
    const state = await sender.nextOfType('presence_state', { ch: 'chat:meta' });
    const member = (state.members as { userId: string; meta: unknown }[]).find((candidate) => candidate.userId === 'sender');
    expect(JSON.stringify(member?.meta)).toBe(meta);
    const announced = await reader.nextOfType('presence', { ch: 'chat:meta' });
    expect(JSON.stringify((announced.joins as { meta: unknown }[])[0]?.meta)).toBe(meta);
    expect(({} as Record<string, unknown>).role).toBeUndefined();
  });
});
