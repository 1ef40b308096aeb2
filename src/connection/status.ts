import type { AnyMachineSnapshot } from 'xstate';
import type { SocketchartError } from '../protocol/errors.js';
import type { ConnectionStatus } from './types.js';

/** The state a snapshot rests in, flattened to one name (`{ link: 'connected' }` → `'connected'`). */
export function statusOf(snapshot: Pick<AnyMachineSnapshot, 'value'>): ConnectionStatus {
  const value = snapshot.value as string | Record<string, unknown>;
  if (typeof value === 'string') return value as ConnectionStatus;
  const link = value.link as string | Record<string, unknown>;
  return (typeof link === 'string' ? link : 'connected') as ConnectionStatus;
}

type ErrorSource = { readonly isConnected: boolean; readonly lastError: SocketchartError | null; readonly dials: number };

/** Errors the bindings heard while a connection was connected (`lastError` keeps its link's failures only), with the dial they came on. */
const heard = new WeakMap<ErrorSource, { error: SocketchartError; dials: number }>();

/** Keeps an error reported while connected, for the bindings' `useConnectionError` made later on the same link. */
export const errorHeard = (connection: ErrorSource, error: SocketchartError): void => {
  if (connection.isConnected) heard.set(connection, { error, dials: connection.dials });
};

/** The error a connection shows now (the bindings' `useConnectionError`): its last failure unless connected; connected, an error heard on this link. */
export const errorShown = (connection: ErrorSource): SocketchartError | null => {
  if (!connection.isConnected) return connection.lastError;
  const last = heard.get(connection);
  return last && last.dials === connection.dials ? last.error : null;
};
