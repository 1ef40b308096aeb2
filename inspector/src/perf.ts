/** Time spent per animation frame that processed events: ingest and render, with how many records. */
export class FrameStats {
  private readonly ms: number[] = [];
  private readonly records: number[] = [];
  private next = 0;
  total = 0;

  constructor(private readonly size = 300) {}

  record(ms: number, records: number): void {
    this.ms[this.next] = ms;
    this.records[this.next] = records;
    this.next = (this.next + 1) % this.size;
    this.total++;
  }

  /** Percentile of the kept frames' times, in ms. */
  percentile(p: number): number {
    if (this.ms.length === 0) return 0;
    const sorted = [...this.ms].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  }

  get max(): number {
    return this.ms.length === 0 ? 0 : Math.max(...this.ms);
  }

  /** Mean records per processed frame. */
  get batch(): number {
    return this.records.length === 0 ? 0 : this.records.reduce((a, b) => a + b, 0) / this.records.length;
  }
}

/**
 * The browser's own account of slow frames (Long Animation Frames: script, style, layout and paint of
 * one frame together, when it took over 50 ms), where the browser reports them.
 */
export class LongFrames {
  count = 0;
  max = 0;
  readonly supported: boolean;

  constructor() {
    const types = (PerformanceObserver as unknown as { supportedEntryTypes?: readonly string[] }).supportedEntryTypes ?? [];
    this.supported = types.includes('long-animation-frame');
    if (!this.supported) return;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.count++;
        this.max = Math.max(this.max, entry.duration);
      }
    }).observe({ type: 'long-animation-frame', buffered: true });
  }
}
