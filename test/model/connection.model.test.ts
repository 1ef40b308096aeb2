import { describe, expect, it } from 'vitest';
import { connectionMachine } from '../../src/index.js';
import { Coverage, stateNodesOf, transitionsOf } from '../../src/testing/index.js';
import { connectionModel, replayOptions, variants } from '../support/model-connection.js';

/**
 * Model-based tests of the connection machine. Paths come from `xstate/graph` over the pure machine
 * (the shortest path to every state node and through every transition, plus simple paths of six
 * steps), in two option sets between them able to reach every transition. Each path is replayed
 * against a real connection on the mock server and a simulated clock; after every step the real
 * connection must be in the state the model predicts and DESIGN's invariants must hold.
 */

/** Transitions no run of the machine, as the runtime drives it, can take; each with the reason. */
const UNREACHABLE: Readonly<Record<string, string>> = {
  'connection.retrying: always [isOffline] → connection.offline':
    'every state that can fail into `retrying` (all of `link` but `closing`) leaves for `offline` on env.offline, ' +
    'and `link` is only entered online; so `retrying` never starts offline (a defensive branch)',
};

const coverage = new Coverage([connectionMachine]);
const models = variants.map((variant) => {
  const model = connectionModel(variant);
  return { variant, model, paths: model.paths({ simpleDepth: 6, simpleLimit: 40 }) };
});

for (const { variant, model, paths } of models) {
  describe(`connection model (${variant.name})`, () => {
    const options = replayOptions(variant, coverage);
    for (const path of paths) {
      it(path.description, async () => {
        await model.replay(path, options);
      });
    }
  });
}

describe('connection model coverage', () => {
  it('replays reach every state node and every transition of the connection machine', () => {
    const states = stateNodesOf(connectionMachine).map((node) => node.id);
    const transitions = transitionsOf(connectionMachine);
    const modelTransitions = new Set<string>();
    for (const { model } of models) for (const id of model.reachable().transitions) modelTransitions.add(id);
    const [report] = coverage.report();
    const lines = [
      ...models.map(({ variant, model, paths }) => {
        const { vertices, edges } = model.size();
        return `model (${variant.name}): ${vertices} vertices, ${edges} edges, ${paths.length} paths, ${paths.reduce((n, p) => n + p.steps.length, 0)} steps`;
      }),
      `model reaches: ${modelTransitions.size}/${transitions.length} transitions`,
      `replayed: ${coverage.format()}`,
      ...Object.entries(UNREACHABLE).map(([id, why]) => `  unreachable by design: ${id} (${why})`),
    ];
    console.log(lines.join('\n'));

    expect(report?.states.reached, 'state nodes reached').toBe(states.length);
    expect(report?.transitions.missing, 'transitions not reached').toEqual(Object.keys(UNREACHABLE));
    expect(transitions.filter((id) => !modelTransitions.has(id)), 'transitions the model cannot reach').toEqual(Object.keys(UNREACHABLE));
  });
});
