import type { AnyActorRef, InspectionEvent } from 'xstate';
import { INSPECTION_FORMAT_VERSION, type ActorCreated, type EventSent, type SnapshotChanged, type TakenTransition } from './protocol.js';
import { toPlain, toJsonText } from './serialize.js';

/** What the conversion needs of an actor ref beyond the public type. */
type RefInternals = AnyActorRef & { _parent?: AnyActorRef; logic?: { config?: { id?: string } } };

/** A microstep's transitions as XState hands them to inspection. */
type MicrostepTransitions = ReadonlyArray<{ source?: { id?: string }; target?: ReadonlyArray<{ id?: string }> | undefined; eventType?: string | null }>;

/** The taken transitions of one `@xstate.microstep` event, as state node ids. */
export function transitionsOf(event: InspectionEvent): TakenTransition[] {
  if (event.type !== '@xstate.microstep') return [];
  const transitions = (event as { _transitions?: MicrostepTransitions })._transitions ?? [];
  const taken: TakenTransition[] = [];
  for (const transition of transitions) {
    const source = transition.source?.id;
    if (source === undefined) continue;
    taken.push({ source, targets: (transition.target ?? []).flatMap((target) => (target.id === undefined ? [] : [target.id])), eventType: transition.eventType ?? '' });
  }
  return taken;
}

export interface ConvertOptions {
  depthLimit: number;
  /** The definition text of a logic, when already known (the same machine config is sent by every actor that runs it). */
  definitionOf?: (config: object, make: () => string) => string;
  /** The id the actor is known by (its session id, namespaced when several systems are inspected). */
  idOf(ref: AnyActorRef): string;
  /** When the event happened (epoch ms). */
  at: number;
}

/**
 * An XState inspection event in `@statelyai/inspect`'s format (as its `convertXStateEvent` makes it):
 * `@xstate.actor` with the machine config as JSON text, `@xstate.event`, `@xstate.snapshot`. Other
 * inspection events (`@xstate.microstep`, `@xstate.action`) have no counterpart: `undefined`.
 */
export function convertInspectionEvent(event: InspectionEvent, options: ConvertOptions): ActorCreated | EventSent | SnapshotChanged | undefined {
  const { depthLimit, idOf } = options;
  const createdAt = String(options.at);
  const ref = event.actorRef as RefInternals;
  const sessionId = idOf(ref);
  const rootId = event.rootId === undefined ? undefined : rootIdOf(ref, idOf);
  switch (event.type) {
    case '@xstate.actor': {
      const config = ref.logic?.config;
      let name = ref.id;
      if (name === ref.sessionId && config?.id !== undefined) name = config.id;
      return {
        type: '@xstate.actor',
        name,
        sessionId,
        parentId: ref._parent ? idOf(ref._parent) : undefined,
        rootId,
        definition:
          typeof config === 'object' && config !== null
            ? (options.definitionOf?.(config, () => toJsonText(config, { depthLimit })) ?? toJsonText(config, { depthLimit }))
            : toJsonText({ id: name }, { depthLimit }),
        snapshot: toPlain(ref.getSnapshot(), { depthLimit }),
        createdAt,
        id: null,
        _version: INSPECTION_FORMAT_VERSION,
      };
    }
    case '@xstate.event':
      return {
        type: '@xstate.event',
        event: toPlain(event.event, { depthLimit }) as EventSent['event'],
        sourceId: event.sourceRef ? idOf(event.sourceRef as AnyActorRef) : undefined,
        sessionId,
        rootId,
        createdAt,
        id: null,
        _version: INSPECTION_FORMAT_VERSION,
      };
    case '@xstate.snapshot':
      return {
        type: '@xstate.snapshot',
        event: toPlain(event.event, { depthLimit }) as SnapshotChanged['event'],
        snapshot: toPlain(event.snapshot, { depthLimit }),
        sessionId,
        rootId,
        createdAt,
        id: null,
        _version: INSPECTION_FORMAT_VERSION,
      };
    default:
      return undefined;
  }
}

function rootIdOf(ref: RefInternals, idOf: (ref: AnyActorRef) => string): string {
  let root: RefInternals = ref;
  while (root._parent) root = root._parent as RefInternals;
  return idOf(root);
}
