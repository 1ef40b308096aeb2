import { createServer as createHttpServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { InvalidOptionError } from '../../../src/protocol/errors.js';
import { createServer, type ServerOptions } from '../../../src/server/index.js';
import { dependencies, MissingDependencyError } from '../../../src/server/dependencies.js';
import { connectAs, delay, eventually, httpUrl, metricValue, mintToken, open, SECRET, silentLogger, startServer, wsUrl } from './helpers.js';

const validOptions = (): ServerOptions => ({ port: 0, auth: { jwtSecret: SECRET }, logger: silentLogger() });

describe('lifecycle: options, graceful shutdown, health and metrics, attaching to a server', () => {
  it.each([
    [{ maxPayload: -1 }, 'maxPayload'],
    [{ maxPayloads: 10 }, 'maxPayloads'],
    [{ auth: {} }, 'auth'],
    [{ auth: { jwtSecret: 'too-short' } }, 'auth.jwtSecret'],
    [{ auth: { jwtSecret: SECRET, modes: ['cookie'] } }, 'auth.modes[0]'],
    [{ auth: { jwtSecret: SECRET, verify: 'yes' } }, 'auth.verify'],
    [{ channels: [{ pattern: 'a:b:c:d', subscribe: true }] }, 'channels[0].pattern'],
    [{ channels: [{ pattern: 'chat:*', subscribe: 'yes' }] }, 'channels[0].subscribe'],
    [{ allowedOrigins: ['not an origin'] }, 'allowedOrigins[0]'],
    [{ allowedOrigins: ['https://app.example.com/path'] }, 'allowedOrigins[0]'],
    [{ rateLimits: { chat: { perMinute: 120, burst: 0 } } }, 'rateLimits.chat.burst'],
    [{ port: undefined }, 'port'],
    [{ port: 70000 }, 'port'],
    [{ redis: 'http://127.0.0.1:6379' }, 'redis'],
    [{ redis: { nodeHeartbeatMs: 1000, nodeTimeoutMs: 500 } }, 'redis.nodeTimeoutMs'],
    [{ logger: console }, 'logger'],
    [{ healthPath: 'healthz' }, 'healthPath'],
  ])('refuses invalid options at creation, naming the option (%j → %s)', (patch, option) => {
    const attempt = () => createServer({ ...validOptions(), ...(patch as Partial<ServerOptions>) });
    expect(attempt).toThrow(InvalidOptionError);
    expect(attempt).toThrow(new RegExp(`\`${option.replace(/[[\].]/g, '\\$&')}\``));
    try {
      attempt();
    } catch (error) {
      expect((error as InvalidOptionError).option).toBe(option);
    }
  });

  it('rejects when the port is taken, and leaks nothing', async () => {
    const first = await startServer();
    await expect(startServer({ port: first.address()!.port })).rejects.toThrow(/EADDRINUSE/);
    await first.close();
  });

  it('creates a server again on the same registry once the previous one has closed', async () => {
    const registry = new Registry();
    const first = await startServer({ metrics: { registry } });
    await first.close();
    const again = await startServer({ metrics: { registry } });
    expect(registry.getSingleMetric('socketchart_connections')).toBeDefined();
    await again.close();
  });

  it('takes its metrics off the registry it was given when it closes', async () => {
    const registry = new Registry();
    const server = await startServer({ metrics: { registry, defaultMetrics: true } });
    expect(registry.getSingleMetric('socketchart_connections')).toBeDefined();
    await server.close();
    expect(registry.getMetricsAsArray().map((metric) => metric.name), 'a closed server exports nothing').toEqual([]);
  });

  it('leaves the registry it was given empty when it fails to listen, so a retry can register', async () => {
    const taken = await startServer();
    const registry = new Registry();
    await expect(startServer({ port: taken.address()!.port, metrics: { registry } })).rejects.toThrow(/EADDRINUSE/);
    expect(registry.getMetricsAsArray().map((metric) => metric.name), 'nothing left behind by the failed start').toEqual([]);
    const retry = await startServer({ metrics: { registry } });
    await Promise.all([retry.close(), taken.close()]);
  });

  it('leaves the registry it was given empty when its backend fails to start', async () => {
    const registry = new Registry();
    await expect(startServer({ redis: { url: 'redis://127.0.0.1:1', connectTimeoutMs: 200 }, metrics: { registry } })).rejects.toThrow(/not reachable/);
    expect(registry.getMetricsAsArray().map((metric) => metric.name)).toEqual([]);
  });

  it.each([
    ['jose', 'require', {}],
    ['ioredis', 'load', { redis: 'redis://127.0.0.1:1' }],
  ] as const)('leaves the registry it was given empty when %s, which its options need, is not installed', async (name, method, patch) => {
    const missing = new MissingDependencyError([name], `${name} is not installed`);
    const spy = vi.spyOn(dependencies, method).mockImplementation(() => {
      throw missing;
    });
    try {
      const registry = new Registry();
      await expect(startServer({ ...patch, metrics: { registry } })).rejects.toBe(missing);
      expect(registry.getMetricsAsArray().map((metric) => metric.name), 'nothing left behind by the failed start').toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });

  it('serves /healthz with the node status and connection count', async () => {
    const server = await startServer({ nodeId: 'node-health' });
    const client = await connectAs(server, 'alice');
    const response = await fetch(httpUrl(server, '/healthz'));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', nodeId: 'node-health', backend: 'memory', backendUp: true, connections: 1 });
    await client.close();
    await server.close();
  });

  it('reports an uptime that a wall clock stepped back (NTP, a VM resumed) does not turn negative', async () => {
    const server = await startServer();
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 3_600_000 });
    try {
      expect(server.health().uptimeSeconds).toBeGreaterThanOrEqual(0);
    } finally {
      vi.useRealTimers();
    }
    await server.close();
  });

  it('serves Prometheus metrics at /metrics from a per-server registry', async () => {
    const server = await startServer();
    const other = await startServer();
    const alice = await connectAs(server, 'alice');
    alice.send({ type: 'subscribe', ch: 'chat:metrics' });
    await alice.nextOfType('subscribed');
    alice.send({ type: 'publish', ch: 'chat:metrics', id: 'm1', data: 1 });
    await alice.nextOfType('message', { ch: 'chat:metrics' });
    const response = await fetch(httpUrl(server, '/metrics'));
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(metricValue(text, 'socketchart_connections')).toBe(1);
    expect(metricValue(text, 'socketchart_messages_in_total', 'type="publish"')).toBe(1);
    expect(metricValue(text, 'socketchart_messages_out_total', 'type="message"')).toBe(1);
    expect(metricValue(text, 'socketchart_delivery_latency_seconds_count')).toBe(1);
    expect(text).toContain('socketchart_delivery_latency_seconds_bucket{le="0.005"}');
    const otherText = await (await fetch(httpUrl(other, '/metrics'))).text();
    expect(metricValue(otherText, 'socketchart_messages_in_total', 'type="publish"')).toBeUndefined();
    await alice.close();
    await Promise.all([server.close(), other.close()]);
  });

  it('shuts down gracefully: every socket is closed with 1012, then nothing is accepted', async () => {
    const server = await startServer();
    const url = wsUrl(server);
    const clients = await Promise.all(['a', 'b', 'c'].map((user) => connectAs(server, user)));
    await server.close();
    for (const client of clients) expect(await client.closed).toEqual({ code: 1012, reason: 'server restart' });
    expect(server.connections).toBe(0);
    await expect(open(url)).rejects.toThrow();
    await server.close();
  });

  it('terminates sockets that do not finish the close handshake within shutdownTimeoutMs', async () => {
    const server = await startServer({ shutdownTimeoutMs: 300 });
    const stuck = await connectAs(server, 'stuck');
    (stuck.ws as unknown as { _socket: Socket })._socket.pause();
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(server.connections).toBe(0);
    (stuck.ws as unknown as { _socket: Socket })._socket.resume();
    await stuck.closed;
  });

  it('ends within shutdownTimeoutMs a socket it refused whose client never answers the close frame', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const server = await startServer({ shutdownTimeoutMs: 100, allowedOrigins: ['https://app.example.com'] });
      const refused = connect({ port: server.address()!.port, host: '127.0.0.1' });
      refused.on('error', () => undefined);
      let answer = '';
      refused.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
      refused.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: https://evil.example.com\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
      while (!answer.includes('Origin not allowed')) await new Promise((resolve) => setImmediate(resolve));
      let closed = false;
      void server.close().then(() => (closed = true));
      vi.advanceTimersByTime(100);
      for (let turn = 0; turn < 1000 && !closed; turn++) await new Promise((resolve) => setImmediate(resolve));
      refused.destroy();
      expect(closed, 'close() resolved without waiting out the 2 s given to a refused client').toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('attaches to an existing http.Server: upgrades on its path, health and metrics, the app’s own routes untouched', async () => {
    const app: Server = createHttpServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end('app says hi');
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const server = await createServer({ server: app, path: '/ws', auth: { jwtSecret: SECRET }, logger: silentLogger(), channels: [{ pattern: '*:*', subscribe: true }] });
    const port = server.address()!.port;
    expect(await (await fetch(`http://127.0.0.1:${port}/anything`)).text()).toBe('app says hi');
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    await expect(open(`ws://127.0.0.1:${port}/elsewhere`)).rejects.toMatchObject({ status: 404 });
    const viaPath = await open(`ws://127.0.0.1:${port}/ws`);
    viaPath.send({ type: 'auth', token: await mintToken({ sub: 'alice' }) });
    await viaPath.nextOfType('auth_ok');
    await server.close();
    expect((await viaPath.closed).code).toBe(1012);
    expect(app.listening).toBe(true);
    expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).text()).toBe('app says hi');
    await new Promise<void>((resolve) => app.close(() => resolve()));
  });

  it('attached to a server that serves other upgrades (another WebSocket path), leaves those to the app', async () => {
    const app: Server = createHttpServer();
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const server = await createServer({ server: app, path: '/ws', auth: { jwtSecret: SECRET }, logger: silentLogger(), channels: [{ pattern: '*:*', subscribe: true }] });
    const other = new WebSocketServer({ noServer: true });
    other.on('connection', (ws) => ws.send('app socket'));
    app.on('upgrade', (request, socket, head) => {
      if (request.url === '/other') other.handleUpgrade(request, socket, head, (ws) => other.emit('connection', ws, request));
    });
    const port = server.address()!.port;
    const appClient = new WebSocket(`ws://127.0.0.1:${port}/other`);
    const greeting = await new Promise<string>((resolve, reject) => {
      appClient.once('message', (data) => resolve(String(data)));
      appClient.once('error', reject);
    });
    expect(greeting).toBe('app socket');
    appClient.close();
    await server.close();
    other.close();
    await new Promise<void>((resolve) => app.close(() => resolve()));
  });

  it('counts connections in the gauge and closes by code', async () => {
    const server = await startServer();
    const client = await connectAs(server, 'alice');
    await client.close();
    await eventually(() => server.connections === 0);
    await delay(10);
    const text = await server.metrics.metrics();
    expect(metricValue(text, 'socketchart_connections')).toBe(0);
    expect(metricValue(text, 'socketchart_connections_opened_total')).toBe(1);
    expect(metricValue(text, 'socketchart_connections_closed_total', 'code="1000"')).toBe(1);
    await server.close();
  });
});
