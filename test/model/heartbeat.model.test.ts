import { describe, expect, it } from 'vitest';
import { heartbeatMachine } from '../../src/index.js';
import { Coverage } from '../../src/testing/index.js';
import { heartbeatModel, heartbeatReplay, heartbeatVariants } from '../support/model-children.js';

/**
 * Model-based tests of the heartbeat machine, replayed as the child of a real connection: pings and
 * pongs from the mock server, the page lifecycle from a manual environment, throttled timers from a
 * simulated clock that jumps.
 */

const coverage = new Coverage([heartbeatMachine]);
const models = heartbeatVariants.map((variant) => {
  const model = heartbeatModel(variant);
  return { variant, model, paths: model.paths({ simpleDepth: 5, simpleLimit: 20 }) };
});

for (const { variant, model, paths } of models) {
  describe(`heartbeat model (${variant.name})`, () => {
    const options = heartbeatReplay(variant, coverage);
    for (const path of paths) {
      it(path.description, async () => {
        await model.replay(path, options);
      });
    }
  });
}

describe('heartbeat model coverage', () => {
  it('replays reach every state node and every transition of the heartbeat machine', () => {
    const [report] = coverage.report();
    console.log(
      [
        ...models.map(({ variant, model, paths }) => `heartbeat model (${variant.name}): ${model.size().vertices} vertices, ${model.size().edges} edges, ${paths.length} paths`),
        `replayed: ${coverage.format()}`,
      ].join('\n'),
    );
    expect(report?.states.missing).toEqual([]);
    expect(report?.transitions.missing).toEqual([]);
  });
});
