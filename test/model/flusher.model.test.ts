import { describe, expect, it } from 'vitest';
import { flusherMachine } from '../../src/index.js';
import { Coverage, stateNodesOf, transitionsOf } from '../../src/testing/index.js';
import { flusherModel, flusherReplay, flusherVariants } from '../support/model/children.js';

/**
 * Model-based tests of the flusher machine, replayed as the child of a real connection whose mock
 * socket pushes back (`bufferedAmount` at the high-water mark) or drains.
 */

const coverage = new Coverage([flusherMachine]);
const models = flusherVariants.map((variant) => {
  const model = flusherModel(variant);
  return { variant, model, paths: model.paths({ simpleDepth: 6, simpleLimit: 10 }) };
});

for (const { variant, model, paths } of models) {
  describe(`flusher model (${variant.name})`, () => {
    const options = flusherReplay(variant, coverage);
    for (const path of paths) {
      it(path.description, async () => {
        await model.replay(path, options);
      });
    }
  });
}

describe('flusher model coverage', () => {
  it('replays reach every state node and every transition of the flusher machine', () => {
    const [report] = coverage.report();
    console.log(
      [
        ...models.map(({ variant, model, paths }) => `flusher model (${variant.name}): ${model.size().vertices} vertices, ${model.size().edges} edges, ${paths.length} paths`),
        `replayed: ${coverage.format()}`,
      ].join('\n'),
    );
    const states = new Set<string>();
    const transitions = new Set<string>();
    for (const { model } of models) {
      const reached = model.reachable();
      for (const id of reached.states) states.add(id);
      for (const id of reached.transitions) transitions.add(id);
    }
    expect(stateNodesOf(flusherMachine).map((node) => node.id).filter((id) => !states.has(id)), 'state nodes the pure machine cannot reach').toEqual([]);
    expect(transitionsOf(flusherMachine).filter((id) => !transitions.has(id)), 'transitions the pure machine cannot reach').toEqual([]);
    expect(report?.states.missing).toEqual([]);
    expect(report?.transitions.missing).toEqual([]);
  });
});
