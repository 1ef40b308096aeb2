/** Bounds on the shape of a client-supplied JSON value. */
export interface JsonBounds {
  /** Deepest nesting of objects and arrays (the frame itself is level 1). */
  maxDepth: number;
  /** Most object keys and array elements, counted over the whole value. */
  maxItems: number;
}

const OUT_OF_RANGE = 'holds a number beyond the range of a double (it would be sent on as null)';

/**
 * Why `value` (a result of `JSON.parse`) exceeds `bounds`, or holds a number `JSON.parse` made infinite
 * (`1e400`), or undefined when it fits. Walks the value with an explicit stack, so checking a value of any
 * depth is safe.
 */
export function boundsProblem(value: unknown, bounds: JsonBounds): string | undefined {
  if (typeof value === 'number' && !Number.isFinite(value)) return OUT_OF_RANGE;
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 1 }];
  let items = 0;
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > bounds.maxDepth) return `nested deeper than ${bounds.maxDepth} levels`;
    const children = Array.isArray(current) ? current : Object.values(current);
    items += children.length;
    if (items > bounds.maxItems) return `more than ${bounds.maxItems} keys and array elements`;
    for (const child of children) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: depth + 1 });
      else if (typeof child === 'number' && !Number.isFinite(child)) return OUT_OF_RANGE;
    }
  }
  return undefined;
}
