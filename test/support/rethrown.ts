import { vi } from 'vitest';

/**
 * Errors the code under test throws "later" (on a microtask, as it does with an app callback's exception),
 * collected instead of failing the run. Undone by `vi.restoreAllMocks()`.
 */
export function collectRethrown(): unknown[] {
  const rethrown: unknown[] = [];
  const queue = globalThis.queueMicrotask;
  vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) =>
    queue(() => {
      try {
        callback();
      } catch (error) {
        rethrown.push(error);
      }
    }),
  );
  return rethrown;
}
