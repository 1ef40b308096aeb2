import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalErrors, spawnFuzzNode } from '../../support/fuzz/fuzz-node.js';
import { describeFigures, fuzzServer } from '../../support/fuzz/server-fuzz.js';
import type { NodeProcess } from '../../support/server-process.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_251);
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 20_000);

describe('server fuzz: random and mutated frames split at random TCP boundaries, next to a well-behaved neighbour', () => {
  let node: NodeProcess;

  beforeAll(async () => {
    node = await spawnFuzzNode();
  });

  afterAll(async () => {
    await node?.kill();
  });

  it(`survives ${FRAMES} frames (seed ${SEED}): no crash, no internal error, and the neighbour gets every message in order`, async () => {
    const figures = await fuzzServer({ port: Number(new URL(node.url).port), frames: FRAMES, seed: SEED });
    const crashes = node.exit() === undefined ? 0 : 1;
    const errors = internalErrors(node);
    console.info(describeFigures(figures, crashes, errors.length));
    expect(figures.frames).toBe(FRAMES);
    expect(crashes).toBe(0);
    expect(errors).toEqual([]);
    expect(figures.neighbour.published).toBeGreaterThan(0);
    expect(figures.neighbour).toEqual({ published: figures.neighbour.published, acked: figures.neighbour.published, delivered: figures.neighbour.published, inOrder: true });
  }, 60_000);
});
