import { connect, type Socket } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { SocketchartServer } from '../../../src/server/index.js';
import { connectAs, delay, open, startServer, wsUrl } from './helpers.js';
import { until } from '../../support/until.js';

/** A raw TCP client that sends the start of an upgrade request, then nothing (slowloris). */
function stall(server: SocketchartServer): Promise<{ socket: Socket; closedAfterMs: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: server.address()!.port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      const openedAt = Date.now();
      socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
      resolve({ socket, closedAfterMs: new Promise((done) => socket.once('close', () => done(Date.now() - openedAt))) });
    });
    socket.once('error', reject);
  });
}

/** A raw TCP client that makes one plain keep-alive request, reads the answer, then sends the start of an upgrade request and nothing more. */
function requestThenStall(server: SocketchartServer): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: server.address()!.port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    socket.once('error', reject);
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    let answer = '';
    socket.once('connect', () => socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n'));
    const onData = (chunk: Buffer) => {
      answer += chunk.toString();
      if (!answer.includes('"nodeId"')) return;
      socket.off('data', onData);
      socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
      resolve({ socket, closed });
    };
    socket.on('data', onData);
  });
}

/** A raw socket that writes `request` with a WebSocket upgrade pipelined behind it; `received()`: the bytes that came back so far. */
async function pipelinedUpgrade(server: SocketchartServer, request: string): Promise<{ socket: Socket; received: () => Buffer }> {
  const socket = connect({ port: server.address()!.port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  let received = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const upgrade = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  socket.write(`${request}${upgrade}`);
  return { socket, received: () => received };
}

/** Pings over the WebSocket whose 101 ended at byte `handshake`, then closes the socket: the bytes that answered (a pong: 0x8a 0x00). */
async function answerToPing(socket: Socket, received: () => Buffer, handshake: number): Promise<number[]> {
  socket.write(Buffer.from([0x89, 0x80, 1, 2, 3, 4])); // a masked ping, no payload
  await until(() => received().length >= handshake + 2 || socket.destroyed, 3000, 'an answer to the ping');
  socket.destroy();
  return [...received().subarray(handshake)];
}

describe('slow handshakes: bounded in time, and counted against maxConnections', () => {
  const servers: SocketchartServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  it('destroys a connection that has not finished its upgrade within handshakeTimeoutMs', async () => {
    const server = await startServer({ handshakeTimeoutMs: 300 });
    servers.push(server);
    const { closedAfterMs } = await stall(server);
    const after = await Promise.race([closedAfterMs, delay(3000).then(() => Number.POSITIVE_INFINITY)]);
    expect(after).toBeGreaterThanOrEqual(250);
    expect(after).toBeLessThan(1500);
  });

  it('destroys a keep-alive connection whose upgrade, started after a plain request on it, has not finished within handshakeTimeoutMs', async () => {
    const server = await startServer({ handshakeTimeoutMs: 200 });
    servers.push(server);
    const { socket, closed } = await requestThenStall(server);
    const outcome = await Promise.race([closed.then(() => 'destroyed'), delay(3000).then(() => 'still open')]);
    socket.destroy();
    expect(outcome).toBe('destroyed');
  });

  it('destroys a connection that pipelines plain requests and never reads their answers (slow read), once it has had neither a request nor an answer for handshakeTimeoutMs', async () => {
    const server = await startServer({ handshakeTimeoutMs: 200 });
    servers.push(server);
    const socket = connect({ port: server.address()!.port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.pause();
    socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(2_000));
    const probe = setInterval(() => socket.write('\r\n'), 100); // a socket that does not read learns of the reset when it writes
    const outcome = await Promise.race([closed.then(() => 'destroyed'), delay(10_000).then(() => 'still open')]);
    clearInterval(probe);
    socket.destroy();
    expect(outcome).toBe('destroyed');
  });

  it('keeps a keep-alive connection that reads its answers, while its requests come within handshakeTimeoutMs of each other', async () => {
    const server = await startServer({ handshakeTimeoutMs: 300 });
    servers.push(server);
    const socket = connect({ port: server.address()!.port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    let answers = '';
    socket.on('data', (chunk: Buffer) => (answers += chunk.toString()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    for (let i = 1; i <= 5; i++) {
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await until(() => answers.split('"nodeId"').length > i, 2000, `answer ${i}`);
      await delay(150);
    }
    expect(socket.destroyed).toBe(false);
    socket.destroy();
  });

  it('writes no answer to a /metrics request onto the WebSocket a request pipelined behind it opened, and keeps that socket past handshakeTimeoutMs', async () => {
    const registry = new Registry();
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    new Gauge({ name: 'slow_to_collect', help: 'answers when the spec says', registers: [registry], collect: () => gate });
    const server = await startServer({ handshakeTimeoutMs: 200, metrics: { registry } });
    servers.push(server);
    const { socket, received } = await pipelinedUpgrade(server, 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await until(() => received().toString('latin1').endsWith('\r\n\r\n'), 3000, 'the 101');
    const handshake = received().length;
    release();
    await registry.metrics();
    await delay(400);
    const answer = await answerToPing(socket, received, handshake);
    expect(received().subarray(0, handshake).toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    expect(answer).toEqual([0x8a, 0x00]);
  });

  it('keeps past handshakeTimeoutMs the WebSocket a request pipelined behind an answered /healthz opened', async () => {
    const server = await startServer({ handshakeTimeoutMs: 200 });
    servers.push(server);
    const { socket, received } = await pipelinedUpgrade(server, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await until(() => /HTTP\/1\.1 101 [^]*\r\n\r\n$/.test(received().toString('latin1')), 3000, 'the 101');
    const handshake = received().length;
    await delay(400);
    expect(await answerToPing(socket, received, handshake)).toEqual([0x8a, 0x00]);
  });

  it('counts handshakes in progress against maxConnections, and accepts again once they are gone', async () => {
    const server = await startServer({ handshakeTimeoutMs: 400, maxConnections: 2 });
    servers.push(server);
    const stalled = await Promise.all([stall(server), stall(server)]);
    await expect(open(wsUrl(server))).rejects.toThrow();
    await Promise.all(stalled.map((one) => one.closedAfterMs));
    const client = await connectAs(server, 'patient');
    client.send({ type: 'ping', ts: 1 });
    await client.nextOfType('pong');
    await client.close();
  });

  it('refuses a handshake token whose verification has not answered within auth.timeoutMs as the message mode does: error TIMEOUT (not AUTHENTICATION_FAILED), then 4001', async () => {
    const server = await startServer({ auth: { modes: ['query'], timeoutMs: 200, verify: () => new Promise(() => undefined) } });
    servers.push(server);
    const client = await open(`${wsUrl(server)}?token=never-answered`);
    expect(await client.closed).toEqual({ code: 4001, reason: 'authentication timeout' });
    expect(client.ofType('error').map((frame) => frame.code)).toEqual(['TIMEOUT']);
  });

  it('counts handshakes whose token is being verified against maxConnections, and accepts again once they are answered', async () => {
    const answers: Array<() => void> = [];
    const server = await startServer({
      maxConnections: 1,
      auth: {
        modes: ['query'],
        verify: (token) => new Promise((resolve) => answers.push(() => resolve({ userId: token }))),
      },
    });
    servers.push(server);
    const first = open(`${wsUrl(server)}?token=first`);
    await until(() => answers.length === 1);
    const refused = await open(`${wsUrl(server)}?token=second`);
    expect(await refused.closed).toEqual({ code: 1013, reason: 'server is at its connection limit' });
    answers[0]!();
    const accepted = await first;
    await accepted.close();
    await until(() => server.connections === 0);
    const third = open(`${wsUrl(server)}?token=third`);
    await until(() => answers.length === 2);
    answers[1]!();
    const client = await third;
    client.send({ type: 'ping', ts: 1 });
    await client.nextOfType('pong');
    await client.close();
  });

  it('refuses with 503, when it begins to close, a handshake whose token verification never answers: close() does not wait for auth.timeoutMs', async () => {
    let calls = 0;
    const server = await startServer({
      shutdownTimeoutMs: 100,
      auth: {
        modes: ['query'],
        timeoutMs: 60_000,
        verify: () => {
          calls += 1;
          return new Promise(() => undefined);
        },
      },
    });
    servers.push(server);
    const refused = open(`${wsUrl(server)}?token=never-answered`);
    await until(() => calls === 1);
    const closing = server.close();
    await expect(refused).rejects.toMatchObject({ status: 503 });
    const outcome = await Promise.race([closing.then(() => 'closed'), delay(3000).then(() => 'still closing')]);
    expect(outcome).toBe('closed');
  });

  it('refuses with 503 a handshake whose token was still being verified when the server began to close', async () => {
    const answers: Array<() => void> = [];
    const server = await startServer({
      shutdownTimeoutMs: 1_000,
      auth: { modes: ['query'], verify: (token) => new Promise((resolve) => answers.push(() => resolve({ userId: token }))) },
    });
    servers.push(server);
    const early = open(`${wsUrl(server)}?token=early`);
    await until(() => answers.length === 1);
    answers[0]!();
    const stuck = await early;
    (stuck.ws as unknown as { _socket: Socket })._socket.pause(); // the close waits for this socket meanwhile
    const refused = open(`${wsUrl(server)}?token=late`);
    await until(() => answers.length === 2);
    const closing = server.close();
    answers[1]!();
    await expect(refused).rejects.toMatchObject({ status: 503 });
    (stuck.ws as unknown as { _socket: Socket })._socket.resume();
    await closing;
  });
});
