import type { Connection, ConnectionSnapshot } from './connection.js';

/** An actor-like view of a connection (`subscribe`, `getSnapshot`) for `useSelector` of `@xstate/react` and `@xstate/vue`. */
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
    source = {
      getSnapshot: () => connection.snapshot,
      subscribe(observer) {
        const next = typeof observer === 'function' ? observer : observer.next?.bind(observer);
        return { unsubscribe: connection.on('snapshot', (snapshot) => next?.(snapshot)) };
      },
    } as SnapshotSource;
    sources.set(connection, source);
  }
  return source;
}
