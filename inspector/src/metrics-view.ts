import uPlot from 'uplot';
import type { ConnectionSample, PoolSample } from '../../src/inspection/protocol.js';
import { clock, h, tone } from './dom.js';
import { DIAL_BUCKETS, type Store, type TreeNode } from './store.js';

const css = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';

type PlotKind = 'rtt' | 'rate' | 'queue' | 'health' | 'dials';

interface Plot {
  kind: PlotKind;
  u: uPlot;
  box: HTMLElement;
}

const toneColor: Record<string, string> = { good: '--good', busy: '--busy', warn: '--warn', bad: '--bad', off: '--off', plain: '--plain' };

/**
 * Time-series plots of the selected connection or pool (uPlot): RTT p50/p95/p99, messages in and out per
 * second, queue depth and a timeline of states for a connection; health and dials per 100 ms against
 * the budget for a pool. Redrawn at a bounded rate by the caller; a line marks the time-travel moment.
 */
export class MetricsView {
  private plots: Plot[] = [];
  private mode: 'connection' | 'pool' | 'none' = 'none';
  private timeline: HTMLCanvasElement | undefined;
  private timelineLegend: HTMLElement | undefined;
  private cursorT: number | null = null;
  private readonly resize: ResizeObserver;
  /** Redraws so far (the caller bounds their rate). */
  private updates = 0;

  constructor(
    private readonly container: HTMLElement,
    private readonly note: HTMLElement,
  ) {
    this.resize = new ResizeObserver(() => this.fitWidth());
    this.resize.observe(container);
  }

  private width(): number {
    return Math.max(200, this.container.clientWidth - 8);
  }

  private fitWidth(): void {
    for (const p of this.plots) p.u.setSize({ width: this.width(), height: p.u.height });
  }

  private cursorPlugin(): uPlot.Plugin {
    return {
      hooks: {
        draw: [
          (u) => {
            if (this.cursorT === null) return;
            const x = u.valToPos(this.cursorT, 'x', true);
            if (!Number.isFinite(x)) return;
            const { ctx } = u;
            ctx.save();
            ctx.strokeStyle = css('--accent');
            ctx.lineWidth = 2 * devicePixelRatio;
            ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.restore();
          },
        ],
      },
    };
  }

  private plot(kind: PlotKind, title: string, series: uPlot.Series[], height = 130, extra: Partial<uPlot.Options> = {}): Plot {
    const box = h('div', { class: 'plot', 'data-plot': kind });
    this.container.append(box);
    const axis: uPlot.Axis = { stroke: css('--muted'), grid: { stroke: css('--grid'), width: 1 }, ticks: { stroke: css('--grid') }, font: '11px system-ui' };
    const u = new uPlot(
      {
        title,
        width: this.width(),
        height,
        series: [{}, ...series],
        axes: [{ ...axis }, { ...axis, size: 44 }],
        scales: { x: { time: true } },
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
        plugins: [this.cursorPlugin()],
        ...extra,
      },
      [[], ...series.map(() => [])],
      box,
    );
    const plot = { kind, u, box };
    this.plots.push(plot);
    return plot;
  }

  private build(mode: 'connection' | 'pool'): void {
    for (const p of this.plots) p.u.destroy();
    this.plots = [];
    this.container.replaceChildren();
    this.mode = mode;
    const line = (label: string, color: string, width = 1.6): uPlot.Series => ({ label, stroke: css(color), width, spanGaps: true, points: { show: false } });
    if (mode === 'connection') {
      this.plot('rtt', 'Heartbeat RTT (ms)', [line('p50', '--good'), line('p95', '--warn'), line('p99', '--bad')]);
      this.plot('rate', 'Messages per second', [line('in', '--accent', 2), line('out', '--busy', 2)]);
      this.plot('queue', 'Outbound queue depth', [{ ...line('queued', '--warn', 2), fill: `${css('--warn')}33` }], 100);
      const wrap = h('div', { class: 'plot timeline', 'data-plot': 'states' }, h('div', { class: 'plot-title', text: 'States over time' }));
      this.timeline = h('canvas', { class: 'timeline-canvas' });
      this.timelineLegend = h('div', { class: 'timeline-legend' });
      wrap.append(this.timeline, this.timelineLegend);
      this.container.append(wrap);
    } else {
      this.plot('health', 'Health score and connected', [line('health 0–1', '--good', 2), { ...line('connected', '--accent', 1.5), scale: 'n' }], 140, {
        axes: [
          { stroke: css('--muted'), grid: { stroke: css('--grid') }, font: '11px system-ui' },
          { stroke: css('--muted'), grid: { stroke: css('--grid') }, size: 40, font: '11px system-ui' },
          { stroke: css('--muted'), side: 1, scale: 'n', grid: { show: false }, size: 44, font: '11px system-ui' },
        ],
        scales: { x: { time: true }, y: { range: [0, 1.05] } },
      });
      this.plot(
        'dials',
        'Dials per 100 ms and the budget',
        [
          { label: 'dials', stroke: css('--accent'), fill: `${css('--accent')}88`, paths: uPlot.paths.bars!({ size: [0.9, 12] }), points: { show: false } },
          { label: 'budget', stroke: css('--bad'), width: 1.5, dash: [6, 4], points: { show: false } },
        ],
        150,
      );
      this.timeline = undefined;
    }
  }

  /** Shows `node`'s plots, with a marker at the time-travel moment `cursor` (an entry seq; `null` when live). */
  update(store: Store, node: TreeNode | undefined, cursor: number | null): void {
    const session = node?.sessions[node.sessions.length - 1];
    const kind = session?.kind === 'pool' ? 'pool' : session?.kind === 'connection' ? 'connection' : 'none';
    if (kind === 'none') {
      if (this.mode !== 'none') {
        for (const p of this.plots) p.u.destroy();
        this.plots = [];
        this.container.replaceChildren();
        this.mode = 'none';
      }
      this.note.textContent = node ? 'plots are drawn for connections and pools' : '';
      return;
    }
    if (kind !== this.mode) this.build(kind);
    this.container.dataset.updates = String(++this.updates);
    const cursorT = cursor === null ? undefined : store.entry(cursor)?.t;
    this.cursorT = cursorT === undefined ? null : cursorT / 1000;
    const s = node!.series;
    this.note.textContent =
      s.samples.length > 0 ? sampleNote(store, node!, kind, cursor ?? store.lastSeq) : kind === 'pool' ? 'from the pool’s snapshots (no samples: not socketchart’s helper)' : 'no samples (not socketchart’s helper): states only';
    for (const p of this.plots) {
      let data: uPlot.AlignedData;
      switch (p.kind) {
        case 'rtt':
          data = [s.t, s.p50, s.p95, s.p99];
          break;
        case 'rate':
          data = [s.t, s.inRate, s.outRate];
          break;
        case 'queue':
          data = [s.t, s.queue];
          break;
        case 'health':
          data = [s.t, s.health, s.connected];
          break;
        case 'dials': {
          const buckets = [...s.dials.keys()].sort((a, b) => a - b);
          const xs: number[] = [];
          const ys: number[] = [];
          // Quiet 100 ms windows between dials count as zero, so that the bars read as a rate.
          const from = buckets[0] ?? 0;
          const to = buckets[buckets.length - 1] ?? -1;
          for (let b = Math.max(from, to - DIAL_BUCKETS); b <= to; b++) {
            xs.push(b / 10);
            ys.push(s.dials.get(b) ?? 0);
          }
          const budget = s.budget ? s.budget.burst + s.budget.ratePerSec / 10 : null;
          data = [xs, ys, xs.map(() => budget)];
          break;
        }
      }
      p.u.setData(data);
      p.box.dataset.points = String(data[0].length);
      // A plot with nothing to show (no samples from this sender) is left out rather than drawn empty.
      p.box.hidden = data[0].length === 0;
    }
    if (this.timeline) this.drawTimeline(store, node!, s.t[0]);
  }

  private drawTimeline(store: Store, node: TreeNode, firstSample: number | undefined): void {
    const canvas = this.timeline!;
    const changes: Array<{ t: number; label: string }> = [];
    for (const session of node.sessions) {
      const first = store.entry(session.created);
      if (first) changes.push({ t: first.t, label: first.label || 'idle' });
      for (const seq of session.snapshots) {
        const e = store.entry(seq);
        if (e && changes[changes.length - 1]?.label !== e.label) changes.push({ t: e.t, label: e.label });
      }
    }
    const width = this.width();
    const height = 26;
    const dpr = devicePixelRatio;
    canvas.width = width * dpr;
    canvas.height = height * dpr;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    canvas.parentElement!.dataset.points = String(changes.length);
    const ctx = canvas.getContext('2d')!;
    ctx.scale(dpr, dpr);
    ctx.clearRect(0, 0, width, height);
    if (changes.length === 0) return;
    const now = Math.max(store.lastT, changes[changes.length - 1]!.t);
    const t0 = Math.min(changes[0]!.t, (firstSample ?? Infinity) * 1000);
    const span = Math.max(1, now - t0);
    const x = (t: number) => ((t - t0) / span) * width;
    const seen = new Map<string, string>();
    changes.forEach((c, i) => {
      const end = changes[i + 1]?.t ?? now;
      const color = css(toneColor[tone(c.label)] ?? '--plain');
      seen.set(c.label, color);
      ctx.fillStyle = color;
      ctx.fillRect(x(c.t), 2, Math.max(1, x(end) - x(c.t)), height - 4);
    });
    if (this.cursorT !== null) {
      ctx.fillStyle = css('--text');
      ctx.fillRect(x(this.cursorT * 1000) - 1, 0, 2, height);
    }
    this.timelineLegend!.replaceChildren(
      ...[...seen].map(([label, color]) => h('span', { class: 'legend-item' }, h('i', { style: `background:${color}` }), label)),
    );
  }
}

/** The header: the sample as of entry `at`, with its time once it no longer tells the actor's present. */
function sampleNote(store: Store, node: TreeNode, kind: 'connection' | 'pool', at: number): string {
  const found = store.sampleAt(node, at);
  if (!found) return 'no sample yet at this moment';
  return `${found.current ? '' : `last sample ${clock(found.entry.t).slice(0, 8)}: `}${sampledNote(kind, found.sample)}`;
}

function sampledNote(kind: 'connection' | 'pool', last: ConnectionSample | PoolSample): string {
  if (kind === 'pool') {
    const p = last as PoolSample;
    return `${p.connected}/${p.connections} connected · health ${p.health} (${p.healthScore.toFixed(2)}) · ${p.dials.granted} dials${p.budget ? ` · budget ${p.budget.burst} + ${p.budget.ratePerSec}/s` : ''}`;
  }
  const c = last as ConnectionSample;
  return `${c.status} · rtt p50 ${c.rtt.p50 ?? '–'} ms · in ${c.messagesIn} · out ${c.messagesOut} · queued ${c.queueDepth} · reconnects ${c.reconnects} · health ${c.healthScore.toFixed(2)}`;
}
