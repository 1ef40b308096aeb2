import { expect } from 'vitest';
import type { AnyActorRef, AnyMachineSnapshot, EventObject } from 'xstate';
import { flusherMachine, heartbeatMachine } from '../../../src/index.js';
import { createModel, transitionsOf, type Coverage, type MachineModel, type ModelPath, type ModelStateOf, type ReplayOptions, type ReplayStep } from '../../../src/testing/index.js';
import { settle } from '../harness.js';
import { checkConnectionInvariants } from './invariants.js';
import { TIMING, type Variant } from './connection-model.js';
import { createSut, socketOf, stopAndCheck, type Sut } from './connection-replay.js';
import { fireDelayed } from './timers.js';

/**
 * Models of the connection's two child machines, replayed inside a real connection: the heartbeat
 * probe (ping / pong / other traffic / timeout, throttled timers) and the flusher (draining the
 * outbound queue while the socket pushes back).
 */

const describeEvent = (event: EventObject) =>
  event.type.startsWith('xstate.after.') ? `after ${event.type.slice('xstate.after.'.length).split('.')[0]}` : event.type;

const childSnapshot = (sut: Sut, id: string): AnyMachineSnapshot | undefined => {
  const child = (sut.connection.snapshot.children as Record<string, AnyActorRef | undefined>)[id];
  return child?.getSnapshot() as AnyMachineSnapshot | undefined;
};

// ---------------------------------------------------------------------------------------------------
// Heartbeat: one probe, started by the connection's `liveness` region

export interface HeartbeatVariant {
  readonly name: string;
  /** How `connected.liveness` comes to start the probe. */
  readonly start: 'interval' | 'visible' | 'resume';
}

export const heartbeatVariants: readonly HeartbeatVariant[] = [
  { name: 'after a quiet interval', start: 'interval' },
  { name: 'as a page hidden when connected becomes visible', start: 'visible' },
  { name: 'as a frozen page resumes', start: 'resume' },
];

export interface HeartbeatWorld {
  /** The probe reported a dead socket: the connection stopped it. */
  readonly reported: boolean;
}

type HeartbeatState = ModelStateOf<typeof heartbeatMachine, HeartbeatWorld>;

/** How late a throttled tab's timer fires (more than twice the pong deadline: not to be trusted). */
const THROTTLE = 3 * TIMING.heartbeat.timeoutMs;

const connectionVariant = (heartbeat: boolean): Variant => ({ name: 'no auth', tokenProvider: false, closeWhenHidden: false, heartbeat });

const heartbeatTransition = (prefix: string) => {
  const id = transitionsOf(heartbeatMachine).find((candidate) => candidate.startsWith(prefix));
  if (!id) throw new Error(`the heartbeat machine has no transition ${prefix}…`);
  return id;
};
const REPORT = heartbeatTransition('heartbeat.awaitingPong: heartbeat.deadline → (stays)');
const REPING = heartbeatTransition('heartbeat.awaitingPong: heartbeat.deadline [timerWasLate] → heartbeat.awaitingPong');
const PONGED = heartbeatTransition('heartbeat.awaitingPong: heartbeat.pong [answersThisPing] → heartbeat.alive');

/** The deadline of the probe: on time, or a throttled timer that fires late. */
const deadline = (late: boolean) => ({ type: 'heartbeat.deadline', elapsedMs: late ? THROTTLE : TIMING.heartbeat.timeoutMs });

const describeHeartbeatEvent = (event: EventObject) => {
  const e = event as EventObject & { stale?: boolean; elapsedMs?: number };
  if (e.type === 'heartbeat.pong' && e.stale) return 'stale pong';
  if (e.type === 'heartbeat.deadline') return e.elapsedMs === THROTTLE ? 'late deadline' : 'deadline';
  return describeEvent(event);
};

/** The pure heartbeat machine: its ping and its deadline actor are stubs; the deadline comes as an event. */
export function heartbeatModel(): MachineModel<typeof heartbeatMachine, HeartbeatWorld> {
  return createModel<typeof heartbeatMachine, HeartbeatWorld>({
    machine: heartbeatMachine,
    input: { timeoutMs: TIMING.heartbeat.timeoutMs },
    world: { reported: false },
    abstract: (snapshot, world) => ({ value: snapshot.value, heard: snapshot.context.heard, reported: world.reported }),
    describeEvent: describeHeartbeatEvent,
    events: ({ snapshot, world }) => {
      if (world.reported || snapshot.value !== 'awaitingPong') return [];
      const events: Array<EventObject & Record<string, unknown>> = [{ type: 'heartbeat.pong' }, deadline(false), deadline(true)];
      // A stale pong is a frame too: the probe has heard from the server by the time it arrives.
      if (snapshot.context.heard) events.push({ type: 'heartbeat.pong', stale: true });
      else events.push({ type: 'heartbeat.traffic' });
      return events;
    },
    after: (world, _event, _previous, _next, taken) => (taken.includes(REPORT) ? { ...world, reported: true } : world),
  });
}

/**
 * The heartbeat's policy as the README states it, on its own: a pong that answers the ping ends the
 * probe; a stale one does not; traffic since the ping is proof enough at the deadline; a deadline that
 * fired far late is not trusted (the probe pings again); an unanswered one on time reports a dead link.
 */
export function checkHeartbeatPolicies(path: ModelPath<HeartbeatState>): void {
  let heard = false;
  path.steps.forEach(({ event, state }, i) => {
    const e = event as EventObject & { stale?: boolean; elapsedMs?: number };
    const where = `step ${i + 1} of ${path.description}`;
    const alive = state.snapshot.status === 'done';
    if (e.type === 'heartbeat.traffic') heard = true;
    if (e.type === 'heartbeat.pong') expect(alive, `${where}: ${e.stale ? 'a stale pong leaves the probe waiting' : 'a pong ends the probe'}`).toBe(!e.stale);
    if (e.type === 'heartbeat.deadline') {
      const late = (e.elapsedMs ?? 0) > 2 * TIMING.heartbeat.timeoutMs;
      if (heard) expect(alive, `${where}: traffic since the ping proves the link`).toBe(true);
      else if (late) expect([alive, state.world.reported], `${where}: a late deadline pings again`).toEqual([false, false]);
      else expect(state.world.reported, `${where}: no pong, no traffic: a dead link`).toBe(true);
      heard = false;
    }
  });
}

/** Transitions a path took up to and including `step`. */
const takenSoFar = (step: ReplayStep<HeartbeatState> | undefined, id: string) =>
  step ? step.path.steps.slice(0, step.index + 1).reduce((n, { state }) => n + state.taken.filter((taken) => taken === id).length, 0) : 0;

export function heartbeatReplay(variant: HeartbeatVariant, coverage: Coverage): ReplayOptions<Sut, HeartbeatState> {
  let seq = 0;
  const liveness = (sut: Sut) => (sut.connection.snapshot.value as { link?: { connected?: { liveness?: string } } }).link?.connected?.liveness;
  return {
    setup: async () => {
      const sut = createSut(connectionVariant(true), coverage);
      if (variant.start === 'visible') sut.env.emit('hidden');
      sut.connection.start();
      await settle();
      socketOf(sut).accept();
      await settle();
      expect(sut.connection.status).toBe('connected');
      expect(liveness(sut), 'liveness as the connection comes up').toBe(variant.start === 'visible' ? 'suspended' : 'quiet');
      if (variant.start === 'interval') sut.clock.advance(TIMING.heartbeat.intervalMs);
      if (variant.start === 'visible') sut.env.emit('visible');
      if (variant.start === 'resume') {
        sut.env.emit('freeze');
        expect(liveness(sut), 'a frozen page suspends the liveness checks').toBe('suspended');
        sut.env.emit('resume');
      }
      await settle();
      expect(liveness(sut), 'the probe runs').toBe('probing');
      return sut;
    },
    stimuli: {
      // A pong echoes its ping's time; a stale one, an earlier ping's.
      'heartbeat.pong': (sut, step) => socketOf(sut).push({ type: 'pong', ts: (step.event as EventObject & { stale?: boolean }).stale ? 0 : sut.clock.now() }),
      'heartbeat.traffic': (sut) => socketOf(sut).push({ type: 'message', ch: 'news', seq: ++seq, data: seq }),
      'heartbeat.deadline': (sut, step) => {
        const late = (step.event as EventObject & { elapsedMs?: number }).elapsedMs === THROTTLE;
        const before = sut.childEvents.get('heartbeat')?.length ?? 0;
        if (late) sut.clock.jump(THROTTLE);
        else {
          sut.clock.advance(TIMING.heartbeat.timeoutMs - 1);
          expect(sut.childEvents.get('heartbeat')?.slice(before), 'no deadline before timeoutMs').not.toContain('heartbeat.deadline');
        }
        sut.clock.advance(late ? 0 : 1);
        expect(sut.childEvents.get('heartbeat')?.slice(before), 'the deadline fires').toContain('heartbeat.deadline');
      },
    },
    assert: (sut, state, step) => {
      const child = childSnapshot(sut, 'heartbeat');
      if (state.world.reported) {
        expect(child, 'the connection stops the probe that reported a dead socket').toBeUndefined();
        expect(sut.rootEvents, 'the connection heard of the timeout').toContain('heartbeat.timeout');
        expect(sut.connection.status).toBe('reconnecting');
      } else if (state.snapshot.status === 'done') {
        expect(child, 'a probe that found the link alive is gone').toBeUndefined();
        expect(sut.rootEvents.at(-1), 'the connection heard the probe end').toBe('xstate.done.actor.heartbeat');
        expect(sut.connection.status).toBe('connected');
        expect(liveness(sut), 'the connection waits a quiet interval again').toBe('quiet');
        expect(sut.timers.get('root')?.get(`xstate.after.heartbeatInterval.connection.link.connected.liveness.quiet`)?.delay).toBe(TIMING.heartbeat.intervalMs);
      } else {
        expect(sut.connection.status).toBe('connected');
        expect(liveness(sut)).toBe('probing');
        expect(child?.value, 'heartbeat state').toEqual(state.snapshot.value);
      }
      // One ping as the probe starts, and one more each time it distrusts a late timer.
      expect(socketOf(sut).sentOfType('ping'), 'pings sent').toHaveLength(1 + takenSoFar(step, REPING));
      expect(sut.connection.metrics().rtt.count, 'RTT samples (one per pong that answers its ping)').toBe(takenSoFar(step, PONGED));
      checkConnectionInvariants(sut);
    },
    teardown: async (sut, _path, failed) => {
      if (failed) sut.connection.dispose();
      else await stopAndCheck(sut);
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Flusher

export interface FlusherVariant {
  readonly name: string;
  /** The socket pushes back when the flusher starts. */
  readonly blocked: boolean;
  /** The server has asked to wait (`retry_after`) for its rate limit. @default false */
  readonly throttled?: boolean;
}

export const flusherVariants: readonly FlusherVariant[] = [
  { name: 'the socket pushes back when a send queues', blocked: true },
  { name: 'messages queued while connecting', blocked: false },
  { name: 'the server asks to wait (retry_after) while the socket pushes back', blocked: true, throttled: true },
];

/** How long the rate limit holds the queue in the throttled variant (the server's `retry_after`). */
const THROTTLED_WAIT_MS = 60_000;

export interface FlusherWorld {
  /** `bufferedAmount` is at or above the high-water mark. */
  readonly blocked: boolean;
  /** The rate limit holds every message. */
  readonly throttled: boolean;
}

type FlusherState = ModelStateOf<typeof flusherMachine, FlusherWorld>;

/** The pure flusher with its drain a stub: the model says how each drain goes. */
const modelFlusher = flusherMachine.provide({ actions: { drain: () => {} } });

export function flusherModel(variant: FlusherVariant): MachineModel<typeof flusherMachine, FlusherWorld> {
  return createModel<typeof flusherMachine, FlusherWorld>({
    machine: modelFlusher as unknown as typeof flusherMachine,
    input: { retryMs: TIMING.flushRetryMs },
    world: { blocked: variant.blocked, throttled: variant.throttled ?? false },
    abstract: (snapshot, world) => ({ value: snapshot.value, world }),
    // `draining` writes what it can at once and tells itself how it went.
    internal: (snapshot, world) =>
      snapshot.value === 'draining'
        ? world.blocked
          ? { type: 'flush.blocked' }
          : world.throttled
            ? { type: 'flush.throttled', waitMs: THROTTLED_WAIT_MS }
            : { type: 'flush.empty' }
        : undefined,
    describeEvent,
    events: (state) => [{ type: state.world.blocked ? 'network.drains' : 'network.congests' }],
    before: (world, event) =>
      event.type === 'network.drains' ? { ...world, blocked: false } : event.type === 'network.congests' ? { ...world, blocked: true } : world,
  });
}

export function flusherReplay(variant: FlusherVariant, coverage: Coverage): ReplayOptions<Sut, FlusherState> {
  const congest = (sut: Sut) => {
    sut.blocked = true;
    socketOf(sut).bufferedAmount = TIMING.queue.highWaterMark;
  };
  return {
    setup: async () => {
      const sut = createSut(connectionVariant(false), coverage);
      sut.connection.start();
      await settle();
      if (variant.blocked) {
        socketOf(sut).accept();
        await settle();
        congest(sut);
        if (variant.throttled) socketOf(sut).push({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', message: 'rate limit exceeded', retry_after: THROTTLED_WAIT_MS / 1000 });
        void sut.connection.send('{"n":1}').catch(() => {});
      } else {
        void sut.connection.send('{"n":1}').catch(() => {});
        expect(sut.connection.queued, 'send() queues while connecting').toBe(1);
        socketOf(sut).accept();
      }
      await settle();
      return sut;
    },
    stimuli: {
      'network.drains': (sut) => {
        sut.blocked = false;
        socketOf(sut).bufferedAmount = 0;
      },
      'network.congests': congest,
    },
    delayed: (sut, step) => fireDelayed(sut, step, (timer) => ({ actor: 'flusher', type: timer.event.type })),
    assert: (sut, state) => {
      expect(sut.connection.status).toBe('connected');
      const child = childSnapshot(sut, 'flusher');
      if (state.snapshot.status === 'done' && state.snapshot.value === 'throttled') {
        expect(child, 'the flusher is gone once what is left waits for the rate limit').toBeUndefined();
        expect(sut.connection.snapshot.value).toEqual({ link: { connected: { liveness: 'unmonitored', outbound: 'throttled', session: 'valid' } } });
        expect(sut.connection.queued, 'the message waits').toBe(1);
        expect(socketOf(sut).sent.map((frame) => frame.raw)).not.toContain(JSON.stringify({ n: 1 }));
        expect(sut.connection.metrics().throttles).toBe(1);
        const { throttleMs } = sut.connection.snapshot.context;
        expect(throttleMs, 'the queue waits for what is left of the retry_after').toBeGreaterThan(THROTTLED_WAIT_MS - TIMING.flushRetryMs * 2);
        expect(throttleMs).toBeLessThanOrEqual(THROTTLED_WAIT_MS);
      } else if (state.snapshot.status === 'done') {
        expect(child, 'the flusher is gone once the queue is written').toBeUndefined();
        expect(sut.connection.snapshot.value).toEqual({ link: { connected: { liveness: 'unmonitored', outbound: 'streaming', session: 'valid' } } });
        expect(sut.connection.queued).toBe(0);
        expect(socketOf(sut).sent.map((frame) => frame.raw)).toContain(JSON.stringify({ n: 1 }));
      } else {
        expect(child?.value, 'flusher state').toEqual(state.snapshot.value);
        expect(sut.connection.queued).toBe(1);
      }
      checkConnectionInvariants(sut);
    },
    teardown: async (sut, _path, failed) => {
      if (failed) sut.connection.dispose();
      else await stopAndCheck(sut);
    },
  };
}
