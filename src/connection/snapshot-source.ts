import type { Connection, ConnectionSnapshot } from './connection.js';

/** An actor-like view of a connection (`subscribe`, `getSnapshot`) for `useSelector` of `@xstate/react`. */
export interface SnapshotSource {
  getSnapshot(): ConnectionSnapshot;
  subscribe(observer: ((snapshot: ConnectionSnapshot) => void) | { next?: (snapshot: ConnectionSnapshot) => void }): { unsubscribe(): void };
}

const sources = new WeakMap<Connection, SnapshotSource>();

/** A disposed connection's actor may stop in any state (`closing`, `link`…): it reads as stopped in `closed`, with that state's tags, as the connection's status does. */
function closedSnapshot(last: ConnectionSnapshot): ConnectionSnapshot {
  const closed = last.machine.resolveState({ value: 'closed', context: last.context });
  return Object.assign(closed, { status: 'stopped' }) as ConnectionSnapshot;
}

/**
 * The connection's snapshots as an actor-like source, one per connection. It follows the connection, not
 * one actor: a connection at rest lets go of its actor and runs a new one on `start()`, and the source
 * goes on with it.
 */
export function snapshotSource(connection: Connection): SnapshotSource {
  let source = sources.get(connection);
  if (!source) {
    let disposed: ConnectionSnapshot | undefined;
    const getSnapshot = () => (connection.isDisposed ? (disposed ??= closedSnapshot(connection.snapshot)) : connection.snapshot);
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
