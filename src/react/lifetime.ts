import { useCallback, useEffect, useRef, useState } from 'react';

const sameDeps = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((value, i) => Object.is(value, b[i]));

/**
 * `useEffect` whose cleanup waits for the end of the commit: when the same component runs the effect again
 * with the same dependencies in that commit — React's StrictMode double mount, Fast Refresh — what the
 * setup made is kept instead of being torn down and made again. So a subscription, a presence join or a
 * socket is made once, and let go once, when the component really unmounts (or its dependencies change).
 */
export function useLingeringEffect(setup: () => () => void, deps: readonly unknown[]): void {
  const held = useRef<{ deps: readonly unknown[]; cleanup: () => void; releasing: boolean } | null>(null);
  useEffect(() => {
    let entry = held.current;
    if (entry && entry.releasing && sameDeps(entry.deps, deps)) entry.releasing = false;
    else {
      if (entry?.releasing) {
        entry.releasing = false;
        entry.cleanup();
      }
      entry = held.current = { deps, cleanup: setup(), releasing: false };
    }
    const mine = entry;
    return () => {
      mine.releasing = true;
      queueMicrotask(() => {
        if (!mine.releasing) return;
        mine.releasing = false;
        if (held.current === mine) held.current = null;
        mine.cleanup();
      });
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
}

/**
 * A value made once per `key` during render (made again when the key changes), kept as state: a render
 * React throws away (a transition that never commits) leaves the committed value in place. Making it must
 * have no effect outside it (creating a connection or a pool opens nothing).
 */
export function useMadeOnce<T>(make: () => T, key: unknown): T {
  const [made, setMade] = useState(() => ({ key, value: make() }));
  if (Object.is(made.key, key)) return made.value;
  const next = { key, value: make() };
  setMade(next);
  return next.value;
}

/** A number to key what a component owns by, and the function that moves it on (to make the owned value again). */
export function useGeneration(): [generation: number, next: () => void] {
  const [generation, setGeneration] = useState(0);
  return [generation, useCallback(() => setGeneration((n) => n + 1), [])];
}
