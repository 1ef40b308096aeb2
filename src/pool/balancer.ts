import type { Connection } from '../connection/connection.js';
import { unitRandom } from '../policy/unit-random.js';

/** How `send(group, …)` picks a member. */
export type BalancingStrategy = 'round-robin' | 'least-pending' | 'random';

export interface HealthPolicy {
  /** A member whose last heartbeat RTT is above this is out of rotation. @default 1000 */
  maxRttMs: number;
}

export const isHealthy = (connection: Connection, health: HealthPolicy) =>
  connection.isConnected && (connection.rttMs === null || connection.rttMs <= health.maxRttMs);

/** A member that will still connect: not closing, closed or failed (a message queued on one of those is refused). */
const usable = (connection: Connection) => connection.status !== 'closing' && connection.status !== 'closed' && connection.status !== 'failed';

/**
 * Chooses the member a group message goes to: among healthy members; failing that among connected
 * ones; failing that among any member that will still connect (the message queues there).
 */
export class Balancer {
  private readonly cursors = new Map<readonly Connection[], number>();

  constructor(
    private readonly strategy: BalancingStrategy,
    private readonly health: HealthPolicy,
    private readonly random: () => number,
  ) {}

  pick(members: readonly Connection[]): Connection | undefined {
    let candidates = members.filter((member) => isHealthy(member, this.health));
    if (candidates.length === 0) candidates = members.filter((member) => member.isConnected);
    if (candidates.length === 0) candidates = members.filter(usable);
    if (candidates.length === 0) return undefined;
    switch (this.strategy) {
      case 'random':
        return candidates[Math.floor(unitRandom(this.random()) * candidates.length)];
      case 'least-pending': {
        const least = Math.min(...candidates.map((candidate) => candidate.queued));
        return this.next(members, candidates.filter((candidate) => candidate.queued === least));
      }
      case 'round-robin':
        return this.next(members, candidates);
    }
  }

  /** Takes turns within a group (each group keeps its own turn). */
  private next(members: readonly Connection[], candidates: Connection[]): Connection | undefined {
    const cursor = this.cursors.get(members) ?? 0;
    this.cursors.set(members, cursor + 1);
    return candidates[cursor % candidates.length];
  }
}
