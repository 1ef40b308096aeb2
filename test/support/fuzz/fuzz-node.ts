import { MEMORY_NODE, spawnNode, type NodeProcess } from '../server-process.js';

const plenty = { perMinute: 60_000_000, burst: 1_000_000 };

/**
 * The reference server in its own process, as the fuzzing meets it: rate limits out of the way (they are
 * specified elsewhere) so that every frame reaches the parser and the handlers.
 */
export function spawnFuzzNode(): Promise<NodeProcess> {
  return spawnNode(MEMORY_NODE, {
    SC_OPTIONS: JSON.stringify({
      rateLimits: { default: plenty, control: plenty, chat: plenty },
      unauthenticatedRateLimit: plenty,
      floodThreshold: 1_000_000_000,
      maxConnectionsPerUser: 100,
    }),
  });
}

/** Error-level lines the node logged: each one is a failure of the server itself. */
export const internalErrors = (node: NodeProcess): string[] => node.stderr().split('\n').filter((line) => line.trim().length > 0);
