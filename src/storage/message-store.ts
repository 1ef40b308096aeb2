/**
 * One outbound message kept by a `MessageStore` so that it survives a restart of the app: a message still
 * queued, or one sent with `ack: true` and not yet acknowledged.
 */
export interface StoredMessage {
  /** Unique per message (the ack id for acknowledged messages). */
  readonly key: string;
  /** The encoded frame as written on the socket (text frames only are kept). */
  readonly frame: string;
  /** Channel the message is published on, when it has one (rate limits and acks use it). */
  readonly channel?: string | undefined;
  /** Queue priority it was sent with. */
  readonly priority: 'critical' | 'high' | 'normal' | 'low';
  /** `sentAt` plus the time to live it was sent with: the time (epoch ms) after which it is dropped; absent for no limit. */
  readonly expiresAt?: number | undefined;
  /** Sent with `ack: true`: it is kept until the server acknowledges it. */
  readonly ack: boolean;
  /** Wall-clock time (epoch ms) at which the app sent it, never before an earlier message's (the clock may step back); restored messages keep their original order by it. */
  readonly sentAt: number;
}

/**
 * Where a connection keeps the messages that must survive a restart of the app (`persistence.store`).
 * Writes are fire-and-forget (the connection does not wait for a promise `put` / `delete` returns) and may
 * be batched by the store; `load()` returns what earlier runs left, in the order they were put.
 */
export interface MessageStore {
  /** Everything stored, oldest first. */
  load(): Promise<StoredMessage[]> | StoredMessage[];
  /** Stores a message (replacing one with the same key). A throw, or a returned promise that rejects, is reported on the connection's `on('error')`; the message goes on. */
  put(message: StoredMessage): void | Promise<void>;
  /** Forgets a message: it was written without an ack, acknowledged, or rejected for good. Failures are reported as `put`'s are. */
  delete(key: string): void | Promise<void>;
  /** Writes anything batched and releases the store's resources; the store is not used afterwards. */
  close?(): Promise<void> | void;
}
