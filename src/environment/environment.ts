/** What the environment can tell a connection. */
export type EnvironmentEvent = 'online' | 'offline' | 'hidden' | 'visible' | 'freeze' | 'resume';

/**
 * A source of network and page-lifecycle events. Browsers get one by default (`browserEnvironment`);
 * Node has none unless given. Tests use `createManualEnvironment()` from `socketchart/testing`.
 */
export interface EnvironmentSource {
  /** Registers a listener; returns the function that removes it. */
  subscribe(listener: (event: EnvironmentEvent) => void): () => void;
  /** Whether the network is reachable now. @default true */
  isOnline?(): boolean;
  /** Whether the page is hidden (or frozen) now. @default false */
  isHidden?(): boolean;
}

const unsubscribed = () => {};

export const noEnvironment: EnvironmentSource = {
  subscribe: () => unsubscribed,
  isOnline: () => true,
  isHidden: () => false,
};
