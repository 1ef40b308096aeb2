import { describe, expect, it } from 'vitest';
import { connectionMachine } from '../../src/index.js';
import { Coverage, stateNodesOf, transitionsOf } from '../../src/testing/index.js';
import { connectionModel, variants } from '../support/model/connection-model.js';
import { replayOptions, type Sut } from '../support/model/connection-replay.js';
import { PolicyOracle, checkPolicies } from '../support/model/policy-oracle.js';
import { settle } from '../support/harness.js';

/**
 * Model-based tests of the connection machine. Paths come from `xstate/graph` over the pure machine
 * (the shortest path to every state node and through every transition, plus simple paths of six
 * steps), in four option sets between them able to reach every transition: two that dial freely, and
 * two with a dial gate — one whose permits the model grants, a step of their own, and one that grants
 * as it is asked. Every path is checked twice:
 *
 * - against the reference policies (`PolicyOracle`, written from the README's tables): the status each
 *   decision leads to, and the delay it waits;
 * - replayed against a real connection on the mock server and a simulated clock: after every step the
 *   connection must be in the state the model predicts, with exactly the model's timers, and DESIGN's
 *   invariants must hold.
 *
 * The random draws of the backoff vary along a path (`drawFor`), the same in the model and the replay.
 */

const coverage = new Coverage([connectionMachine]);
const models = variants.map((variant) => {
  const model = connectionModel(variant);
  return { variant, model, paths: model.paths({ vertices: true, simpleDepth: 6, simpleLimit: 40 }) };
});

for (const { variant, model, paths } of models) {
  describe(`connection model (${variant.name})`, () => {
    it('every generated path follows the reference policies at every step', () => {
      for (const path of paths) checkPolicies(variant, path);
    });
    const options = replayOptions(variant, coverage);
    for (const path of paths) {
      it(path.description, async () => {
        await model.replay(path, options);
      });
    }
  });
}

/** Hand-written paths through the same model: sequences the invariants are about, checked step by step like the generated ones. */
interface Scenario {
  readonly name: string;
  /** Index in `variants`. */
  readonly variant: number;
  readonly events: readonly string[];
  readonly check?: (sut: Sut) => void | Promise<void>;
}

const delaysOf = (sut: Sut, timer: string) => sut.scheduled.filter(({ id }) => id.startsWith(`xstate.after.${timer}.`)).map(({ delay }) => delay);
const cycle = ['socket.open', 'socket.close 1000', 'after reconnectDelay'];
/** `n` quiet intervals, each ending in a probe the server answers. */
const beats = (n: number) => Array.from({ length: n }, () => ['after heartbeatInterval', 'heartbeat.pong']).flat();
const pings = (sut: Sut) => sut.server.sockets.map((socket) => socket.sentOfType('ping').length);
/** `n` quiet intervals of a hidden or frozen page, each a keepalive ping that nothing waits on. */
const keepalives = (n: number) => Array.from({ length: n }, () => 'after heartbeatInterval');
const gateOf = (sut: Sut) => {
  if (!sut.gate) throw new Error('this variant has no dial gate');
  return sut.gate;
};
const requestStates = (sut: Sut) => gateOf(sut).requests.map((request) => request.state);
const GATED = 2;
const GATE_OPEN = 3;
/** Gated: dial, authenticate, lose the socket. */
const gatedUp = ['connection.start', 'permit.granted', 'socket.open', 'auth.ok'];

const scenarios: readonly Scenario[] = [
  {
    name: 'a 4001 gets one fresh token; a second 4001 before a token is accepted is final, and nothing dials until retry()',
    variant: 0,
    events: ['connection.start', 'socket.open', 'socket.close 4001', 'socket.open', 'socket.close 4001', 'env.offline', 'env.online', 'connection.retry', 'socket.open', 'auth.ok'],
    check: (sut) => {
      expect(sut.tokens.reasons).toEqual(['connect', 'rejected', 'connect']);
      expect(sut.connection.dials).toBe(3);
    },
  },
  {
    name: 'a token accepted and kept up for minUptime clears the refusals: a later 4001 gets a fresh token again',
    variant: 0,
    events: ['connection.start', 'socket.open', 'socket.close 4001', 'socket.open', 'auth.ok', ...beats(4), 'after minUptime', 'socket.close 4001', 'socket.open', 'auth.ok'],
    check: (sut) => expect(sut.tokens.reasons).toEqual(['connect', 'rejected', 'rejected']),
  },
  {
    name: 'a server that accepts the fresh token and closes 4001 again before minUptime is refused for good: no redial loop',
    variant: 0,
    events: ['connection.start', 'socket.open', 'socket.close 4001', 'socket.open', 'auth.ok', 'socket.close 4001', 'env.offline', 'env.online'],
    check: (sut) => {
      expect(sut.connection.status).toBe('failed');
      expect(sut.connection.dials).toBe(2);
      expect(sut.tokens.reasons).toEqual(['connect', 'rejected']);
    },
  },
  {
    name: 'AUTHORIZATION_FAILED from the server is final until retry()',
    variant: 0,
    events: ['connection.start', 'socket.open', 'server.error AUTHORIZATION_FAILED', 'page.hidden', 'page.visible', 'connection.retry', 'socket.open', 'auth.ok'],
    check: (sut) => expect(sut.connection.dials).toBe(2),
  },
  {
    // minUptime and the token refresh fall due with a quiet interval: both fire, in the order scheduled.
    // The refresh's auth_ok reaches the probe then in flight: traffic since its ping, proof enough.
    name: 'the in-band refresh renews the session on the same socket while the heartbeat probes it',
    variant: 0,
    events: [
      'connection.start', 'socket.open', 'auth.ok', ...beats(4), 'after minUptime', 'heartbeat.pong', 'after tokenRefresh', 'token refreshed', 'auth.ok',
      'pong deadline', ...beats(5), 'after tokenRefresh',
    ],
    check: (sut) => {
      expect(sut.server.sockets).toHaveLength(1);
      expect(sut.server.sockets[0]?.sentOfType('auth').map((frame) => frame.token)).toEqual(['token-1', 'token-2']);
      expect(delaysOf(sut, 'tokenRefresh')).toEqual([6_000, 6_000]);
      expect(pings(sut)).toEqual([11]);
      expect(sut.connection.metrics().rtt.count, 'RTT samples: pongs, not the probe the auth_ok answered').toBe(10);
      expect(sut.rootEvents).not.toContain('heartbeat.timeout');
    },
  },
  {
    // Timers due at the same instant fire in one step: the keepalive with minUptime (5 s) and with each tokenRefresh (6 s, 12 s).
    name: 'a frozen page is not probed, only kept alive each interval, and its session is still refreshed in band',
    variant: 0,
    events: ['connection.start', 'socket.open', 'auth.ok', 'page.freeze', ...keepalives(4), 'after minUptime', 'after tokenRefresh', 'token refreshed', 'auth.ok', ...keepalives(5), 'after tokenRefresh'],
    check: (sut) => {
      expect(sut.server.sockets[0]?.sentOfType('auth').map((frame) => frame.token)).toEqual(['token-1', 'token-2']);
      expect(pings(sut), 'one keepalive a second for 12 s').toEqual([12]);
      expect(sut.rootEvents).not.toContain('heartbeat.timeout');
    },
  },
  {
    name: 'the heartbeat probes after every quiet interval, and each pong re-arms the interval',
    variant: 0,
    events: ['connection.start', 'socket.open', 'auth.ok', ...beats(3)],
    check: (sut) => {
      expect(pings(sut)).toEqual([3]);
      expect(delaysOf(sut, 'heartbeatInterval')).toEqual([1_000, 1_000, 1_000, 1_000]);
      expect(sut.connection.metrics().rtt.count).toBe(3);
    },
  },
  {
    name: 'an unanswered probe ends the link after the pong timeout; the connection backs off and dials again',
    variant: 0,
    events: ['connection.start', 'socket.open', 'auth.ok', 'after heartbeatInterval', 'pong deadline', 'after reconnectDelay', 'socket.open', 'auth.ok'],
    check: (sut) => {
      expect(sut.rootEvents.filter((type) => type === 'heartbeat.timeout')).toHaveLength(1);
      expect(sut.server.sockets.map((socket) => socket.closedByClient !== undefined)).toEqual([true, false]);
      expect(delaysOf(sut, 'reconnectDelay')).toEqual([113]);
      expect(pings(sut)).toEqual([1, 0]);
    },
  },
  {
    // heartbeat.timeout leads to a retry at zero delay: that timer falls due at once and fires in the same step.
    name: 'a stable connection whose probe goes unanswered dials again at once',
    variant: 0,
    events: ['connection.start', 'socket.open', 'auth.ok', 'page.freeze', ...keepalives(4), 'after minUptime', 'page.resume', 'pong deadline', 'socket.open'],
    check: (sut) => {
      expect(delaysOf(sut, 'reconnectDelay')).toEqual([0]);
      expect(sut.connection.dials).toBe(2);
      expect(pings(sut), 'five keepalives, then the probe on resume').toEqual([6, 0]);
    },
  },
  {
    name: 'a page that wakes is probed at once; a probe the page hides is dropped, and times nothing out',
    variant: 0,
    events: ['connection.start', 'socket.open', 'auth.ok', 'page.hidden', 'page.visible', 'page.hidden', ...keepalives(4), 'after minUptime', 'page.resume', 'heartbeat.pong'],
    check: (sut) => {
      expect(pings(sut), 'the probe on the first wake, five keepalives, the probe on resume').toEqual([7]);
      expect(sut.rootEvents).not.toContain('heartbeat.timeout');
      expect(sut.connection.status).toBe('connected');
    },
  },
  {
    name: 'the circuit opens after two consecutive failures, dials nothing while open, probes once and closes on success',
    variant: 1,
    events: ['connection.start', 'socket.close 1006', 'after reconnectDelay', 'socket.close 1006', 'after recoveryTimeout', 'socket.open', 'after minUptime'],
    check: (sut) => {
      expect(sut.connection.dials).toBe(3);
      expect(delaysOf(sut, 'recoveryTimeout')).toEqual([1_000]);
    },
  },
  {
    name: 'a failed probe reopens the circuit for twice the recovery time',
    variant: 1,
    events: ['connection.start', 'socket.close 1006', 'after reconnectDelay', 'socket.close 1006', 'after recoveryTimeout', 'socket.close 1006', 'after recoveryTimeout', 'socket.open'],
    check: (sut) => expect(delaysOf(sut, 'recoveryTimeout')).toEqual([1_000, 2_000]),
  },
  {
    name: 'backoff doubles from base to cap while the server keeps closing normally, jittered by each draw',
    variant: 1,
    events: ['connection.start', ...cycle, ...cycle, ...cycle, ...cycle, 'socket.open'],
    check: (sut) => {
      const oracle = new PolicyOracle(sut.variant);
      expect(sut.delays.map(({ draw }) => draw), 'the draws vary').not.toEqual(sut.delays.map(() => sut.delays[0]?.draw));
      expect(delaysOf(sut, 'reconnectDelay')).toEqual(sut.delays.map(({ draw }, attempt) => oracle.backoff(attempt, draw)));
    },
  },
  {
    name: 'the first retry after a stable connection is immediate',
    variant: 1,
    events: ['connection.start', 'socket.open', 'after minUptime', 'socket.close 1006', 'after reconnectDelay', 'socket.open'],
    check: (sut) => expect(delaysOf(sut, 'reconnectDelay')).toEqual([0]),
  },
  {
    name: 'with closeWhenHidden, hiding the page closes the socket and showing it dials again',
    variant: 1,
    events: ['connection.start', 'socket.open', 'page.hidden', 'page.visible', 'socket.open'],
    check: (sut) => expect(sut.server.sockets.map((socket) => socket.closedByClient?.code)).toEqual([1000, undefined]),
  },
  {
    name: 'stop() while the token is being fetched closes at once: a token that arrives afterwards dials nothing',
    variant: 0,
    events: ['connection.start', 'connection.stop'],
    check: (sut) => expect(sut.connection.dials).toBe(0),
  },
  {
    name: 'with closeWhenHidden, a page hidden while offline does not dial when the network returns',
    variant: 1,
    events: ['connection.start', 'socket.open', 'env.offline', 'page.hidden', 'env.online', 'page.visible'],
    check: (sut) => expect(sut.dials.filter((dial) => dial.hidden), 'dials while the page was hidden').toEqual([]),
  },
  {
    name: 'with closeWhenHidden, a page hidden while the circuit is open is not probed until it is visible',
    variant: 1,
    events: ['connection.start', 'socket.close 1006', 'after reconnectDelay', 'socket.close 1006', 'page.hidden', 'page.visible', 'after recoveryTimeout'],
    check: (sut) => expect(sut.dials.filter((dial) => dial.hidden), 'dials while the page was hidden').toEqual([]),
  },
  {
    name: 'retry() from failed while the network is down waits offline and dials nothing',
    variant: 1,
    events: ['connection.start', 'socket.open', 'socket.close 4003', 'env.offline', 'connection.retry', 'env.online', 'socket.open'],
    check: (sut) => expect(sut.dials.map((dial) => dial.online)).toEqual([true, true]),
  },
  {
    name: 'dial gate: every dial waits in queued for a permit of its own, the first and each after a failure',
    variant: GATED,
    events: [...gatedUp, 'socket.close 1006', 'after reconnectDelay', 'permit.granted', 'socket.open'],
    check: (sut) => {
      expect(requestStates(sut)).toEqual(['granted', 'granted']);
      expect(sut.dials.map((dial) => [dial.status, dial.permits])).toEqual([['connecting', 1], ['connecting', 2]]);
    },
  },
  {
    name: 'dial gate: after a 4001 the connection waits for a permit, and asks for no token meanwhile',
    variant: GATED,
    events: [...gatedUp.slice(0, 3), 'socket.close 4001'],
    check: (sut) => {
      expect(sut.connection.status).toBe('queued');
      expect(gateOf(sut).waiting()).toHaveLength(1);
      expect(sut.tokens.reasons).toEqual(['connect']);
      expect(sut.connection.dials).toBe(1);
    },
  },
  {
    name: 'dial gate: the redial after a 4001 asks for a fresh token once the permit comes',
    variant: GATED,
    events: [...gatedUp.slice(0, 3), 'socket.close 4001', 'permit.granted', 'socket.open', 'auth.ok'],
    check: (sut) => {
      expect(sut.tokens.reasons).toEqual(['connect', 'rejected']);
      expect(sut.tokens.statuses).toEqual(['connecting', 'connecting']);
      expect(sut.dials.map((dial) => dial.permits)).toEqual([1, 2]);
    },
  },
  {
    name: 'dial gate: the half-open probe waits for a permit too, and the permit starts the probe',
    variant: GATED,
    events: ['connection.start', 'permit.granted', 'socket.close 1006', 'after reconnectDelay', 'permit.granted', 'socket.close 1006', 'after recoveryTimeout', 'permit.granted', 'socket.open'],
    check: (sut) => {
      expect(sut.dials.map((dial) => [dial.status, dial.permits])).toEqual([['connecting', 1], ['connecting', 2], ['halfOpen', 3]]);
      expect(sut.halfOpenVisits).toBe(1);
    },
  },
  {
    name: 'dial gate: stop() while queued withdraws the request; start() asks again',
    variant: GATED,
    events: ['connection.start', 'connection.stop', 'connection.start', 'permit.granted', 'socket.open'],
    check: (sut) => {
      expect(requestStates(sut)).toEqual(['withdrawn', 'granted']);
      expect(gateOf(sut).requests[0]?.withdrawnIn).toBe('closed');
      expect(sut.connection.dials).toBe(1);
    },
  },
  {
    name: 'dial gate: going offline while queued withdraws the request; back online the connection queues again',
    variant: GATED,
    events: [...gatedUp, 'socket.close 1006', 'after reconnectDelay', 'env.offline', 'env.online', 'permit.granted', 'socket.open'],
    check: (sut) => {
      expect(requestStates(sut)).toEqual(['granted', 'withdrawn', 'granted']);
      expect(sut.dials.map((dial) => dial.online)).toEqual([true, true]);
    },
  },
  {
    name: 'dial gate, closeWhenHidden: hiding the page while queued withdraws the request; showing it queues again',
    variant: GATED,
    events: ['connection.start', 'page.hidden', 'page.visible', 'permit.granted', 'socket.open'],
    check: (sut) => {
      expect(requestStates(sut)).toEqual(['withdrawn', 'granted']);
      expect(sut.dials.filter((dial) => dial.hidden), 'dials while the page was hidden').toEqual([]);
    },
  },
  {
    name: 'dial gate, closeWhenHidden: a page that froze while the reconnect delay ran is not queued when it fires, nor dialed',
    variant: GATED,
    events: [...gatedUp, 'socket.close 1006', 'page.freeze', 'after reconnectDelay', 'page.resume', 'permit.granted', 'socket.open'],
    check: (sut) => {
      expect(requestStates(sut)).toEqual(['granted', 'granted']);
      expect(sut.dials.filter((dial) => dial.hidden), 'dials while the page was hidden').toEqual([]);
    },
  },
  {
    // `queued` checks the page at the grant, as the delayed dials check it when their timer fires.
    name: 'dial gate, closeWhenHidden: a permit granted after the page froze in queued suspends instead of dialing the hidden page',
    variant: GATED,
    events: [...gatedUp, 'socket.close 1006', 'after reconnectDelay', 'page.freeze', 'permit.granted'],
    check: async (sut) => {
      // The token a link would now wait for, and with it the dial.
      sut.tokens.give();
      await settle();
      expect(sut.dials.filter((dial) => dial.hidden), 'dials while the page was hidden').toEqual([]);
      expect(sut.connection.status, 'a permit granted to a frozen page, with closeWhenHidden').toBe('suspended');
    },
  },
  {
    name: 'dial gate with permits to spare: granted within request(), the connection passes through queued and dials at once',
    variant: GATE_OPEN,
    events: ['connection.start', 'socket.open', 'socket.close 1006', 'after reconnectDelay', 'socket.open'],
    check: (sut) => {
      expect(sut.rootEvents.filter((type) => type === 'permit.granted')).toHaveLength(2);
      expect(sut.queuedVisits).toBe(2);
      expect(requestStates(sut)).toEqual(['granted', 'granted']);
      expect(sut.dials.map((dial) => dial.permits)).toEqual([1, 2]);
    },
  },
];

describe('connection model scenarios', () => {
  for (const scenario of scenarios) {
    it(scenario.name, async () => {
      const entry = models[scenario.variant];
      if (!entry) throw new Error(`no variant ${scenario.variant}`);
      const path = entry.model.path(scenario.events);
      checkPolicies(entry.variant, path);
      const options = replayOptions(entry.variant, coverage);
      await entry.model.replay(path, {
        ...options,
        teardown: async (sut, path, failed) => {
          try {
            if (!failed) await scenario.check?.(sut);
          } catch (error) {
            await options.teardown?.(sut, path, true);
            throw error;
          }
          await options.teardown?.(sut, path, failed);
        },
      });
    });
  }
});

describe('connection model coverage', () => {
  it("the pure machine's paths and their replays reach every state node and every transition of the connection machine", () => {
    const states = stateNodesOf(connectionMachine).map((node) => node.id);
    const transitions = transitionsOf(connectionMachine);
    const modelStates = new Set<string>();
    const modelTransitions = new Set<string>();
    for (const { model } of models) {
      const reached = model.reachable();
      for (const id of reached.states) modelStates.add(id);
      for (const id of reached.transitions) modelTransitions.add(id);
    }
    const [report] = coverage.report();
    console.log(
      [
        ...models.map(({ variant, model, paths }) => {
          const { vertices, edges } = model.size();
          return `model (${variant.name}): ${vertices} vertices, ${edges} edges, ${paths.length} paths, ${paths.reduce((n, p) => n + p.steps.length, 0)} steps`;
        }),
        `pure machine: states ${modelStates.size}/${states.length}, transitions ${modelTransitions.size}/${transitions.length}`,
        `replayed: ${coverage.format()}`,
      ].join('\n'),
    );
    expect(states.filter((id) => !modelStates.has(id)), 'state nodes the pure machine cannot reach').toEqual([]);
    expect(transitions.filter((id) => !modelTransitions.has(id)), 'transitions the pure machine cannot reach').toEqual([]);
    expect(report?.states.reached, 'state nodes the replays reach').toBe(states.length);
    expect(report?.transitions.missing, 'transitions the replays do not reach').toEqual([]);
  });
});
