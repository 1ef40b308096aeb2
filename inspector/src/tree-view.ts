import { h, tone } from './dom.js';
import type { Store, TreeNode } from './store.js';
import { VirtualList } from './virtual-list.js';

/** The actor tree (pool → connections → socket / permit / heartbeat / flusher), virtualized, as of the time-travel moment. */
export class TreeView {
  private get store(): Store {
    return this.storeOf();
  }
  private readonly list: VirtualList<TreeNode>;
  private rows: TreeNode[] = [];
  private version = -1;
  /** The store the rows were taken from (the page starts a new one on an import, or when the server starts over). */
  private shownStore: Store | undefined;
  private filter = '';
  private at = Infinity;
  selected: TreeNode | undefined;
  onSelect: ((node: TreeNode) => void) | undefined;

  constructor(
    container: HTMLElement,
    private readonly storeOf: () => Store,
  ) {
    this.list = new VirtualList<TreeNode>(container, 24, (row, node) => this.renderRow(row, node));
    container.addEventListener('click', (e) => {
      const row = (e.target as HTMLElement).closest('.vrow') as HTMLElement | null;
      if (!row) return;
      const node = this.rows[Number(row.dataset.index)];
      if (!node) return;
      if ((e.target as HTMLElement).classList.contains('caret')) {
        node.expanded = !node.expanded;
        this.version = -1;
      } else {
        this.selected = node;
        this.onSelect?.(node);
      }
      this.render(this.at);
    });
  }

  setFilter(text: string): void {
    this.filter = text.trim().toLowerCase();
    this.version = -1;
  }

  /** Expands the ancestors of `node` so that it shows. */
  reveal(node: TreeNode): void {
    for (let p = node.parent; p; p = p.parent) p.expanded = true;
    this.version = -1;
  }

  /** Redraws as of entry `at` (Infinity: live). */
  render(at: number): void {
    const structural = this.version !== this.store.treeVersion || this.shownStore !== this.store || at !== this.at;
    this.at = at;
    if (structural) {
      this.version = this.store.treeVersion;
      this.shownStore = this.store;
      this.rows = this.flatten();
      this.list.setItems(this.rows);
    } else this.list.refresh();
  }

  private visible(node: TreeNode): boolean {
    return node.sessions.some((s) => s.created <= this.at) || node.children.some((c) => this.visible(c));
  }

  private matches(node: TreeNode): boolean {
    return node.name.toLowerCase().includes(this.filter) || node.children.some((c) => this.matches(c));
  }

  private flatten(): TreeNode[] {
    const out: TreeNode[] = [];
    const walk = (nodes: readonly TreeNode[]) => {
      for (const node of nodes) {
        if (!this.visible(node)) continue;
        if (this.filter && !this.matches(node)) continue;
        out.push(node);
        if (node.expanded || this.filter) walk(node.children);
      }
    };
    walk(this.store.roots);
    return out;
  }

  private renderRow(row: HTMLDivElement, node: TreeNode): void {
    const session = this.store.sessionAt(node, this.at);
    const { status, label } = session ? this.store.stateAt(session, this.at) : { status: 'stopped', label: '' };
    const shown = label || status;
    const t = tone(label || (status === 'active' ? 'plain' : status), status);
    row.className = `vrow tree-row${node === this.selected ? ' selected' : ''}${status !== 'active' ? ' ended' : ''}`;
    row.dataset.key = node.key;
    row.dataset.state = shown;
    row.dataset.status = status;
    const kind = session?.kind === 'pool' ? 'pool' : session?.kind === 'connection' ? 'conn' : '';
    const runs = node.sessions.filter((s) => s.created <= this.at).length;
    row.replaceChildren(
      h('span', { class: 'indent', style: `width:${node.depth * 16}px` }),
      h('span', { class: `caret${node.children.length === 0 ? ' leaf' : ''}`, text: node.children.length === 0 ? '' : node.expanded ? '▾' : '▸' }),
      h('span', { class: `dot ${t}` }),
      h('span', { class: 'name', text: node.name }),
      kind ? h('span', { class: 'kind', text: kind }) : '',
      h('span', { class: `state ${t}`, text: shown }),
      runs > 1 ? h('span', { class: 'runs', title: `${runs} actor sessions under this name`, text: `×${runs}` }) : '',
    );
  }
}
