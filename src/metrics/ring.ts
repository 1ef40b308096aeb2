/**
 * Writes the `written`-th value into a ring of at most `capacity` numbers kept in a plain array that
 * grows in small steps (4, 8, 16, …): a quiet connection pays for the few values it has, not for the
 * full window. Slots past `written` are holes; read with `ringValues`.
 */
export function ringWrite(ring: number[] | undefined, written: number, capacity: number, value: number): number[] {
  let target = ring;
  if (target === undefined || (written < capacity && written >= target.length)) {
    const grown = new Array<number>(Math.min(capacity, Math.max(4, 2 * (target?.length ?? 0))));
    if (target !== undefined) for (let i = 0; i < target.length; i++) grown[i] = target[i]!;
    target = grown;
  }
  target[written % capacity] = value;
  return target;
}

/** How many values the ring holds after `written` writes. */
export const ringSize = (written: number, capacity: number) => (written < capacity ? written : capacity);

/** The ring's values, oldest first. */
export function ringValues(ring: number[] | undefined, written: number, capacity: number): number[] {
  if (!ring) return [];
  if (written <= capacity) return ring.slice(0, written);
  const start = written % capacity;
  return [...ring.slice(start), ...ring.slice(0, start)];
}
