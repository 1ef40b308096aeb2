/**
 * A list that renders only its visible rows (fixed height), so that 100,000 log lines or 10,000 actors
 * cost what 40 do. Rows are reused as the list scrolls.
 */
export class VirtualList<T> {
  private items: ArrayLike<T> = [];
  private readonly spacer: HTMLDivElement;
  private readonly rows: HTMLDivElement[] = [];
  private pending = false;

  constructor(
    readonly container: HTMLElement,
    readonly rowHeight: number,
    private readonly render: (row: HTMLDivElement, item: T, index: number) => void,
  ) {
    container.classList.add('vlist');
    this.spacer = document.createElement('div');
    this.spacer.className = 'vlist-spacer';
    container.append(this.spacer);
    container.addEventListener('scroll', () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(container);
  }

  get length(): number {
    return this.items.length;
  }

  setItems(items: ArrayLike<T>): void {
    this.items = items;
    this.spacer.style.height = `${items.length * this.rowHeight}px`;
    this.refresh();
  }

  /** The list is scrolled to (near) its end. */
  get atEnd(): boolean {
    const c = this.container;
    return c.scrollTop + c.clientHeight >= c.scrollHeight - this.rowHeight * 1.5;
  }

  scrollToEnd(): void {
    this.container.scrollTop = this.container.scrollHeight;
    this.refresh();
  }

  /** Brings row `index` into view (centred when it was out of view). */
  reveal(index: number): void {
    const c = this.container;
    const top = index * this.rowHeight;
    if (top < c.scrollTop || top + this.rowHeight > c.scrollTop + c.clientHeight) c.scrollTop = top - c.clientHeight / 2;
    this.refresh();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.refresh();
    });
  }

  /** Renders the rows in view. */
  refresh(): void {
    const c = this.container;
    const first = Math.max(0, Math.floor(c.scrollTop / this.rowHeight) - 2);
    const visible = Math.ceil((c.clientHeight || 600) / this.rowHeight) + 4;
    const last = Math.min(this.items.length, first + visible);
    const needed = Math.max(0, last - first);
    while (this.rows.length < needed) {
      const row = document.createElement('div');
      row.className = 'vrow';
      row.style.height = `${this.rowHeight}px`;
      this.container.append(row);
      this.rows.push(row);
    }
    for (let i = 0; i < this.rows.length; i++) {
      const row = this.rows[i]!;
      const index = first + i;
      if (i >= needed) {
        row.style.display = 'none';
        continue;
      }
      row.style.display = '';
      row.style.transform = `translateY(${index * this.rowHeight}px)`;
      row.dataset.index = String(index);
      this.render(row, this.items[index]!, index);
    }
  }
}
