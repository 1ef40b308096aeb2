/**
 * A list that renders only its visible rows (fixed height), so that 100,000 log lines or 10,000 actors
 * cost what 40 do. Rows are reused as the list scrolls. Its geometry is cached (from scroll events and a
 * resize observer), so that updating it never forces the browser to lay the page out mid-frame.
 */
export class VirtualList<T> {
  private items: ArrayLike<T> = [];
  /** Rows as of the last `setItems()`: the caller may keep adding to the same array until its next frame. */
  private count = 0;
  private readonly spacer: HTMLDivElement;
  private readonly rows: HTMLDivElement[] = [];
  private pending = false;
  private scrollTop = 0;
  private height = 0;

  constructor(
    readonly container: HTMLElement,
    readonly rowHeight: number,
    private readonly render: (row: HTMLDivElement, item: T, index: number) => void,
  ) {
    container.classList.add('vlist');
    this.spacer = document.createElement('div');
    this.spacer.className = 'vlist-spacer';
    container.append(this.spacer);
    container.addEventListener(
      'scroll',
      () => {
        this.scrollTop = container.scrollTop;
        this.schedule();
      },
      { passive: true },
    );
    new ResizeObserver((entries) => {
      this.height = entries[0]?.contentRect.height ?? container.clientHeight;
      this.schedule();
    }).observe(container);
  }

  get length(): number {
    return this.count;
  }

  private get contentHeight(): number {
    return this.count * this.rowHeight;
  }

  setItems(items: ArrayLike<T>): void {
    this.items = items;
    this.count = items.length;
    this.container.dataset.rows = String(this.count);
    this.spacer.style.height = `${this.contentHeight}px`;
    // A shorter list is scrolled no further than its end (as the browser clamps it).
    this.scrollTop = Math.min(this.scrollTop, Math.max(0, this.contentHeight - this.height));
    this.refresh();
  }

  /** The list is scrolled to (near) the end of the rows it was last given. */
  get atEnd(): boolean {
    return this.scrollTop + this.height >= this.contentHeight - this.rowHeight * 1.5;
  }

  scrollToEnd(): void {
    this.scrollTo(Math.max(0, this.contentHeight - this.height));
  }

  /** Brings row `index` into view (centred when it was out of view). */
  reveal(index: number): void {
    const top = index * this.rowHeight;
    if (top < this.scrollTop || top + this.rowHeight > this.scrollTop + this.height) this.scrollTo(Math.max(0, top - this.height / 2));
    else this.refresh();
  }

  private scrollTo(top: number): void {
    if (Math.abs(top - this.scrollTop) >= 1) {
      this.scrollTop = top;
      this.container.scrollTop = top;
    }
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
    const first = Math.max(0, Math.floor(this.scrollTop / this.rowHeight) - 2);
    const visible = Math.ceil((this.height || 600) / this.rowHeight) + 4;
    const last = Math.min(this.count, first + visible);
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
        if (row.style.display !== 'none') row.style.display = 'none';
        continue;
      }
      if (row.style.display === 'none') row.style.display = '';
      row.style.transform = `translateY(${index * this.rowHeight}px)`;
      row.dataset.index = String(index);
      this.render(row, this.items[index]!, index);
    }
  }
}
