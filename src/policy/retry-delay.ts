import type { ReconnectSettings, RetryKind } from '../../machines/connection.types.js';
import { backoffDelay } from './backoff.js';
import { unitRandom } from './unit-random.js';

/**
 * The wait before the next dial:
 * - `immediate`: 0 (the first retry after a stable connection);
 * - `restart`: uniform over `restartWindowMs` (a 1012 restart: everybody comes back, spread);
 * - `later`: at least the server's `retry_after`, else `tryLaterMs`, and never less than the backoff;
 * - `backoff`: exponential, capped, jittered (`backoffDelay`).
 */
export function retryDelay(
  kind: RetryKind,
  attempt: number,
  retryAfterMs: number | undefined,
  policy: ReconnectSettings,
  random: () => number,
): number {
  switch (kind) {
    case 'immediate':
      return 0;
    case 'restart':
      return Math.round(unitRandom(random()) * policy.restartWindowMs);
    case 'later':
      return Math.max(backoffDelay(attempt, policy, random), retryAfterMs ?? policy.tryLaterMs);
    case 'backoff':
      return backoffDelay(attempt, policy, random);
  }
}
