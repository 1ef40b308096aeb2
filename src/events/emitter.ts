/** Throws `error` on a later turn: a listener's exception reaches the host without breaking the caller. */
export const rethrowLater = (error: unknown): void =>
  queueMicrotask(() => {
    throw error;
  });

/** What `fn` returns; when it throws (an app's callback or adapter), `undefined`, and the exception is rethrown on a later turn. */
export function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (error) {
    rethrowLater(error);
    return undefined;
  }
}

type Listener<T> = (payload: T) => void;

/**
 * A small typed event emitter. Listeners run in the order they were added; one that throws does not
 * stop the others (its error is rethrown on a later turn). Nothing is allocated until the first `on`.
 */
export class Emitter<Events extends object> {
  private listeners: Map<keyof Events, Set<Listener<never>>> | undefined;

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const listeners = (this.listeners ??= new Map());
    let set = listeners.get(event);
    if (!set) listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => {
      set.delete(listener as Listener<never>);
      if (set.size > 0 || listeners.get(event) !== set) return;
      listeners.delete(event);
      if (listeners.size === 0 && this.listeners === listeners) this.listeners = undefined;
    };
  }

  /** Whether anything listens to `event`. */
  has(event: keyof Events): boolean {
    return this.listeners?.has(event) === true;
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners?.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (error) {
        rethrowLater(error);
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.listeners = undefined;
  }
}
