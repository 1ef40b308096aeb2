import { afterEach, describe, expect, it } from 'vitest';
import { createConnection, plainProtocol, type Connection, type ConnectionOptions, type PlainProtocolOptions, type SocketchartError } from '../../../src/index.node.js';
import { SimulatedClock } from '../../../src/testing/index.js';
import { PlainServer } from '../../support/plain-server.js';
import { until } from '../../support/until.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A connection with plainProtocol() to a plain `ws` server, its timers on a simulated clock. */
async function setup(options: Partial<ConnectionOptions> = {}, protocol?: PlainProtocolOptions) {
  const server = new PlainServer();
  const port = await server.listen();
  const clock = new SimulatedClock(1_700_000_000_000);
  const connection: Connection = createConnection({
    url: `ws://127.0.0.1:${port}/feed`,
    protocol: plainProtocol(protocol),
    clock,
    environment: false,
    random: () => 0.5,
    reconnect: { baseMs: 1_000, jitter: 0 },
    ...options,
  });
  const received: unknown[] = [];
  const errors: SocketchartError[] = [];
  const statuses: string[] = [];
  connection.on('message', (message) => received.push(message.data));
  connection.on('error', (error) => errors.push(error));
  connection.on('state', ({ status }) => statuses.push(status));
  cleanups.push(async () => {
    connection.dispose();
    await server.stop();
  });
  return { server, port, clock, connection, received, errors, statuses };
}

const bytes = (data: unknown) => new Uint8Array(data as ArrayBuffer);

describe('plainProtocol against a plain ws server on loopback', () => {
  it('text and binary frames pass untouched both ways', async () => {
    const { server, connection, received, errors } = await setup();
    connection.start();
    await until(() => connection.isConnected);
    const texts = ['not json {', '{"type":"publish","ch":"x"}', 'héllo ✓ 🎉', 'ping'];
    for (const text of texts) await connection.send(text);
    await connection.send(new Uint8Array([0, 255, 128, 10]));
    await connection.send({ kept: ['as', 'json'] });
    await until(() => received.length === 6, 5_000, 'the echoes');
    expect(server.received.slice(0, 4)).toEqual(texts);
    expect(server.received[4]).toEqual(new Uint8Array([0, 255, 128, 10]));
    expect(server.received[5]).toBe('{"kept":["as","json"]}');
    expect(received.slice(0, 4)).toEqual(texts);
    expect(bytes(received[4])).toEqual(new Uint8Array([0, 255, 128, 10]));
    expect(received[5]).toBe('{"kept":["as","json"]}');

    server.broadcast('{"type":"message","ch":"room","data":1}');
    server.broadcast(new Uint8Array([1, 2, 3]));
    await until(() => received.length === 8);
    expect(received[6]).toBe('{"type":"message","ch":"room","data":1}');
    expect(bytes(received[7])).toEqual(new Uint8Array([1, 2, 3]));
    expect(errors).toEqual([]);
  });

  it('nothing times out: hours of quiet on the clock keep the one socket, then frames still flow', async () => {
    const { server, clock, connection, received, errors } = await setup({ heartbeat: { intervalMs: 30_000, timeoutMs: 5_000 } });
    connection.start();
    await until(() => connection.isConnected);
    for (let minute = 0; minute < 180; minute++) {
      clock.advance(60_000);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(connection.status).toBe('connected');
    expect(server.connections).toBe(1);
    expect(server.received).toEqual([]);
    await connection.send('still here');
    await until(() => received.length === 1);
    expect(received).toEqual(['still here']);
    expect(errors).toEqual([]);
  });

  it('a server restart: the connection comes back on its backoff and frames pass again', async () => {
    const { server, port, clock, connection, received, statuses } = await setup();
    connection.start();
    await until(() => connection.isConnected);
    await server.stop();
    await until(() => connection.status === 'reconnecting', 5_000, 'the drop to be seen');
    expect(connection.lastError?.closeCode).toBe(1006);
    await server.listen(port);
    clock.advance(connection.snapshot.context.retryDelayMs);
    await until(() => connection.isConnected, 5_000, 'the reconnect');
    expect(server.connections).toBe(2);
    await connection.send(new Uint8Array([42]));
    await connection.send('after the restart');
    await until(() => received.length === 2);
    expect(bytes(received[0])).toEqual(new Uint8Array([42]));
    expect(received[1]).toBe('after the restart');
    expect(statuses).toEqual(['connecting', 'connected', 'reconnecting', 'connecting', 'connected']);
  });

  it('a ping/pong pair the server answers keeps the link; when the answers stop, the dead link is detected', async () => {
    const { server, clock, connection, received } = await setup({ heartbeat: { intervalMs: 10_000, timeoutMs: 2_000 } }, { heartbeat: { ping: '#ping', pong: '#pong' } });
    server.answer = { ping: '#ping', pong: '#pong' };
    connection.start();
    await until(() => connection.isConnected);
    clock.advance(10_000);
    for (let round = 1; round <= 3; round++) {
      await until(() => server.received.length === round, 5_000, `ping ${round}`);
      await until(() => connection.metrics().rtt.count === round, 5_000, `pong ${round}`);
      clock.advance(2_000);
      expect(connection.status).toBe('connected');
      if (round === 3) {
        server.answer = undefined;
        server.echo = false;
      }
      clock.advance(8_000);
    }
    await until(() => server.received.length === 4, 5_000, 'the unanswered ping');
    expect(server.received).toEqual(['#ping', '#ping', '#ping', '#ping']);
    expect(received).toEqual([]);
    clock.advance(1_999);
    expect(connection.status).toBe('connected');
    clock.advance(1);
    expect(connection.status).not.toBe('connected');
    expect(connection.lastError).toMatchObject({ code: 'NETWORK_ERROR', message: 'No pong: the socket is dead (half-open)' });
    await until(() => server.connections === 2 && connection.isConnected, 5_000, 'the redial after a stable connection');
  });

  it('tokens: on the url in query mode, on the handshake in subprotocol mode, in the authFrame in message mode', async () => {
    const query = await setup({ auth: { token: 'tok-q', mode: 'query', queryParam: 'access_token' } });
    query.connection.start();
    await until(() => query.connection.isConnected);
    expect(query.server.handshakes).toEqual([{ url: '/feed?access_token=tok-q', protocols: undefined }]);
    expect(query.server.received).toEqual([]);

    const sub = await setup({ auth: { token: 'tok-s', mode: 'subprotocol' } }, { subprotocols: ['chat'] });
    sub.connection.start();
    await until(() => sub.connection.isConnected);
    expect(sub.server.handshakes.map(({ url, protocols }) => [url, protocols?.split(/\s*,\s*/)])).toEqual([['/feed', ['chat', 'tok-s']]]);

    const message = await setup({ auth: { token: 'tok-m' } }, { authFrame: (token) => JSON.stringify({ auth: token }) });
    message.connection.start();
    await until(() => message.connection.isConnected);
    await until(() => message.server.received.length === 1);
    expect(message.server.received).toEqual(['{"auth":"tok-m"}']);
  });
});
