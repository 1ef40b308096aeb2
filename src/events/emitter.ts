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

/** One `on()`: the same function added twice is two subscriptions, each ended by its own remover. */
interface Subscription {
  readonly listener: Listener<never>;
}

/**
 * A small typed event emitter. Listeners run in the order they were added; one that throws does not
 * stop the others (its error is rethrown on a later turn). An emit calls those listening when it began
 * and not removed since. Nothing is allocated until the first `on`.
 */
export class Emitter<Events extends object> {
  private listeners: Map<keyof Events, Set<Subscription>> | undefined;

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const listeners = (this.listeners ??= new Map());
    let set = listeners.get(event);
    if (!set) listeners.set(event, (set = new Set()));
    const subscription: Subscription = { listener: listener as Listener<never> };
    set.add(subscription);
    return () => {
      set.delete(subscription);
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
    for (const subscription of [...set]) {
      if (!set.has(subscription)) continue;
      try {
        (subscription.listener as Listener<Events[K]>)(payload);
      } catch (error) {
        rethrowLater(error);
      }
    }
  }

  /** Removes every listener, for the emits after it. */
  clear(): void {
    this.listeners = undefined;
  }
}
