import { createActor, setup, stopChild, type Actor, type AnyActorRef, type AnyEventObject } from 'xstate';
import type { Clock } from '../environment/clock.js';

type HubEvent = { type: 'connection.release'; ref: AnyActorRef } | AnyEventObject;

const isActorError = (event: AnyEventObject): event is AnyEventObject & { error: unknown } => event.type.startsWith('xstate.error.actor');

/**
 * The parent of connections created outside a pool: one per clock, so that they share one XState
 * system (about 3 KB each otherwise). It only releases connections and re-raises their errors.
 */
const hubMachine = setup({
  types: {} as { events: HubEvent },
}).createMachine({
  id: 'socketchart',
  on: {
    'connection.release': { actions: stopChild(({ event }) => (event as Extract<HubEvent, { ref: AnyActorRef }>).ref) },
    '*': {
      actions: ({ event }) => {
        if (isActorError(event)) {
          const { error } = event;
          queueMicrotask(() => {
            throw error;
          });
        }
      },
    },
  },
});

const hubs = new WeakMap<Clock, Actor<typeof hubMachine>>();

/** The shared parent for connections on this clock. */
export function sharedParent(clock: Clock): AnyActorRef {
  let hub = hubs.get(clock);
  if (!hub) {
    hub = createActor(hubMachine, { clock }).start();
    hubs.set(clock, hub);
  }
  return hub;
}

/** Stops a connection actor created under `sharedParent` (or a root one). */
export function releaseActor(actor: AnyActorRef, parent: AnyActorRef | undefined): void {
  if (parent) parent.send({ type: 'connection.release', ref: actor });
  else actor.stop();
}
