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

/** The error a connection shows now (the bindings' `useConnectionError`): its last one, unless it is connected. */
export const errorShown = (connection: { readonly isConnected: boolean; readonly lastError: SocketchartError | null }): SocketchartError | null =>
  connection.isConnected ? null : connection.lastError;
