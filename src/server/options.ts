import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { randomUUID } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { TokenMode, VerifyToken } from './auth.js';
import { defaultChannelRules, type ChannelRule } from './channels.js';
import type { RateLimit } from '../policy/rate-limiter.js';
import { TrustedProxies, type ForwardedHeader } from './client-address.js';
import type { JsonBounds } from './json-bounds.js';
import { createDefaultLogger, type Logger } from './logger.js';
import { validateOptions } from './options-schema.js';
import { normalizeOrigin, type OriginPolicy } from './origin.js';
import { defaultRateLimits } from './rate-limit.js';
import { RetentionRules, type HistoryLimit } from './retention.js';

/** How tokens are checked and presented. */
export interface ServerAuthOptions {
  /** HS256 secret, at least 32 bytes. One of `jwtSecret` and `verify` is required. @default undefined */
  jwtSecret?: string | Uint8Array | undefined;
  /** Custom token check used instead of JWT verification; throw (or reject) to refuse the token. @default undefined */
  verify?: VerifyToken;
  /** Required `iss` claim of `jwtSecret` tokens; refused with `verify`, which checks its own claims. @default undefined (not checked) */
  issuer?: string;
  /** Required `aud` claim of `jwtSecret` tokens; refused with `verify`, which checks its own claims. @default undefined (not checked) */
  audience?: string;
  /** Clock skew tolerated on `exp` / `nbf` (and on the `expiresAt` of `verify`), in seconds, at most 300. @default 0 */
  clockToleranceSec?: number;
  /**
   * Refuse a token that never expires: a `jwtSecret` token without `exp`, or a `verify()` result without
   * `expiresAt`. Such a token keeps its socket authenticated for as long as it stays open.
   * @default false
   */
  requireExp?: boolean;
  /**
   * Accepted ways to present the token: `message` (the first frame is `auth {token}`), `subprotocol`
   * (`Sec-WebSocket-Protocol: socketchart.v1, socketchart.token.<token>`; only `socketchart.v1` is echoed)
   * and `query` (legacy `?token=`; never logged).
   * @default ['message', 'subprotocol']
   */
  modes?: readonly TokenMode[];
  /** Query parameter carrying the token in `query` mode. @default 'token' */
  queryParam?: string;
  /** How long a new socket may stay unauthenticated (in `message` mode; for a handshake token, how long its check may take) before it is closed with 4001. @default 10000 */
  timeoutMs?: number;
}

/**
 * Options handed to ioredis's `new Redis(options)` (see its `RedisOptions`): the common ones named here,
 * any other passed through as it is.
 */
export interface RedisConnectionOptions {
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  db?: number;
  /** TLS options (`tls.connect`'s); `rediss://` urls turn TLS on. */
  tls?: Record<string, unknown>;
  [option: string]: unknown;
}

/** Scale-out through Redis: fan-out (pub/sub), sequence numbers, history (streams) and presence. */
export interface RedisBackendOptions {
  /** `redis://` or `rediss://` URL. @default undefined (ioredis `options`, else 127.0.0.1:6379) */
  url?: string;
  /** ioredis options (host, port, password, tls, …); the server overrides the offline-queue, retry and lazy-connect settings it depends on. @default {} */
  options?: RedisConnectionOptions;
  /**
   * Prefix of every key and pub/sub channel, after an ioredis `keyPrefix` given in `options`. Pub/sub
   * ignores the database, so on a database other than 0 the channel names also carry its number.
   * @default 'socketchart:'
   */
  keyPrefix?: string;
  /** How often this node announces it is alive (and reaps dead nodes' presence). @default 5000 */
  nodeHeartbeatMs?: number;
  /** A node silent this long is dead: its presence entries are removed and leaves are broadcast. @default 15000 */
  nodeTimeoutMs?: number;
  /** How long `createServer` waits for Redis before it rejects. @default 10000 */
  connectTimeoutMs?: number;
  /** Timeout of one Redis command. @default 5000 */
  commandTimeoutMs?: number;
}

/** Prometheus settings. */
export interface ServerMetricsOptions {
  /** Prefix of every metric name. @default 'socketchart_' */
  prefix?: string;
  /** Registry to register on; `close()` (or a failed start) takes the server's metrics off it again. @default a new Registry per server */
  registry?: Registry;
  /** Also collect prom-client's default process metrics. @default false */
  defaultMetrics?: boolean;
}

/** Options of `createServer`. Every option is checked at creation; an invalid one throws an error naming it. */
export interface ServerOptions {
  /** Existing HTTP(S) server to attach to (upgrades, `/healthz`, `/metrics`); exclusive with `port`. @default undefined */
  server?: HttpServer | HttpsServer;
  /** Port to listen on when no `server` is given (0: any free port). @default undefined (one of `server` and `port` is required) */
  port?: number;
  /** Interface to listen on when no `server` is given. @default '127.0.0.1' */
  host?: string;
  /** Only upgrades to this path are accepted. @default undefined (any path) */
  path?: string;
  /** Token verification and token modes (required: `auth.jwtSecret` or `auth.verify`). @default none, required */
  auth: ServerAuthOptions;
  /** Origins allowed to connect, compared exactly (`scheme://host[:port]`, no wildcards: `https://*.example.com` is refused; `capacitor://localhost`, `chrome-extension://<id>` are origins too); `'*'` allows any. @default '*' */
  allowedOrigins?: '*' | readonly string[];
  /** Accept handshakes without `Origin`: browsers always send one, so these are non-browser clients (Node, mobile, servers), which an Origin check cannot protect or stop. @default true */
  allowMissingOrigin?: boolean;
  /** Accept `Origin: null`. @default false */
  allowNullOrigin?: boolean;
  /** How a refused Origin is answered: `close` (upgrade, then close 1008 so clients stop retrying) or `http` (403 at the upgrade). @default 'close' */
  originRejection?: 'close' | 'http';
  /** Channel authorization rules; an action is allowed when a matching rule grants it, denied otherwise. @default defaultChannelRules */
  channels?: readonly ChannelRule[];
  /**
   * Deliver `user:<userId>` and `broadcast:all` to every connection without a subscribe; a subscribe to one
   * (for its `since` replay) and an unsubscribe leave it delivered. @default true
   */
  implicitChannels?: boolean;
  /**
   * Rate limits of each connection, by channel type (plus `default` for every other type and `control` for frames
   * outside a channel), merged over `defaultRateLimits`.
   * @default defaultRateLimits
   */
  rateLimits?: Readonly<Record<string, RateLimit>>;
  /**
   * Rate limits of each user, by the same scopes, shared by all the user's connections (on every node, for
   * publishes, with Redis) and kept across reconnects; merged over the resolved `rateLimits`.
   * @default the resolved rateLimits
   */
  userRateLimits?: Readonly<Record<string, RateLimit>>;
  /** Limit per client address (see `trustedProxies`) on what it sends before authenticating: pings, refused frames, failed or timed-out authentications, and refused token refreshes. @default { perMinute: 300, burst: 60 } */
  unauthenticatedRateLimit?: RateLimit;
  /** Refused frames within 10 s (per user, or per address before authentication) after which the connection is closed with 4029. @default 50 */
  floodThreshold?: number;
  /**
   * Reverse proxies and load balancers (IPv4 or IPv6 addresses, CIDR ranges such as `10.0.0.0/8`, and
   * `loopback`, `linklocal`, `uniquelocal` for the private ranges) whose `forwardedHeader` names the client:
   * every per-address limit and log field takes the first hop from the right that is not one of them. A socket
   * from any other address is the client itself, whatever it forwards.
   * @default [] (no proxy trusted: the socket's remote address)
   */
  trustedProxies?: readonly string[];
  /**
   * The header the `trustedProxies` name the client in: `X-Forwarded-For`, or RFC 7239 `Forwarded` (the `for=`
   * of each element; `for="[2001:db8::1]:4711"`). Name the one the proxies write: the other one is the client's own.
   * @default 'x-forwarded-for'
   */
  forwardedHeader?: ForwardedHeader;
  /**
   * IPv6 clients are charged per-address limits by network: every address of one `/ipv6ClientPrefix` network is
   * one client, since a home, phone or server is given a whole network (at least a /64) to pick addresses from.
   * Logs show each client's own address. `128` charges each address alone.
   * @default 64
   */
  ipv6ClientPrefix?: number;
  /** Largest inbound frame in bytes; larger closes the socket with 1009. @default 65536 */
  maxPayload?: number;
  /** Deepest nesting of objects and arrays in an inbound frame (the frame itself is level 1); deeper frames are refused. @default 32 */
  maxFrameDepth?: number;
  /** Most object keys and array elements in one inbound frame, counted over the whole frame; more are refused. @default 10000 */
  maxFrameItems?: number;
  /**
   * Open sockets on this node (with the server's own port, TCP connections still in their handshake count too); beyond, new sockets are closed with 1013.
   * A socket refused with a close frame (1013, 1008, 4029) is kept open at most 2 s for its client's answer, and at most a tenth of
   * `maxConnections` (at least 1) such sockets at once: one more terminates the oldest of them at once (its close frame already sent).
   * @default 10000
   */
  maxConnections?: number;
  /**
   * With the server's own port: a TCP connection that has not completed its WebSocket upgrade within this time
   * (of its opening, or of its last plain HTTP request or answer) is destroyed. An attached `server` keeps its own timeouts.
   * @default 5000
   */
  handshakeTimeoutMs?: number;
  /** Sockets of one user on this node; beyond, the new socket is closed with 1013. @default 10 */
  maxConnectionsPerUser?: number;
  /** Subscriptions of one connection (its user channel and broadcast:all, received anyway, not counted); a subscribe beyond is refused with AUTHORIZATION_FAILED. @default 100 */
  maxSubscriptionsPerConnection?: number;
  /** Messages kept per channel for resume. @default 1000 */
  historySize?: number;
  /** Bytes of messages (encoded data, id, event, publisher) kept per channel; beyond, its oldest go first. @default 1048576 */
  historyMaxBytesPerChannel?: number;
  /** History kept by channel pattern, overriding `historySize` and `historyMaxBytesPerChannel`; the first matching entry applies. @default [] */
  historyLimits?: readonly HistoryLimit[];
  /** Bytes of history kept over all channels by a single node (in-memory backend); beyond, the oldest messages of all go first. With Redis, bound Redis itself (`maxmemory`). @default 67108864 */
  historyMaxBytes?: number;
  /** A channel without activity for this long (at least 1000 ms) forgets its history and numbering. @default 86400000 */
  historyTtlMs?: number;
  /** How long a publish `id` is remembered (per user and channel) for idempotent publish. @default 600000 */
  dedupWindowMs?: number;
  /** Protocol-level ping interval for sockets quiet that long; one that has not answered the previous ping is terminated (0 disables). @default 30000 */
  heartbeatIntervalMs?: number;
  /** A client that sends no frame for this long is closed with 1001 (0 disables). @default 300000 */
  idleTimeoutMs?: number;
  /** Send buffer above which a socket is a slow consumer and is closed with 4008. @default 1048576 */
  maxBufferedBytes?: number;
  /** How long `close()` waits for sockets to close before terminating them. @default 5000 */
  shutdownTimeoutMs?: number;
  /** A `typing: true` not refreshed within this time is turned off for everyone. @default 6000 */
  typingTimeoutMs?: number;
  /** pino logger; tokens are never logged. @default pino at `info` named `socketchart-server` */
  logger?: Logger;
  /** Prometheus settings. @default { prefix: 'socketchart_', defaultMetrics: false } */
  metrics?: ServerMetricsOptions;
  /** Health endpoint path on the same HTTP server (`false` disables). @default '/healthz' */
  healthPath?: string | false;
  /** Prometheus endpoint path on the same HTTP server (`false` disables). @default '/metrics' */
  metricsPath?: string | false;
  /** Redis URL or options; absent: a single node with an in-memory backend. @default undefined */
  redis?: string | RedisBackendOptions | undefined;
  /** This node's id (logs, health, Redis presence). @default a random UUID */
  nodeId?: string;
}

export interface ResolvedRedisOptions {
  url: string | undefined;
  options: RedisConnectionOptions;
  keyPrefix: string;
  nodeHeartbeatMs: number;
  nodeTimeoutMs: number;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

export interface ResolvedServerOptions {
  server: HttpServer | HttpsServer | undefined;
  port: number | undefined;
  host: string;
  path: string | undefined;
  auth: {
    jwtSecret: string | Uint8Array | undefined;
    verify: VerifyToken | undefined;
    issuer: string | undefined;
    audience: string | undefined;
    clockToleranceSec: number;
    requireExp: boolean;
    modes: ReadonlySet<TokenMode>;
    queryParam: string;
    timeoutMs: number;
  };
  origin: OriginPolicy;
  originRejection: 'close' | 'http';
  channels: readonly ChannelRule[];
  implicitChannels: boolean;
  rateLimits: Readonly<Record<string, RateLimit>>;
  userRateLimits: Readonly<Record<string, RateLimit>>;
  unauthenticatedRateLimit: RateLimit;
  floodThreshold: number;
  trustedProxies: TrustedProxies;
  ipv6ClientPrefix: number;
  maxPayload: number;
  frameBounds: JsonBounds;
  maxConnections: number;
  handshakeTimeoutMs: number;
  maxConnectionsPerUser: number;
  maxSubscriptionsPerConnection: number;
  retention: RetentionRules;
  historySize: number;
  historyMaxBytes: number;
  historyTtlMs: number;
  dedupWindowMs: number;
  heartbeatIntervalMs: number;
  idleTimeoutMs: number;
  maxBufferedBytes: number;
  shutdownTimeoutMs: number;
  typingTimeoutMs: number;
  logger: Logger;
  metrics: { prefix: string; registry: Registry | undefined; defaultMetrics: boolean };
  healthPath: string | false;
  metricsPath: string | false;
  redis: ResolvedRedisOptions | undefined;
  nodeId: string;
}

/** Validates options and fills in defaults; throws `InvalidOptionError` naming the first bad option. */
export function resolveOptions(input: ServerOptions): ResolvedServerOptions {
  validateOptions(input);
  const options = input;
  const auth = options.auth;
  const allowed = options.allowedOrigins ?? '*';
  const redis = typeof options.redis === 'string' ? { url: options.redis } : options.redis;
  const rateLimits = { ...defaultRateLimits, ...options.rateLimits };
  const historySize = options.historySize ?? 1000;
  return {
    server: options.server,
    port: options.port,
    host: options.host ?? '127.0.0.1',
    path: options.path,
    auth: {
      jwtSecret: auth.jwtSecret,
      verify: auth.verify,
      issuer: auth.issuer,
      audience: auth.audience,
      clockToleranceSec: auth.clockToleranceSec ?? 0,
      requireExp: auth.requireExp ?? false,
      modes: new Set(auth.modes ?? ['message', 'subprotocol']),
      queryParam: auth.queryParam ?? 'token',
      timeoutMs: auth.timeoutMs ?? 10_000,
    },
    origin: {
      allowed: allowed === '*' ? '*' : new Set(allowed.map((entry) => normalizeOrigin(entry)!)),
      allowMissing: options.allowMissingOrigin ?? true,
      allowNull: options.allowNullOrigin ?? false,
    },
    originRejection: options.originRejection ?? 'close',
    channels: options.channels ?? defaultChannelRules,
    implicitChannels: options.implicitChannels ?? true,
    rateLimits,
    userRateLimits: { ...rateLimits, ...options.userRateLimits },
    unauthenticatedRateLimit: options.unauthenticatedRateLimit ?? { perMinute: 300, burst: 60 },
    floodThreshold: options.floodThreshold ?? 50,
    trustedProxies: new TrustedProxies(options.trustedProxies ?? [], options.forwardedHeader),
    ipv6ClientPrefix: options.ipv6ClientPrefix ?? 64,
    maxPayload: options.maxPayload ?? 64 * 1024,
    frameBounds: { maxDepth: options.maxFrameDepth ?? 32, maxItems: options.maxFrameItems ?? 10_000 },
    maxConnections: options.maxConnections ?? 10_000,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
    maxConnectionsPerUser: options.maxConnectionsPerUser ?? 10,
    maxSubscriptionsPerConnection: options.maxSubscriptionsPerConnection ?? 100,
    retention: new RetentionRules(options.historyLimits ?? [], { size: historySize, maxBytes: options.historyMaxBytesPerChannel ?? 1024 * 1024 }),
    historySize,
    historyMaxBytes: options.historyMaxBytes ?? 64 * 1024 * 1024,
    historyTtlMs: options.historyTtlMs ?? 86_400_000,
    dedupWindowMs: options.dedupWindowMs ?? 600_000,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 30_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 300_000,
    maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 5000,
    typingTimeoutMs: options.typingTimeoutMs ?? 6000,
    logger: options.logger ?? createDefaultLogger(),
    metrics: {
      prefix: options.metrics?.prefix ?? 'socketchart_',
      registry: options.metrics?.registry,
      defaultMetrics: options.metrics?.defaultMetrics ?? false,
    },
    healthPath: options.healthPath ?? '/healthz',
    metricsPath: options.metricsPath ?? '/metrics',
    redis: redis && {
      url: redis.url,
      options: redis.options ?? {},
      keyPrefix: redis.keyPrefix ?? 'socketchart:',
      nodeHeartbeatMs: redis.nodeHeartbeatMs ?? 5000,
      nodeTimeoutMs: redis.nodeTimeoutMs ?? Math.max(15_000, 3 * (redis.nodeHeartbeatMs ?? 5000)),
      connectTimeoutMs: redis.connectTimeoutMs ?? 10_000,
      commandTimeoutMs: redis.commandTimeoutMs ?? 5000,
    },
    nodeId: options.nodeId ?? randomUUID(),
  };
}
