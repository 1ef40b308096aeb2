import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Specs that measure what other work on the machine would skew (a real browser's timing, a heap that must
 * stay flat through thousands of connections, long runs against real servers) run one at a time, after the
 * rest, which run side by side.
 */
const alone = [
  'test/browser/**/*.test.ts',
  'test/integration/server/churn.test.ts',
  'test/unit/connection/churn.test.ts',
  'test/integration/chaos.test.ts',
  'test/integration/demo.test.ts',
];

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'side-by-side', include: ['test/**/*.test.ts'], exclude: alone, maxWorkers: Math.max(2, availableParallelism()), sequence: { groupOrder: 0 } },
      },
      { extends: true, test: { name: 'alone', include: alone, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
