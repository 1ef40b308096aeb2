import type { EnvironmentEvent, EnvironmentSource } from '../environment/environment.js';

export interface ManualEnvironment extends EnvironmentSource {
  /**
   * Delivers an event to every listener, updating `online` / `hidden` first. A listener subscribed during
   * the delivery hears the next event; one unsubscribed during it (by an earlier listener) is not called.
   */
  emit(event: EnvironmentEvent): void;
  /** Number of listeners currently registered (leak checks). */
  readonly listenerCount: number;
  online: boolean;
  hidden: boolean;
}

/** An environment whose events the test fires by hand. */
export function createManualEnvironment(initial: { online?: boolean; hidden?: boolean } = {}): ManualEnvironment {
  // one entry per subscription, as each browser subscription binds listeners of its own
  const listeners = new Set<{ listener: (event: EnvironmentEvent) => void }>();
  const env: ManualEnvironment = {
    online: initial.online ?? true,
    hidden: initial.hidden ?? false,
    get listenerCount() {
      return listeners.size;
    },
    isOnline: () => env.online,
    isHidden: () => env.hidden,
    subscribe(listener) {
      const entry = { listener };
      listeners.add(entry);
      return () => listeners.delete(entry);
    },
    emit(event) {
      if (event === 'online' || event === 'offline') env.online = event === 'online';
      if (event === 'hidden' || event === 'freeze') env.hidden = true;
      if (event === 'visible' || event === 'resume') env.hidden = false;
      // Those subscribed when the event came, and still subscribed when their turn comes (as the DOM does).
      for (const entry of [...listeners]) if (listeners.has(entry)) entry.listener(event);
    },
  };
  return env;
}
