const REMEMBERED = 16;
const recent: WeakRef<object>[] = [];

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

/** The same value, or arrays or plain objects holding the same values. */
function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => Object.is(item, b[i]));
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && Object.is(a[key], b[key]));
}

const sameOptions = (a: object, b: object) =>
  Object.keys(a).length === Object.keys(b).length && Object.keys(a).every((key) => sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));

/**
 * Connections resolved from equal options share one frozen copy of the result (a few hundred bytes each
 * otherwise). The last 16 distinct results are remembered, weakly: a result no connection uses is freed.
 */
export function shareResolved<T extends object>(resolved: T): T {
  for (let i = 0; i < recent.length; i++) {
    const known = recent[i]!.deref();
    if (known === undefined) recent.splice(i--, 1);
    else if (sameOptions(known, resolved)) return known as T;
  }
  recent.unshift(new WeakRef(Object.freeze(resolved)));
  if (recent.length > REMEMBERED) recent.pop();
  return resolved;
}
