import type { SnapshotFrom } from 'xstate';
import type { ConnectionMachine } from '../../machines/connection.machine.js';
import type { InboundMessage } from '../protocol/adapter.js';
import type { SocketchartError } from '../protocol/errors.js';
import type { ConnectionStatus } from './types.js';
import type { PresenceMember } from '../protocol/wire.js';

/** A change of status. */
export interface StateChange {
  status: ConnectionStatus;
  previous: ConnectionStatus;
  /** Why, when a failure caused it (the failure's message, secrets removed). */
  reason?: string | undefined;
}

/** A change of a channel's members: who joined, who left, and everyone present now. */
export interface PresenceChange {
  ch: string;
  joins: PresenceMember[];
  leaves: PresenceMember[];
  members: PresenceMember[];
}

/** A user started or stopped typing on a channel; `users`: everyone typing there now (never this connection). */
export interface TypingChange {
  ch: string;
  userId: string;
  typing: boolean;
  users: string[];
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
  /**
   * The server refused a subscribed channel (AUTHORIZATION_FAILED), or ended its subscription (a token
   * refresh no longer allows it): the channel is dropped, not subscribed again; its listeners hear nothing more.
   */
  refused: { ch: string; error: SocketchartError };
  /** Queued messages wait for a rate limit (`scope`: the channel type, or `connection`); the flusher tries again after `waitMs`. */
  throttled: { scope: string; waitMs: number; queued: number };
  /** Messages a previous run left in the persistence store were queued again (`expired`: dropped, their TTL had passed). */
  restored: { messages: number; expired: number };
  /** The members of a channel changed (a channel joined or watched: `connection.presence`). */
  presence: PresenceChange;
  /** Someone started or stopped typing on a channel this connection is subscribed to. */
  typing: TypingChange;
  /** Every snapshot of the connection's machine, across the actors it runs (`connection.actor` may change at rest). */
  snapshot: SnapshotFrom<ConnectionMachine>;
  /** The connection was disposed (or its actor stopped): nothing happens on it any more (its channel iterators and rxjs streams end). */
  disposed: { name: string };
}
