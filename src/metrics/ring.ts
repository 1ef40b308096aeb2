/**
 * Writes `value` into a ring of at most `capacity` numbers kept in a plain array, which grows with use:
 * a quiet connection pays for the few values it has, not for the full window.
 */
export function ringWrite(ring: number[] | undefined, written: number, capacity: number, value: number): number[] {
  const target = ring ?? [];
  if (written < capacity) target.push(value);
  else target[written % capacity] = value;
  return target;
}

/** The ring's values, oldest first. */
export function ringValues(ring: number[] | undefined, written: number, capacity: number): number[] {
  if (!ring) return [];
  if (written <= capacity) return ring.slice();
  const start = written % capacity;
  return [...ring.slice(start), ...ring.slice(0, start)];
}
