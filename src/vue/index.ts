import {
  getCurrentInstance,
  getCurrentScope,
  inject,
  onMounted,
  onScopeDispose,
  provide,
  shallowRef,
  toValue,
  watch,
  type App,
  type InjectionKey,
  type MaybeRefOrGetter,
  type Ref,
  type ShallowRef,
} from 'vue';
import { Connection, createConnection, statusOf, type ConnectionSnapshot } from '../connection/connection.js';
import type { ConnectionEvents } from '../connection/events.js';
import type { ConnectionOptions } from '../connection/options.js';
import type { SendOptions } from '../connection/outbound.js';
import type { PresenceMember } from '../connection/presence.js';
import { snapshotSource } from '../connection/snapshot-source.js';
import { errorHeard, errorShown } from '../connection/status.js';
import { holdPresence, joinAgainWith, typingHold, type TypingHold } from '../connection/presence-holds.js';
import type { ConnectionStatus } from '../connection/types.js';
import type { AckInfo } from '../queue/ack-tracker.js';
import type { InboundMessage } from '../protocol/adapter.js';
import { InvalidOptionError, type SocketchartError } from '../protocol/errors.js';
import type { OptimisticStore } from '../optimistic/optimistic-store.js';
import type { OptimisticChangeInput, OptimisticUpdateReceipt } from '../optimistic/types.js';
import { createPool, type Pool, type PoolStatus } from '../pool/pool.js';
import type { PoolOptions } from '../pool/options.js';
import type { PoolHealth } from '../pool/runtime.js';

/**
 * socketchart/vue: composables over connections and pools with reactive refs. Everything a composable
 * starts (listeners, subscriptions, presence joins, connections it owns) ends with its effect scope: a
 * component's unmount or `scope.stop()`. Inside a component nothing is started or subscribed before it is
 * mounted, so a server render opens no socket.
 */

/** What `provideSocketchart()` / the `createSocketchart()` plugin give the composables. */
export interface SocketchartInjection {
  connection: Connection | undefined;
  pool: Pool | undefined;
  /** Start on first mount. */
  start: boolean;
}

export const socketchartKey: InjectionKey<SocketchartInjection> = Symbol('socketchart');

export type SocketchartSource =
  | { connection: Connection; start?: boolean }
  | { pool: Pool; start?: boolean }
  /** Created here and owned: disposed with the scope (or the app). */
  | { options: ConnectionOptions; start?: boolean }
  | { poolOptions: PoolOptions; start?: boolean };

const started = new WeakSet<object>();

/** Starts `target` the first time only; one the app disposed never (`start()` would throw CLOSED from onMounted): the composables show it closed. */
function startOnce(target: Connection | Pool | undefined): void {
  if (!target || target.isDisposed || started.has(target)) return;
  started.add(target);
  target.start();
}

function fromSource(source: SocketchartSource): { injection: SocketchartInjection; owned: Connection | Pool | undefined } {
  const start = source.start ?? true;
  if ('options' in source) {
    const connection = createConnection(source.options);
    return { injection: { connection, pool: undefined, start }, owned: connection };
  }
  if ('poolOptions' in source) {
    const pool = createPool(source.poolOptions);
    return { injection: { connection: undefined, pool, start }, owned: pool };
  }
  return { injection: { connection: 'connection' in source ? source.connection : undefined, pool: 'pool' in source ? source.pool : undefined, start }, owned: undefined };
}

/** Runs `fn` once mounted inside a component (unless the scope has ended by then), at once in a bare effect scope or a mounted component. */
function whenMounted(fn: () => void): void {
  const instance = getCurrentInstance();
  const scope = getCurrentScope();
  if (instance && !instance.isMounted) {
    onMounted(() => {
      if (!scope || scope.active) fn();
    });
  } else fn();
}

/**
 * Runs `attach` once mounted inside a component (at once in a bare effect scope) and its release when the
 * scope ends: a server render, which never mounts, attaches nothing.
 */
function whileMounted(attach: () => () => void): void {
  let release: (() => void) | undefined;
  whenMounted(() => (release = attach()));
  onScopeDispose(() => release?.());
}

/** A ref that is true once the component is mounted (at once outside a component, or in a mounted one). */
function mountedRef(): Ref<boolean> {
  const instance = getCurrentInstance();
  const mounted = shallowRef(!instance || instance.isMounted);
  if (!mounted.value) onMounted(() => (mounted.value = true));
  return mounted;
}

/**
 * Gives the composables of this component's descendants a connection or a pool; started once mounted (on
 * the client only), and disposed with this scope when created here from options.
 */
export function provideSocketchart(source: SocketchartSource): SocketchartInjection {
  const { injection, owned } = fromSource(source);
  provide(socketchartKey, injection);
  if (injection.start) whenMounted(() => startOnce(injection.connection ?? injection.pool));
  if (owned) onScopeDispose(() => owned.dispose());
  return injection;
}

/**
 * The app-wide plugin: `app.use(createSocketchart({ pool }))`. The connection or pool starts when the first
 * component using it is mounted; one created from options is disposed when the app unmounts.
 */
export function createSocketchart(source: SocketchartSource): { install(app: App): void } {
  return {
    install(app) {
      const { injection, owned } = fromSource(source);
      app.provide(socketchartKey, injection);
      if (!owned) return;
      if (typeof app.onUnmount === 'function') app.onUnmount(() => owned.dispose());
      else {
        const unmount = app.unmount.bind(app);
        app.unmount = () => {
          unmount();
          owned.dispose();
        };
      }
    },
  };
}

/** A connection given as it is, or an endpoint of the injected pool (its name); nothing: the injected connection. */
export type ConnectionTarget = Connection | string | undefined;

function resolveTarget(target: ConnectionTarget, composable: string): Connection {
  if (target instanceof Connection) return target;
  const injected = inject(socketchartKey, null);
  if (injected?.start) whenMounted(() => startOnce(injected.connection ?? injected.pool));
  if (typeof target === 'string') {
    const connection = injected?.pool?.connection(target);
    if (!connection) throw new InvalidOptionError('endpoint', `the name of an endpoint of the injected pool (${composable})`, target);
    return connection;
  }
  if (!injected?.connection) throw new InvalidOptionError('connection', `provideSocketchart() or createSocketchart() with a connection above ${composable}, or a connection given to it`, undefined);
  return injected.connection;
}

/**
 * A connection: the injected one, an endpoint of the injected pool, one given (started once mounted, the
 * app owns it), or — from options — one created here, started once mounted and disposed with the scope.
 */
export function useConnection(target?: ConnectionTarget | ConnectionOptions, { start = true }: { start?: boolean } = {}): Connection {
  if (target !== undefined && typeof target === 'object' && !(target instanceof Connection)) {
    const connection = createConnection(target);
    if (start) whenMounted(() => startOnce(connection));
    onScopeDispose(() => connection.dispose());
    return connection;
  }
  if (start && target instanceof Connection) whenMounted(() => startOnce(target));
  return resolveTarget(target, 'useConnection()');
}

/**
 * A value selected from the connection's snapshot, following the connection across its actors: the ref
 * changes only when the value does (by `compare`, `Object.is` by default).
 */
export function useConnectionSelector<T>(selector: (snapshot: ConnectionSnapshot) => T, target?: ConnectionTarget, compare: (a: T, b: T) => boolean = Object.is): Ref<T> {
  const source = snapshotSource(resolveTarget(target, 'useConnectionSelector()'));
  const selected = shallowRef(selector(source.getSnapshot()));
  const update = (snapshot: ConnectionSnapshot) => {
    const next = selector(snapshot);
    if (!compare(selected.value, next)) selected.value = next;
  };
  whileMounted(() => {
    update(source.getSnapshot());
    const subscription = source.subscribe(update);
    return () => subscription.unsubscribe();
  });
  return selected;
}

/** The connection's status as a ref; it changes only when the status does. */
export function useConnectionStatus(target?: ConnectionTarget): Ref<ConnectionStatus> {
  return useConnectionSelector(statusOf, target);
}

/** Calls `listener` on every `event` of the connection until the scope ends. */
export function useConnectionEvent<K extends keyof ConnectionEvents>(event: K, listener: (payload: ConnectionEvents[K]) => void, target?: ConnectionTarget): void {
  const connection = resolveTarget(target, 'useConnectionEvent()');
  whileMounted(() => connection.on(event, (payload) => listener(payload)));
}

/** The connection's last error (the one it has already, then each new one), cleared when it is connected again. */
export function useConnectionError(target?: ConnectionTarget): Ref<SocketchartError | null> {
  const connection = resolveTarget(target, 'useConnectionError()');
  const error = shallowRef<SocketchartError | null>(errorShown(connection));
  whileMounted(() => {
    error.value = errorShown(connection);
    const offError = connection.on('error', (next) => {
      errorHeard(connection, next);
      error.value = next;
    });
    const offState = connection.on('state', ({ status }) => {
      if (status === 'connected') error.value = null;
    });
    return () => {
      offError();
      offState();
    };
  });
  return error;
}

/** Runs `subscribe(channel)` for the current channel once mounted, again when the channel changes, and ends it with the scope. */
function followChannel(channel: MaybeRefOrGetter<string>, subscribe: (channel: string) => () => void): void {
  const mounted = mountedRef();
  watch(
    () => (mounted.value ? toValue(channel) : undefined),
    (current, _previous, onCleanup) => {
      if (current !== undefined) onCleanup(subscribe(current));
    },
    { immediate: true },
  );
}

export interface ChannelApi {
  send(data: unknown, options?: Omit<SendOptions, 'channel'>): Promise<void>;
  request(data: unknown, options?: Omit<SendOptions, 'channel' | 'ack'>): Promise<AckInfo>;
  connection: Connection;
}

/** Subscribes to a channel (a ref or getter: switching channels unsubscribes the old one) and calls `listener` with each message. */
export function useChannel<T = unknown>(channel: MaybeRefOrGetter<string>, listener?: (data: T, message: InboundMessage<T>) => void, target?: ConnectionTarget): ChannelApi {
  const connection = resolveTarget(target, 'useChannel()');
  followChannel(channel, (ch) => connection.subscribe<T>(ch, (data, message) => listener?.(data, message)));
  return {
    send: (data, options) => connection.send(data, { ...options, channel: toValue(channel) }),
    request: (data, options) => connection.request(data, { ...options, channel: toValue(channel) }),
    connection,
  };
}

/** The last `last` messages of the channel, oldest first (emptied when the channel changes). */
export function useChannelMessages<T = unknown>(channel: MaybeRefOrGetter<string>, { last = 50 }: { last?: number } = {}, target?: ConnectionTarget): ShallowRef<InboundMessage<T>[]> {
  if (!(Number.isInteger(last) && last > 0)) throw new InvalidOptionError('last', 'an integer > 0', last);
  const connection = resolveTarget(target, 'useChannelMessages()');
  const messages = shallowRef<InboundMessage<T>[]>([]);
  followChannel(channel, (ch) => {
    messages.value = [];
    return connection.subscribe<T>(ch, (_data, message) => {
      const current = messages.value;
      messages.value = current.length >= last ? [...current.slice(current.length - last + 1), message] : [...current, message];
    });
  });
  return messages;
}

/** Sends on the connection (on `channel` when given). */
export function useSend(channel?: MaybeRefOrGetter<string>, target?: ConnectionTarget): (data: unknown, options?: SendOptions) => Promise<void> {
  const connection = resolveTarget(target, 'useSend()');
  return (data, options) => connection.send(data, channel === undefined ? options : { channel: toValue(channel), ...options });
}

export interface PresenceApi {
  members: ShallowRef<PresenceMember[]>;
  join(meta?: Record<string, unknown>): Promise<PresenceMember[]>;
  leave(): Promise<PresenceMember[]>;
}

/**
 * The channel's members (watched once mounted) and, unless `join: false`, this user among them until the
 * scope ends: scopes that join the same channel of a connection share one join, left when the last ends.
 * A `meta` (a ref or a getter) that changes while joined is joined again with its new value.
 */
export function usePresence(
  channel: MaybeRefOrGetter<string>,
  { join = true, meta }: { join?: boolean; meta?: MaybeRefOrGetter<Record<string, unknown> | undefined> } = {},
  target?: ConnectionTarget,
): PresenceApi {
  const connection = resolveTarget(target, 'usePresence()');
  const members = shallowRef(connection.presence.members(toValue(channel)));
  /** The channel this scope holds a join of now, and the meta (as JSON) it joined with. */
  let held: string | undefined;
  let joinedWith: string | undefined;
  followChannel(channel, (ch) => {
    const { presence } = connection;
    members.value = presence.members(ch);
    const unwatch = presence.watch(ch, (change) => (members.value = change.members));
    const release = join ? holdPresence(connection, ch, () => toValue(meta)) : undefined;
    if (join) {
      held = ch;
      joinedWith = JSON.stringify(toValue(meta));
    }
    return () => {
      held = undefined;
      unwatch();
      release?.();
    };
  });
  // one watcher for the scope's life: one made in the channel's watcher, stopped from its cleanup, broke scope.stop() on Vue 3.3/3.4
  if (join) {
    watch(
      () => JSON.stringify(toValue(meta)),
      (key) => {
        // a channel that changes too is joined with the new meta by its own watcher
        if (held !== toValue(channel) || key === joinedWith) return;
        joinedWith = key;
        joinAgainWith(connection.presence, held, toValue(meta));
      },
    );
  }
  return {
    members,
    join: (next) => connection.presence.join(toValue(channel), next),
    leave: () => connection.presence.leave(toValue(channel)),
  };
}

export interface TypingApi {
  /** Others typing on the channel now. */
  typing: ShallowRef<string[]>;
  /** Call on each keystroke. */
  start(): void;
  stop(): void;
}

/** Typing indicators of a channel: who else types, and this user's start and stop (typing this scope started stops when it ends; `start()` after that does nothing). */
export function useTyping(channel: MaybeRefOrGetter<string>, { timeoutMs }: { timeoutMs?: number } = {}, target?: ConnectionTarget): TypingApi {
  const connection = resolveTarget(target, 'useTyping()');
  const typing = shallowRef(connection.presence.typingUsers(toValue(channel)));
  const holds = new Map<string, TypingHold>();
  const holdOf = (ch: string) => {
    let hold = holds.get(ch);
    if (!hold) holds.set(ch, (hold = typingHold(connection.presence, ch)));
    return hold;
  };
  /** The scope has ended: a late `start()` would leave this user typing with nothing to stop it. */
  let ended = false;
  onScopeDispose(() => {
    ended = true;
    holds.forEach((hold) => hold.release());
  });
  // the typing started on a channel stops as the ref leaves it, at once: the channel's watcher runs later, and never when the ref comes back first (a→b→a)
  watch(
    () => toValue(channel),
    (_current, left) => {
      holds.get(left)?.release();
      holds.delete(left);
    },
    { flush: 'sync' },
  );
  followChannel(channel, (ch) => {
    const unsubscribe = connection.subscribe(ch, () => {});
    typing.value = connection.presence.typingUsers(ch);
    const off = connection.on('typing', (change) => {
      if (change.ch === ch) typing.value = change.users;
    });
    return () => {
      off();
      unsubscribe();
    };
  });
  return {
    typing,
    start: () => {
      if (!ended) holdOf(toValue(channel)).start(timeoutMs === undefined ? {} : { timeoutMs });
    },
    stop: () => holdOf(toValue(channel)).stop(),
  };
}

/** The injected pool. */
export function usePool(): Pool {
  const injected = inject(socketchartKey, null);
  if (!injected?.pool) throw new InvalidOptionError('pool', 'provideSocketchart() or createSocketchart() with a pool above usePool()', undefined);
  if (injected.start) whenMounted(() => startOnce(injected.pool));
  return injected.pool;
}

/** The pool's aggregate health as a ref. */
export function usePoolHealth(pool: Pool = usePool()): Ref<PoolHealth> {
  const health = shallowRef(pool.status().health);
  whileMounted(() => {
    health.value = pool.status().health;
    return pool.on('health', (change) => (health.value = change.health));
  });
  return health;
}

/** The pool's state and each connection's status as a ref, updated on every change. */
export function usePoolStatus(pool: Pool = usePool()): Ref<PoolStatus> {
  const status = shallowRef(pool.status());
  const refresh = () => (status.value = pool.status());
  whileMounted(() => {
    refresh();
    const offState = pool.on('state', refresh);
    const offHealth = pool.on('health', refresh);
    const subscription = pool.actor.subscribe({
      next: () => {
        if (status.value.state !== pool.status().state) refresh();
      },
      error: refresh,
      complete: refresh,
    });
    return () => {
      offState();
      offHealth();
      subscription.unsubscribe();
    };
  });
  return status;
}

export interface OptimisticApi<Value, Change> {
  /** Every shown value, by key. */
  values: ShallowRef<ReadonlyMap<string, Value>>;
  /** Local changes of `key` (or every key) waiting for the server; reactive through `values`. */
  pending(key?: string): number;
  update(key: string, change: OptimisticChangeInput<Value, Change>): Promise<OptimisticUpdateReceipt>;
}

/** An optimistic store's values as a ref, updated on every change. */
export function useOptimistic<Value, Change = Value>(store: OptimisticStore<Value, Change>): OptimisticApi<Value, Change> {
  const values = shallowRef(store.snapshot());
  const version = shallowRef(0);
  const refresh = () => {
    values.value = store.snapshot();
    version.value++;
  };
  whileMounted(() => {
    if (values.value !== store.snapshot()) refresh();
    return store.subscribe(refresh);
  });
  return {
    values,
    pending: (key) => {
      void version.value;
      return store.pending(key);
    },
    update: (key, change) => store.update(key, change),
  };
}
