import { createMachine, type AnyStateMachine, type StateMachine } from 'xstate';

/** A machine whose input is `TInput` instead of its own. */
export type WithInput<TMachine, TInput> =
  TMachine extends StateMachine<infer C, infer E, infer Ch, infer A, infer Ac, infer G, infer D, infer V, infer T, unknown, infer O, infer Em, infer M, infer S, infer TM>
    ? StateMachine<C, E, Ch, A, Ac, G, D, V, T, TInput, O, Em, M, S, TM>
    : never;

/**
 * The same machine, with the same implementations, whose input is optional: what an actor is not given
 * comes from `defaults()`, read as the actor is created. An actor restored from a persisted snapshot
 * starts afresh, from the initial state: what it ran (sockets, connections) was not saved with it.
 */
export function withDefaultInput<TMachine extends AnyStateMachine, TInput extends object>(
  machine: TMachine,
  defaults: () => TInput,
): WithInput<TMachine, Partial<TInput> | undefined> {
  const { config, implementations } = machine;
  const context = config.context as (args: { input: TInput }) => unknown;
  const logic = createMachine(
    { ...config, context: (args: { input: Partial<TInput> | undefined }) => context({ ...args, input: { ...defaults(), ...args.input } }) } as never,
    implementations as never,
  );
  // Its sockets and connections are not in a persisted snapshot: an actor restored from one starts afresh.
  logic.restoreSnapshot = (_, scope) => logic.getInitialSnapshot(scope, undefined);
  return logic as never;
}
