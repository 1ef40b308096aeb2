import { clock, h } from './dom.js';
import { preview } from './json-view.js';
import type { Entry, Kind, Store, TreeNode } from './store.js';
import { VirtualList } from './virtual-list.js';

export interface LogFilter {
  kinds: Set<Kind>;
  /** `all`, or only the selected tree node's actors (`node`), or them and everything under them (`subtree`). */
  actor: 'all' | 'node' | 'subtree';
  node: TreeNode | undefined;
  /** Event types to show (any of these, comma-separated, each a case-insensitive substring). */
  type: string;
  /** Text to find in the payload, the actor's name or the type. */
  search: string;
}

/** Entries examined per slice of filtering, so that a new filter over 300,000 entries never blocks a frame. */
const SLICE_MS = 6;

const kindGlyph: Record<Kind, string> = { actor: '+', event: '→', snapshot: '◆', metrics: '~', message: '✉' };

function pathOf(entry: Entry): string {
  const names: string[] = [];
  for (let a: Entry['actor'] | undefined = entry.actor; a && names.length < 2; a = a.parent) names.unshift(a.name);
  return names.join(' › ');
}

/** The event log: filtered incrementally, virtualized, following the end unless paused or time-travelling. */
export class LogView {
  private get store(): Store {
    return this.storeOf();
  }
  private readonly list: VirtualList<number>;
  private matched: number[] = [];
  private next = 0;
  private shown: number[] = [];
  private filter: LogFilter = { kinds: new Set(['actor', 'event', 'snapshot', 'message']), actor: 'all', node: undefined, type: '', search: '' };
  private types: string[] = [];
  private search = '';
  /** Entry seq of the last row shown when the log was paused (`undefined`: following the end). */
  private pausedAt: number | undefined;
  selected: number | undefined;
  /** Entry seq the time-travel cursor is at (`null`: live). */
  private cursor: number | null = null;
  onSelect: ((entry: Entry) => void) | undefined;

  constructor(
    container: HTMLElement,
    private readonly storeOf: () => Store,
    private readonly counter: HTMLElement,
  ) {
    this.list = new VirtualList<number>(container, 22, (row, seq) => this.renderRow(row, seq));
    container.addEventListener('click', (e) => {
      const row = (e.target as HTMLElement).closest('.vrow') as HTMLElement | null;
      const seq = row ? this.shown[Number(row.dataset.index)] : undefined;
      const entry = seq === undefined ? undefined : this.store.entry(seq);
      if (!entry) return;
      this.selected = seq;
      this.list.refresh();
      this.onSelect?.(entry);
    });
  }

  setFilter(filter: Partial<LogFilter>): void {
    this.filter = { ...this.filter, ...filter };
    this.types = this.filter.type.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean);
    this.search = this.filter.search.trim().toLowerCase();
    this.matched = [];
    this.next = this.store.base;
  }

  get currentFilter(): LogFilter {
    return this.filter;
  }

  /** Entries are still being examined against a new filter. */
  get filtering(): boolean {
    return this.next <= this.store.lastSeq;
  }

  get paused(): boolean {
    return this.pausedAt !== undefined;
  }

  /** Paused, the log shows what it showed then (filtered as it is now), and counts what arrived since. */
  set paused(paused: boolean) {
    this.pausedAt = paused ? (this.shown[this.list.length - 1] ?? this.store.lastSeq) : undefined;
  }

  setCursor(cursor: number | null): void {
    this.cursor = cursor;
  }

  reset(): void {
    this.matched = [];
    this.next = 0;
    this.selected = undefined;
    this.pausedAt = this.pausedAt === undefined ? undefined : -1;
  }

  private inNode(entry: Entry): boolean {
    const node = this.filter.node;
    if (!node) return true;
    if (this.filter.actor === 'node') return entry.actor.node === node;
    for (let n: TreeNode | undefined = entry.actor.node; n; n = n.parent) if (n === node) return true;
    return false;
  }

  private accepts(entry: Entry): boolean {
    if (!this.filter.kinds.has(entry.kind)) return false;
    if (this.filter.actor !== 'all' && !this.inNode(entry)) return false;
    if (this.types.length > 0) {
      const type = entry.type.toLowerCase();
      if (!this.types.some((t) => type.includes(t))) return false;
    }
    if (this.search) {
      const haystack = `${entry.actor.name} ${entry.type} ${entry.label} ${JSON.stringify(entry.kind === 'snapshot' ? [entry.rec.event, entry.rec.snapshot] : (entry.rec.event ?? entry.rec.snapshot ?? entry.rec.data ?? entry.rec.sample ?? ''))}`.toLowerCase();
      if (!haystack.includes(this.search)) return false;
    }
    return true;
  }

  /** Filters what arrived (within a time slice) and redraws. */
  render(): void {
    const store = this.store;
    if (this.next < store.base) this.next = store.base;
    if (this.matched.length > 0 && this.matched[0]! < store.base) this.matched = this.matched.filter((seq) => seq >= store.base);
    const started = performance.now();
    const last = store.lastSeq;
    while (this.next <= last) {
      const entry = store.entry(this.next++);
      if (entry && this.accepts(entry)) this.matched.push(entry.seq);
      if ((this.next & 1023) === 0 && performance.now() - started > SLICE_MS) break;
    }
    const filtering = this.next <= last;
    const follow = this.list.atEnd || this.shown.length === 0;
    const until = this.cursor ?? this.pausedAt;
    if (until === undefined) this.shown = this.matched;
    else {
      let n = this.matched.length;
      while (n > 0 && this.matched[n - 1]! > until) n--;
      this.shown = this.matched.slice(0, n);
    }
    this.list.setItems(this.shown);
    if (this.cursor !== null) this.list.reveal(this.shown.length - 1);
    else if (follow && !this.paused) this.list.scrollToEnd();
    this.counter.textContent =
      this.paused && this.cursor === null
        ? `paused · ${(this.matched.length - this.shown.length).toLocaleString('en-US')} new${filtering ? ' · filtering…' : ''}`
        : `${this.shown.length.toLocaleString('en-US')} shown${filtering ? ' · filtering…' : ''}`;
  }

  private renderRow(row: HTMLDivElement, seq: number): void {
    const entry = this.store.entry(seq);
    if (!entry) {
      row.replaceChildren();
      return;
    }
    row.className = `vrow log-row k-${entry.kind}${seq === this.selected ? ' selected' : ''}${seq === this.cursor ? ' at-cursor' : ''}`;
    row.dataset.type = entry.type;
    row.dataset.actor = entry.actor.name;
    row.dataset.kind = entry.kind;
    row.replaceChildren(
      h('span', { class: 'time', text: clock(entry.t) }),
      h('span', { class: 'glyph', title: entry.kind, text: kindGlyph[entry.kind] }),
      h('span', { class: 'who', title: pathOf(entry), text: pathOf(entry) }),
      h('span', { class: 'type', text: entry.type || '(init)' }),
      h('span', { class: 'summary', text: summary(entry) }),
    );
  }
}

/** What a row says after the type. */
export function summary(entry: Entry): string {
  const rec = entry.rec;
  switch (entry.kind) {
    case 'actor':
      if (entry.type === 'announced') return 'announced again';
      if (rec.bare === true) return 'first heard of, its creation not received yet';
      return `${rec.announced === true ? 'announced, created earlier' : 'created'}${entry.actor.parent ? ` by ${entry.actor.parent.name}` : ''}`;
    case 'snapshot': {
      const status = rec.snapshot?.status;
      return `→ ${entry.label || status || ''}${status && status !== 'active' ? ` (${status})` : ''}`;
    }
    case 'event': {
      const { type: _type, ...payload } = rec.event ?? { type: '' };
      const from = entry.source ? `${entry.source.name} → ` : '';
      return `${from}${entry.actor.name}${Object.keys(payload).length > 0 ? `  ${preview(payload, 90)}` : ''}`;
    }
    case 'metrics':
      return preview(rec.sample, 100);
    case 'message':
      return `${rec.seq !== undefined ? `#${rec.seq} ` : ''}${preview(rec.data, 90)}`;
  }
}
