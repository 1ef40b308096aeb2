import { describe, expect, it } from 'vitest';
import { poolMachine } from '../../src/index.js';
import { Coverage, transitionsOf } from '../../src/testing/index.js';
import { poolModel, poolReplay, poolVariants } from '../support/model/pool.js';

/**
 * Model-based tests of the pool machine: paths generated over the machine and the world around it
 * (two connections on a mock server, the network, the user), each replayed against a real createPool()
 * on a simulated clock, with the pool's invariants checked after every step (test/support/model/pool.ts:
 * every dial waits in `queued` for a permit of the budget, never beyond it; one socket at most per
 * connection; a connection the user stopped stays stopped; exactly the timers, sockets, child actors
 * and environment listeners the state owns; nothing left once stopped or disposed).
 *
 * Model events: pool.start and pool.stop; the server accepting dials and dropping connections, one or
 * all; connection drops while dialing, and the redials after the backoff; the user stopping one
 * connection, and starting it again; offline / online; the close handshakes answered or timed out;
 * the stagger and stop-timeout delays; a connection actor crashing; dispose() (connection.release).
 * The pure pool machine hears of each connection's state change (`connection.state`) and keeps the
 * health and the count of active connections itself; a stop has drained when none is left.
 */

const coverage = new Coverage([poolMachine]);

/** Hand-written paths through the same model (checked against it). */
const scenarios: Readonly<Record<string, ReadonlyArray<{ name: string; events: readonly string[] }>>> = {
  'staggerMs 100': [
    {
      name: 'a server restart: every connection drops, redials after its backoff through a permit, and is back',
      events: ['pool.start', 'after stagger', 'server: accept all', 'server: drop all', 'redial alpha', 'server: accept all', 'pool.stop', 'server.closeAck'],
    },
    {
      name: 'a connection the user stopped stays closed through offline, online, the other one\'s drop and redial, and a pool restart, until the user starts it',
      events: [
        'pool.start', 'after stagger', 'server: accept all', 'connection.stop(beta)', 'server.closeAck', 'server: drop alpha',
        'env.offline', 'env.online', 'server: accept alpha', 'pool.stop', 'server.closeAck', 'pool.start', 'after stagger',
        'server: accept alpha', 'connection.start(beta)', 'server: accept beta',
      ],
    },
    {
      name: 'a connection the user starts while the pool stops keeps it stopping until its stop timeout, and is the user\'s afterwards',
      events: [
        'pool.start', 'server: accept alpha', 'pool.stop', 'connection.start(beta)', 'after stopTimeout',
        'server: accept beta', 'connection.stop(beta)', 'server.closeAck', 'pool.start', 'after stagger',
      ],
    },
    {
      name: 'start() and stop() twice do nothing more than once',
      events: ['pool.start', 'pool.start', 'after stagger', 'pool.start', 'server: accept all', 'pool.stop', 'pool.stop', 'server.closeAck', 'pool.stop', 'pool.start', 'pool.start'],
    },
    {
      name: 'offline during the staggered start: the rest start offline and dial when the network is back',
      events: ['pool.start', 'env.offline', 'after stagger', 'env.online', 'server: accept all', 'connection.release'],
    },
    {
      name: 'a pool stopped during its staggered start starts every connection on the next start()',
      events: ['pool.start', 'pool.stop', 'pool.start', 'after stagger', 'server: accept all'],
    },
  ],
  'staggerMs 0': [
    {
      name: 'a server restart: every connection drops, redials after its backoff through a permit, and is back',
      events: ['pool.start', 'server: accept all', 'server: drop all', 'redial alpha', 'server: accept all', 'pool.stop', 'server.closeAck'],
    },
    {
      name: 'a connection the user starts while the pool stops keeps it stopping until its stop timeout',
      events: ['pool.start', 'server: accept alpha', 'pool.stop', 'connection.start(beta)', 'after stopTimeout', 'connection.release'],
    },
    {
      name: 'a connection the user stopped just before pool.stop(), still closing, stays closed through the next start()',
      events: ['pool.start', 'server: accept all', 'connection.stop(alpha)', 'pool.stop', 'server.closeAck', 'pool.start'],
    },
  ],
};

const models = poolVariants.map((variant) => {
  const model = poolModel(variant);
  const paths = model.paths({ simpleDepth: 8, simpleLimit: 80 });
  return { variant, model, paths };
});

for (const { variant, model, paths } of models) {
  describe(`pool model (${variant.name})`, () => {
    const options = poolReplay(variant, coverage);
    for (const path of paths) {
      it(path.description, async () => {
        await model.replay(path, options);
      });
    }
    for (const scenario of scenarios[variant.name] ?? []) {
      it(scenario.name, async () => {
        await model.replay(model.path(scenario.events), options);
      });
    }
  });
}

describe('pool model coverage', () => {
  it('the generated paths reach every state and transition of the pool machine, and the replays do too', () => {
    const all = transitionsOf(poolMachine);
    const lines: string[] = [];
    const reachedByModels = new Set<string>();
    for (const { variant, model, paths } of models) {
      const { vertices, edges } = model.size();
      const reachable = model.reachable().transitions;
      for (const id of reachable) reachedByModels.add(id);
      const unreachable = all.filter((id) => !reachable.has(id));
      lines.push(
        `pool model (${variant.name}): ${vertices} vertices, ${edges} edges, ${paths.length} paths (+ ${scenarios[variant.name]?.length ?? 0} scenarios); ` +
          `the model reaches ${all.length - unreachable.length}/${all.length} transitions${unreachable.length ? ` (not: ${unreachable.join('; ')})` : ''}`,
      );
    }
    lines.push(`replayed: ${coverage.format()}`);
    console.log(lines.join('\n'));

    // With staggerMs 0 the pool starts every connection at once: `starting` is left in the same step
    // it is entered (always allStarted), so neither the stagger nor a stop while starting can happen.
    // The staggerMs 100 model reaches both; between them the models reach every transition.
    const zero = models.find(({ variant }) => variant.staggerMs === 0)!.model.reachable().transitions;
    expect(all.filter((id) => !zero.has(id))).toEqual([
      'pool.starting: pool.stop → pool.stopping',
      'pool.starting.launching: after(stagger) → pool.starting.launching (reenter)',
    ]);
    expect(all.filter((id) => !reachedByModels.has(id)), 'transitions no model reaches').toEqual([]);

    // Replayed, two transitions need a hand: `pool: * [isConnectionError]` is reached by sending the
    // event XState sends a parent when a child actor crashes (no real connection can crash without an
    // unhandled error elsewhere); and `stopping: after(stopTimeout)` only when something keeps a
    // connection active past the stop timeout — the pool bounds every close handshake by it, so the
    // connections' own close timeouts fire first (just before it, at the same instant) — which only a
    // connection the user starts again while the pool stops does (the scenario above).
    const [report] = coverage.report();
    expect(report?.states.missing, 'states not reached by the replays').toEqual([]);
    expect(report?.transitions.missing, 'transitions not reached by the replays').toEqual([]);
    expect(report?.states.total).toBe(6);
    expect(report?.transitions.total).toBe(14);
  });
});
