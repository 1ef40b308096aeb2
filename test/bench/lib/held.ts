/**
 * Heap per connection held open (memory.ts, peers.ts): open `count` connections (BATCH at a time) against a
 * server process that answers `{ type: 'count' }` with the sockets it holds, wait until it holds them all,
 * full GCs, heapUsed after − before. Needs --expose-gc.
 */
import type { ChildProcess } from 'node:child_process';
import { waitOpen } from './server-runs.js';
import { sleep } from './stats.js';

const BATCH = 100;

export interface Usage {
  heap: number;
  external: number;
}

export async function settleHeap(): Promise<Usage> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('heap figures need --expose-gc');
  for (let i = 0; i < 4; i++) {
    gc();
    await sleep(10);
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external };
}

/** One variant: how to open one connection (kept alive by what it returns) and how to close it. */
export interface Variant<T> {
  label: string;
  open: () => Promise<T>;
  close: (item: T) => void;
  /** Opens a real socket each (the server's count is checked). */
  sockets: boolean;
}

export async function openAll<T>(server: ChildProcess, variant: Variant<T>, count: number): Promise<T[]> {
  const items: T[] = [];
  for (let i = 0; i < count; i += BATCH) {
    const batch = await Promise.all(Array.from({ length: Math.min(BATCH, count - i) }, () => variant.open()));
    items.push(...batch);
  }
  if (variant.sockets) await waitOpen(server, count, 30_000, 25);
  return items;
}

export async function closeAll<T>(server: ChildProcess, variant: Variant<T>, items: T[]): Promise<void> {
  for (const item of items) variant.close(item);
  items.length = 0;
  if (variant.sockets) await waitOpen(server, 0, 30_000, 25);
  await sleep(50);
}

/** Opens `count`, measures heap and external per connection, hands the open items to `whileOpen`, closes them. */
export async function heapPerConnection<T>(server: ChildProcess, variant: Variant<T>, count: number, whileOpen?: (items: T[], before: Usage, result: { perConn: number }) => Promise<void>) {
  const before = await settleHeap();
  const items = await openAll(server, variant, count);
  const after = await settleHeap();
  const result = { label: variant.label, perConn: (after.heap - before.heap) / count, externalPerConn: (after.external - before.external) / count };
  if (whileOpen) await whileOpen(items, before, result);
  await closeAll(server, variant, items);
  return result;
}
