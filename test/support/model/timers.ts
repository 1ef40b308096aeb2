import { expect } from 'vitest';
import type { ModelTimer, ReplayStep } from '../../../src/testing/index.js';
import type { SimulatedClock } from '../../../src/testing/index.js';

export interface RealTimer {
  readonly dueAt: number;
  readonly delay: number;
}

/** What a replay records of the real actors' timers and events. */
export interface TimerLog {
  readonly clock: SimulatedClock;
  /** Event types the root actor processed, in order. */
  readonly rootEvents: string[];
  /** Event types each child actor processed, by actor id. */
  readonly childEvents: Map<string, string[]>;
  /** Timers each actor has pending (by actor id, `root` for the root actor), by the event they bring. */
  readonly timers: Map<string, Map<string, RealTimer>>;
}

/** Where the real system keeps a model timer: the actor that owns it (`root` or a child id) and the event it brings. */
export type TimerOwner = (timer: ModelTimer) => { readonly actor: string; readonly type: string };

const firedSinceMark = (events: readonly string[], mark: number, types: ReadonlySet<string>) =>
  events.slice(mark).filter((type) => type.startsWith('xstate.after.') || types.has(type));

/**
 * A delayed step: the timers it fires (the one offered, and every other due at the same instant). Each
 * was set by its actor with the modelled delay; the first fires exactly when due, not a millisecond
 * earlier; and the actors receive these timed events, in this order, and no other.
 */
export function fireDelayed(log: TimerLog, step: ReplayStep<{ readonly fired: readonly ModelTimer[] }>, owner: TimerOwner): void {
  const fired = step.after.fired.map((timer) => ({ timer, ...owner(timer) }));
  expect(fired.length, `${step.event.type} is a timer of the model`).toBeGreaterThan(0);
  const types = new Set(fired.map((f) => f.type));
  const actors = [...new Set(['root', ...fired.map(({ actor }) => actor)])];
  const eventsOf = (actor: string) => (actor === 'root' ? log.rootEvents : (log.childEvents.get(actor) ?? []));
  const marks = new Map(actors.map((actor) => [actor, eventsOf(actor).length]));
  const firedSince = () => actors.map((actor) => [actor, firedSinceMark(eventsOf(actor), marks.get(actor) ?? 0, types)] as const);
  const expected = actors.map((actor) => [actor, fired.filter((f) => f.actor === actor).map((f) => f.type)] as const);
  const realOf = ({ actor, type }: { actor: string; type: string }) => log.timers.get(actor)?.get(type);
  for (const f of fired) {
    const real = realOf(f);
    if (real) expect(real.delay, `${f.actor}: ${f.type} is set with the modelled delay`).toBe(f.timer.delay);
  }
  const first = fired[0];
  const real = first && realOf(first);
  expect(real, `${first?.actor} has set ${first?.type}`).toBeDefined();
  const ms = Math.max(0, (real?.dueAt ?? 0) - log.clock.now());
  if (ms > 0) {
    log.clock.advance(ms - 1);
    expect(firedSince(), `${first?.type} must not fire before ${ms} ms`).toEqual(actors.map((actor) => [actor, []]));
  }
  log.clock.advance(ms > 0 ? 1 : 0);
  for (const f of fired.slice(1)) {
    const later = realOf(f);
    if (later && later.dueAt > log.clock.now() && !eventsOf(f.actor).slice(marks.get(f.actor) ?? 0).includes(f.type)) log.clock.advance(later.dueAt - log.clock.now());
  }
  expect(firedSince(), `${fired.map((f) => f.type).join(' + ')} fire after exactly ${ms} ms, and nothing else`).toEqual(expected);
}
