/** Small statistics and table-printing helpers for the benchmark output. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function min(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.min(...values);
}

export function max(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.max(...values);
}

/** 1234567 → "1,234,567". */
export function int(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return Math.round(value).toLocaleString('en-US');
}

export function fixed(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return String(value);
  return value.toFixed(digits);
}

/** Messages per second, rounded to thousands: "1,234 k/s". */
export function rate(value: number): string {
  return `${int(value / 1000)} k/s`;
}

export function kb(bytes: number, digits = 2): string {
  return `${(bytes / 1024).toFixed(digits)} KB`;
}

export type Row = readonly (string | number)[];

/** A plain-text table with a header row; numbers are right-aligned. */
export function table(header: Row, rows: readonly Row[]): string {
  const all = [header, ...rows].map((row) => row.map((cell) => String(cell)));
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((row) => /^[-+~≈<>≤≥]?[\d.,]+( ?[a-zA-Z%×/µ]+(\/[a-z]+)?)?$|^—$|^$/.test(String(row[i] ?? ''))));
  const line = (row: string[]) =>
    row.map((cell, i) => (numeric[i] && i > 0 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '─'.repeat(w)).join('  ');
  return [line(all[0]!), rule, ...all.slice(1).map(line)].join('\n');
}

/** A section heading. */
export function heading(title: string): string {
  return `\n${title}\n${'═'.repeat(Math.min(100, title.length))}`;
}

/** "PASS"/"MISS" against a target, for the figure's row. */
export function verdict(ok: boolean): string {
  return ok ? 'PASS' : 'MISS';
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `promise`, or a rejection naming `what` once `ms` have passed without it settling. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
export const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Most values of sorted `times` within any half-open window [t, t + width). */
export function peakInWindow(times: readonly number[], width: number): number {
  let peak = 0;
  let j = 0;
  for (let i = 0; i < times.length; i++) {
    if (j < i) j = i;
    while (j < times.length && times[j]! < times[i]! + width) j++;
    peak = Math.max(peak, j - i);
  }
  return peak;
}
