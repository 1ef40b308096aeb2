import { createOptimisticStore, type Connection, type OptimisticStore } from 'socketchart';

export interface ChatMessage { id: string; user: string; text: string; at: number }

const stores = new Map<string, OptimisticStore<ChatMessage>>();

/** The channel's messages, kept while the page lives: a room shows them again when the reader comes back to it. */
export function storeFor(connection: Connection, channel: string): OptimisticStore<ChatMessage> {
  let store = stores.get(channel);
  if (!store) stores.set(channel, (store = createOptimisticStore<ChatMessage>({ connection, channel, key: (message) => message.id })));
  return store;
}

/** What is written but not sent, by channel: the input gives it back when the reader comes back to the room. */
export const drafts = new Map<string, string>();
