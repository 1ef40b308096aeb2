import type { Connection, ConnectionSnapshot } from './connection.js';

/** An actor-like view of a connection (`subscribe`, `getSnapshot`) for `useSelector` of `@xstate/react`. */
export interface SnapshotSource {
  getSnapshot(): ConnectionSnapshot;
  subscribe(observer: ((snapshot: ConnectionSnapshot) => void) | { next?: (snapshot: ConnectionSnapshot) => void }): { unsubscribe(): void };
}

const sources = new WeakMap<Connection, SnapshotSource>();

/**
 * The connection's snapshots as an actor-like source, one per connection. It follows the connection, not
 * one actor: a connection at rest lets go of its actor and runs a new one on `start()`, and the source
 * goes on with it.
 */
export function snapshotSource(connection: Connection): SnapshotSource {
  let source = sources.get(connection);
  if (!source) {
    let disposed: ConnectionSnapshot | undefined;
    /** A disposed connection's actor stopped in `closing`: it reads `closed`, as the connection's status does. */
    const getSnapshot = () => (connection.isDisposed ? (disposed ??= { ...connection.snapshot, value: 'closed' } as ConnectionSnapshot) : connection.snapshot);
    source = {
      getSnapshot,
      subscribe(observer) {
        const next = typeof observer === 'function' ? observer : observer.next?.bind(observer);
        const offSnapshot = connection.on('snapshot', (snapshot) => next?.(snapshot));
        const offDisposed = connection.on('disposed', () => next?.(getSnapshot()));
        return {
          unsubscribe: () => {
            offSnapshot();
            offDisposed();
          },
        };
      },
    } as SnapshotSource;
    sources.set(connection, source);
  }
  return source;
}
