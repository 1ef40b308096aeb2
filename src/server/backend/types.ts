import type { HistoryRead, StoredMessage } from '../history.js';
import type { RateLimit } from '../../policy/rate-limiter.js';
import type { PresenceMember } from '../../protocol/wire.js';

/** A message to number, keep and fan out. */
export interface AppendInput {
  id?: string;
  /** The data, already encoded as JSON. */
  dataJson: string;
  event?: string;
  from?: string;
  ts: number;
  /** Idempotency key: a second append with the same key inside the window returns the first seq and is not delivered. */
  dedupKey?: string;
  /** A rate limit bucket charged one frame atomically with the append (a repeat inside the dedup window is free). */
  charge?: AppendCharge;
}

export interface AppendCharge {
  key: string;
  limit: RateLimit;
}

/** Stored (or recognised as a repeat), or refused by the charged bucket, which is held for `retryAfterMs`. */
export type AppendResult = { outcome: 'stored'; seq: number; duplicate: boolean } | { outcome: 'refused'; retryAfterMs: number };

/** Unnumbered events fanned out to every node for one channel. */
export type ChannelSignal =
  | { kind: 'presence'; joins: PresenceMember[]; leaves: PresenceMember[] }
  | { kind: 'typing'; userId: string; typing: boolean; origin: string };

/**
 * What removing one connection's presence changed: the user left (it was their last connection on the channel),
 * the member shown changed (to the one their connection joined or joined again last of those left), or nothing to announce.
 */
export type PresenceLeave = { outcome: 'left' } | { outcome: 'shown'; member: PresenceMember } | { outcome: 'none' };

/** Unnumbered events fanned out to every node. */
export type GlobalSignal = { kind: 'logout'; userId: string; reason: string };

/** What a typing stop left of a user's typing on a channel, over every node. */
export interface TypingLeft {
  /** Entries this call removed: the connection's own, and any whose time was up (as of a connection on a node that is gone). */
  removed: number;
  /** Milliseconds until the last connection still typing runs out of time; 0 when none types any more. */
  untilMs: number;
}

/** What a backend reports to its node. */
export interface BackendListener {
  /** A numbered message of a watched channel, from any node (this one included). */
  message(ch: string, message: StoredMessage): void;
  channelSignal(ch: string, signal: ChannelSignal): void;
  globalSignal(signal: GlobalSignal): void;
  /**
   * The shared store came back after an outage: resume subscriptions from history and re-register presence.
   * `reaped`: this node was taken for dead meanwhile, and each of its presence entries removed and announced by its reaper.
   */
  recovered(reaped?: boolean): void;
  /** The shared store answered a heartbeat: a chance to try again what failed meanwhile (presence leaves, start numbers). */
  beat?(): void;
  /** Reachability of the shared store changed. */
  status(up: boolean): void;
}

/**
 * The storage and fan-out primitives a node needs; everything else (ordering, replay plans, gaps,
 * authorization, limits) lives above it and is shared by both backends.
 */
export interface Backend {
  readonly kind: 'memory' | 'redis';
  start(listener: BackendListener): Promise<void>;
  isUp(): boolean;
  /** Numbers, keeps (bounded) and fans out one message, atomically with the idempotency check. */
  append(ch: string, input: AppendInput): Promise<AppendResult>;
  /** The seq of the message first appended with this idempotency key, while its dedup window lasts. */
  repeatOf(dedupKey: string): Promise<number | undefined>;
  /** The channel's numbering and up to `limit` retained messages after `since` (creating the channel if new). */
  read(ch: string, since: number, limit: number): Promise<HistoryRead>;
  /** Resolves once every message fanned out before the call (to a watched channel) has reached the listener. */
  caughtUp(): Promise<void>;
  /** Starts receiving the channel's messages and signals on this node; resolves once they flow. Reference counted. */
  watch(ch: string): Promise<void>;
  unwatch(ch: string): void;
  signalChannel(ch: string, signal: ChannelSignal): Promise<void>;
  signalGlobal(signal: GlobalSignal): Promise<void>;
  /**
   * Adds one connection's presence, keeping the member it joined with: a user is shown with the member of their
   * connection joined (or joined again) last. Announces a join, and answers true, for the user's first connection on
   * the channel, or another one joining with other meta. A connection present already changes nothing.
   * Each presence change is announced (a presence signal to every node) atomically with it, in the order they are made.
   */
  presenceJoin(ch: string, ref: string, member: PresenceMember): Promise<boolean>;
  /** Replaces the member (its meta) of a connection already present, now the one joined last; announces a join, and answers true, when the member shown changed. */
  presenceUpdate(ch: string, ref: string, member: PresenceMember): Promise<boolean>;
  /**
   * Removes one connection's presence, announcing what changed: a leave, a member shown with other meta (a join), or nothing.
   * `again`: this leave was tried before and failed, perhaps made unanswered. When the connection is gone already, the
   * backend announces the user's leave only if none of their connections is present and nothing shows the earlier
   * attempt made it (a backend that lost its data, as Redis restarted empty).
   */
  presenceLeave(ch: string, ref: string, userId: string, again?: boolean): Promise<PresenceLeave>;
  presenceList(ch: string): Promise<PresenceMember[]>;
  /**
   * The presence entries of this node's connections the shared store keeps: after a restart from an older snapshot,
   * some of connections that left since. Absent from a backend that cannot lose or restore its data.
   */
  presenceHeld?(): Promise<{ ch: string; ref: string; userId: string }[]>;
  /** Counts connection `ref` of the user typing on the channel for `ttlMs` from now (a refresh pushes its time back). */
  typingStart(ch: string, userId: string, ref: string, ttlMs: number): Promise<void>;
  /**
   * Removes the typing of connection `ref` (without one, only forgets entries whose time is up) and answers what is
   * left over every node. Atomic: of calls racing to remove the last entries, exactly one finds `removed > 0` with
   * `untilMs` 0.
   */
  typingStop(ch: string, userId: string, ref?: string): Promise<TypingLeft>;
  /** Entries of each map the backend keeps on this node (for leak checks). */
  sizes(): Record<string, number>;
  close(): Promise<void>;
}
