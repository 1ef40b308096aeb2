import type { InboundMessage } from '../protocol/adapter.js';
import type { SocketchartError } from '../protocol/errors.js';
import type { ConnectionStatus } from './types.js';

/** A change of status. */
export interface StateChange {
  status: ConnectionStatus;
  previous: ConnectionStatus;
  /** Why, when a failure caused it (the failure's message, secrets removed). */
  reason?: string;
}

/** Events `connection.on()` can listen to. */
export interface ConnectionEvents {
  state: StateChange;
  error: SocketchartError;
  message: InboundMessage;
  control: { type: string; frame: Readonly<Record<string, unknown>> };
  /** The connection moved to another of its urls (`to` 0: back on the primary). */
  failover: { from: number; to: number; url: string };
  /** Messages `from..to` of a subscribed channel can no longer be delivered (the server's history no longer reaches back). */
  gap: { ch: string; from: number; to: number };
  /** Queued messages wait for a rate limit (`scope`: the channel type, or `connection`); the flusher tries again after `waitMs`. */
  throttled: { scope: string; waitMs: number; queued: number };
  /** Messages a previous run left in the persistence store were queued again (`expired`: dropped, their TTL had passed). */
  restored: { messages: number; expired: number };
}
