/**
 * Where the server's bytes per connection go, from two heap snapshots of the server process (taken inside
 * it, by servers/socketchart-server.ts): a baseline before the clients connect, then one with them all
 * connected. Objects new in the second are split with lib/heap-snapshot.ts's ownership walk, per server
 * `Connection` (src/server/connection.ts), into the components below; new objects no Connection reaches
 * are then walked from the Hub's `users` / `channels` maps and the memory backend's `watched` map; the rest
 * is reported by kind.
 */
import {
  attribute,
  child,
  isNewMask,
  isOffHeap,
  nodeIds,
  nodesNamed,
  takeHeapSnapshot,
  totalsByKind,
  type HeapGraph,
} from '../lib/heap-snapshot.js';

let baseline: Uint32Array | undefined;

export async function takeBaseline(): Promise<void> {
  baseline = nodeIds(await takeHeapSnapshot());
}

/** Per-connection components, walked in this order from these fields of each `ServerConnection`. */
const COMPONENTS: { label: string; field: string | null }[] = [
  { label: 'ws WebSocket + net.Socket (Receiver, Sender, stream state, listeners)', field: 'ws' },
  { label: 'subscriptions: Map + Subscription objects (1 explicit + 2 implicit)', field: 'subscriptions' },
  { label: 'rate limits of the connection (buckets per scope used)', field: 'limits' },
  { label: 'identity (verify() result)', field: 'currentIdentity' },
  { label: 'backlog watch (the replays\' look at the socket\'s backlog)', field: 'backlog' },
  { label: 'Connection object (rest: ids, key, socket listeners, closed promise)', field: null },
];

export interface SplitRow {
  label: string;
  /** JS heap bytes (V8 shallow sizes), summed over all connections. */
  bytes: number;
  objects: number;
  /** Largest kinds, "kind bytes×count" per connection. */
  kinds: string;
}

export interface Split {
  connections: number;
  /** Total JS-heap bytes of new objects. */
  newBytes: number;
  offHeapBytes: number;
  rows: SplitRow[];
}

const topKinds = (list: Iterable<{ kind: string; bytes: number; count: number }>, per: number, count = 3) =>
  [...list]
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, count)
    .map((k) => `${k.kind} ${Math.round(k.bytes / per)} B×${(k.count / per).toFixed(1)}`)
    .join(', ');

/** Walks from `root` (which may be old) into objects still in `pool`, claiming them. */
function walkShared(g: HeapGraph, pool: Uint8Array, root: number): { bytes: number; nodes: number; mask: Uint8Array } {
  const mask = new Uint8Array(g.nodeCount);
  let bytes = 0;
  let nodes = 0;
  if (root < 0) return { bytes, nodes, mask };
  const weak = g.edgeTypes.indexOf('weak');
  const stack = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    for (let e = g.firstEdge[n]!; e < g.firstEdge[n + 1]!; e++) {
      if (g.edgeType[e] === weak) continue;
      const to = g.edgeTo[e]!;
      if (!pool[to]) continue;
      pool[to] = 0;
      mask[to] = 1;
      if (!isOffHeap(g, to)) bytes += g.size[to]!;
      nodes++;
      stack.push(to);
    }
  }
  return { bytes, nodes, mask };
}

export async function connectionSplit(): Promise<Split> {
  if (!baseline) throw new Error('connectionSplit: no baseline snapshot');
  const g = await takeHeapSnapshot();
  const isNew = isNewMask(g, baseline);
  const conns = nodesNamed(g, 'object', 'ServerConnection').filter((n) => isNew[n] && child(g, n, 'ws') >= 0);
  const per = Math.max(1, conns.length);
  const roots = conns.map((c) => COMPONENTS.map(({ field }) => (field === null ? c : child(g, c, field))));
  const { components, unclaimed } = attribute(
    g,
    isNew,
    COMPONENTS.map((c) => c.label),
    roots,
  );
  const rows: SplitRow[] = components.map((c) => ({ label: c.label, bytes: c.bytes, objects: c.nodes, kinds: topKinds(c.kinds.values(), per) }));

  // Per-connection state held by the hub and the backend rather than by the Connection.
  const pool = unclaimed.slice();
  const hub = nodesNamed(g, 'object', 'Hub')[0] ?? -1;
  const backend = nodesNamed(g, 'object', 'MemoryBackend')[0] ?? -1;
  const shared: [string, number][] = [
    ['hub.users: per-user Set (+ map growth)', child(g, hub, 'users')],
    ['hub.channels: implicit user:<id> channel entry (Map + ready Promise) + subscriber map growth', child(g, hub, 'channels')],
    ['backend.watched: per-channel watch count', child(g, backend, 'watched')],
  ];
  for (const [label, root] of shared) {
    const walked = walkShared(g, pool, root);
    const kinds = totalsByKind(g, (n) => walked.mask[n] === 1);
    rows.push({ label, bytes: walked.bytes, objects: walked.nodes, kinds: topKinds(kinds, per) });
  }
  const rest = totalsByKind(g, (n) => pool[n] === 1);
  rows.push({
    label: '(other new objects: server connection Set, JIT code, strings, …)',
    bytes: rest.reduce((s, k) => s + k.bytes, 0),
    objects: rest.reduce((s, k) => s + k.count, 0),
    kinds: topKinds(rest, per, 4),
  });
  let newBytes = 0;
  let offHeapBytes = 0;
  for (let n = 0; n < g.nodeCount; n++) if (isNew[n]) (isOffHeap(g, n) ? (offHeapBytes += g.size[n]!) : (newBytes += g.size[n]!));
  return { connections: conns.length, newBytes, offHeapBytes, rows };
}
