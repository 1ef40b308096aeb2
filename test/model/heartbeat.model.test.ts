import { describe, expect, it } from 'vitest';
import { heartbeatMachine } from '../../src/index.js';
import { Coverage, stateNodesOf, transitionsOf } from '../../src/testing/index.js';
import { checkHeartbeatPolicies, heartbeatModel, heartbeatReplay, heartbeatVariants } from '../support/model/children.js';

/**
 * Model-based tests of the heartbeat machine (one liveness probe), replayed as the child of a real
 * connection whose `liveness` region starts it after a quiet interval or as the page wakes: pings,
 * pongs and other traffic from the mock server, throttled timers from a simulated clock that jumps.
 * The probe is the same whichever way it starts: one model, replayed from each start.
 */

const coverage = new Coverage([heartbeatMachine]);
const model = heartbeatModel();
const paths = model.paths({ simpleDepth: 5, simpleLimit: 20 });

/** Hand-written paths through the same model (a re-ping returns to the start vertex: no simple path goes on from it). */
const scenarios: ReadonlyArray<{ name: string; events: readonly string[] }> = [
  { name: 'a deadline that fired late is not trusted: the probe pings again, and a pong ends it', events: ['late deadline', 'heartbeat.pong'] },
  { name: 'a deadline that fired late pings again; the second, on time and unanswered, is reported', events: ['late deadline', 'deadline'] },
  { name: 'traffic after a re-ping proves the link alive', events: ['late deadline', 'heartbeat.traffic', 'deadline'] },
  { name: 'a stale pong (an earlier ping\'s) neither ends the probe nor is an RTT sample; a fresh one does', events: ['heartbeat.traffic', 'stale pong', 'heartbeat.pong'] },
];

describe('heartbeat model policies', () => {
  it('every generated path and scenario follows the heartbeat policy at every step', () => {
    for (const path of [...paths, ...scenarios.map((scenario) => model.path(scenario.events))]) checkHeartbeatPolicies(path);
  });
});

for (const variant of heartbeatVariants) {
  describe(`heartbeat model (probe started ${variant.name})`, () => {
    const options = heartbeatReplay(variant, coverage);
    for (const path of paths) {
      it(path.description, async () => {
        await model.replay(path, options);
      });
    }
    for (const scenario of scenarios) {
      it(scenario.name, async () => {
        await model.replay(model.path(scenario.events), options);
      });
    }
  });
}

describe('heartbeat model coverage', () => {
  it('replays reach every state node and every transition of the heartbeat machine', () => {
    const [report] = coverage.report();
    const { vertices, edges } = model.size();
    console.log(
      [
        `heartbeat model: ${vertices} vertices, ${edges} edges, ${paths.length} paths (+ ${scenarios.length} scenarios), replayed from ${heartbeatVariants.length} starts`,
        `replayed: ${coverage.format()}`,
      ].join('\n'),
    );
    const reached = model.reachable();
    expect(stateNodesOf(heartbeatMachine).map((node) => node.id).filter((id) => !reached.states.has(id)), 'state nodes the pure machine cannot reach').toEqual([]);
    expect(transitionsOf(heartbeatMachine).filter((id) => !reached.transitions.has(id)), 'transitions the pure machine cannot reach').toEqual([]);
    expect(report?.states.missing).toEqual([]);
    expect(report?.transitions.missing).toEqual([]);
  });
});
