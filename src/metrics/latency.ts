import { ringSize, ringWrite } from './ring.js';

/** Percentiles of the retained samples; every field is `null` when there are none. */
export interface LatencySummary {
  /** Median, in ms (nearest rank). */
  p50: number | null;
  /** 95th percentile, in ms (nearest rank). */
  p95: number | null;
  /** 99th percentile, in ms (nearest rank). */
  p99: number | null;
  /** Most recent sample, in ms. */
  last: number | null;
  /** Samples recorded since creation (not only the retained ones). */
  count: number;
}

/** Capacity of the ring of retained samples. */
export const LATENCY_SAMPLES = 128;

/** The last 128 latency samples in a ring (grown on demand), with exact nearest-rank percentiles. */
export class LatencySamples {
  private ring: number[] | undefined;
  private recorded = 0;

  /** Records one sample, in ms; negative (a clock that stepped back) and non-finite values are ignored. */
  record(ms: number): void {
    if (!(ms >= 0 && ms < Infinity)) return;
    this.ring = ringWrite(this.ring, this.recorded, LATENCY_SAMPLES, ms);
    this.recorded++;
  }

  /** Samples recorded since creation. */
  get count(): number {
    return this.recorded;
  }

  /** Most recent sample, or `null` when there is none. */
  get last(): number | null {
    if (this.ring === undefined || this.recorded === 0) return null;
    return this.ring[(this.recorded - 1) % LATENCY_SAMPLES]!;
  }

  /** Nearest-rank percentile `p` (0–100) of the retained samples, or `null` when there are none. */
  percentile(p: number): number | null {
    const sorted = this.sorted();
    return sorted === undefined ? null : rank(sorted, p);
  }

  /** p50 / p95 / p99 / last / count in one pass. */
  summary(): LatencySummary {
    const sorted = this.sorted();
    if (sorted === undefined) return { p50: null, p95: null, p99: null, last: null, count: this.recorded };
    return {
      p50: rank(sorted, 50),
      p95: rank(sorted, 95),
      p99: rank(sorted, 99),
      last: this.last,
      count: this.recorded,
    };
  }

  private sorted(): Float64Array | undefined {
    const ring = this.ring;
    if (ring === undefined || this.recorded === 0) return undefined;
    const sorted = new Float64Array(ringSize(this.recorded, LATENCY_SAMPLES));
    for (let i = 0; i < sorted.length; i++) sorted[i] = ring[i]!;
    return sorted.sort();
  }
}

/** Nearest-rank percentile `p` (0–100) of any list of numbers, or `null` when it is empty. */
export function percentile(values: readonly number[], p: number): number | null {
  return values.length === 0 ? null : rank(Float64Array.from(values).sort(), p);
}

function rank(sorted: Float64Array, p: number): number {
  const n = sorted.length;
  const index = Math.ceil(((p > 100 ? 100 : p > 0 ? p : 0) / 100) * n) - 1;
  return sorted[index < 0 ? 0 : index >= n ? n - 1 : index]!;
}
