import { expect } from 'vitest';
import type { AnyMachineSnapshot, EventObject, StateValue } from 'xstate';
import { connectionMachine } from '../../../src/index.js';
import { activeStateIds } from '../../../src/testing/index.js';
import type { Dial, Sut } from './connection-replay.js';
import { GATE_PRIORITY, TIMING } from './connection-model.js';

/**
 * DESIGN "Invariants" 1–6, checked against the real connection after every step of every model path.
 * (7, delivery across reconnects, is a data-plane property the lifecycle model does not drive.)
 * With a dial gate, 8: the gate's permits (see `checkDialGate`).
 */

const statusOfValue = (snapshot: AnyMachineSnapshot): string => {
  const ids = activeStateIds(connectionMachine, snapshot.value as StateValue);
  const leaf = ids.find((id) => id.split('.').length === 3) ?? ids[0] ?? 'connection.idle';
  return leaf.split('.').slice(-1)[0] ?? 'idle';
};

const SOCKETLESS = new Set(['idle', 'queued', 'reconnecting', 'circuitOpen', 'offline', 'suspended', 'closed', 'failed']);
const DIALING = new Set(['connecting', 'halfOpen']);
/** Timers each resting state may own (the connection's own; children add theirs in `link`). */
const TIMERS: Readonly<Record<string, number>> = { idle: 0, queued: 0, offline: 0, suspended: 0, closed: 0, failed: 0, reconnecting: 1, circuitOpen: 1 };

const permitInvokeId = (() => {
  const id = connectionMachine.getStateNodeById('connection.queued').invoke[0]?.id;
  if (!id) throw new Error('connection.queued invokes no permit actor');
  return id;
})();

function expectedChildren(snapshot: AnyMachineSnapshot): string[] {
  const ids = activeStateIds(connectionMachine, snapshot.value as StateValue);
  // `queued` waits for the dial gate through its permit actor.
  if (ids.includes('connection.queued')) return [permitInvokeId];
  if (!ids.includes('connection.link')) return [];
  const children = ['socket'];
  if (ids.includes('connection.link.connected')) {
    // The heartbeat runs one probe at a time, only in `liveness.probing`.
    if (ids.includes('connection.link.connected.liveness.probing')) {
      const node = connectionMachine.getStateNodeById('connection.link.connected.liveness.probing');
      children.push(node.invoke[0]?.id ?? 'heartbeat');
    }
    if (ids.includes('connection.link.connected.outbound.draining')) children.push('flusher');
    if (ids.includes('connection.link.connected.session.refreshing')) {
      const node = connectionMachine.getStateNodeById('connection.link.connected.session.refreshing');
      children.push(node.invoke[0]?.id ?? 'tokenFetch');
    }
  }
  return children.sort();
}

const describeDial = (dial: Dial) => `dial in ${dial.status} (online: ${dial.online}, live sockets before: ${dial.liveBefore})`;

/**
 * Checks the invariants on the real connection. `step`: the model step just replayed, if any (a step
 * the model ends in `failed` must not have dialed).
 */
export function checkConnectionInvariants(sut: Sut, step?: { readonly event: EventObject; readonly after: { readonly snapshot: AnyMachineSnapshot } }): void {
  const { connection, server, clock, env, dials } = sut;
  const snapshot = connection.snapshot;
  const status = statusOfValue(snapshot);
  const stepDials = dials.slice(sut.dialsAtStep);

  // 1. At most one open or opening socket.
  expect(server.live.length, '1: at most one open or opening socket').toBeLessThanOrEqual(1);
  for (const dial of stepDials) expect(dial.liveBefore, `1: ${describeDial(dial)} while another socket was live`).toBe(0);

  // 2 + 3. Dials happen only in connecting or halfOpen: never while circuitOpen, offline, closed or failed
  // (nor in any other state), never while the network is down; one dial per halfOpen visit.
  for (const dial of stepDials) {
    expect(DIALING.has(dial.status), `2/3: ${describeDial(dial)}: only connecting and halfOpen may dial`).toBe(true);
    expect(dial.online, `3: ${describeDial(dial)}: the environment is offline`).toBe(true);
  }
  const probes = new Map<number, number>();
  for (const dial of dials) if (dial.halfOpenVisit > 0) probes.set(dial.halfOpenVisit, (probes.get(dial.halfOpenVisit) ?? 0) + 1);
  for (const [visit, count] of probes) expect(count, `2: dials in halfOpen visit ${visit}`).toBe(1);
  if (!sut.variant.tokenProvider) {
    // Without a token to wait for, the probe dials as halfOpen is entered.
    for (let visit = 1; visit <= sut.halfOpenVisits; visit++) expect(probes.get(visit) ?? 0, `2: dials in halfOpen visit ${visit}`).toBe(1);
  }

  // 4. What a state started stops when it is left: no socket and no child outside `link`, exactly the
  // children of the active states inside it, no stray timer, no environment listener once closed or failed.
  const children = Object.keys(snapshot.children).sort();
  expect(children, `4: child actors in ${status}`).toEqual(expectedChildren(snapshot));
  if (SOCKETLESS.has(status)) expect(server.live, `4: live sockets in ${status}`).toHaveLength(0);
  const timers = TIMERS[status];
  if (timers !== undefined) expect(clock.pending, `4: pending timers in ${status}`).toBe(timers);
  if (status === 'closed' || status === 'failed') expect(env.listenerCount, `4: environment listeners in ${status}`).toBe(0);
  else if (status !== 'idle') expect(env.listenerCount, `4: environment listeners in ${status}`).toBe(1);

  // 5. Backoff delays lie within [base, cap].
  for (const { kind, ms } of sut.delays) {
    if (kind !== 'backoff') continue;
    expect(ms, '5: backoff delay ≥ base').toBeGreaterThanOrEqual(TIMING.reconnect.baseMs);
    expect(ms, '5: backoff delay ≤ cap').toBeLessThanOrEqual(TIMING.reconnect.capMs);
  }

  // 6. A permanently rejected credential (4003, AUTHORIZATION_FAILED, a second 4001) — like every
  // fatal failure — never causes another dial without retry()/start().
  if (status === 'failed' || status === 'closed') {
    expect(sut.dialsAtRest, `6: dials recorded when ${status} was entered`).toBeDefined();
    expect(connection.dials, `6: no dial since the connection became ${status}`).toBe(sut.dialsAtRest);
  }
  if (step && statusOfValue(step.after.snapshot) === 'failed') {
    expect(stepDials, `6: no dial on the way to failed (${step.event.type})`).toEqual([]);
  }

  // A token is asked for by the socket actor of `link` as it dials (reason connect or rejected), or by
  // the in-band refresh of `connected`: never while queued for a permit, nor anywhere else.
  sut.tokens.statuses.forEach((asked, i) => {
    const reason = sut.tokens.reasons[i];
    const where = reason === 'refresh' ? ['connected'] : ['connecting', 'halfOpen'];
    expect(where, `token request ${i + 1} (${reason}) made in ${asked}`).toContain(asked);
  });

  checkDialGate(sut, status);
}

/**
 * 8. The dial gate (variants with one). Every dial waits for a permit of its own: no dial while
 * `queued` or while a request waits at the gate, and never two dials on one permit. A connection asks
 * the gate once per visit of `queued`, from `queued`, with its priority, and has at most one request
 * outstanding; leaving `queued` withdraws a request still waiting (so a connection that is not in
 * `queued` has none), and the gate never grants a withdrawn one.
 */
function checkDialGate(sut: Sut, status: string): void {
  const { gate, dials } = sut;
  if (!gate) {
    expect(status, '8: no gate, no queue').not.toBe('queued');
    return;
  }
  for (const dial of dials.slice(sut.dialsAtStep)) {
    expect(dial.status, `8: ${describeDial(dial)}: no dial while queued`).not.toBe('queued');
    expect(dial.gateWaiting, `8: ${describeDial(dial)} while a request waited at the gate`).toBe(0);
  }
  dials.forEach((dial, i) => {
    const previous = i === 0 ? 0 : (dials[i - 1] as Dial).permits;
    expect(dial.permits, `8: dial ${i + 1} (${describeDial(dial)}) has a permit of its own (permits granted before it; before the previous dial: ${previous})`).toBeGreaterThan(previous);
  });
  expect(gate.requests.length, '8: one request at the gate per visit of queued').toBe(sut.queuedVisits);
  gate.requests.forEach((request, i) => {
    const which = `8: request ${i + 1} (made in ${request.status})`;
    expect(request.status, `${which}: asked from queued`).toBe('queued');
    expect(request.priority, `${which}: asked with the connection's priority`).toBe(GATE_PRIORITY);
    expect(request.waitingBefore, `${which}: at most one request outstanding per connection`).toBe(0);
    expect(request.withdrawals, `${which}: withdrawn at most once`).toBeLessThanOrEqual(1);
    if (request.state === 'withdrawn') expect(request.withdrawnIn, `${which}: withdrawn as queued was left`).not.toBe('queued');
  });
  const waiting = gate.waiting();
  expect(waiting.length, '8: at most one request outstanding per connection').toBeLessThanOrEqual(1);
  if (status !== 'queued') expect(waiting, `8: requests waiting at the gate in ${status}`).toEqual([]);
  else expect(waiting.length, '8: queued: its request waits at the gate').toBe(sut.variant.dialGate === 'held' ? 1 : 0);
}

/** After stop(): no socket, no timer, no child actor, no environment listener. */
export function expectNothingLeftAfterStop(sut: Sut): void {
  const { connection, server, clock, env } = sut;
  expect(connection.status, 'stop() ends in closed').toBe('closed');
  expect(server.live, '4: sockets after stop()').toHaveLength(0);
  expect(clock.pending, '4: timers after stop()').toBe(0);
  expect(Object.keys(connection.snapshot.children), '4: child actors after stop()').toEqual([]);
  expect(env.listenerCount, '4: environment listeners after stop()').toBe(0);
  if (sut.gate) expect(sut.gate.waiting(), '8: requests waiting at the gate after stop()').toEqual([]);
}
