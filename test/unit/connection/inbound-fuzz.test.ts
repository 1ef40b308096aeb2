import { expect, it } from 'vitest';
import { describeViolations, fuzzClient } from '../../support/fuzz/client-fuzz.js';

/** The client fuzzer (test/support/fuzz/client-fuzz.ts), bounded: 2 runs per protocol of 300 frames (plain 100), about a second. */
const SEED = Number(process.env.FUZZ_SEED ?? 3);

it(`hostile server frames break no client invariant (seed ${SEED}: json, graphql-transport-ws and plain, 2 runs each)`, async () => {
  const figures = await fuzzClient({ seed: SEED, runs: 2, frames: 300 });
  expect(figures.framesSent).toBeGreaterThan(1000);
  expect(describeViolations(figures.violations)).toEqual([]);
}, 30_000);
