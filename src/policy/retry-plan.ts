import type { ConnectionContext } from '../../machines/connection.types.js';
import { countsAsFailure } from '../../machines/connection.machine.js';
import { retryDelay } from './retry-delay.js';

/** What `planRetry` decides: how long to wait, and which url to dial next. */
export type RetryPlan = Pick<ConnectionContext, 'retryDelayMs' | 'retryAt' | 'urlIndex' | 'failover'>;

/**
 * Url failover after a recorded failure: after `failover.after` consecutive failed dials the connection
 * moves to the next url (wrapping around); a failed dial of the primary while on a backup keeps the
 * backup and waits another `primaryRetryMs`; once `primaryRetryMs` has passed since the move, the next
 * dial tries the primary again.
 */
export function failoverAfter(context: ConnectionContext, now: number): Pick<RetryPlan, 'urlIndex' | 'failover'> {
  const { settings, failover } = context;
  if (settings.urls < 2) return { urlIndex: context.urlIndex, failover };
  let { urlIndex } = context;
  let { urlFailures, failedOverAt } = failover;
  if (countsAsFailure(context.outcome)) {
    if (failover.dialIndex !== urlIndex) failedOverAt = now;
    else if (urlFailures + 1 < settings.failover.after) urlFailures++;
    else {
      urlIndex = (urlIndex + 1) % settings.urls;
      urlFailures = 0;
      failedOverAt = now;
    }
  }
  const dialIndex = urlIndex !== 0 && now - failedOverAt >= settings.failover.primaryRetryMs ? 0 : urlIndex;
  return { urlIndex, failover: { dialIndex, urlFailures, failedOverAt } };
}

/**
 * The plan after a failure the machine has recorded (`attempt` already counts it): the delay of the
 * retry kind (backoff with jitter from `random`, an immediate retry, a restart window, a server's
 * `retry_after`), the clock time it ends, and the url of the next dial.
 */
export function planRetry(context: ConnectionContext, now: number, random: () => number): RetryPlan {
  const retryDelayMs = retryDelay(context.retryKind, Math.max(0, context.attempt - 1), context.lastError?.retryAfterMs, context.settings.reconnect, random);
  return { retryDelayMs, retryAt: now + retryDelayMs, ...failoverAfter(context, now) };
}

/**
 * The url of a dial that follows no failure (back online, visible again, a start): the primary once
 * `primaryRetryMs` has passed since the move to a backup, as after a failure; otherwise as it was.
 */
export function urlForDial(context: ConnectionContext, now: number): Pick<ConnectionContext, 'failover'> | undefined {
  const { settings, failover } = context;
  if (settings.urls < 2 || failover.dialIndex === 0 || context.urlIndex === 0) return undefined;
  if (now - failover.failedOverAt < settings.failover.primaryRetryMs) return undefined;
  return { failover: { ...failover, dialIndex: 0 } };
}
