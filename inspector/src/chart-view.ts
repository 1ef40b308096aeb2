import type { ELK as ElkApi } from 'elkjs/lib/elk-api.js';
import { MAX_DEPTH, type MachineDef } from './definition.js';
import { layoutMachine, type Layout, type Measure, type PlacedState } from './layout.js';

const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** Transitions on environment events, hidden unless asked for (they link nearly every state to `offline` or `suspended`). */
const isEnvironment = (label: string) => /^(env|page)\./.test(label);

/** An orthogonal polyline with rounded corners. */
function pathOf(points: Array<{ x: number; y: number }>): string {
  if (points.length === 0) return '';
  let d = `M${points[0]!.x},${points[0]!.y}`;
  for (let i = 1; i < points.length; i++) {
    const p = points[i]!;
    const prev = points[i - 1]!;
    const next = points[i + 1];
    if (!next) {
      d += ` L${p.x},${p.y}`;
      continue;
    }
    const r = Math.min(6, Math.hypot(p.x - prev.x, p.y - prev.y) / 2, Math.hypot(next.x - p.x, next.y - p.y) / 2);
    const a = { x: p.x - (Math.sign(p.x - prev.x) * r || 0), y: p.y - (Math.sign(p.y - prev.y) * r || 0) };
    const b = { x: p.x + (Math.sign(next.x - p.x) * r || 0), y: p.y + (Math.sign(next.y - p.y) * r || 0) };
    d += ` L${a.x},${a.y} Q${p.x},${p.y} ${b.x},${b.y}`;
  }
  return d;
}

let canvas: HTMLCanvasElement | undefined;
const fonts = { title: '600 12.5px system-ui, sans-serif', line: '11px ui-monospace, monospace', label: '11px system-ui, sans-serif' };
const measure: Measure = (text, font) => {
  canvas ??= document.createElement('canvas');
  const ctx = canvas.getContext('2d')!;
  ctx.font = fonts[font];
  return ctx.measureText(text).width;
};

interface Drawn {
  key: string;
  layout: Layout;
  root: SVGGElement;
  states: Map<string, SVGGElement>;
  edges: Map<string, SVGGElement[]>;
}

/**
 * Draws a machine's statechart (laid out by ELK in a worker, once per definition), highlights the active
 * states, and lights the transitions taken. Drag to pan, wheel to zoom; it follows the active states
 * until the user moves it.
 */
export class ChartView {
  private readonly svgEl: SVGSVGElement;
  private readonly viewport: SVGGElement;
  private readonly layouts = new Map<string, Promise<Layout>>();
  private drawn: Drawn | undefined;
  private wanted = '';
  private view = { x: 0, y: 0, k: 1 };
  private userMoved = false;
  private lastActive = new Set<string>();
  private flashTimer: ReturnType<typeof setTimeout> | undefined;
  /** A chart was just drawn: frame its active states at the next update. */
  private needsFocus = false;
  /** Environment transitions drawn too. */
  showEnvironment = false;
  /** Called after a chart is drawn (so the caller can apply the current state). */
  onDrawn: (() => void) | undefined;

  constructor(
    private readonly container: HTMLElement,
    private readonly elk: ElkApi,
    private readonly note: HTMLElement,
  ) {
    this.svgEl = svg('svg', { class: 'chart-svg' });
    const defs = svg('defs');
    const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' });
    marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow-head' }));
    const hot = marker.cloneNode(true) as SVGMarkerElement;
    hot.id = 'arrow-hot';
    (hot.firstChild as SVGPathElement).setAttribute('class', 'arrow-head hot');
    defs.append(marker, hot);
    this.viewport = svg('g', { class: 'viewport' });
    this.svgEl.append(defs, this.viewport);
    container.append(this.svgEl);
    this.bindPanZoom();
  }

  /** Shows the chart of `def` (known by `key`); `undefined` clears it. */
  show(def: MachineDef | undefined, key: string): void {
    const wantedKey = `${key}|${this.showEnvironment ? 'all' : 'main'}`;
    if (wantedKey === this.wanted) return;
    this.wanted = wantedKey;
    this.userMoved = false;
    this.lastActive = new Set();
    this.drawn = undefined;
    this.viewport.replaceChildren();
    if (!def || !def.isMachine) {
      this.viewport.replaceChildren();
      this.drawn = undefined;
      this.note.textContent = def ? `${def.id}: an actor without states (callback, promise or observable logic)` : '';
      this.svgEl.dataset.machine = def?.id ?? '';
      return;
    }
    const transitions = this.showEnvironment ? def.transitions : def.transitions.filter((t) => !isEnvironment(t.label));
    const hidden = def.transitions.length - transitions.length;
    let layout = this.layouts.get(wantedKey);
    if (!layout) {
      layout = layoutMachine(this.elk, def, measure, transitions);
      this.layouts.set(wantedKey, layout);
    }
    this.note.textContent = 'laying out…';
    layout.then(
      (result) => {
        if (this.wanted !== wantedKey) return;
        this.draw(wantedKey, def, result);
        this.note.textContent = [hidden > 0 ? `${hidden} env. transitions hidden` : '', def.cut ? `states nested deeper than ${MAX_DEPTH} left out` : ''].filter(Boolean).join(' · ');
        this.svgEl.dataset.machine = def.id;
        this.onDrawn?.();
      },
      (error: unknown) => {
        this.note.textContent = `layout failed: ${String(error)}`;
      },
    );
  }

  private draw(key: string, def: MachineDef, layout: Layout): void {
    const root = svg('g');
    const states = new Map<string, SVGGElement>();
    const edges = new Map<string, SVGGElement[]>();
    const depth = (id: string) => id.split('.').length;
    const sorted = [...layout.states].sort((a, b) => depth(a.state.id) - depth(b.state.id));
    const stateLayer = svg('g', { class: 'states' });
    for (const s of sorted) {
      const compound = s.state.children.length > 0;
      const g = svg('g', { class: `st st-${s.state.type}${compound ? ' compound' : ''}${s.region ? ' region' : ''}`, 'data-id': s.state.id, 'data-key': s.state.key });
      g.append(svg('rect', { x: s.x, y: s.y, width: s.width, height: s.height, rx: compound ? 10 : 8 }));
      if (s.state.type === 'final') g.append(svg('rect', { class: 'final-inner', x: s.x + 3, y: s.y + 3, width: s.width - 6, height: s.height - 6, rx: 6 }));
      const title = svg('text', { x: s.x + 12, y: s.y + 18, class: 'st-title' });
      title.textContent = s.state.parent ? s.state.key : `${s.state.key}`;
      g.append(title);
      s.lines.forEach((line, i) => {
        const t = svg('text', { x: s.x + 12, y: s.y + 34 + i * 15, class: 'st-line' });
        t.textContent = line;
        g.append(t);
      });
      stateLayer.append(g);
      states.set(s.state.id, g);
    }
    const edgeLayer = svg('g', { class: 'edges' });
    const labelLayer = svg('g', { class: 'labels' });
    for (const e of layout.edges) {
      const init = e.id.startsWith('init:');
      const g = svg('g', { class: init ? 'tr init' : 'tr', 'data-id': e.id });
      g.append(svg('path', { d: pathOf(e.points), 'marker-end': 'url(#arrow)' }));
      edgeLayer.append(g);
      const parts = [g];
      if (e.label) {
        const lg = svg('g', { class: 'tr-label', 'data-id': e.id });
        lg.append(svg('rect', { x: e.label.x - 2, y: e.label.y - 1, width: e.label.width + 2, height: e.label.height + 2, rx: 4 }));
        const text = svg('text', { x: e.label.x + 3, y: e.label.y + 12 });
        e.label.text.split('\n').forEach((line, i) => {
          const span = svg('tspan', { x: e.label!.x + 3, dy: i === 0 ? 0 : 14 });
          span.textContent = line;
          text.append(span);
        });
        lg.append(text);
        labelLayer.append(lg);
        parts.push(lg);
      }
      for (const id of e.transitions) edges.set(id, parts);
    }
    const initLayer = svg('g', { class: 'initials' });
    for (const dot of layout.initials) initLayer.append(svg('circle', { cx: dot.x, cy: dot.y, r: 4.5, class: 'init-dot' }));
    root.append(stateLayer, edgeLayer, initLayer, labelLayer);
    this.viewport.replaceChildren(root);
    this.drawn = { key, layout, root, states, edges };
    void def;
    this.needsFocus = true;
    this.fit();
  }

  /**
   * Marks the active states; lights `taken` transitions (flashing them when `flash`: a transition seen
   * as it happens, or stepped to in time travel).
   */
  update(active: Set<string>, taken: Set<string>, flash: boolean): void {
    const drawn = this.drawn;
    if (!drawn) return;
    for (const [id, g] of drawn.states) g.classList.toggle('active', active.has(id));
    for (const parts of drawn.edges.values()) for (const p of parts) p.classList.remove('taken', 'flash');
    for (const id of taken) {
      for (const p of drawn.edges.get(id) ?? []) {
        p.classList.add('taken');
        if (flash) {
          p.classList.remove('flash');
          void (p as unknown as HTMLElement).getBoundingClientRect;
          p.classList.add('flash');
        }
        const path = p.querySelector('path');
        if (path) path.setAttribute('marker-end', 'url(#arrow-hot)');
      }
    }
    for (const [id, parts] of drawn.edges) {
      if (taken.has(id)) continue;
      const path = parts[0]?.querySelector('path');
      if (path && !path.parentElement!.classList.contains('init')) path.setAttribute('marker-end', 'url(#arrow)');
    }
    if (flash) {
      clearTimeout(this.flashTimer);
      this.flashTimer = setTimeout(() => drawn.root.querySelectorAll('.flash').forEach((el) => el.classList.remove('flash')), 1_600);
    }
    const changed = active.size !== this.lastActive.size || [...active].some((id) => !this.lastActive.has(id));
    this.lastActive = active;
    if ((changed || this.needsFocus) && !this.userMoved) this.focusActive();
    this.needsFocus = false;
  }

  /** The whole chart in view. */
  fit(): void {
    const drawn = this.drawn;
    if (!drawn) return;
    this.frame({ x: 0, y: 0, width: drawn.layout.width, height: drawn.layout.height });
  }

  /**
   * The whole chart when it reads at that size; otherwise the deepest active state (a child of the root or
   * one level under it) that can be shown legibly, with room around it for its transitions.
   */
  focusActive(): void {
    const drawn = this.drawn;
    if (!drawn) return;
    const { clientWidth: w, clientHeight: h } = this.container;
    const whole = Math.min(w / drawn.layout.width, h / drawn.layout.height);
    if (whole >= 0.55 || this.lastActive.size === 0) return this.fit();
    const depthOf = (s: PlacedState) => {
      let d = 0;
      for (let p = s.state.parent; p; p = p.parent) d++;
      return d;
    };
    const pad = 90;
    const candidates = drawn.layout.states
      .filter((s) => this.lastActive.has(s.state.id) && depthOf(s) >= 1 && depthOf(s) <= 2 && !s.region)
      .sort((a, b) => depthOf(b) - depthOf(a));
    const legible = candidates.find((s) => Math.min(w / (s.width + pad * 2), h / (s.height + pad * 2)) >= 0.6) ?? candidates[0];
    if (!legible) return this.fit();
    // A small state is shown with its surroundings: at most 0.85 of its size, on at least the pane's size in chart units.
    const k = 0.85;
    const width = Math.max(legible.width + pad * 2, w / k);
    const height = Math.max(legible.height + pad * 2, h / k);
    // Centred on the state, but not past the chart's edges when the chart is larger than the frame.
    const { width: W, height: H } = drawn.layout;
    const clamp = (start: number, size: number, total: number) => (size >= total ? (total - size) / 2 : Math.min(Math.max(start, 0), total - size));
    const x = clamp(legible.x + legible.width / 2 - width / 2, width, W);
    const y = clamp(legible.y + legible.height / 2 - height / 2, height, H);
    this.frame({ x, y, width, height }, k);
  }

  private frame(box: { x: number; y: number; width: number; height: number }, maxScale = 1.2): void {
    const { clientWidth: w, clientHeight: h } = this.container;
    if (w === 0 || h === 0) return;
    const k = Math.min(maxScale, w / box.width, h / box.height);
    this.view = { k, x: (w - box.width * k) / 2 - box.x * k, y: (h - box.height * k) / 2 - box.y * k };
    this.apply();
  }

  private apply(): void {
    const { x, y, k } = this.view;
    this.viewport.setAttribute('transform', `translate(${x},${y}) scale(${k})`);
  }

  private bindPanZoom(): void {
    let drag: { x: number; y: number; vx: number; vy: number } | undefined;
    this.svgEl.addEventListener('pointerdown', (e) => {
      drag = { x: e.clientX, y: e.clientY, vx: this.view.x, vy: this.view.y };
      this.svgEl.setPointerCapture(e.pointerId);
    });
    this.svgEl.addEventListener('pointermove', (e) => {
      if (!drag) return;
      this.view.x = drag.vx + e.clientX - drag.x;
      this.view.y = drag.vy + e.clientY - drag.y;
      this.userMoved = true;
      this.apply();
    });
    this.svgEl.addEventListener('pointerup', () => (drag = undefined));
    this.svgEl.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        const rect = this.svgEl.getBoundingClientRect();
        const px = e.clientX - rect.left;
        const py = e.clientY - rect.top;
        const k = Math.min(3, Math.max(0.05, this.view.k * Math.exp(-e.deltaY * 0.0015)));
        this.view.x = px - ((px - this.view.x) * k) / this.view.k;
        this.view.y = py - ((py - this.view.y) * k) / this.view.k;
        this.view.k = k;
        this.userMoved = true;
        this.apply();
      },
      { passive: false },
    );
  }

  /** Follow the active states again (after the user panned or zoomed). */
  follow(): void {
    this.userMoved = false;
    this.focusActive();
  }
}
