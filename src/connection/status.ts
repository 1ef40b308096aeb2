import type { SnapshotFrom } from 'xstate';
import type { ConnectionMachine } from '../../machines/connection.machine.js';
import type { ConnectionStatus } from './types.js';

export type ConnectionSnapshot = SnapshotFrom<ConnectionMachine>;

/** The state a snapshot rests in, flattened to one name (`{ link: 'connected' }` → `'connected'`). */
export function statusOf(snapshot: ConnectionSnapshot): ConnectionStatus {
  const value = snapshot.value as string | Record<string, unknown>;
  if (typeof value === 'string') return value as ConnectionStatus;
  const link = value.link as string | Record<string, unknown>;
  return (typeof link === 'string' ? link : 'connected') as ConnectionStatus;
}
