import type { ELK as ElkApi, ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import type { MachineDef, StateDef } from './definition.js';

/** A state placed on the chart (absolute coordinates). */
export interface PlacedState {
  state: StateDef;
  x: number;
  y: number;
  width: number;
  height: number;
  /** A region of a parallel state. */
  region: boolean;
  /** Lines under the title: invoked actors and tags. */
  lines: string[];
}

export interface PlacedEdge {
  /** The first transition's id, or `init:<state id>` for an initial-state arrow. */
  id: string;
  /** Every transition drawn by this edge (those with the same source and target share one, their labels stacked). */
  transitions: string[];
  points: Array<{ x: number; y: number }>;
  label: { x: number; y: number; width: number; height: number; text: string } | undefined;
}

export interface Layout {
  width: number;
  height: number;
  states: PlacedState[];
  edges: PlacedEdge[];
  /** Dots marking each compound state's initial child. */
  initials: Array<{ id: string; x: number; y: number }>;
}

/** Measures text as the chart draws it. */
export type Measure = (text: string, font: 'title' | 'line' | 'label') => number;

const TITLE_H = 26;
const LINE_H = 15;
const INIT = 10;
const LABEL_LINE_H = 14;

function linesOf(state: StateDef): string[] {
  const lines = state.invokes.map((id) => `⟳ ${id}`);
  if (state.tags.length > 0) lines.push(state.tags.map((t) => `#${t}`).join(' '));
  return lines;
}

/** The ELK graph of a machine: every state a node (compound states contain their children), every transition with a target an edge. */
export function elkGraph(def: MachineDef, measure: Measure, transitions: MachineDef['transitions'] = def.transitions): ElkNode {
  const edges: ElkExtendedEdge[] = [];
  const toNode = (state: StateDef): ElkNode => {
    const lines = linesOf(state);
    const textWidth = Math.max(measure(state.key, 'title'), ...lines.map((l) => measure(l, 'line')));
    if (state.children.length === 0) {
      return { id: state.id, width: Math.max(72, Math.ceil(textWidth) + 28), height: TITLE_H + 10 + lines.length * LINE_H };
    }
    const children = state.children.map(toNode);
    if (state.type !== 'parallel' && state.initial) {
      const initial = state.children.find((c) => c.key === state.initial);
      if (initial) {
        children.unshift({ id: `init:${state.id}`, width: INIT, height: INIT });
        edges.push({ id: `init:${state.id}`, sources: [`init:${state.id}`], targets: [initial.id] });
      }
    }
    const top = TITLE_H + 8 + lines.length * LINE_H;
    return {
      id: state.id,
      children,
      layoutOptions: {
        'elk.padding': `[top=${top},left=14,bottom=14,right=14]`,
        'elk.nodeSize.constraints': 'MINIMUM_SIZE',
        'elk.nodeSize.minimum': `(${Math.ceil(textWidth) + 36}, ${top + 20})`,
      },
    };
  };
  const root = toNode(def.root);
  const byPair = new Map<string, { edge: ElkExtendedEdge; lines: string[] }>();
  for (const t of transitions) {
    for (const target of t.targets) {
      const pair = `${t.source}→${target}`;
      const known = byPair.get(pair);
      if (known) {
        known.lines.push(t.label);
        known.edge.id += `|${t.id}`;
        continue;
      }
      const edge: ElkExtendedEdge = { id: t.id, sources: [t.source], targets: [target] };
      byPair.set(pair, { edge, lines: [t.label] });
      edges.push(edge);
    }
  }
  for (const { edge, lines } of byPair.values()) {
    edge.labels = [{ text: lines.join('\n'), width: Math.ceil(Math.max(...lines.map((l) => measure(l, 'label')))) + 10, height: LABEL_LINE_H * lines.length + 4 }];
  }
  return {
    id: '⊤',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.layered.spacing.nodeNodeBetweenLayers': '34',
      'elk.spacing.nodeNode': '26',
      'elk.spacing.edgeNode': '14',
      'elk.spacing.edgeEdge': '8',
      'elk.spacing.edgeLabel': '3',
      'elk.layered.spacing.edgeNodeBetweenLayers': '14',
      'elk.edgeLabels.placement': 'CENTER',
      'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
      'elk.json.shapeCoords': 'ROOT',
      'elk.json.edgeCoords': 'ROOT',
      'elk.padding': '[top=8,left=8,bottom=8,right=8]',
    },
    children: [root],
    edges,
  };
}

/** Reads ELK's result (absolute coordinates) as the chart draws it. */
export function placed(def: MachineDef, graph: ElkNode): Layout {
  const states: PlacedState[] = [];
  const initials: Layout['initials'] = [];
  const visit = (node: ElkNode) => {
    if (node.id.startsWith('init:')) {
      initials.push({ id: node.id, x: (node.x ?? 0) + INIT / 2, y: (node.y ?? 0) + INIT / 2 });
      return;
    }
    const state = def.states.get(node.id);
    if (state) {
      states.push({ state, x: node.x ?? 0, y: node.y ?? 0, width: node.width ?? 0, height: node.height ?? 0, region: state.parent?.type === 'parallel', lines: linesOf(state) });
    }
    for (const child of node.children ?? []) visit(child);
  };
  for (const child of graph.children ?? []) visit(child);
  const edges: PlacedEdge[] = [];
  const collect = (node: ElkNode) => {
    for (const edge of node.edges ?? []) {
      const section = edge.sections?.[0];
      if (!section) continue;
      const points = [section.startPoint, ...(section.bendPoints ?? []), section.endPoint];
      const l = edge.labels?.[0];
      edges.push({
        id: edge.id.split('|')[0]!,
        transitions: edge.id.startsWith('init:') ? [] : edge.id.split('|'),
        points,
        label: l && l.text ? { x: l.x ?? 0, y: l.y ?? 0, width: l.width ?? 0, height: l.height ?? 0, text: l.text } : undefined,
      });
    }
    for (const child of node.children ?? []) collect(child);
  };
  collect(graph);
  return { width: graph.width ?? 0, height: graph.height ?? 0, states, edges, initials };
}

/** Lays a machine out with ELK (with only `transitions`, when given). */
export async function layoutMachine(elk: ElkApi, def: MachineDef, measure: Measure, transitions?: MachineDef['transitions']): Promise<Layout> {
  const result = await elk.layout(elkGraph(def, measure, transitions));
  return placed(def, result);
}
