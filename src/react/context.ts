import { createContext, createElement, useContext, useEffect, type ReactNode } from 'react';
import { Connection, createConnection } from '../connection/connection.js';
import type { ConnectionOptions } from '../connection/options.js';
import { createPool, type Pool } from '../pool/pool.js';
import type { PoolOptions } from '../pool/options.js';
import { useGeneration, useLingeringEffect, useMadeOnce } from './lifetime.js';

/** What a `<SocketchartProvider>` gives the hooks below it. */
export interface SocketchartContextValue {
  connection: Connection | undefined;
  pool: Pool | undefined;
}

export const SocketchartContext = createContext<SocketchartContextValue | null>(null);

type Source =
  /** A connection the app created (with `createConnection()`: that opens nothing); the app owns it: the provider never stops it. */
  | { connection: Connection; pool?: never; options?: never; poolOptions?: never }
  /** A pool the app created; the app owns it. */
  | { pool: Pool; connection?: never; options?: never; poolOptions?: never }
  /** The provider creates the connection on its first render and owns it: stopped and disposed when the provider unmounts. Later changes of `options` are ignored (give the provider a new `key` to start over). */
  | { options: ConnectionOptions; connection?: never; pool?: never; poolOptions?: never }
  /** The provider creates the pool on its first render and owns it. */
  | { poolOptions: PoolOptions; connection?: never; pool?: never; options?: never };

export type SocketchartProviderProps = Source & {
  /**
   * Start the connection or pool once mounted (never during render, so never on a server render). Started
   * once per connection: a remount (StrictMode, Fast Refresh) does not start again one the app stopped.
   * @default true
   */
  start?: boolean;
  children?: ReactNode;
};

const started = new WeakSet<object>();

/**
 * Starts `target` once mounted when `start` is (or becomes) true, the first time only. One the component
 * owns (`remake` given) is stopped and disposed when it really unmounts (or is replaced), never because
 * `start` changed; found disposed when the component shows again (React's `<Activity>` ran the cleanups
 * while hidden), it is made again with `remake`. One the app disposed is never started: the hooks show it
 * closed (`start()` would throw CLOSED from the effect).
 */
export function useRunning(target: Connection | Pool | undefined, start: boolean, remake?: () => void): void {
  const owned = remake !== undefined;
  useLingeringEffect(() => () => {
    if (target && owned) target.dispose();
  }, [target, owned]);
  useEffect(() => {
    if (target && remake && target.isDisposed) {
      remake();
      return;
    }
    if (target && start && !target.isDisposed && !started.has(target)) {
      started.add(target);
      target.start();
    }
  }, [target, start, remake]);
}

/**
 * Gives the hooks below it one connection or one pool, created once per app: StrictMode's double mount and
 * Fast Refresh neither open a second socket nor close the first. Nothing is dialed on a server render.
 */
export function SocketchartProvider(props: SocketchartProviderProps) {
  const { start = true, children } = props;
  const [generation, remake] = useGeneration();
  /** What the provider makes (a connection or a pool): made again when it is given the other one. */
  const kind = props.options !== undefined ? 'c' : props.poolOptions !== undefined ? 'p' : undefined;
  const owned = useMadeOnce(
    () => {
      if (props.options) return { connection: createConnection(props.options), pool: undefined };
      if (props.poolOptions) return { connection: undefined, pool: createPool(props.poolOptions) };
      return undefined;
    },
    kind && kind + generation,
  );
  const connection = owned ? owned.connection : props.connection;
  const pool = owned ? owned.pool : props.pool;
  useRunning(connection ?? pool, start, owned ? remake : undefined);
  const value = useMadeOnce(() => ({ connection, pool }), connection ?? pool);
  return createElement(SocketchartContext.Provider, { value }, children);
}

/** The provider's connection and pool (either may be undefined); `null` outside a provider. */
export function useSocketchart(): SocketchartContextValue | null {
  return useContext(SocketchartContext);
}
