import type { AnyActorRef, AnyEventObject } from 'xstate';
import { poolMachine, startedAfterLaunch } from '../../machines/pool.machine.js';
import type { PoolContext, PoolInput } from '../../machines/pool.types.js';
import { tuneRunningSystem } from '../connection/actor-system.js';
import { withDefaultInput, type WithInput } from '../connection/with-input.js';
import { rethrowLater } from '../events/emitter.js';
import { resolvePoolOptions, type PoolOptions, type ResolvedPoolOptions } from './options.js';
import { PoolRuntime } from './runtime.js';
import { checkEndpoints } from './endpoint-options.js';

const runtimes = new WeakMap<AnyActorRef, PoolRuntime>();
/** Options of the logics `poolLogic()` made: an actor of one gets its runtime (and its connections) when it first needs them. */
const embedded = new WeakMap<object, ResolvedPoolOptions>();

/** Makes `runtime` the one that carries out what `actor` (a pool actor) asks, and creates its connections. */
export function bindPoolRuntime(actor: AnyActorRef, runtime: PoolRuntime): void {
  runtimes.set(actor, runtime);
  tuneRunningSystem(actor);
  runtime.attach(actor);
}

/** The runtime of the pool actor `actor`. */
export function poolRuntimeOf(actor: AnyActorRef): PoolRuntime | undefined {
  const runtime = runtimes.get(actor);
  if (runtime) return runtime;
  const options = embedded.get((actor as { logic?: object }).logic ?? {});
  if (!options) return undefined;
  const created = new PoolRuntime(options);
  bindPoolRuntime(actor, created);
  return created;
}

const runtimeOf = (actor: AnyActorRef): PoolRuntime => {
  const runtime = poolRuntimeOf(actor);
  if (!runtime) throw new Error('This actor does not run a socketchart pool');
  return runtime;
};

type Args = { context: PoolContext; self: AnyActorRef };

/** What the runtime supplies to the pure pool machine: starting and stopping connections, the environment, errors. */
export const poolImplementations = {
  actions: {
    watchEnvironment: ({ self }: Args) => {
      const runtime = runtimeOf(self);
      if (!runtime.isDisposed) runtime.fanout.watch();
    },
    unwatchEnvironment: ({ self }: Args) => runtimeOf(self).fanout.unwatch(),
    startNext: ({ context, self }: Args) => runtimeOf(self).startRange(context.started, startedAfterLaunch(context)),
    stopConnections: ({ self }: Args) => runtimeOf(self).stopAll(),
    reportConnectionError: ({ event }: { event: AnyEventObject }) => rethrowLater((event as { error?: unknown }).error),
  },
};

/** The pool machine with the runtime's implementations: every pool actor runs it. */
export const boundPoolMachine = /* @__PURE__ */ poolMachine.provide(poolImplementations as never);

export function poolInput(options: ResolvedPoolOptions): PoolInput {
  return { settings: { connections: options.endpoints.length, staggerMs: options.staggerMs, stopTimeoutMs: options.stopTimeoutMs } };
}

/** The pool machine with its implementations and its settings: its input is optional. */
export type PoolLogic = WithInput<typeof boundPoolMachine, Partial<PoolInput> | undefined>;

/**
 * The pool machine for `options`, ready to run on its own (`createActor(poolLogic(options))`), or invoked
 * or spawned inside an app's own machine. No input is needed. Its connections are created as children of
 * the actor when it first acts; `poolOf(actor)` gives its handle.
 */
export function poolLogic(options: PoolOptions): PoolLogic {
  const resolved = resolvePoolOptions(options);
  checkEndpoints(resolved);
  const logic: PoolLogic = withDefaultInput(boundPoolMachine, () => poolInput(resolved));
  embedded.set(logic, resolved);
  return logic;
}
