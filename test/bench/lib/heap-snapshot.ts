/**
 * A V8 heap snapshot as flat arrays, and the two analyses the memory bench prints:
 *  - newNodesByKind: objects that exist now but not in a baseline snapshot (V8 keeps node ids stable across
 *    snapshots of one process), grouped by constructor / closure name / internal kind;
 *  - attribute: those new objects split among per-connection components by an ownership walk (see there).
 */
import v8 from 'node:v8';

export interface HeapGraph {
  nodeCount: number;
  type: Uint8Array;
  name: Uint32Array;
  id: Uint32Array;
  size: Float64Array;
  firstEdge: Uint32Array;
  edgeType: Uint8Array;
  /** String index for named edges, the index itself for element/hidden edges. */
  edgeName: Uint32Array;
  edgeTo: Uint32Array;
  strings: string[];
  nodeTypes: string[];
  edgeTypes: string[];
}

interface RawSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** Takes a snapshot of this process (V8 runs a full GC first) and parses it. */
export async function takeHeapSnapshot(): Promise<HeapGraph> {
  const stream = v8.getHeapSnapshot();
  stream.setEncoding('utf8');
  const chunks: string[] = [];
  for await (const chunk of stream) chunks.push(chunk as string);
  const raw = JSON.parse(chunks.join('')) as RawSnapshot;
  chunks.length = 0;
  const meta = raw.snapshot.meta;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const fType = meta.node_fields.indexOf('type');
  const fName = meta.node_fields.indexOf('name');
  const fId = meta.node_fields.indexOf('id');
  const fSize = meta.node_fields.indexOf('self_size');
  const fEdges = meta.node_fields.indexOf('edge_count');
  const eType = meta.edge_fields.indexOf('type');
  const eName = meta.edge_fields.indexOf('name_or_index');
  const eTo = meta.edge_fields.indexOf('to_node');
  const nodeCount = raw.nodes.length / nf;
  const edgeCount = raw.edges.length / ef;
  const g: HeapGraph = {
    nodeCount,
    type: new Uint8Array(nodeCount),
    name: new Uint32Array(nodeCount),
    id: new Uint32Array(nodeCount),
    size: new Float64Array(nodeCount),
    firstEdge: new Uint32Array(nodeCount + 1),
    edgeType: new Uint8Array(edgeCount),
    edgeName: new Uint32Array(edgeCount),
    edgeTo: new Uint32Array(edgeCount),
    strings: raw.strings,
    nodeTypes: meta.node_types[0],
    edgeTypes: meta.edge_types[0],
  };
  let edge = 0;
  for (let n = 0; n < nodeCount; n++) {
    const base = n * nf;
    g.type[n] = raw.nodes[base + fType]!;
    g.name[n] = raw.nodes[base + fName]!;
    g.id[n] = raw.nodes[base + fId]!;
    g.size[n] = raw.nodes[base + fSize]!;
    g.firstEdge[n] = edge;
    edge += raw.nodes[base + fEdges]!;
  }
  g.firstEdge[nodeCount] = edge;
  for (let e = 0; e < edgeCount; e++) {
    const base = e * ef;
    g.edgeType[e] = raw.edges[base + eType]!;
    g.edgeName[e] = raw.edges[base + eName]!;
    g.edgeTo[e] = raw.edges[base + eTo]! / nf;
  }
  return g;
}

/** The snapshot's node ids, sorted, in a typed array (its backing store lives outside the JS heap, so holding
 * it does not add JS objects to the next snapshot). */
export function nodeIds(g: HeapGraph): Uint32Array {
  return g.id.slice().sort();
}

function hasId(ids: Uint32Array, id: number): boolean {
  let lo = 0;
  let hi = ids.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = ids[mid]!;
    if (v === id) return true;
    if (v < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** Node types whose sizes are memory outside the V8 heap (ArrayBuffer backing stores, native handles). */
const OFF_HEAP = new Set(['native', 'synthetic']);

export function isOffHeap(g: HeapGraph, n: number): boolean {
  return OFF_HEAP.has(g.nodeTypes[g.type[n]!]!);
}

/** A readable kind for a node: constructor name for objects, `closure name()` for functions, else the V8 node type. */
export function kindOf(g: HeapGraph, n: number): string {
  const type = g.nodeTypes[g.type[n]!]!;
  const name = g.strings[g.name[n]!] ?? '';
  switch (type) {
    case 'object':
      return name || 'Object';
    case 'closure':
      return `closure ${name || '(anonymous)'}()`;
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return '(string)';
    case 'number':
      return '(heap number)';
    case 'code':
      return '(compiled code)';
    case 'array':
      return name ? `(array) ${name}` : '(internal array)';
    case 'hidden':
      return `(hidden) ${name.replace(/ \/ .*$/, '')}${name.includes(' / ') ? ` / ${name.split(' / ')[1]}` : ''}`;
    case 'object shape':
      return '(hidden class)';
    default:
      return `(${type}) ${name}`.trim();
  }
}

export function isNewMask(g: HeapGraph, baseline: Uint32Array): Uint8Array {
  const mask = new Uint8Array(g.nodeCount);
  for (let n = 0; n < g.nodeCount; n++) if (!hasId(baseline, g.id[n]!)) mask[n] = 1;
  return mask;
}

export interface KindTotal {
  kind: string;
  count: number;
  /** V8 shallow sizes of JS-heap objects (off-heap nodes count 0 here). */
  bytes: number;
  /** Sizes of off-heap nodes (ArrayBuffer backing stores, native handles). */
  offHeap: number;
}

export function totalsByKind(g: HeapGraph, select: (n: number) => boolean): KindTotal[] {
  const totals = new Map<string, KindTotal>();
  for (let n = 0; n < g.nodeCount; n++) {
    if (!select(n)) continue;
    const kind = kindOf(g, n);
    let t = totals.get(kind);
    if (!t) totals.set(kind, (t = { kind, count: 0, bytes: 0, offHeap: 0 }));
    t.count++;
    if (isOffHeap(g, n)) t.offHeap += g.size[n]!;
    else t.bytes += g.size[n]!;
  }
  return [...totals.values()].sort((a, b) => b.bytes - a.bytes || b.offHeap - a.offHeap);
}

const WEAK = 'weak';

/** The node a named edge of `n` points to (property, internal or context edge), or -1. */
export function child(g: HeapGraph, n: number, name: string): number {
  if (n < 0) return -1;
  for (let e = g.firstEdge[n]!; e < g.firstEdge[n + 1]!; e++) {
    const type = g.edgeTypes[g.edgeType[e]!];
    if (type === 'element' || type === 'hidden' || type === WEAK) continue;
    if (g.strings[g.edgeName[e]!] === name) return g.edgeTo[e]!;
  }
  return -1;
}

/** Follows a path of named edges ('a.b.c'), or -1. */
export function path(g: HeapGraph, n: number, dotted: string): number {
  let at = n;
  for (const part of dotted.split('.')) at = child(g, at, part);
  return at;
}

export function nodesNamed(g: HeapGraph, type: string, name: string): number[] {
  const typeIndex = g.nodeTypes.indexOf(type);
  const out: number[] = [];
  for (let n = 0; n < g.nodeCount; n++) if (g.type[n] === typeIndex && g.strings[g.name[n]!] === name) out.push(n);
  return out;
}

export interface Component {
  label: string;
  /** JS heap bytes (V8 shallow sizes). */
  bytes: number;
  /** Off-heap bytes (ArrayBuffer backing stores, native handles). */
  offHeap: number;
  nodes: number;
  kinds: Map<string, KindTotal>;
}

/**
 * Splits new objects among components. `roots[c][k]` is the root node of component k of connection c (or
 * -1). Every root is a barrier. Component by component (in the given order), a walk from each root claims
 * the new, not yet claimed objects it reaches without crossing another root or a weak edge. Objects
 * reachable from two components go to the first in the order; new objects no root reaches are returned
 * as `unclaimed` (e.g. JIT code and feedback, timer lists, strings owned by the runtime).
 */
export function attribute(g: HeapGraph, isNew: Uint8Array, labels: string[], roots: number[][]): { components: Component[]; unclaimed: Uint8Array } {
  const claimed = new Int16Array(g.nodeCount).fill(-1);
  const barrier = new Uint8Array(g.nodeCount);
  for (const row of roots) for (const r of row) if (r >= 0) barrier[r] = 1;
  const weak = g.edgeTypes.indexOf(WEAK);
  const components: Component[] = labels.map((label) => ({ label, bytes: 0, offHeap: 0, nodes: 0, kinds: new Map() }));
  const stack: number[] = [];
  const claim = (n: number, k: number) => {
    claimed[n] = k;
    const c = components[k]!;
    const off = isOffHeap(g, n);
    if (off) c.offHeap += g.size[n]!;
    else c.bytes += g.size[n]!;
    c.nodes++;
    const kind = kindOf(g, n);
    let t = c.kinds.get(kind);
    if (!t) c.kinds.set(kind, (t = { kind, count: 0, bytes: 0, offHeap: 0 }));
    t.count++;
    if (off) t.offHeap += g.size[n]!;
    else t.bytes += g.size[n]!;
  };
  for (let k = 0; k < labels.length; k++) {
    for (const row of roots) {
      const root = row[k]!;
      if (root < 0 || claimed[root] !== -1 || !isNew[root]) continue;
      claim(root, k);
      stack.push(root);
      while (stack.length > 0) {
        const n = stack.pop()!;
        for (let e = g.firstEdge[n]!; e < g.firstEdge[n + 1]!; e++) {
          if (g.edgeType[e] === weak) continue;
          const to = g.edgeTo[e]!;
          if (!isNew[to] || claimed[to] !== -1 || barrier[to]) continue;
          claim(to, k);
          stack.push(to);
        }
      }
    }
  }
  const unclaimed = new Uint8Array(g.nodeCount);
  for (let n = 0; n < g.nodeCount; n++) if (isNew[n] && claimed[n] === -1) unclaimed[n] = 1;
  return { components, unclaimed };
}
