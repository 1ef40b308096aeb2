import { expect } from 'vitest';
import type { Harness } from './harness.js';

const noSocketStates = new Set(['idle', 'reconnecting', 'circuitOpen', 'offline', 'suspended', 'closed', 'failed']);

/** DESIGN invariants 1, 3 and 4 that hold in every resting state, and 3 for every dial so far. */
export function expectInvariants(h: Harness): void {
  const { connection, server } = h;
  expect(server.live.length, 'at most one open or opening socket').toBeLessThanOrEqual(1);
  h.dials.forEach((dial, i) => {
    expect(dial.online, `3: dial ${i + 1} while the environment was offline`).toBe(true);
    expect(['closed', 'failed', 'offline'], `3: dial ${i + 1} in ${JSON.stringify(dial.value)}`).not.toContain(dial.value);
  });
  if (noSocketStates.has(connection.status)) {
    expect(server.live.length, `no socket while ${connection.status}`).toBe(0);
    expect(Object.keys(connection.snapshot.children), `no child actor while ${connection.status}`).toEqual([]);
  }
}

/** DESIGN invariant 4: nothing outlives `stop()`. */
export function expectNothingLeft(h: Harness): void {
  expect(h.connection.status).toBe('closed');
  expect(h.server.live.length, 'sockets').toBe(0);
  expect(h.clock.pending, 'timers').toBe(0);
  expect(Object.keys(h.connection.snapshot.children), 'child actors').toEqual([]);
  expect(h.env.listenerCount, 'environment listeners').toBe(0);
}
