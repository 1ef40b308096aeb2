import { createActor, setup, stopChild, type Actor, type AnyActorRef, type AnyEventObject } from 'xstate';
import type { Clock } from '../environment/clock.js';
import { rethrowLater } from '../events/emitter.js';

type HubEvent = { type: 'connection.release'; ref: AnyActorRef } | AnyEventObject;

const isActorError = (event: AnyEventObject): event is AnyEventObject & { error: unknown } => event.type.startsWith('xstate.error.actor');

/**
 * The parent of connections created outside a pool: one per clock, so that they share one XState
 * system (about 3 KB each otherwise). It only releases connections and re-raises their errors.
 */
const hubMachine = /* @__PURE__ */ setup({
  types: {} as { events: HubEvent },
}).createMachine({
  id: 'socketchart',
  on: {
    'connection.release': { actions: /* @__PURE__ */ stopChild(({ event }) => (event as Extract<HubEvent, { ref: AnyActorRef }>).ref) },
    '*': {
      actions: ({ event }) => {
        if (isActorError(event)) rethrowLater(event.error);
      },
    },
  },
});

type SchedulerFns = {
  schedule(source: AnyActorRef, target: AnyActorRef, event: AnyEventObject, delay: number, id?: string): void;
  cancel(source: AnyActorRef, id: string): void;
  cancelAll(actor: AnyActorRef): void;
};

type TunedSystem = {
  scheduler: SchedulerFns;
  _snapshot: { _scheduledEvents: Record<string, { source: AnyActorRef; id: string }> };
  _sendInspectionEvent(event: { type: string; actorRef?: AnyActorRef }): void;
  /** Tuned: the ids of each actor's pending delayed events. */
  tuned?: WeakMap<AnyActorRef, string | string[]>;
};

/**
 * Tunes the XState system `root` runs in for thousands of long-lived actors:
 * - XState's scheduler cancels an actor's delayed events by scanning every pending event of the whole
 *   system, so in a system shared by 10,000 connections each actor stop (a socket, a permit wait, a
 *   heartbeat probe) costs milliseconds. Pending event ids are indexed by actor here, so a stop touches
 *   only the stopping actor's own timers. Ids of events that already fired are pruned as the actor
 *   schedules; an actor with one pending event (the usual case) is indexed by that id alone.
 * - Each actor's options object (`{ ...defaults, ...options }` in XState's constructor) gets a hidden class
 *   of its own in V8, about 300 bytes per actor; every actor created in the system from now on, and `root`,
 *   keeps the same options in an object of one shape instead.
 */
export function tuneSystem(root: AnyActorRef): void {
  const system = root.system as unknown as TunedSystem;
  if (system.tuned) return;
  indexScheduledEvents(system);
  const sendInspectionEvent = system._sendInspectionEvent;
  system._sendInspectionEvent = (event) => {
    if (event.type === '@xstate.actor' && event.actorRef) compactOptions(event.actorRef);
    sendInspectionEvent(event);
  };
  compactOptions(root);
}

function indexScheduledEvents(system: TunedSystem): void {
  const { scheduler } = system;
  const schedule = scheduler.schedule;
  const cancel = scheduler.cancel;
  const byActor = (system.tuned = new WeakMap<AnyActorRef, string | string[]>());
  const isPending = (source: AnyActorRef, id: string) => `${source.sessionId}.${id}` in system._snapshot._scheduledEvents;
  scheduler.schedule = (source, target, event, delay, id = Math.random().toString(36).slice(2)) => {
    schedule(source, target, event, delay, id);
    const known = byActor.get(source);
    const pending = known === undefined ? [] : (typeof known === 'string' ? [known] : known).filter((other) => other !== id && isPending(source, other));
    byActor.set(source, pending.length === 0 ? id : pending.concat(id));
  };
  scheduler.cancelAll = (actor) => {
    const ids = byActor.get(actor);
    if (ids === undefined) return;
    byActor.delete(actor);
    if (typeof ids === 'string') cancel(actor, ids);
    else for (const id of ids) cancel(actor, id);
  };
}

/**
 * Tunes the system of `root`, one that may run already (an app's machine that runs a pool): the delayed
 * events its actors scheduled before are indexed too, and cancelled when they stop.
 */
export function tuneRunningSystem(root: AnyActorRef): void {
  const system = root.system as unknown as TunedSystem;
  if (system.tuned) return;
  tuneSystem(root);
  const byActor = system.tuned!;
  for (const { source, id } of Object.values(system._snapshot._scheduledEvents)) {
    const known = byActor.get(source);
    byActor.set(source, known === undefined ? id : [known].flat().concat(id));
  }
}

type ActorOptions = Record<string, unknown>;

const actorOptionKeys = new Set(['clock', 'logger', 'devTools', 'input', 'id', 'systemId', 'src', 'parent', 'syncSnapshot']);

function compactOptions(actor: AnyActorRef): void {
  const holder = actor as unknown as { options: ActorOptions };
  const o = holder.options;
  if (o === undefined) return;
  const compact: ActorOptions = {
    clock: o.clock,
    logger: o.logger,
    devTools: o.devTools,
    input: o.input,
    id: o.id,
    systemId: o.systemId,
    src: o.src,
    parent: o.parent,
    syncSnapshot: o.syncSnapshot,
  };
  for (const key of Object.keys(o)) if (!actorOptionKeys.has(key) && o[key] !== undefined) compact[key] = o[key];
  holder.options = compact;
}

const hubs = new WeakMap<Clock, Actor<typeof hubMachine>>();

/** The shared parent for connections on this clock. */
export function sharedParent(clock: Clock): AnyActorRef {
  let hub = hubs.get(clock);
  if (!hub) {
    hub = createActor(hubMachine, { clock }).start();
    tuneSystem(hub);
    hubs.set(clock, hub);
  }
  return hub;
}

/**
 * Stops a connection actor: its owner (a pool, or the shared parent) stops its child; a root actor stops
 * itself; an actor whose owner has stopped already (a pool stopped by the app that embeds it) is stopped
 * directly, as its owner would have.
 */
export function releaseActor(actor: AnyActorRef, parent: AnyActorRef | undefined): void {
  if (!parent) actor.stop();
  else if (parent.getSnapshot().status === 'active') parent.send({ type: 'connection.release', ref: actor });
  else (actor as unknown as { _stop(): void })._stop();
}
