import { describe, expect, it } from 'vitest';
import { ErrorCode, createConnection, type Connection, type ConnectionOptions, type SocketchartError } from '../../src/index.node.js';
import type { SocketchartServer } from '../../src/server/index.js';
import { until } from '../support/until.js';
import { cleanupsAfterEach, startReferenceServer } from '../support/reference-server.js';

const cleanups = cleanupsAfterEach();

/** The reference server with a tight limit on `chat` channels: 5 at once, then 10 a second. */
async function setup() {
  const server: SocketchartServer = await startReferenceServer({
    channels: [{ pattern: 'chat:*', subscribe: true, publish: true }],
    rateLimits: { chat: { perMinute: 600, burst: 5 } },
  });
  const url = `ws://127.0.0.1:${server.address()!.port}`;
  const connect = (name: string, options: Partial<ConnectionOptions> = {}) => {
    const connection = createConnection({ url, name, auth: { token: name }, heartbeat: false, ...options });
    const errors: SocketchartError[] = [];
    connection.on('error', (error) => errors.push(error));
    cleanups.push(() => connection.dispose());
    return { connection, errors };
  };
  cleanups.push(() => server.close());
  return { server, connect };
}

async function subscriberOf(connect: Awaited<ReturnType<typeof setup>>['connect'], channel: string) {
  const { connection } = connect('reader');
  const got: unknown[] = [];
  connection.subscribe(channel, (data) => got.push(data));
  connection.start();
  await until(() => connection.isConnected);
  await new Promise((resolve) => setTimeout(resolve, 50));
  return got;
}

const publishAll = (connection: Connection, channel: string, count: number, ack: boolean) =>
  Array.from({ length: count }, (_, i) => connection.send({ n: i + 1 }, { channel, ack }));

describe('rate limits against the reference server', () => {
  it('a client configured a little under the server’s limit sends a burst past it without one refusal: the rest waits in throttled', async () => {
    const { connect } = await setup();
    const got = await subscriberOf(connect, 'chat:1');
    const { connection, errors } = connect('writer', { rateLimit: { channels: { chat: { perMinute: 540, burst: 4 } } } });
    const throttled: unknown[] = [];
    connection.on('throttled', (event) => throttled.push(event));
    connection.start();
    await until(() => connection.isConnected);
    const sends = publishAll(connection, 'chat:1', 15, false);
    expect(connection.throttled).toBe(true);
    await Promise.all(sends);
    await until(() => got.length === 15);
    expect(got).toEqual(Array.from({ length: 15 }, (_, i) => ({ n: i + 1 })));
    expect(errors.filter((error) => error.code === ErrorCode.RATE_LIMIT_EXCEEDED)).toEqual([]);
    expect(throttled.length).toBeGreaterThanOrEqual(1);
    expect(connection.metrics().throttles).toBeGreaterThanOrEqual(1);
  });

  it('a client that knows no limit learns it from rate_limit_status, and acknowledged messages the server refused are sent again after retry_after: every one stored once, in order', async () => {
    const { connect } = await setup();
    const got = await subscriberOf(connect, 'chat:2');
    const { connection, errors } = connect('writer', { acks: { timeoutMs: 5_000, maxAttempts: 2 } });
    connection.start();
    await until(() => connection.isConnected);
    await Promise.all(publishAll(connection, 'chat:2', 12, true));
    await until(() => got.length >= 12);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const numbers = got.map((data) => (data as { n: number }).n);
    expect(numbers, 'stored once each, in the order sent').toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(errors.every((error) => error.code === ErrorCode.RATE_LIMIT_EXCEEDED && error.recovery === 'retry')).toBe(true);
    expect(connection.status).toBe('connected');
  });

  it('once the server’s status is known, later bursts wait on the client instead of being refused', async () => {
    const { connect } = await setup();
    const got = await subscriberOf(connect, 'chat:3');
    const { connection, errors } = connect('writer');
    connection.start();
    await until(() => connection.isConnected);
    await connection.send({ n: 0 }, { channel: 'chat:3', ack: true });
    const before = errors.length;
    await Promise.all(publishAll(connection, 'chat:3', 10, true));
    await until(() => got.length === 11);
    expect(errors.length - before).toBe(0);
    expect(got.slice(1)).toEqual(Array.from({ length: 10 }, (_, i) => ({ n: i + 1 })));
  });
});
