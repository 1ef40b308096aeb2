export type { StoredMessage, MessageStore } from './message-store.js';
export type { StoreErrorListener } from './shared.js';
export type { LockManagerLike } from './owner.js';
export { memoryStore, type MemoryStore } from './memory-store.js';
export { webStorageStore, type WebStorageStore, type WebStorageStoreOptions, type WebStorageLike } from './web-storage-store.js';
export { indexedDbStore, type IndexedDbStore, type IndexedDbStoreOptions, type IndexedDbFactoryLike } from './indexed-db-store.js';
