/** Plain-data copies of whatever inspection carries: bounded in depth and length, cycle-safe, functions named. */

export interface PlainOptions {
  /** Nesting beyond this becomes `'[Object]'` / `'[Array]'` (as `@statelyai/inspect` does). @default 10 */
  depthLimit?: number;
  /** Strings longer than this are cut (with `…` and the length). @default Infinity */
  maxStringLength?: number;
  /** Array items and object members copied, in all; the rest of each array or object is told by how many were left out. @default Infinity */
  maxMembers?: number;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What a value reads as when reading it throws (a getter that throws, a revoked proxy). */
const UNREADABLE = '[Unreadable]';

/** `read()`, or `UNREADABLE` when it throws. */
function readable<T>(read: () => T): T | typeof UNREADABLE {
  try {
    return read();
  } catch {
    return UNREADABLE;
  }
}

/**
 * A JSON-safe copy of `value`: `toJSON()` is honoured (XState snapshots and actor refs define one), a
 * function becomes `{ type: name }` (as `@statelyai/inspect` names guards and actions), an `Error` its
 * name and message, a cycle `'[Circular]'`, a member whose reading throws `'[Unreadable]'`; `undefined`
 * members are left out. Never throws.
 */
export function toPlain(value: unknown, options: PlainOptions = {}): Json {
  const depthLimit = options.depthLimit ?? 10;
  const maxString = options.maxStringLength ?? Infinity;
  let members = options.maxMembers ?? Infinity;
  const stack = new Set<object>();
  const walk = (item: unknown, depth: number): Json | undefined => {
    switch (typeof item) {
      case 'string':
        return item.length > maxString ? `${item.slice(0, maxString)}… (${item.length} characters)` : item;
      case 'number':
        return Number.isFinite(item) ? item : null;
      case 'boolean':
        return item;
      case 'bigint':
        return item.toString();
      case 'function': {
        const name = readable(() => (item as { name?: unknown }).name);
        return { type: typeof name === 'string' ? name : '' };
      }
      case 'undefined':
      case 'symbol':
        return undefined;
    }
    if (item === null) return null;
    try {
      return walkObject(item as object, depth);
    } catch {
      return UNREADABLE;
    }
  };
  const walkObject = (object: object, depth: number): Json | undefined => {
    if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer) return `[${object.byteLength} bytes]`;
    if (readable(() => typeof (object as { toJSON?: unknown }).toJSON === 'function') === true && !(object instanceof Date)) {
      if (stack.has(object)) return '[Circular]';
      if (depth >= depthLimit) return '[Object]';
      stack.add(object);
      try {
        const json = readable(() => (object as { toJSON(): unknown }).toJSON());
        return json === UNREADABLE ? json : walk(json, depth + 1);
      } finally {
        stack.delete(object);
      }
    }
    if (object instanceof Date) return Number.isNaN(object.getTime()) ? null : object.toISOString();
    if (object instanceof Error) return { name: object.name, message: walk(object.message, depth) as string };
    if (depth >= depthLimit) return Array.isArray(object) ? '[Array]' : '[Object]';
    if (stack.has(object)) return '[Circular]';
    stack.add(object);
    try {
      if (Array.isArray(object)) {
        const items: Json[] = [];
        for (let i = 0; i < object.length; i++) {
          if (members-- <= 0) {
            items.push(`… (${object.length - i} more)`);
            break;
          }
          items.push(walk(object[i], depth + 1) ?? null);
        }
        return items;
      }
      if (object instanceof Map) return walk(Object.fromEntries(object), depth);
      if (object instanceof Set) return walk([...object], depth);
      const out: { [key: string]: Json } = {};
      const keys = readable(() => Object.keys(object));
      if (keys === UNREADABLE) return keys;
      for (const [index, key] of keys.entries()) {
        if (members-- <= 0) {
          out['…'] = `(${keys.length - index} more)`;
          break;
        }
        const value = readable(() => (object as Record<string, unknown>)[key]);
        const member = value === UNREADABLE ? value : walk(value, depth + 1);
        if (member !== undefined) out[key] = member;
      }
      return out;
    } finally {
      stack.delete(object);
    }
  };
  return walk(value, 0) ?? null;
}

/** `JSON.stringify(toPlain(value, options))`. */
export function toJsonText(value: unknown, options?: PlainOptions): string {
  return JSON.stringify(toPlain(value, options));
}
