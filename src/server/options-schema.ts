import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type * as PromClient from 'prom-client';
import type * as Zod from 'zod';
import { InvalidOptionError } from '../protocol/errors.js';
import type { VerifyToken } from './auth.js';
import { patternProblem } from './channels.js';
import { proxyRanges } from './client-address.js';
import type { Logger } from './logger.js';
import { normalizeOrigin } from './origin.js';
import { dependencies } from './dependencies.js';
import { isSecret, SECRET_RULE } from './tokens.js';
import { serverRedisOptionIn, wholeRedisDatabase } from './redis-url.js';

const { z } = dependencies.core<typeof Zod>('zod');
const { Registry } = dependencies.core<typeof PromClient>('prom-client');

/** Every schema states what it expects in plain words; that text is the `expected …` of the error. */
const expecting = (text: string) => ({ error: text });

function integer(min: number, max?: number) {
  const text = max === undefined ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
  const base = z.number(expecting(text)).int(expecting(text)).min(min, expecting(text));
  return max === undefined ? base : base.max(max, expecting(text));
}

const positiveInt = integer(1);
/** Node fires a timer of more than 2^31 - 1 ms after 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;
/** A clock skew worth tolerating is seconds; more is a value in milliseconds by mistake, which would let expired tokens in for hours. */
const TOLERANCE = 'seconds in [0, 300] (a clock skew, not milliseconds)';
const timerMs = integer(1, MAX_TIMER_MS);
const optionalTimerMs = integer(0, MAX_TIMER_MS);
const positiveNumber = z.number(expecting('a positive number')).positive(expecting('a positive number')).finite(expecting('a positive number'));
const boolean = z.boolean(expecting('true or false'));
const text = (what: string) => z.string(expecting(what));
const nonEmpty = text('a non-empty string').min(1, expecting('a non-empty string'));
const fn = <T>(what: string) => z.custom<T>((value) => typeof value === 'function', expecting(`a function (${what})`));
const object = <T extends Zod.z.core.$ZodLooseShape>(shape: T) => z.strictObject(shape, expecting('an object'));
const array = <T extends Zod.z.core.SomeType>(item: T, what: string) => z.array(item, expecting(what));
const httpPath = text('a path starting with /').regex(/^\/[^?#\s]*$/, expecting('a path starting with /'));
const isHttpServer = (value: unknown) =>
  typeof value === 'object' && value !== null && typeof (value as { on?: unknown }).on === 'function' && typeof (value as { listen?: unknown }).listen === 'function';
const isLogger = (value: unknown) =>
  typeof value === 'object' &&
  value !== null &&
  ['info', 'warn', 'error', 'debug', 'child'].every((method) => typeof (value as Record<string, unknown>)[method] === 'function');

const channelPattern = (allowUserId: boolean) =>
  text('a channel pattern').superRefine((pattern, ctx) => {
    const problem = !allowUserId && pattern.includes('{userId}') ? 'a pattern without {userId}' : patternProblem(pattern);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const grant = z.union([boolean, object({ roles: array(z.string(), 'an array of roles').optional(), permissions: array(z.string(), 'an array of permissions').optional() }), fn('identity, channel => boolean')], {
  error: 'true, false, { roles?, permissions? } or a function (identity, channel) => boolean',
});

const channelRule = object({
  pattern: channelPattern(true),
  subscribe: grant.optional(),
  publish: grant.optional(),
  presence: grant.optional(),
  events: array(nonEmpty, 'an array of event names').optional(),
});

const rateLimit = object({ perMinute: positiveNumber, burst: positiveInt });
const rateLimits = z.record(nonEmpty, rateLimit, expecting('an object of { perMinute, burst } by scope'));

const secret = z.custom<string | Uint8Array>(isSecret, expecting(SECRET_RULE));

const addressOrRange = 'an IP address, a CIDR range (IPv4 or IPv6, like 10.0.0.0/8), loopback, linklocal or uniquelocal';
const trustedProxy = text(addressOrRange).refine((entry) => proxyRanges(entry) !== undefined, expecting(addressOrRange));

const REDIS_URL = 'a redis:// or rediss:// URL whose database is a whole number (/0, ?db=2) and whose query sets no option the server sets itself (connectTimeout, commandTimeout, …)';
const usableRedisUrl = (url: URL) => wholeRedisDatabase(url) && serverRedisOptionIn(url) === undefined;
const redisUrl = text(REDIS_URL).regex(/^rediss?:\/\/\S*$/, expecting(REDIS_URL)).refine((raw) => URL.canParse(raw) && usableRedisUrl(new URL(raw)), expecting(REDIS_URL));

/** ioredis selects NaN for a `db` that is not a number, and the reply it gets crashes the process (a check, not a type, so the error names `redis.options.db`). */
const REDIS_DB = 'an integer >= 0 (a database index)';
const redisDatabase = z.unknown().refine((db) => Number.isSafeInteger(db) && (db as number) >= 0, expecting(REDIS_DB));

const schema = object({
  server: z.custom<HttpServer | HttpsServer>(isHttpServer, expecting('an http.Server or https.Server')).optional(),
  port: integer(0, 65535).optional(),
  host: nonEmpty.optional(),
  path: httpPath.optional(),
  auth: object({
    jwtSecret: secret.optional(),
    verify: fn<VerifyToken>('token => identity').optional(),
    issuer: text('a string').optional(),
    audience: text('a string').optional(),
    clockToleranceSec: z.number(expecting(TOLERANCE)).min(0, expecting(TOLERANCE)).max(300, expecting(TOLERANCE)).optional(),
    requireExp: boolean.optional(),
    modes: array(z.enum(['message', 'subprotocol', 'query'], expecting("'message', 'subprotocol' or 'query'")), 'an array of token modes')
      .min(1, expecting('at least one token mode'))
      .refine((modes) => new Set(modes).size === modes.length, expecting('distinct token modes'))
      .optional(),
    queryParam: text('a URL-safe parameter name').regex(/^[A-Za-z0-9_.-]+$/, expecting('a URL-safe parameter name')).optional(),
    timeoutMs: timerMs.optional(),
  })
    .refine(
      (auth) => auth.verify !== undefined || !('jwtSecret' in auth) || auth.jwtSecret !== undefined,
      expecting('`auth.jwtSecret` to be a secret, but it is undefined (is its environment variable set?)'),
    )
    .refine((auth) => auth.jwtSecret !== undefined || auth.verify !== undefined, expecting('`auth.jwtSecret` or `auth.verify`'))
    .superRefine((auth, ctx) => {
      if (auth.verify === undefined) return;
      for (const claim of ['issuer', 'audience'] as const) {
        if (auth[claim] !== undefined) ctx.addIssue({ code: 'custom', path: [claim], message: `no value when \`auth.verify\` is set (verify() checks the token's ${claim === 'issuer' ? 'iss' : 'aud'} itself)` });
      }
    }),
  allowedOrigins: z
    .union([z.literal('*'), array(text('an exact origin like https://app.example.com (wildcards are not supported)').refine((entry) => normalizeOrigin(entry) !== undefined, expecting('an exact origin like https://app.example.com (wildcards are not supported)')), 'an array of origins')], {
      error: "'*' or an array of origins",
    })
    .optional(),
  allowMissingOrigin: boolean.optional(),
  allowNullOrigin: boolean.optional(),
  originRejection: z.enum(['close', 'http'], expecting("'close' or 'http'")).optional(),
  channels: array(channelRule, 'an array of channel rules').optional(),
  implicitChannels: boolean.optional(),
  rateLimits: rateLimits.optional(),
  userRateLimits: rateLimits.optional(),
  unauthenticatedRateLimit: rateLimit.optional(),
  floodThreshold: positiveInt.optional(),
  trustedProxies: array(trustedProxy, 'an array of IP addresses and CIDR ranges').optional(),
  forwardedHeader: z.enum(['x-forwarded-for', 'forwarded'], expecting("'x-forwarded-for' or 'forwarded'")).optional(),
  ipv6ClientPrefix: integer(0, 128).optional(),
  maxPayload: integer(256, 64 * 1024 * 1024).optional(),
  maxFrameDepth: integer(2, 256).optional(),
  maxFrameItems: positiveInt.optional(),
  maxConnections: positiveInt.optional(),
  handshakeTimeoutMs: timerMs.optional(),
  maxConnectionsPerUser: positiveInt.optional(),
  maxSubscriptionsPerConnection: positiveInt.optional(),
  historySize: integer(0, 1_000_000).optional(),
  historyMaxBytesPerChannel: positiveInt.optional(),
  historyLimits: array(object({ pattern: channelPattern(false), size: integer(0, 1_000_000).optional(), maxBytes: positiveInt.optional() }), 'an array of { pattern, size?, maxBytes? }').optional(),
  historyMaxBytes: positiveInt.optional(),
  historyTtlMs: integer(1000).optional(),
  dedupWindowMs: positiveInt.optional(),
  heartbeatIntervalMs: optionalTimerMs.optional(),
  idleTimeoutMs: optionalTimerMs.optional(),
  maxBufferedBytes: positiveInt.optional(),
  shutdownTimeoutMs: optionalTimerMs.optional(),
  typingTimeoutMs: timerMs.optional(),
  logger: z.custom<Logger>(isLogger, expecting('a pino logger')).optional(),
  metrics: object({
    prefix: text('a Prometheus metric name prefix').regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, expecting('a Prometheus metric name prefix')).optional(),
    registry: z.instanceof(Registry, expecting('a prom-client Registry')).optional(),
    defaultMetrics: boolean.optional(),
  }).optional(),
  healthPath: z.union([httpPath, z.literal(false)], expecting('a path starting with / or false')).optional(),
  metricsPath: z.union([httpPath, z.literal(false)], expecting('a path starting with / or false')).optional(),
  redis: z
    .union(
      [
        redisUrl,
        object({
          url: redisUrl.optional(),
          options: z.looseObject({ db: redisDatabase.optional() }, expecting('an object of ioredis options')).optional(),
          keyPrefix: nonEmpty.optional(),
          nodeHeartbeatMs: timerMs.optional(),
          nodeTimeoutMs: positiveInt.optional(),
          connectTimeoutMs: timerMs.optional(),
          commandTimeoutMs: timerMs.optional(),
        }),
      ],
      expecting('a redis:// URL or { url?, options?, keyPrefix?, … }'),
    )
    .optional(),
  nodeId: text('an id of letters, digits, _ . - (at most 64)')
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, expecting('an id of letters, digits, _ . - (at most 64)'))
    .optional(),
}).superRefine((options, ctx) => {
  if (options.server === undefined && options.port === undefined) {
    ctx.addIssue({ code: 'custom', path: ['port'], message: 'a port (or a `server` to attach to)' });
  }
  if (options.server !== undefined && options.port !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['port'], message: 'no port when attaching to `server`' });
  }
  const healthPath = options.healthPath ?? '/healthz';
  if (healthPath !== false && healthPath === (options.metricsPath ?? '/metrics')) {
    ctx.addIssue({ code: 'custom', path: ['metricsPath'], message: 'a path other than healthPath' });
  }
  const redis = options.redis;
  if (typeof redis === 'object' && redis.nodeTimeoutMs !== undefined && redis.nodeTimeoutMs <= (redis.nodeHeartbeatMs ?? 5000)) {
    ctx.addIssue({ code: 'custom', path: ['redis', 'nodeTimeoutMs'], message: 'more than redis.nodeHeartbeatMs' });
  }
});

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function optionName(path: readonly PropertyKey[]): string {
  return path.reduce<string>((name, key) => (typeof key === 'number' ? `${name}[${key}]` : name ? `${name}.${String(key)}` : String(key)), '');
}

/** Options whose values may be (or contain) secrets: their errors describe the value, never show it. */
const secretOptions = [/^auth(\.jwtSecret)?$/, /^redis(\.url)?$/, /^redis\.options(\.|$)/];

/** What was received, in words that never include the content of a secret (nor of an option nobody knows). */
function receivedWithoutSecrets(value: unknown, option: string, known: boolean): string | undefined {
  if (known && !secretOptions.some((pattern) => pattern.test(option))) return undefined;
  if (typeof value === 'string') {
    const bytes = new TextEncoder().encode(value).length;
    return `a string of ${value.length} characters${bytes === value.length ? '' : ` (${bytes} bytes)`}`;
  }
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return `a ${value === null ? 'null' : typeof value}`;
  return Array.isArray(value) ? 'an array' : `an ${typeof value}`;
}

/** Checks `input` against the option schema; throws `InvalidOptionError` naming the first bad option. */
export function validateOptions(input: unknown): void {
  const parsed = schema.safeParse(input);
  if (parsed.success) return;
  const issue = parsed.error.issues[0]!;
  const unknownKey = issue.code === 'unrecognized_keys';
  const path = unknownKey ? [...issue.path, issue.keys[0] ?? ''] : issue.path.length ? issue.path : ['options'];
  const option = optionName(path);
  const value = issue.path.length || unknownKey ? valueAt(input, path) : input;
  const expectation = unknownKey ? 'a known option' : issue.message;
  throw new InvalidOptionError(option, expectation, value, receivedWithoutSecrets(value, option, !unknownKey));
}
