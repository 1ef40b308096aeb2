import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * A connection nobody references any more can be collected, even when it was only stopped (the
 * Quickstart ends with `stop()`, not `dispose()`): thousands of start → connected → stop() cycles,
 * run in a process of their own with the collector exposed.
 */

const fixture = fileURLToPath(new URL('./fixtures/churn.ts', import.meta.url));

interface Churn {
  cycles: number;
  heapGrowthPer1000: number;
  actorsAlive: number;
  actorsSampled: number;
  liveSockets: number;
  timers: number;
  environmentListeners: number;
}

describe('churn: stopped connections nobody references are collected', () => {
  it('5,000 start → connected → stop() cycles leave no actor, socket, timer or listener, and the heap stays flat', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', fixture, '5000'], { timeout: 60_000 });
    const churn = JSON.parse(stdout.trim().split('\n').at(-1)!) as Churn;
    console.log(`[churn] ${JSON.stringify(churn)}`);
    expect(churn.actorsSampled, 'connection actors watched').toBeGreaterThan(100);
    expect(churn.actorsAlive, 'connection actors still reachable').toBe(0);
    expect(churn.liveSockets, 'sockets').toBe(0);
    expect(churn.timers, 'timers').toBe(0);
    expect(churn.environmentListeners, 'environment listeners').toBe(0);
    // A stopped connection kept alive costs about 4 KB: 4 MB per 1,000 cycles.
    expect(churn.heapGrowthPer1000, 'heap growth per 1,000 cycles, bytes').toBeLessThan(100_000);
  }, 90_000);
});
