/** Counts, by event, the listeners added with `target.on()` and not removed yet (from now on). */
export function countListeners(target: { on: (...args: never[]) => () => void }): Map<string, number> {
  const live = new Map<string, number>();
  const on = target.on.bind(target) as (event: string, listener: unknown) => () => void;
  (target as { on: unknown }).on = (event: string, listener: unknown) => {
    live.set(event, (live.get(event) ?? 0) + 1);
    const off = on(event, listener);
    let removed = false;
    return () => {
      if (!removed) live.set(event, live.get(event)! - 1);
      removed = true;
      off();
    };
  };
  return live;
}

/** How many listeners `countListeners` sees live, over all events. */
export const liveTotal = (live: Map<string, number>) => [...live.values()].reduce((a, b) => a + b, 0);
