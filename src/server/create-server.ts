import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { BROADCAST_ALL_CHANNEL, isChannelName, userChannel } from './channels.js';
import { isUserId, USER_ID_RULE } from './user-id.js';
import { CloseCode } from '../protocol/wire.js';
import { ErrorCode, InvalidOptionError, SocketchartError } from '../protocol/errors.js';
import { ServerConnection, type ConnectionContext } from './connection.js';
import { attachHttpEndpoints, type HealthReport } from './http-endpoints.js';
import { createNodeParts } from './node-parts.js';
import { resolveOptions, type ResolvedServerOptions, type ServerOptions } from './options.js';
import { registerStateSizes } from './state-sizes.js';
import { HandshakeGuard } from './handshake-guard.js';
import { createUpgradeHandler } from './upgrade.js';

/** How often full rate-limit buckets and quiet flood counts are forgotten. */
const LIMIT_SWEEP_MS = 5000;

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
  /** The Prometheus registry of its metrics (also served at `metricsPath`): `metrics.registry`, else one per server. `close()` takes them off it. */
  readonly metrics: Registry;
  /** The listening address (of the attached server when attached). */
  address(): AddressInfo | null;
  /** Publishes a numbered message to a channel, as the server (no authorization, `from` absent). */
  broadcast(ch: string, data: unknown, event?: string, options?: { id?: string }): Promise<PublishResult>;
  /** Publishes to `user:<userId>`, which every connection of the user receives (on every node); an invalid user id rejects with InvalidOptionError. */
  sendToUser(userId: string, data: unknown, event?: string): Promise<PublishResult>;
  /** Publishes to `broadcast:all`, which every connection receives (on every node). */
  broadcastAll(data: unknown, event?: string): Promise<PublishResult>;
  /** Closes every socket of the user, on every node, with 4001. */
  logout(userId: string, reason?: string): Promise<void>;
  health(): HealthReport;
  /**
   * Graceful shutdown: stops accepting, closes every socket with 1012, waits for them (at most
   * `shutdownTimeoutMs`, then terminates), announces presence leaves, releases Redis and the HTTP server,
   * and takes its metrics off their registry.
   */
  close(): Promise<void>;
}

/**
 * Creates the reference server: validates `options` (throwing `InvalidOptionError` naming the option),
 * starts the backend, and listens on its own port or attaches to `options.server`. A failed start leaves
 * nothing on `options.metrics.registry`.
 */
export function createServer(options: ServerOptions): Promise<SocketchartServer> {
  return start(resolveOptions(options));
}

function guarded(connection: ServerConnection, task: () => void): void {
  try {
    task();
  } catch (error) {
    connection.fail(error);
  }
}

function listen(server: ReturnType<typeof createHttpServer>, port: number | undefined, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function start(options: ResolvedServerOptions): Promise<SocketchartServer> {
  const { nodeId } = options;
  const { logger, metrics, limits, backend, hub, authenticate, clock } = createNodeParts(options);
  try {
    await backend.start(hub);
  } catch (error) {
    metrics.unregister();
    throw error;
  }

  const connections = new Set<ServerConnection>();
  const startedAt = clock.now();
  let closing: Promise<void> | undefined;
  const ctx: ConnectionContext = {
    options,
    hub,
    metrics,
    logger,
    authenticate,
    limits,
    clock,
    onClosed: (connection) => {
      connections.delete(connection);
      metrics.connections.set(connections.size);
    },
  };

  const ownServer = options.server === undefined;
  const handshakes = new HandshakeGuard(options.handshakeTimeoutMs);
  const httpServer = options.server ?? createHttpServer();
  const upgrades = createUpgradeHandler({
    options,
    logger,
    authenticate,
    sharesUpgrades: () => !ownServer && httpServer.listenerCount('upgrade') > 1,
    isClosing: () => closing !== undefined,
    openConnections: () => connections.size + handshakes.size,
    addressWait: (address) => limits.addressWait(address),
    chargeAddress: (address) => void limits.chargeAddress(address),
    accept: (ws, handshake, meta) => {
      const connection = new ServerConnection(ws, ctx, nodeId, meta.ip ?? '');
      connections.add(connection);
      metrics.connections.set(connections.size);
      metrics.connectionsOpened.inc();
      logger.info({ ...meta, conn: connection.id, tokenMode: handshake.kind === 'none' ? 'message' : handshake.mode }, 'connection opened');
      connection.start(handshake);
    },
  });

  const health = (): HealthReport => {
    const backendUp = backend.isUp();
    return {
      status: closing ? 'shutting_down' : backendUp ? 'ok' : 'degraded',
      nodeId,
      backend: backend.kind,
      backendUp,
      connections: connections.size,
      uptimeSeconds: Math.round((clock.now() - startedAt) / 1000),
    };
  };
  const upgraded = new WeakSet<Socket>();
  const detachHttp = attachHttpEndpoints(httpServer, ownServer, {
    healthPath: options.healthPath,
    metricsPath: options.metricsPath,
    registry: metrics.registry,
    health,
    upgraded: (socket) => upgraded.has(socket),
  });
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgraded.add(request.socket);
    if (ownServer) handshakes.settled(request.socket);
    upgrades.onUpgrade(request, socket, head);
  };
  httpServer.on('upgrade', onUpgrade);
  if (ownServer) {
    httpServer.on('connection', (socket: Socket) => handshakes.opened(socket, handshakes.size < Math.max(1, options.maxConnections - connections.size - upgrades.pending())));
    httpServer.on('request', (request: IncomingMessage, response: ServerResponse) => {
      handshakes.watch(request.socket);
      response.once('finish', () => {
        if (!upgraded.has(request.socket)) handshakes.watch(request.socket);
      });
    });
  }

  if (ownServer) {
    try {
      await listen(httpServer, options.port, options.host);
    } catch (error) {
      httpServer.off('upgrade', onUpgrade);
      handshakes.close();
      detachHttp();
      await upgrades.close();
      await backend.close();
      metrics.unregister();
      throw error;
    }
    httpServer.on('error', (error) => logger.error({ err: error.message }, 'http server error'));
  }

  const timers: NodeJS.Timeout[] = [];
  if (options.heartbeatIntervalMs > 0) {
    timers.push(
      setInterval(() => {
        const now = clock.now();
        connections.forEach((connection) => guarded(connection, () => connection.ping(now, options.heartbeatIntervalMs)));
      }, options.heartbeatIntervalMs),
    );
  }
  if (options.idleTimeoutMs > 0) {
    timers.push(
      setInterval(
        () => {
          const now = clock.now();
          connections.forEach((connection) => guarded(connection, () => connection.closeIfIdle(now, options.idleTimeoutMs)));
        },
        Math.max(50, Math.floor(options.idleTimeoutMs / 4)),
      ),
    );
  }
  timers.push(setInterval(() => limits.sweep(), LIMIT_SWEEP_MS));
  timers.forEach((timer) => timer.unref());
  logger.info({ address: httpServer.address(), backend: backend.kind }, 'server started');

  const publish = async (ch: string, data: unknown, event?: string, id?: string): Promise<PublishResult> => {
    if (!isChannelName(ch)) throw new InvalidOptionError('ch', 'a channel name type:id[:sub], e.g. "jobs:all"', typeof ch === 'string' ? ch.slice(0, 60) : ch);
    if (closing) throw new SocketchartError(ErrorCode.CLOSED, { message: 'The server is shutting down', recovery: 'none' });
    const result = await hub.append(ch, data, event, id, undefined);
    if (result.outcome !== 'stored') throw new SocketchartError(ErrorCode.RATE_LIMIT_EXCEEDED, { message: 'A server publish was refused by a rate limit' });
    return { seq: result.seq, duplicate: result.duplicate };
  };

  const shutdown = async () => {
    logger.info({ connections: connections.size }, 'shutting down');
    timers.forEach((timer) => clearInterval(timer));
    const httpClosed = ownServer ? new Promise<void>((resolve) => httpServer.close(() => resolve())) : Promise.resolve();
    httpServer.off('upgrade', onUpgrade);
    handshakes.close();
    const refused = upgrades.close();
    const open = [...connections];
    for (const connection of open) connection.closeWith(CloseCode.ServiceRestart, 'server restart', undefined, options.shutdownTimeoutMs);
    await Promise.all([refused, ...open.map((connection) => connection.closed)]);
    hub.close();
    await backend.close();
    detachHttp();
    if (ownServer) {
      httpServer.closeAllConnections();
      await httpClosed;
    }
    metrics.unregister();
    logger.info('server closed');
  };

  const server: SocketchartServer = {
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
    sendToUser: async (userId, data, event) => {
      if (!isUserId(userId)) throw new InvalidOptionError('userId', `a user id of ${USER_ID_RULE}`, typeof userId === 'string' ? userId.slice(0, 60) : userId);
      return publish(userChannel(userId), data, event);
    },
    broadcastAll: (data, event) => publish(BROADCAST_ALL_CHANNEL, data, event),
    logout: async (userId, reason = 'logged out') => {
      hub.globalSignal({ kind: 'logout', userId, reason });
      if (backend.kind === 'redis') await backend.signalGlobal({ kind: 'logout', userId, reason });
    },
    health,
    close: () => (closing ??= shutdown()),
  };
  registerStateSizes(server, () => ({
    connections: connections.size,
    pendingHandshakes: handshakes.size + upgrades.pending(),
    ...hub.sizes(),
    ...backend.sizes(),
    ...limits.sizes(),
  }));
  return server;
}
