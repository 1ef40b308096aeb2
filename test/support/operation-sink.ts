import type { OperationSink } from '../../src/protocol/operations.js';

/** A sink that records what it is told, as strings: `next <json>`, `error <code>`, `complete`. */
export function recordingSink() {
  const seen: string[] = [];
  const sink: Required<OperationSink> = {
    next: (result) => seen.push(`next ${JSON.stringify(result)}`),
    error: (error) => seen.push(`error ${error.code}`),
    complete: () => seen.push('complete'),
  };
  return { seen, sink };
}
