import { expect } from 'vitest';
import type { AnyActorRef, AnyMachineSnapshot, EventObject } from 'xstate';
import { flusherMachine, heartbeatMachine } from '../../src/index.js';
import {
  createModel,
  nextTimer,
  transitionsOf,
  type Coverage,
  type MachineModel,
  type ModelStateOf,
  type ReplayOptions,
} from '../../src/testing/index.js';
import { settle } from './harness.js';
import { checkConnectionInvariants } from './model-invariants.js';
import { TIMING, createSut, fireDelayed, modelRuntime, socketOf, stopAndCheck, type Sut, type Variant } from './model-connection.js';

/**
 * Models of the connection's two child machines, replayed inside a real connection: the heartbeat
 * (ping / pong / timeout, page lifecycle, throttled timers) and the flusher (draining the outbound
 * queue while the socket pushes back).
 */

const describeEvent = (event: EventObject) =>
  event.type.startsWith('xstate.after.') ? `after ${event.type.slice('xstate.after.'.length).split('.')[0]}` : event.type;

const childSnapshot = (sut: Sut, id: string): AnyMachineSnapshot | undefined => {
  const child = (sut.connection.snapshot.children as Record<string, AnyActorRef | undefined>)[id];
  return child?.getSnapshot() as AnyMachineSnapshot | undefined;
};

// ---------------------------------------------------------------------------------------------------
// Heartbeat

export interface HeartbeatVariant {
  readonly name: string;
  readonly enabled: boolean;
  /** The page is hidden when the connection comes up. */
  readonly startHidden: boolean;
}

export const heartbeatVariants: readonly HeartbeatVariant[] = [
  { name: 'visible page', enabled: true, startHidden: false },
  { name: 'page hidden when connected', enabled: true, startHidden: true },
  { name: 'heartbeat disabled', enabled: false, startHidden: false },
];

export interface HeartbeatWorld {
  readonly hidden: boolean;
  /** Inbound messages so far (the runtime's `metrics.messagesIn`). */
  readonly inbound: number;
  /** The heartbeat reported a dead socket: the connection stopped it. */
  readonly reported: boolean;
}

type HeartbeatState = ModelStateOf<typeof heartbeatMachine, HeartbeatWorld>;

/** How late a throttled tab's timer fires (more than twice the pong timeout: not to be trusted). */
const THROTTLE = 3 * TIMING.heartbeat.timeoutMs;

const connectionVariant = (heartbeat: boolean): Variant => ({ name: 'no auth', tokenProvider: false, closeWhenHidden: false, heartbeat });

export function heartbeatModel(variant: HeartbeatVariant): MachineModel<typeof heartbeatMachine, HeartbeatWorld> {
  const { rt, clock } = modelRuntime(connectionVariant(variant.enabled));
  const report = transitionsOf(heartbeatMachine).find((id) => id.startsWith('heartbeat.awaitingPong: after(pongTimeout) → (stays)'));
  const heard = (snapshot: AnyMachineSnapshot, world: HeartbeatWorld) =>
    snapshot.value === 'awaitingPong' && world.inbound !== (snapshot.context as { inboundAtPing: number }).inboundAtPing;
  return createModel<typeof heartbeatMachine, HeartbeatWorld>({
    machine: heartbeatMachine,
    input: rt,
    world: { hidden: variant.startHidden, inbound: 0, reported: false },
    abstract: (snapshot, world) => ({ value: snapshot.value, heard: heard(snapshot, world), hidden: world.hidden, reported: world.reported }),
    sync: (world, now) => {
      rt.hidden = world.hidden;
      rt.metrics.messagesIn = world.inbound;
      clock.at = now;
    },
    describeEvent,
    events: (state) => {
      const { snapshot, world } = state;
      if (world.reported) return [];
      const events: EventObject[] = world.hidden ? [{ type: 'page.visible' }, { type: 'page.resume' }] : [{ type: 'page.hidden' }, { type: 'page.freeze' }];
      if (snapshot.value === 'awaitingPong') {
        events.push({ type: 'heartbeat.pong' });
        if (!heard(snapshot, world)) events.push({ type: 'server.message' });
        if ((nextTimer(state.timers)?.dueAt ?? -Infinity) > state.now) events.push({ type: 'clock.throttled' });
      }
      return events;
    },
    duration: (event) => (event.type === 'clock.throttled' ? THROTTLE : 0),
    before: (world, event) => {
      if (event.type === 'page.hidden' || event.type === 'page.freeze') return { ...world, hidden: true };
      if (event.type === 'page.visible' || event.type === 'page.resume') return { ...world, hidden: false };
      if (event.type === 'server.message') return { ...world, inbound: world.inbound + 1 };
      return world;
    },
    after: (world, _event, _previous, _next, taken) => (report !== undefined && taken.includes(report) ? { ...world, reported: true } : world),
  });
}

export function heartbeatReplay(variant: HeartbeatVariant, coverage: Coverage): ReplayOptions<Sut, HeartbeatState> {
  let seq = 0;
  return {
    setup: async () => {
      const sut = createSut(connectionVariant(variant.enabled), coverage, { autoPong: false });
      if (variant.startHidden) sut.env.emit('hidden');
      sut.connection.start();
      await settle();
      socketOf(sut).accept();
      await settle();
      expect(sut.connection.status).toBe('connected');
      return sut;
    },
    stimuli: {
      'heartbeat.pong': (sut) => socketOf(sut).push({ type: 'pong', ts: sut.clock.now() }),
      'server.message': (sut) => socketOf(sut).push({ type: 'message', ch: 'news', seq: ++seq, data: seq }),
      'clock.throttled': (sut) => sut.clock.jump(THROTTLE),
      'page.hidden': (sut) => sut.env.emit('hidden'),
      'page.visible': (sut) => sut.env.emit('visible'),
      'page.freeze': (sut) => sut.env.emit('freeze'),
      'page.resume': (sut) => sut.env.emit('resume'),
    },
    delayed: (sut, step) => fireDelayed(sut, 'heartbeat', step),
    assert: (sut, state) => {
      const child = childSnapshot(sut, 'heartbeat');
      if (state.world.reported) {
        expect(child, 'the connection stops the heartbeat that reported a dead socket').toBeUndefined();
        expect(sut.rootEvents, 'the connection heard of the timeout').toContain('heartbeat.timeout');
        expect(sut.connection.status).toBe('reconnecting');
      } else {
        expect(sut.connection.status).toBe('connected');
        expect(child?.value, 'heartbeat state').toEqual(state.snapshot.value);
      }
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
}

export const flusherVariants: readonly FlusherVariant[] = [
  { name: 'the socket pushes back when a send queues', blocked: true },
  { name: 'messages queued while connecting', blocked: false },
];

export interface FlusherWorld {
  /** `bufferedAmount` is at or above the high-water mark. */
  readonly blocked: boolean;
}

type FlusherState = ModelStateOf<typeof flusherMachine, FlusherWorld>;

export function flusherModel(variant: FlusherVariant): MachineModel<typeof flusherMachine, FlusherWorld> {
  const { rt, clock } = modelRuntime(connectionVariant(false));
  return createModel<typeof flusherMachine, FlusherWorld>({
    machine: flusherMachine,
    input: rt,
    world: { blocked: variant.blocked },
    abstract: (snapshot, world) => ({ value: snapshot.value, world }),
    sync: (_world, now) => {
      clock.at = now;
    },
    // `draining` writes what it can at once and tells itself how it went.
    internal: (snapshot, world) => (snapshot.value === 'draining' ? { type: world.blocked ? 'flush.blocked' : 'flush.empty' } : undefined),
    describeEvent,
    events: (state) => [{ type: state.world.blocked ? 'network.drains' : 'network.congests' }],
    before: (world, event) => (event.type === 'network.drains' ? { blocked: false } : event.type === 'network.congests' ? { blocked: true } : world),
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
        void sut.connection.send({ n: 1 }).catch(() => {});
      } else {
        void sut.connection.send({ n: 1 }).catch(() => {});
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
    delayed: (sut, step) => fireDelayed(sut, 'flusher', step),
    assert: (sut, state) => {
      expect(sut.connection.status).toBe('connected');
      const child = childSnapshot(sut, 'flusher');
      if (state.snapshot.status === 'done') {
        expect(child, 'the flusher is gone once the queue is written').toBeUndefined();
        expect(sut.connection.snapshot.value).toEqual({ link: { connected: { outbound: 'streaming', token: 'valid' } } });
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
