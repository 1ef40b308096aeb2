import { createServer as createHttpServer, STATUS_CODES, type IncomingMessage, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import { AuthenticationError, createAuthenticator, handshakeToken, loggableProtocols, offeredProtocols, SUBPROTOCOL } from './auth.js';
import { MemoryBackend } from './backend/memory.js';
import { RedisBackend } from './backend/redis.js';
import type { Backend } from './backend/types.js';
import { BROADCAST_ALL_CHANNEL, ChannelAuthorizer, isChannelName, userChannel } from './channels.js';
import { ServerCloseCode } from './close-codes.js';
import { Connection, type ConnectionContext, type HandshakeAuth } from './connection.js';
import { handleHttpRequest, type HealthReport, type HttpEndpoints } from './http-endpoints.js';
import { Hub } from './hub.js';
import { loggableUrl } from './logger.js';
import { createMetrics } from './metrics.js';
import { resolveOptions, type ResolvedOptions, type ServerOptions } from './options.js';
import { checkOrigin } from './origin.js';

/** Where a server-side publish landed. */
export interface PublishResult {
  seq: number;
  /** True when the `id` was already published inside the dedup window (nothing was delivered again). */
  duplicate: boolean;
}

/** A running reference server. */
export interface SocketchartServer {
  /** This node's id. */
  readonly nodeId: string;
  /** Open sockets on this node (authenticated or not). */
  readonly connections: number;
  /** The per-server Prometheus registry (also served at `metricsPath`). */
  readonly metrics: Registry;
  /** The listening address (of the attached server when attached). */
  address(): AddressInfo | null;
  /** Publishes a numbered message to a channel, as the server (no authorization, `from` absent). */
  broadcast(ch: string, data: unknown, event?: string, options?: { id?: string }): Promise<PublishResult>;
  /** Publishes to `user:<userId>`, which every connection of the user receives (on every node). */
  sendToUser(userId: string, data: unknown, event?: string): Promise<PublishResult>;
  /** Publishes to `broadcast:all`, which every connection receives (on every node). */
  broadcastAll(data: unknown, event?: string): Promise<PublishResult>;
  /** Closes every socket of the user, on every node, with 4001. */
  logout(userId: string, reason?: string): Promise<void>;
  health(): HealthReport;
  /**
   * Graceful shutdown: stops accepting, closes every socket with 1012, waits for them (at most
   * `shutdownTimeoutMs`, then terminates), announces presence leaves, releases Redis and the HTTP server.
   */
  close(): Promise<void>;
}

/**
 * Creates the reference server: validates `options` (throwing `InvalidOptionError` naming the option),
 * starts the backend, and listens on its own port or attaches to `options.server`.
 */
export function createServer(options: ServerOptions): Promise<SocketchartServer> {
  return start(resolveOptions(options));
}

function rejectHttp(socket: Duplex, status: number): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const text = STATUS_CODES[status] ?? 'Error';
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}

function createBackend(options: ResolvedOptions): Backend {
  const { historySize, historyTtlMs, dedupWindowMs } = options;
  if (!options.redis) return new MemoryBackend({ historySize, historyTtlMs, dedupWindowMs });
  return new RedisBackend({ redis: options.redis, nodeId: options.nodeId, historySize, historyTtlMs, dedupWindowMs, logger: options.logger });
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new AuthenticationError(message)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function start(options: ResolvedOptions): Promise<SocketchartServer> {
  const { nodeId } = options;
  const logger = options.logger.child({ node: nodeId });
  const metrics = createMetrics({ prefix: options.metrics.prefix, defaultMetrics: options.metrics.defaultMetrics, ...(options.metrics.registry ? { registry: options.metrics.registry } : {}) });
  const backend = createBackend({ ...options, logger });
  const hub = new Hub({
    backend,
    authorizer: new ChannelAuthorizer(options.channels),
    metrics,
    logger,
    historySize: options.historySize,
    maxSubscriptions: options.maxSubscriptionsPerConnection,
    typingTimeoutMs: options.typingTimeoutMs,
    implicitChannels: options.implicitChannels,
  });
  const authenticate = createAuthenticator({
    clockToleranceSec: options.auth.clockToleranceSec,
    ...(options.auth.jwtSecret === undefined ? {} : { jwtSecret: options.auth.jwtSecret }),
    ...(options.auth.verify === undefined ? {} : { verify: options.auth.verify }),
    ...(options.auth.issuer === undefined ? {} : { issuer: options.auth.issuer }),
    ...(options.auth.audience === undefined ? {} : { audience: options.auth.audience }),
  });
  await backend.start(hub);

  const connections = new Set<Connection>();
  const startedAt = Date.now();
  let pendingUpgrades = 0;
  let closing: Promise<void> | undefined;
  const ctx: ConnectionContext = {
    options,
    hub,
    metrics,
    logger,
    authenticate,
    onClosed: (connection) => {
      connections.delete(connection);
      metrics.connections.set(connections.size);
    },
  };

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayload,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });

  const upgradeThenClose = (request: IncomingMessage, socket: Duplex, head: Buffer, code: number, reason: string) => {
    wss.handleUpgrade(request, socket, head, (ws) => {
      ws.on('error', () => undefined);
      ws.close(code, reason);
      setTimeout(() => ws.terminate(), 2000).unref();
    });
  };

  const acceptUpgrade = async (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const meta = { ip: request.socket.remoteAddress, path: loggableUrl(request.url), protocols: loggableProtocols(offeredProtocols(request)) };
    const origin = checkOrigin(request.headers.origin, options.origin);
    if (!origin.ok) {
      logger.warn({ ...meta, reason: origin.reason }, 'origin rejected');
      if (options.originRejection === 'http') rejectHttp(socket, 403);
      else upgradeThenClose(request, socket, head, ServerCloseCode.PolicyViolation, origin.reason);
      return;
    }
    if (connections.size + pendingUpgrades >= options.maxConnections) {
      logger.warn(meta, 'connection limit reached');
      upgradeThenClose(request, socket, head, ServerCloseCode.TryAgainLater, 'server is at its connection limit');
      return;
    }
    let handshake: HandshakeAuth = { kind: 'none' };
    const carried = handshakeToken(request, options.auth.modes, options.auth.queryParam);
    if (carried) {
      pendingUpgrades += 1;
      try {
        const identity = await withTimeout(authenticate(carried.token), options.auth.timeoutMs, 'authentication timeout');
        handshake = { kind: 'ok', identity, mode: carried.mode };
      } catch (error) {
        handshake = { kind: 'failed', reason: error instanceof AuthenticationError ? error.message : 'token rejected', mode: carried.mode };
      } finally {
        pendingUpgrades -= 1;
      }
    }
    if (closing) {
      rejectHttp(socket, 503);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      const connection = new Connection(ws, ctx, nodeId);
      connections.add(connection);
      metrics.connections.set(connections.size);
      metrics.connectionsOpened.inc();
      logger.info({ ...meta, conn: connection.id, tokenMode: handshake.kind === 'none' ? 'message' : handshake.mode }, 'connection opened');
      connection.start(handshake);
    });
  };

  const ownServer = options.server === undefined;
  const httpServer = options.server ?? createHttpServer();

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    if (options.path !== undefined && (request.url ?? '/').split('?')[0] !== options.path) {
      if (!ownServer && httpServer.listenerCount('upgrade') > 1) return;
      rejectHttp(socket, 404);
      return;
    }
    if (closing) {
      rejectHttp(socket, 503);
      return;
    }
    acceptUpgrade(request, socket, head).catch((error: unknown) => {
      logger.error({ err: String(error) }, 'upgrade failed');
      socket.destroy();
    });
  };

  const health = (): HealthReport => {
    const backendUp = backend.isUp();
    return {
      status: closing ? 'shutting_down' : backendUp ? 'ok' : 'degraded',
      nodeId,
      backend: backend.kind,
      backendUp,
      connections: connections.size,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
    };
  };
  const endpoints: HttpEndpoints = { healthPath: options.healthPath, metricsPath: options.metricsPath, registry: metrics.registry, health };
  const serveEndpoints = options.healthPath !== false || options.metricsPath !== false;
  const previousRequestListeners = ownServer ? [] : (httpServer.listeners('request') as RequestListener[]);
  const onRequest: RequestListener = (request, response) => {
    if (serveEndpoints && handleHttpRequest(endpoints, request, response)) return;
    if (ownServer) {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('Not Found');
      return;
    }
    for (const listener of previousRequestListeners) listener.call(httpServer, request, response);
  };
  if (!ownServer) httpServer.removeAllListeners('request');
  httpServer.on('request', onRequest);
  httpServer.on('upgrade', onUpgrade);

  const stopHttp = async () => {
    httpServer.off('upgrade', onUpgrade);
    httpServer.off('request', onRequest);
    if (!ownServer) {
      for (const listener of previousRequestListeners) httpServer.on('request', listener);
    }
  };

  if (ownServer) {
    try {
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(options.port, options.host, () => {
          httpServer.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      await stopHttp();
      await backend.close();
      throw error;
    }
    httpServer.on('error', (error) => logger.error({ err: error.message }, 'http server error'));
  }

  const timers: NodeJS.Timeout[] = [];
  if (options.heartbeatIntervalMs > 0) {
    timers.push(
      setInterval(() => {
        const now = Date.now();
        connections.forEach((connection) => connection.ping(now, options.heartbeatIntervalMs));
      }, options.heartbeatIntervalMs),
    );
  }
  if (options.idleTimeoutMs > 0) {
    timers.push(
      setInterval(() => {
        const now = Date.now();
        connections.forEach((connection) => connection.closeIfIdle(now, options.idleTimeoutMs));
      }, Math.max(50, Math.floor(options.idleTimeoutMs / 4))),
    );
  }
  timers.forEach((timer) => timer.unref());

  logger.info({ address: httpServer.address(), backend: backend.kind }, 'server started');

  const publish = async (ch: string, data: unknown, event?: string, id?: string): Promise<PublishResult> => {
    if (!isChannelName(ch)) throw new TypeError(`Invalid channel name ${JSON.stringify(ch.slice(0, 60))}: expected type:id[:sub]`);
    if (closing) throw new Error('The server is shutting down');
    const result = await hub.append(ch, data, event, id, undefined);
    return { seq: result.seq, duplicate: result.duplicate };
  };

  const shutdown = async () => {
    logger.info({ connections: connections.size }, 'shutting down');
    timers.forEach((timer) => clearInterval(timer));
    const httpClosed = ownServer ? new Promise<void>((resolve) => httpServer.close(() => resolve())) : Promise.resolve();
    httpServer.off('upgrade', onUpgrade);
    const open = [...connections];
    for (const connection of open) {
      connection.closeWith(ServerCloseCode.ServiceRestart, 'server restart', undefined, options.shutdownTimeoutMs);
    }
    await Promise.all(open.map((connection) => connection.closed));
    await backend.close();
    await stopHttp();
    if (ownServer) {
      httpServer.closeAllConnections();
      await httpClosed;
    }
    wss.close();
    logger.info('server closed');
  };

  return {
    nodeId,
    get connections() {
      return connections.size;
    },
    metrics: metrics.registry,
    address: () => {
      const address = httpServer.address();
      return address !== null && typeof address === 'object' ? address : null;
    },
    broadcast: (ch, data, event, publishOptions) => publish(ch, data, event, publishOptions?.id),
    sendToUser: (userId, data, event) => publish(userChannel(userId), data, event),
    broadcastAll: (data, event) => publish(BROADCAST_ALL_CHANNEL, data, event),
    logout: async (userId, reason = 'logged out') => {
      hub.globalSignal({ kind: 'logout', userId, reason });
      if (backend.kind === 'redis') await backend.signalGlobal({ kind: 'logout', userId, reason });
    },
    health,
    close: () => (closing ??= shutdown()),
  };
}
