import { systemClock, type Clock } from '../environment/clock.js';
import { createAuthenticator, type Authenticate } from './auth.js';
import { MemoryBackend } from './backend/memory.js';
import { RedisBackend } from './backend/redis.js';
import type { Backend } from './backend/types.js';
import { ChannelAuthorizer } from './channels.js';
import { Hub } from './hub.js';
import type { Logger } from './logger.js';
import { createMetrics, type ServerMetrics } from './metrics.js';
import type { ResolvedServerOptions } from './options.js';
import { ServerRateLimits } from './rate-limit.js';

/** Most users, and most remote addresses, whose rate-limit buckets and flood counts a node keeps. */
const MAX_TRACKED_SUBJECTS = 100_000;

/** What every connection of a node shares. The backend is not started yet: `backend.start(hub)` does. */
export interface NodeParts {
  logger: Logger;
  metrics: ServerMetrics;
  limits: ServerRateLimits;
  backend: Backend;
  hub: Hub;
  authenticate: Authenticate;
  /** The node's time, which never goes back: its rate limits', idle timeout's, heartbeat's and stalled backlogs'. */
  clock: Pick<Clock, 'now'>;
}

/** Epoch ms at the process start plus the monotonic ms since: a wall clock stepped back (NTP, a VM resumed) does not turn it back. */
const steadyClock: Pick<Clock, 'now'> = { now: () => performance.timeOrigin + performance.now() };

/**
 * Builds a node's shared parts from its options; `clock` is the node's time (its rate limits', idle timeout's,
 * heartbeat's and stalled backlogs'), and `reset_at` is told in it. By default they run on a clock that never
 * goes back, and tell `reset_at` in `Date.now()` ms.
 */
export function createNodeParts(options: ResolvedServerOptions, clock?: Pick<Clock, 'now'>): NodeParts {
  const logger = options.logger.child({ node: options.nodeId });
  const limits = new ServerRateLimits(
    {
      perConnection: options.rateLimits,
      perUser: options.userRateLimits,
      unauthenticated: options.unauthenticatedRateLimit,
      floodThreshold: options.floodThreshold,
      ipv6ClientPrefix: options.ipv6ClientPrefix,
      maxTracked: MAX_TRACKED_SUBJECTS,
    },
    clock ?? steadyClock,
    clock ?? systemClock,
  );
  const backend = createBackend({ ...options, logger }, limits, clock ?? steadyClock);
  const verify = createAuthenticator({
    clockToleranceSec: options.auth.clockToleranceSec,
    requireExp: options.auth.requireExp,
    ...(options.auth.jwtSecret === undefined ? {} : { jwtSecret: options.auth.jwtSecret }),
    ...(options.auth.verify === undefined ? {} : { verify: options.auth.verify }),
    ...(options.auth.issuer === undefined ? {} : { issuer: options.auth.issuer }),
    ...(options.auth.audience === undefined ? {} : { audience: options.auth.audience }),
  });
  /** Made once nothing else can fail (a package the options need is missing): a failed start leaves nothing on the registry. */
  const metrics = createMetrics({ prefix: options.metrics.prefix, defaultMetrics: options.metrics.defaultMetrics, ...(options.metrics.registry ? { registry: options.metrics.registry } : {}) });
  const hub = new Hub({
    backend,
    authorizer: new ChannelAuthorizer(options.channels),
    metrics,
    logger,
    retention: options.retention,
    maxSubscriptions: options.maxSubscriptionsPerConnection,
    typingTimeoutMs: options.typingTimeoutMs,
    implicitChannels: options.implicitChannels,
  });
  const authenticate: Authenticate = (token) => hub.unlessLoggedOut(verify(token));
  return { logger, metrics, limits, backend, hub, authenticate, clock: clock ?? steadyClock };
}

function createBackend(options: ResolvedServerOptions, limits: ServerRateLimits, clock: Pick<Clock, 'now'>): Backend {
  const { retention, historyTtlMs, dedupWindowMs } = options;
  if (!options.redis) return new MemoryBackend({ retention, historyMaxBytes: options.historyMaxBytes, historyTtlMs, dedupWindowMs, clock, buckets: limits.userBuckets });
  return new RedisBackend({ redis: options.redis, nodeId: options.nodeId, retention, historyTtlMs, dedupWindowMs, logger: options.logger });
}
