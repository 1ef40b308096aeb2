import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { JSON_SUBPROTOCOL } from '../protocol/wire.js';
import { AuthenticationError, handshakeToken, loggableProtocols, offeredProtocols, type Authenticate } from './auth.js';
import { CloseCode } from '../protocol/wire.js';
import type { HandshakeAuth } from './connection.js';
import { errorText, loggableUrl, type Logger } from './logger.js';
import type { ResolvedServerOptions } from './options.js';
import { checkOrigin } from './origin.js';

/** What is logged about a handshake: never its query string nor a token subprotocol. */
export interface HandshakeMeta {
  ip: string | undefined;
  path: string;
  protocols: string[];
}

export interface UpgradeContext {
  options: ResolvedServerOptions;
  logger: Logger;
  authenticate: Authenticate;
  /** Other listeners may serve upgrades to other paths (attached server). */
  sharesUpgrades: () => boolean;
  isClosing: () => boolean;
  openConnections: () => number;
  /** Ms the remote address must wait (its unauthenticated budget is spent), or 0. */
  addressWait: (address: string) => number;
  accept: (ws: WebSocket, handshake: HandshakeAuth, meta: HandshakeMeta) => void;
}

export function rejectHttp(socket: Duplex, status: number): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const text = STATUS_CODES[status] ?? 'Error';
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new AuthenticationError(message)), ms).unref()));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The HTTP `upgrade` listener: path, Origin and connection-limit checks, verification of a token carried
 * by the handshake, then the WebSocket upgrade itself (which `ws` refuses with 400 for bad keys or versions).
 */
export function createUpgradeHandler(ctx: UpgradeContext): {
  onUpgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Refuses with 503 the handshakes whose token is being verified. */
  close: () => void;
  /** Handshakes whose token is being verified. */
  pending: () => number;
} {
  const { options, logger } = ctx;
  /** Sockets whose handshake token is being verified: refused with 503 when the server closes. */
  const verifying = new Set<Duplex>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayload,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(JSON_SUBPROTOCOL) ? JSON_SUBPROTOCOL : false),
  });

  const upgradeThenClose = (request: IncomingMessage, socket: Duplex, head: Buffer, code: number, reason: string) => {
    wss.handleUpgrade(request, socket, head, (ws) => {
      ws.on('error', () => undefined);
      ws.close(code, reason);
      setTimeout(() => ws.terminate(), 2000).unref();
    });
  };

  const verifyHandshake = async (request: IncomingMessage, socket: Duplex): Promise<HandshakeAuth> => {
    const carried = handshakeToken(request, options.auth.modes, options.auth.queryParam);
    if (!carried) return { kind: 'none' };
    verifying.add(socket);
    try {
      const identity = await withTimeout(ctx.authenticate(carried.token), options.auth.timeoutMs, 'authentication timeout');
      return { kind: 'ok', identity, mode: carried.mode };
    } catch (error) {
      return { kind: 'failed', reason: error instanceof AuthenticationError ? error.message : 'token rejected', mode: carried.mode };
    } finally {
      verifying.delete(socket);
    }
  };

  const upgrade = async (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const meta: HandshakeMeta = { ip: request.socket.remoteAddress, path: loggableUrl(request.url), protocols: loggableProtocols(offeredProtocols(request)) };
    const origin = checkOrigin(request.headers.origin, options.origin);
    if (!origin.ok) {
      logger.warn({ ...meta, reason: origin.reason }, 'origin rejected');
      if (options.originRejection === 'http') rejectHttp(socket, 403);
      else upgradeThenClose(request, socket, head, CloseCode.PolicyViolation, origin.reason);
      return;
    }
    const wait = ctx.addressWait(request.socket.remoteAddress ?? '');
    if (wait > 0) {
      logger.warn(meta, 'address over its unauthenticated rate limit');
      upgradeThenClose(request, socket, head, CloseCode.RateLimited, `rate limited; retry_after=${Math.max(1, Math.ceil(wait / 1000))}`);
      return;
    }
    if (ctx.openConnections() + verifying.size >= options.maxConnections) {
      logger.warn(meta, 'connection limit reached');
      upgradeThenClose(request, socket, head, CloseCode.TryAgainLater, 'server is at its connection limit');
      return;
    }
    const handshake = await verifyHandshake(request, socket);
    if (ctx.isClosing()) {
      rejectHttp(socket, 503);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => ctx.accept(ws, handshake, meta));
  };

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    if (options.path !== undefined && (request.url ?? '/').split('?')[0] !== options.path) {
      if (!ctx.sharesUpgrades()) rejectHttp(socket, 404);
      return;
    }
    if (ctx.isClosing()) {
      rejectHttp(socket, 503);
      return;
    }
    upgrade(request, socket, head).catch((error: unknown) => {
      logger.error({ err: errorText(error) }, 'upgrade failed');
      socket.destroy();
    });
  };

  const close = () => {
    for (const socket of verifying) rejectHttp(socket, 503);
    verifying.clear();
    wss.close();
  };
  return { onUpgrade, close, pending: () => verifying.size };
}
