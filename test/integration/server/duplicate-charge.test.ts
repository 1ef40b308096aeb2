import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocketchartServer } from '../../../src/server/index.js';
import { startRedis, type RedisProcess } from '../../support/redis.js';
import { connectAs, startServer, type Frame, type TestClient, type TestServerOptions } from './helpers.js';

/** A connection budget of three `chat` publishes (refilled at one a minute). */
const budgetOfThree: TestServerOptions = { rateLimits: { chat: { perMinute: 1, burst: 3 } } };
const CH = 'chat:resend';

const answerTo = (client: TestClient, id: string): Promise<Frame> => client.next((frame) => frame.id === id && (frame.type === 'ack' || frame.type === 'error'));

async function publishOne(client: TestClient, id: string): Promise<Frame> {
  client.send({ type: 'publish', ch: CH, id, data: { id } });
  return answerTo(client, id);
}

/** Publishes `a`, resends it `repeats` times waiting for each answer, then publishes `b` and `c`. */
async function resendThenPublish(server: SocketchartServer, repeats: number) {
  const client = await connectAs(server, 'resender');
  const first = await publishOne(client, 'a');
  const resent: Frame[] = [];
  for (let i = 0; i < repeats; i++) resent.push(await publishOne(client, 'a'));
  const fresh = [await publishOne(client, 'b'), await publishOne(client, 'c')];
  await client.close();
  return { first, resent, fresh };
}

/** Publishes `a`, then writes `repeats` resends of it and `b`, `c` in one TCP write, as a client does after a reconnect. */
async function resendInABurst(server: SocketchartServer, repeats: number) {
  const client = await connectAs(server, 'burster');
  const first = await publishOne(client, 'a');
  const ids = [...Array.from({ length: repeats }, () => 'a'), 'b', 'c'];
  const socket = (client.ws as unknown as { _socket: Socket })._socket;
  socket.cork();
  for (const id of ids) client.send({ type: 'publish', ch: CH, id, data: { id } });
  socket.uncork();
  const answers: Frame[] = [];
  for (let i = 0; i < repeats; i++) answers.push(await answerTo(client, 'a'));
  const fresh = [await answerTo(client, 'b'), await answerTo(client, 'c')];
  await client.close();
  return { first, answers, fresh };
}

function expectFreeRepeats({ first, resent, fresh }: { first: Frame; resent: Frame[]; fresh: Frame[] }) {
  for (const frame of resent) expect(frame).toMatchObject({ type: 'ack', seq: first.seq, duplicate: true });
  expect(fresh.map((frame) => frame.type)).toEqual(['ack', 'ack']);
  expect(fresh.map((frame) => frame.duplicate)).toEqual([undefined, undefined]);
}

describe('a repeated publish costs no token of the connection budget', () => {
  it('in memory: after one publish and two acked repeats, two new ids still fit a budget of three', async () => {
    const server = await startServer(budgetOfThree);
    expectFreeRepeats(await resendThenPublish(server, 2));
    await server.close();
  });

  it('in memory: repeats written in one burst with new ids behind them leave the new ids their tokens', async () => {
    const server = await startServer(budgetOfThree);
    const { first, answers, fresh } = await resendInABurst(server, 2);
    expectFreeRepeats({ first, resent: answers, fresh });
    await server.close();
  });

  it('in memory: a fourth new id is still refused after the repeats (the budget is three, not more)', async () => {
    const server = await startServer(budgetOfThree);
    const client = await connectAs(server, 'counter');
    for (const id of ['a', 'a', 'b', 'a', 'c']) expect(await publishOne(client, id)).toMatchObject({ type: 'ack' });
    expect(await publishOne(client, 'd')).toMatchObject({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', id: 'd' });
    await client.close();
    await server.close();
  });

  describe('with Redis', () => {
    let redis: RedisProcess;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    const withRedis = (keyPrefix: string): TestServerOptions => ({ ...budgetOfThree, redis: { url: redis.url, keyPrefix, connectTimeoutMs: 3000 } });

    it('after one publish and two acked repeats, two new ids still fit a budget of three', async () => {
      const server = await startServer(withRedis('free-repeat:'));
      expectFreeRepeats(await resendThenPublish(server, 2));
      await server.close();
    });

    it('repeats written in one burst with new ids behind them leave the new ids their tokens', async () => {
      const server = await startServer(withRedis('free-burst:'));
      const { first, answers, fresh } = await resendInABurst(server, 2);
      expectFreeRepeats({ first, resent: answers, fresh });
      await server.close();
    });
  });
});
