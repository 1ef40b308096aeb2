import type { EnvironmentEvent, EnvironmentSource } from '../environment/environment.js';

export interface ManualEnvironment extends EnvironmentSource {
  /** Delivers an event to every listener, updating `online` / `hidden` first. */
  emit(event: EnvironmentEvent): void;
  /** Number of listeners currently registered (leak checks). */
  readonly listenerCount: number;
  online: boolean;
  hidden: boolean;
}

/** An environment whose events the test fires by hand. */
export function createManualEnvironment(initial: { online?: boolean; hidden?: boolean } = {}): ManualEnvironment {
  const listeners = new Set<(event: EnvironmentEvent) => void>();
  const env: ManualEnvironment = {
    online: initial.online ?? true,
    hidden: initial.hidden ?? false,
    get listenerCount() {
      return listeners.size;
    },
    isOnline: () => env.online,
    isHidden: () => env.hidden,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    emit(event) {
      if (event === 'online' || event === 'offline') env.online = event === 'online';
      if (event === 'hidden' || event === 'freeze') env.hidden = true;
      if (event === 'visible' || event === 'resume') env.hidden = false;
      for (const listener of [...listeners]) listener(event);
    },
  };
  return env;
}
