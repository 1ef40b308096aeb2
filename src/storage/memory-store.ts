import type { MessageStore, StoredMessage } from './message-store.js';

/** A `MessageStore` kept in memory, with a synchronous `load()`. */
export interface MemoryStore extends MessageStore {
  load(): StoredMessage[];
  /** Does nothing: the messages stay, so the same store can be handed to a new connection. */
  close(): void;
  /** How many messages it holds. */
  readonly size: number;
}

/**
 * Keeps messages in memory only: they survive a new connection, not a restart of the app. Hand the
 * same store to a second connection to simulate a restart in tests. `load()` returns the messages
 * oldest first (by `sentAt`, then in the order they were first put).
 */
export function memoryStore(): MemoryStore {
  const messages = new Map<string, StoredMessage>();
  return {
    load: () => [...messages.values()].sort((a, b) => a.sentAt - b.sentAt),
    put: (message) => void messages.set(message.key, message),
    delete: (key) => void messages.delete(key),
    close: () => undefined,
    get size() {
      return messages.size;
    },
  };
}
