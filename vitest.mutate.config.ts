import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { configDefaults, defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/** Test files in the order a mutant meets them: unit suites first (each quick to load), the model suites after, the connection model (whose path generation alone takes seconds) last. */
const rank = (file: string): number => {
  if (file.includes('/test/model/connection.')) return 2;
  if (file.includes('/test/model/')) return 1;
  return 0;
};

class QuickestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => rank(a.moduleId) - rank(b.moduleId) || a.moduleId.localeCompare(b.moduleId));
  }
}

/**
 * The suites `npm run mutate` runs against each mutant: the unit and model tests that exercise the
 * machines, the policies, the close codes and the connection runtime. Integration, browser, bench and
 * Redis suites stay out, and so do unit suites of modules that are not mutated (the server, storage,
 * metrics, the outbound queue, the CLI, the inspector, the bindings).
 */
export default defineConfig({
  test: {
    ...base.test,
    testTimeout: 10_000,
    hookTimeout: 20_000,
    include: ['test/unit/**/*.test.ts', 'test/model/**/*.test.ts'],
    exclude: [
      ...configDefaults.exclude,
      'test/unit/storage/**',
      'test/unit/cli/**',
      'test/unit/server/**',
      'test/unit/inspection/**',
      'test/unit/react/**',
      'test/unit/vue/**',
      'test/unit/rx/**',
      'test/unit/metrics/**',
      'test/unit/queue/**',
    ],
    sequence: { sequencer: QuickestFirst },
  },
});
