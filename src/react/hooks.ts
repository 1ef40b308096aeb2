import { useCallback, useContext, useEffect, useInsertionEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { useSelector } from '@xstate/react';
import { Connection, createConnection, statusOf, type ConnectionSnapshot } from '../connection/connection.js';
import type { ConnectionEvents } from '../connection/events.js';
import type { ConnectionOptions } from '../connection/options.js';
import type { SendOptions } from '../connection/outbound.js';
import type { PresenceMember } from '../connection/presence.js';
import { snapshotSource } from '../connection/snapshot-source.js';
import { errorHeard, errorShown } from '../connection/status.js';
import { holdPresence, joinAgainWith, typingHold } from '../connection/presence-holds.js';
import type { ConnectionStatus } from '../connection/types.js';
import type { AckInfo } from '../queue/ack-tracker.js';
import type { InboundMessage } from '../protocol/adapter.js';
import { InvalidOptionError, type SocketchartError } from '../protocol/errors.js';
import type { OptimisticStore } from '../optimistic/optimistic-store.js';
import type { OptimisticChangeInput, OptimisticUpdateReceipt } from '../optimistic/types.js';
import type { Pool, PoolStatus } from '../pool/pool.js';
import type { PoolHealth } from '../pool/runtime.js';
import { SocketchartContext, useRunning } from './context.js';
import { useGeneration, useLingeringEffect, useMadeOnce } from './lifetime.js';

/**
 * Which connection a hook uses: the provider's (nothing), an endpoint of the provider's pool (its name), or
 * a connection given as it is.
 */
export type ConnectionTarget = Connection | string | undefined;

function useTarget(target: ConnectionTarget, hook: string): Connection {
  const context = useContext(SocketchartContext);
  if (target instanceof Connection) return target;
  if (typeof target === 'string') {
    const connection = context?.pool?.connection(target);
    if (!connection) throw new InvalidOptionError('endpoint', `the name of an endpoint of the provider's pool (${hook})`, target);
    return connection;
  }
  if (!context?.connection) throw new InvalidOptionError('connection', `a <SocketchartProvider> with a connection above ${hook}, or a connection given to it`, undefined);
  return context.connection;
}

/** Keeps the latest value of a callback without making it a dependency. */
function useLatest<T>(value: T): { readonly current: T } {
  const ref = useRef(value);
  useInsertionEffect(() => {
    ref.current = value;
  });
  return ref;
}

export interface UseConnectionOptions {
  /** Start the connection once mounted (never on a server render). @default true */
  start?: boolean;
}

const keyOf = (options: ConnectionOptions) => `${options.name ?? ''}\u0000${typeof options.url === 'function' ? 'fn' : String(options.url)}`;

/**
 * A connection. With options: created on first render and owned by the component (started once mounted,
 * stopped and disposed when it unmounts, made again when `url` or `name` changes, a `url` function being
 * the latest render's, called at each dial; StrictMode's double mount opens one socket). Without: the
 * provider's connection; with a name: that endpoint of the provider's pool; with a connection: that one
 * (started once mounted, the app owns it).
 */
export function useConnection(target?: ConnectionTarget | ConnectionOptions, { start = true }: UseConnectionOptions = {}): Connection {
  const options = target !== undefined && typeof target === 'object' && !(target instanceof Connection) ? target : undefined;
  const [generation, remake] = useGeneration();
  const url = useLatest(options?.url);
  const owned = useMadeOnce(
    () => options && createConnection(typeof options.url === 'function' ? { ...options, url: () => (url.current as () => string)() } : options),
    options ? `${keyOf(options)}\u0000${generation}` : undefined,
  );
  const connection = useTarget(owned ?? (options ? undefined : (target as ConnectionTarget)), 'useConnection()');
  useRunning(owned ?? (target instanceof Connection ? target : undefined), start, owned ? remake : undefined);
  return connection;
}

/**
 * A value selected from the connection's snapshot (`useSelector` of `@xstate/react` over the connection):
 * re-renders only when the selected value changes, and follows the connection across the actors it runs.
 */
export function useConnectionSelector<T>(selector: (snapshot: ConnectionSnapshot) => T, target?: ConnectionTarget, compare?: (a: T, b: T) => boolean): T {
  const connection = useTarget(target, 'useConnectionSelector()');
  return useSelector(snapshotSource(connection), selector, compare);
}

/** The connection's status; re-renders only when it changes. */
export function useConnectionStatus(target?: ConnectionTarget): ConnectionStatus {
  return useConnectionSelector(statusOf, target);
}

/** Calls `listener` on every `event` of the connection while mounted (the latest listener; no re-subscription when it changes). */
export function useConnectionEvent<K extends keyof ConnectionEvents>(event: K, listener: (payload: ConnectionEvents[K]) => void, target?: ConnectionTarget): void {
  const connection = useTarget(target, 'useConnectionEvent()');
  const latest = useLatest(listener);
  useEffect(() => connection.on(event, (payload) => latest.current(payload)), [connection, event, latest]);
}

/** The connection's last error (the one it has when the component mounts, then each new one), cleared when it is connected again. */
export function useConnectionError(target?: ConnectionTarget): SocketchartError | null {
  const connection = useTarget(target, 'useConnectionError()');
  const [seen, setSeen] = useState(() => ({ connection, error: errorShown(connection) }));
  useEffect(() => {
    const set = (error: SocketchartError | null) => setSeen({ connection, error });
    set(errorShown(connection));
    const offError = connection.on('error', (error) => {
      errorHeard(connection, error);
      set(error);
    });
    const offState = connection.on('state', ({ status }) => {
      if (status === 'connected') set(null);
    });
    return () => {
      offError();
      offState();
    };
  }, [connection]);
  return seen.connection === connection ? seen.error : errorShown(connection);
}

export interface ChannelApi {
  /** Publishes on the channel (`connection.send(data, { channel, ...options })`). */
  send(data: unknown, options?: Omit<SendOptions, 'channel'>): Promise<void>;
  /** An acknowledged publish on the channel that resolves with the server's answer. */
  request(data: unknown, options?: Omit<SendOptions, 'channel' | 'ack'>): Promise<AckInfo>;
  connection: Connection;
}

/**
 * Subscribes to a channel while mounted (once, through StrictMode's double mount) and calls the latest
 * `listener` with each message. Returns the channel's `send` and `request`.
 */
export function useChannel<T = unknown>(channel: string, listener?: (data: T, message: InboundMessage<T>) => void, target?: ConnectionTarget): ChannelApi {
  const connection = useTarget(target, 'useChannel()');
  const latest = useLatest({ listener, connection, channel });
  useLingeringEffect(
    () =>
      connection.subscribe<T>(channel, (data, message) => {
        const now = latest.current;
        if (now.connection === connection && now.channel === channel) now.listener?.(data, message);
      }),
    [connection, channel],
  );
  const send = useCallback((data: unknown, options?: Omit<SendOptions, 'channel'>) => connection.send(data, { ...options, channel }), [connection, channel]);
  const request = useCallback((data: unknown, options?: Omit<SendOptions, 'channel' | 'ack'>) => connection.request(data, { ...options, channel }), [connection, channel]);
  return { send, request, connection };
}

/**
 * A value made once per visit of a channel of a connection (made again after a switch, coming back
 * included), kept as state: Fast Refresh, which runs every `useMemo` again, keeps it.
 */
function useVisit<T>(connection: Connection, channel: string, make: () => T): T {
  const [held, setHeld] = useState(() => ({ connection, channel, value: make() }));
  if (held.connection === connection && held.channel === channel) return held.value;
  const next = { connection, channel, value: make() };
  setHeld(next);
  return next.value;
}

/**
 * State that belongs to one channel of one connection: after a switch it reads `initial()`, never the old
 * channel's value, until it is set again. `update` is handed the current channel's value.
 */
function useChannelState<V>(connection: Connection, channel: string, initial: () => V): [V, (next: (current: V) => V) => void] {
  /** This visit of the channel: coming back to a channel after another is a new visit, starting from `initial()`. */
  const visit = useVisit(connection, channel, () => ({}));
  const [held, setHeld] = useState(() => ({ visit, value: initial() }));
  const initialRef = useLatest(initial);
  const update = useCallback(
    (next: (current: V) => V) => setHeld((current) => ({ visit, value: next(current.visit === visit ? current.value : initialRef.current()) })),
    [visit, initialRef],
  );
  return [held.visit === visit ? held.value : initial(), update];
}

/** Frozen: every empty list is this one, so a push onto it throws rather than showing in other components. */
const NO_MESSAGES = Object.freeze([]) as never[];

/** The last `last` messages of a channel, oldest first, as state (subscribed while mounted; empty again when the channel or connection changes). */
export function useChannelMessages<T = unknown>(channel: string, { last = 50 }: { last?: number } = {}, target?: ConnectionTarget): InboundMessage<T>[] {
  if (!(Number.isInteger(last) && last > 0)) throw new InvalidOptionError('last', 'an integer > 0', last);
  const connection = useTarget(target, 'useChannelMessages()');
  const [messages, update] = useChannelState<InboundMessage<T>[]>(connection, channel, () => NO_MESSAGES);
  const lastRef = useLatest(last);
  useChannel<T>(
    channel,
    (_data, message) =>
      update((kept) => {
        const room = lastRef.current - 1;
        return [...(kept.length > room ? kept.slice(kept.length - room) : kept), message];
      }),
    connection,
  );
  return useMemo(() => (messages.length > last ? messages.slice(messages.length - last) : messages), [messages, last]);
}

/** A stable function that sends on the connection (on `channel` when given). */
export function useSend(channel?: string, target?: ConnectionTarget): (data: unknown, options?: SendOptions) => Promise<void> {
  const connection = useTarget(target, 'useSend()');
  return useCallback((data: unknown, options?: SendOptions) => connection.send(data, channel === undefined ? options : { channel, ...options }), [connection, channel]);
}

export interface UsePresenceOptions {
  /** Join the channel's members while mounted. @default true */
  join?: boolean;
  /** What others see of this member: joined again when its value changes (compared as JSON) while joined. */
  meta?: Record<string, unknown>;
}

export interface PresenceApi {
  /** Everyone present on the channel now. */
  members: PresenceMember[];
  /** Joins (again, with new `meta`). */
  join(meta?: Record<string, unknown>): Promise<PresenceMember[]>;
  /** Leaves (the component then stays a watcher until it unmounts). */
  leave(): Promise<PresenceMember[]>;
}

/**
 * The members of a channel (watched while mounted) and, unless `join: false`, this user among them until
 * unmount: components that join the same channel of a connection share one join, left when the last unmounts.
 */
export function usePresence(channel: string, { join = true, meta }: UsePresenceOptions = {}, target?: ConnectionTarget): PresenceApi {
  const connection = useTarget(target, 'usePresence()');
  const [members, update] = useChannelState(connection, channel, () => connection.presence.members(channel));
  const metaRef = useLatest(meta);
  const metaKey = JSON.stringify(meta);
  /** The meta joined with (as JSON). */
  const joinedWith = useRef(metaKey);
  useLingeringEffect(() => {
    const { presence } = connection;
    joinedWith.current = metaKey;
    const set = (next: PresenceMember[]) => update(() => next);
    set(presence.members(channel));
    const unwatch = presence.watch(channel, (change) => set(change.members));
    const release = join ? holdPresence(connection, channel, () => metaRef.current) : undefined;
    return () => {
      unwatch();
      release?.();
    };
  }, [connection, channel, join]);
  useEffect(() => {
    if (!join || joinedWith.current === metaKey) return;
    joinedWith.current = metaKey;
    joinAgainWith(connection.presence, channel, metaRef.current);
  }, [connection, channel, join, metaKey, metaRef]);
  const joinNow = useCallback((next?: Record<string, unknown>) => connection.presence.join(channel, next), [connection, channel]);
  const leave = useCallback(() => connection.presence.leave(channel), [connection, channel]);
  return { members, join: joinNow, leave };
}

/** The members of a channel, watched while mounted, without joining (ably's `usePresenceListener`). */
export function usePresenceListener(channel: string, target?: ConnectionTarget): PresenceMember[] {
  return usePresence(channel, { join: false }, target).members;
}

export interface TypingApi {
  /** Others typing on the channel now. */
  typing: string[];
  /** Call on each keystroke: the server is told at once, kept told while it goes on, and told it ended `timeoutMs` after the last call. */
  start(): void;
  /** This user stopped typing (sent a message, cleared the field). */
  stop(): void;
}

/**
 * Typing indicators of a channel: who else types (the channel is subscribed while mounted), and this user's
 * start and stop; typing this component started stops when it unmounts (`start()` after that does nothing).
 */
export function useTyping(channel: string, { timeoutMs }: { timeoutMs?: number } = {}, target?: ConnectionTarget): TypingApi {
  const connection = useTarget(target, 'useTyping()');
  const [typing, update] = useChannelState(connection, channel, () => connection.presence.typingUsers(channel));
  const hold = useVisit(connection, channel, () => typingHold(connection.presence, channel));
  /** Unmounted (or hidden by `<Activity>`): a late `start()` would leave this user typing with nothing to stop it. */
  const ended = useRef(false);
  useLingeringEffect(() => {
    const unsubscribe = connection.subscribe(channel, () => {});
    ended.current = false;
    const set = (next: string[]) => update(() => next);
    set(connection.presence.typingUsers(channel));
    const off = connection.on('typing', (change) => {
      if (change.ch === channel) set(change.users);
    });
    return () => {
      ended.current = true;
      off();
      unsubscribe();
      hold.release();
    };
  }, [connection, channel, hold]);
  const start = useCallback(() => {
    if (!ended.current) hold.start(timeoutMs === undefined ? {} : { timeoutMs });
  }, [hold, timeoutMs]);
  const stop = useCallback(() => hold.stop(), [hold]);
  return { typing, start, stop };
}

/** The provider's pool. */
export function usePool(): Pool {
  const pool = useContext(SocketchartContext)?.pool;
  if (!pool) throw new InvalidOptionError('pool', 'a <SocketchartProvider> with a pool above usePool()', undefined);
  return pool;
}

/** The pool's aggregate health (`up`, `degraded`, `down`); re-renders only when it changes. */
export function usePoolHealth(pool?: Pool): PoolHealth {
  const provided = useContext(SocketchartContext)?.pool;
  const target = pool ?? provided;
  if (!target) throw new InvalidOptionError('pool', 'a <SocketchartProvider> with a pool above usePoolHealth(), or a pool given to it', undefined);
  const subscribe = useCallback((onChange: () => void) => target.on('health', onChange), [target]);
  const read = useCallback(() => target.status().health, [target]);
  return useSyncExternalStore(subscribe, read, read);
}

const samePoolStatus = (a: PoolStatus, b: PoolStatus) =>
  a.state === b.state &&
  a.health === b.health &&
  Object.keys(a.connections).length === Object.keys(b.connections).length &&
  Object.entries(a.connections).every(([name, status]) => b.connections[name] === status);

/** The pool's state and each connection's status; re-renders when any of them changes. */
export function usePoolStatus(pool?: Pool): PoolStatus {
  const provided = useContext(SocketchartContext)?.pool;
  const target = pool ?? provided;
  if (!target) throw new InvalidOptionError('pool', 'a <SocketchartProvider> with a pool above usePoolStatus(), or a pool given to it', undefined);
  const cache = useRef<{ pool: Pool; status: PoolStatus } | null>(null);
  const read = useCallback(() => {
    const status = target.status();
    if (cache.current?.pool !== target || !samePoolStatus(cache.current.status, status)) cache.current = { pool: target, status };
    return cache.current.status;
  }, [target]);
  const subscribe = useCallback(
    (onChange: () => void) => {
      const refresh = () => {
        cache.current = { pool: target, status: target.status() };
        onChange();
      };
      const offState = target.on('state', refresh);
      const offHealth = target.on('health', refresh);
      const subscription = target.actor.subscribe({
        next: () => {
          if (cache.current && cache.current.status.state !== target.status().state) refresh();
        },
        error: refresh,
        complete: refresh,
      });
      return () => {
        offState();
        offHealth();
        subscription.unsubscribe();
      };
    },
    [target],
  );
  return useSyncExternalStore(subscribe, read, read);
}

export interface OptimisticApi<Value, Change> {
  /** Every shown value, by key (confirmed values with local changes on top). */
  values: ReadonlyMap<string, Value>;
  /** Local changes of `key` (or of every key) still waiting for the server. */
  pending(key?: string): number;
  /** Shows a change at once and publishes it; see `OptimisticStore.update`. */
  update(key: string, change: OptimisticChangeInput<Value, Change>): Promise<OptimisticUpdateReceipt>;
}

/** An optimistic store's values as state: re-renders when a value or a pending count changes. */
export function useOptimistic<Value, Change = Value>(store: OptimisticStore<Value, Change>): OptimisticApi<Value, Change> {
  const subscribe = useCallback((onChange: () => void) => store.subscribe(onChange), [store]);
  const read = useCallback(() => store.snapshot(), [store]);
  const values = useSyncExternalStore(subscribe, read, read);
  const update = useCallback((key: string, change: OptimisticChangeInput<Value, Change>) => store.update(key, change), [store]);
  const pending = useCallback((key?: string) => store.pending(key), [store]);
  return { values, pending, update };
}
