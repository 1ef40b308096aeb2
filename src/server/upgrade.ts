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
  /** The client's address: the socket's, or the one its trusted proxy forwards (`trustedProxies`). */
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
  /** Ms the client's address must wait (its unauthenticated budget is spent), or 0. */
  addressWait: (address: string) => number;
  /** Charges a refused or timed-out handshake token to the client's address (whether or not the upgrade then completes). */
  chargeAddress: (address: string) => void;
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

const TIMED_OUT = Symbol('timed out');
/** How long a refused socket's client has to answer its close frame. */
const REFUSED_GRACE_MS = 2000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms).unref()));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;
/** A `Sec-WebSocket-Protocol` header as `ws` parses it: tokens, split by commas with spaces or tabs around them. */
const PROTOCOL_LIST = /^[-!#$%&'*+.^_`|~0-9A-Za-z]+(?:[ \t]*,[ \t]*[-!#$%&'*+.^_`|~0-9A-Za-z]+)*$/;

/** What `ws` checks of a handshake before upgrading it: method, `Upgrade`, `Sec-WebSocket-Key`, `-Version` and `-Protocol` (no name twice). */
function upgradable(request: IncomingMessage): boolean {
  const version = Number(request.headers['sec-websocket-version']);
  const protocols = request.headers['sec-websocket-protocol'];
  return (
    request.method === 'GET' &&
    request.headers.upgrade?.toLowerCase() === 'websocket' &&
    WEBSOCKET_KEY.test(request.headers['sec-websocket-key'] ?? '') &&
    (version === 13 || version === 8) &&
    (protocols === undefined || (PROTOCOL_LIST.test(protocols) && new Set(offeredProtocols(request)).size === protocols.split(',').length))
  );
}

/**
 * The HTTP `upgrade` listener: the handshake's method, key, version and subprotocols (which `ws` refuses with 405 or 400),
 * path, Origin and connection-limit checks, verification of a token carried by the handshake, then the
 * WebSocket upgrade itself.
 */
export function createUpgradeHandler(ctx: UpgradeContext): {
  onUpgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Refuses with 503 the handshakes whose token is being verified; settles once every socket it refused is gone, terminating those still open `shutdownTimeoutMs` later. */
  close: () => Promise<void>;
  /** Handshakes whose token is being verified. */
  pending: () => number;
} {
  const { options, logger } = ctx;
  /** Sockets whose handshake token is being verified, each with what gives up waiting for it: refused with 503 when the server closes. */
  const verifying = new Map<Duplex, () => void>();
  /** Sockets refused with a close frame, oldest first, until their close handshake ends (or they are terminated). */
  const refused = new Set<WebSocket>();
  /** Past it, a new refusal terminates the oldest refused socket at once. */
  const refusedCap = Math.max(1, Math.ceil(options.maxConnections / 10));
  const endOldestRefused = () => {
    const [oldest] = refused;
    refused.delete(oldest!);
    oldest!.terminate();
  };
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
      if (refused.size >= refusedCap) endOldestRefused();
      const timer = setTimeout(() => ws.terminate(), REFUSED_GRACE_MS).unref();
      refused.add(ws);
      ws.once('close', () => {
        clearTimeout(timer);
        refused.delete(ws);
      });
    });
  };

  const verifyHandshake = async (request: IncomingMessage, socket: Duplex): Promise<HandshakeAuth> => {
    const carried = handshakeToken(request, options.auth.modes, options.auth.queryParam);
    if (!carried) return { kind: 'none' };
    const abandoned = new Promise<typeof TIMED_OUT>((resolve) => verifying.set(socket, () => resolve(TIMED_OUT)));
    try {
      const identity = await withTimeout(Promise.race([ctx.authenticate(carried.token), abandoned]), options.auth.timeoutMs);
      return identity === TIMED_OUT ? { kind: 'timeout', mode: carried.mode } : { kind: 'ok', identity, mode: carried.mode };
    } catch (error) {
      return { kind: 'failed', reason: error instanceof AuthenticationError ? error.message : 'token rejected', mode: carried.mode };
    } finally {
      verifying.delete(socket);
    }
  };

  const upgrade = async (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!upgradable(request)) {
      wss.handleUpgrade(request, socket, head, (ws) => ws.terminate()); // ws refuses it, as it would after a token check
      return;
    }
    const ip = options.trustedProxies.clientAddress(request.socket.remoteAddress, request.headers[options.trustedProxies.header]);
    const meta: HandshakeMeta = { ip, path: loggableUrl(request.url), protocols: loggableProtocols(offeredProtocols(request)) };
    const origin = checkOrigin(request.headers.origin, options.origin);
    if (!origin.ok) {
      logger.warn({ ...meta, reason: origin.reason }, 'origin rejected');
      if (options.originRejection === 'http') rejectHttp(socket, 403);
      else upgradeThenClose(request, socket, head, CloseCode.PolicyViolation, origin.reason);
      return;
    }
    const wait = ctx.addressWait(ip ?? '');
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
    if (handshake.kind === 'failed' || handshake.kind === 'timeout') ctx.chargeAddress(ip ?? '');
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

  const close = async () => {
    for (const [socket, abandon] of verifying) {
      rejectHttp(socket, 503);
      abandon();
    }
    verifying.clear();
    wss.close();
    if (refused.size === 0) return;
    const timer = setTimeout(() => refused.forEach((ws) => ws.terminate()), options.shutdownTimeoutMs);
    await Promise.all([...refused].map((ws) => new Promise((resolve) => ws.once('close', resolve))));
    clearTimeout(timer);
  };
  return { onUpgrade, close, pending: () => verifying.size };
}
