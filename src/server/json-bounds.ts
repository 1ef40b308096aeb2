/** Bounds on the shape of a client-supplied JSON value. */
export interface JsonBounds {
  /** Deepest nesting of objects and arrays (the frame itself is level 1). */
  maxDepth: number;
  /** Most object keys and array elements, counted over the whole value. */
  maxItems: number;
}

const OUT_OF_RANGE = 'holds a number beyond the range of a double (it would be sent on as null)';
const INEXACT = 'holds an integer that a double cannot hold exactly (it would be sent on changed): send it as a string';

const isLargeInteger = (n: number) => Number.isInteger(n) && Math.abs(n) > Number.MAX_SAFE_INTEGER;

const DIGIT_0 = 48;
const DIGIT_9 = 57;
const QUOTE = 34;
const BACKSLASH = 92;
const MINUS = 45;

/**
 * Whether the JSON `text` writes an integer (no fraction, no exponent) that `JSON.parse` could not read
 * exactly. Strings are skipped; only literals of 16 digits or more are checked.
 */
export function hasInexactInteger(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      for (i++; i < text.length && text.charCodeAt(i) !== QUOTE; i++) if (text.charCodeAt(i) === BACKSLASH) i++;
      continue;
    }
    if (c !== MINUS && (c < DIGIT_0 || c > DIGIT_9)) continue;
    const start = i;
    if (c === MINUS) i++;
    while (i < text.length && text.charCodeAt(i) >= DIGIT_0 && text.charCodeAt(i) <= DIGIT_9) i++;
    const literal = text.slice(start, i);
    const next = text[i];
    if (next === '.' || next === 'e' || next === 'E') {
      while (i + 1 < text.length && /[0-9.eE+-]/.test(text[i + 1]!)) i++;
      continue;
    }
    i--;
    if (literal.length < 16) continue;
    const read = Number(literal);
    if (!Number.isFinite(read) || BigInt(literal) !== BigInt(read)) return true;
  }
  return false;
}

/**
 * Why `value` (`JSON.parse` of `text`) exceeds `bounds`, or holds a number `JSON.parse` made infinite
 * (`1e400`) or could not read exactly (`9007199254740993`), or undefined when it fits. Walks the value with
 * an explicit stack, so checking a value of any depth is safe; the text is read only when the value holds
 * an integer beyond 2^53.
 */
export function boundsProblem(value: unknown, bounds: JsonBounds, text: string): string | undefined {
  if (typeof value === 'number' && !Number.isFinite(value)) return OUT_OF_RANGE;
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 1 }];
  let items = 0;
  let large = typeof value === 'number' && isLargeInteger(value);
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > bounds.maxDepth) return `nested deeper than ${bounds.maxDepth} levels`;
    const children = Array.isArray(current) ? current : Object.values(current);
    items += children.length;
    if (items > bounds.maxItems) return `more than ${bounds.maxItems} keys and array elements`;
    for (const child of children) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: depth + 1 });
      else if (typeof child === 'number') {
        if (!Number.isFinite(child)) return OUT_OF_RANGE;
        if (isLargeInteger(child)) large = true;
      }
    }
  }
  return large && hasInexactInteger(text) ? INEXACT : undefined;
}
