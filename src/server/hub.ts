import { AuthenticationError, type Identity } from './auth.js';
import type { AppendCharge, AppendResult, Backend, BackendListener, ChannelSignal, GlobalSignal, TypingLeft } from './backend/types.js';
import { BROADCAST_ALL_CHANNEL, ChannelAuthorizer, userChannel, type AuthorizationResult, type ChannelAction } from './channels.js';
import type { HistoryRead, StoredMessage } from './history.js';
import { errorText, logFailure, type Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';
import type { RetentionRules } from './retention.js';
import { CloseCode, ErrorCode, type ClientFrame, type ErrorFrame, type PresenceMember, type ServerFrame } from '../protocol/wire.js';
import { HistoryTurns } from './history-turns.js';
import { encodeMessage, Subscription, type HistoryReader, type SubscriberSink } from './subscription.js';
import { presenceDiffs, presencePages } from './presence-pages.js';

type Frame<T extends ClientFrame['type']> = Extract<ClientFrame, { type: T }>;

/** What the hub needs from an authenticated connection. */
export interface HubClient extends SubscriberSink {
  /** Unique across nodes: `<nodeId>:<connectionId>`. */
  readonly key: string;
  readonly identity: Identity;
  readonly subscriptions: Map<string, Subscription>;
  /** The channels it is present on, with its member; made at its first join (most connections never join). */
  presence?: Map<string, PresenceMember>;
  /** The channels it is typing on, each with the timer that stops it; made at its first typing. */
  typing?: Map<string, NodeJS.Timeout>;
  send(frame: ServerFrame): void;
  sendError(code: ErrorCode, message: string, extra?: Omit<Partial<ErrorFrame>, 'type' | 'code' | 'message'>): void;
  closeWith(code: number, reason: string, error?: { code: ErrorCode; message: string }): void;
  /**
   * Counts `bytes` held for the socket outside its send buffer (presence diffs waiting for a list's last page; negative
   * once written): false, and the socket closed as a slow consumer, once with that buffer they pass `maxBufferedBytes`.
   */
  hold(bytes: number): boolean;
  /** Runs `handle` in the channel's presence order: once the presence frames of the channel received before are answered. */
  presenceTurn(ch: string, handle: () => Promise<void> | undefined): void;
}

export interface HubOptions {
  backend: Backend;
  authorizer: ChannelAuthorizer;
  metrics: ServerMetrics;
  logger: Logger;
  retention: RetentionRules;
  maxSubscriptions: number;
  typingTimeoutMs: number;
  implicitChannels: boolean;
}

interface ChannelEntry {
  subs: Map<Subscription, HubClient>;
  ready: Promise<void>;
  /** False once the backend refused to watch the channel: the next subscribe, a recovery, or a heartbeat while an implicit subscription of it has no start number, watches it again. */
  watched: boolean;
}

const MAX_META_BYTES = 1024;

/** How long after the typing another node keeps for a user runs out it is checked again (at most a quarter of `typingTimeoutMs`). */
const TYPING_CHECK_MARGIN_MS = 500;

/** A presence leave still to do: one that failed, or one undoing a join that failed (and may yet have been done). */
interface PendingLeave {
  ch: string;
  ref: string;
  userId: string;
  /**
   * Whether the backend announces the leave of a member it finds gone already (one it lost, as Redis restarted
   * empty): not for a leave undoing a failed join (the member may never have joined), nor once a reaper announced it.
   */
  announceLost: boolean;
}

/** Presence joins again of a recovery sent at once (each a script of some 2 kB): a node with many members neither floods Redis nor starves its heartbeat. */
const REJOIN_BATCH = 100;

/** A connection's presence on a channel, to join again after a recovery. */
type Rejoin = { client: HubClient; ch: string };

/** Idempotency key of a publish: its id, per publisher and channel. */
const dedupKey = (from: string | undefined, ch: string, id: string): string => JSON.stringify([from ?? '', ch, id]);

/** Encodes published data once, before anything keeps it; a value JSON cannot encode is refused here. */
function encodeData(data: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (error) {
    throw new TypeError(`data cannot be encoded as JSON (${errorText(error)})`);
  }
  if (json === undefined) throw new TypeError('data cannot be encoded as JSON (undefined, a function or a symbol)');
  return json;
}

/** Local subscriptions, users and presence of this node, and the channel operations on them. */
export class Hub implements BackendListener {
  private readonly channels = new Map<string, ChannelEntry>();
  private readonly users = new Map<string, Set<HubClient>>();
  /** Presence leaves still to do, by `<ref> <ch>`: tried again with each heartbeat of the backend and once it has recovered. */
  private readonly pendingLeaves = new Map<string, PendingLeave>();
  /** Presence to join again after a recovery, by `<ref> <ch>`: joined in batches, one that failed tried again with the next heartbeat. */
  private readonly rejoins = new Map<string, Rejoin>();
  private rejoining = false;
  /**
   * Implicit subscriptions whose start number could not be read (Redis unreachable as their connection came): read
   * again with each heartbeat of the backend and once it has recovered, until a message or a read numbers them.
   */
  private readonly unnumbered = new Set<Subscription>();
  /**
   * Presence diffs held for a connection, by `<ref> <ch>`, while its list of the channel is read: sent after the
   * list, which may not hold their changes (a diff the list holds already changes nothing once applied again).
   */
  private readonly heldPresence = new Map<string, string[]>();
  private readonly read: HistoryReader;
  /** Each connection's turns of history reads, shared by its subscriptions. */
  private readonly turns = new WeakMap<HubClient, HistoryTurns>();

  /**
   * History reads in flight that replay from a number, by channel then `<since> <limit>`: subscribers resuming
   * from the same one (a recovery, a reconnect storm) share one read, until a message of the channel arrives, the
   * channel is no longer watched or the backend recovers (messages may have gone unheard meanwhile).
   */
  private readonly replayReads = new Map<string, Map<string, Promise<HistoryRead>>>();

  /** Token checks in flight, each with the users `logout()` ended the sessions of since it began, and why. */
  private readonly tokenChecks = new Set<Map<string, string>>();
  /** The logouts told since the check an identity passed began: one told before its connection attached ends it then. */
  private readonly passedChecks = new WeakMap<Identity, Map<string, string>>();

  /** Set once the node shuts down: no check of typing elsewhere is made any more. */
  private closed = false;

  /** Users who stopped typing here while a connection of theirs on another node still typed, by `[ch, userId]`: checked again once its time is up. */
  private readonly typingChecks = new Map<string, NodeJS.Timeout>();

  constructor(private readonly options: HubOptions) {
    const fresh = async (ch: string, since: number, limit: number) => {
      const read = await options.backend.read(ch, since, limit);
      await options.backend.caughtUp();
      return read;
    };
    this.read = (ch, since, limit) => {
      if (limit === 0) return fresh(ch, since, limit);
      const key = `${since} ${limit}`;
      let reads = this.replayReads.get(ch);
      const shared = reads?.get(key);
      if (shared) return shared;
      if (!reads) this.replayReads.set(ch, (reads = new Map()));
      const read = fresh(ch, since, limit).finally(() => {
        reads.delete(key);
        if (reads.size === 0 && this.replayReads.get(ch) === reads) this.replayReads.delete(ch);
      });
      reads.set(key, read);
      return read;
    };
  }

  userConnectionCount(userId: string): number {
    return this.users.get(userId)?.size ?? 0;
  }

  /** Entries of each map the hub keeps (for leak checks). */
  sizes(): Record<string, number> {
    let subscriptions = 0;
    for (const entry of this.channels.values()) subscriptions += entry.subs.size;
    return { users: this.users.size, hubChannels: this.channels.size, subscriptions, pendingLeaves: this.pendingLeaves.size, unnumbered: this.unnumbered.size, rejoins: this.rejoins.size, heldPresence: this.heldPresence.size, typingChecks: this.typingChecks.size, tokenChecks: this.tokenChecks.size };
  }

  /**
   * The identity a token check settles with; refused when `logout()` ended its user's sessions while it ran. Logouts
   * are watched until its connection attaches (before the next turn of the event loop), which one told meanwhile ends.
   */
  async unlessLoggedOut(check: Promise<Identity>): Promise<Identity> {
    const loggedOut = new Map<string, string>();
    this.tokenChecks.add(loggedOut);
    try {
      const identity = await check;
      if (loggedOut.has(identity.userId)) throw new AuthenticationError('logged out');
      this.passedChecks.set(identity, loggedOut);
      return identity;
    } finally {
      setImmediate(() => this.tokenChecks.delete(loggedOut));
    }
  }

  /** The node shuts down, its connections closed: the checks still to come are dropped. */
  close(): void {
    this.closed = true;
    for (const timer of this.typingChecks.values()) clearTimeout(timer);
    this.typingChecks.clear();
  }

  attach(client: HubClient): void {
    const { userId } = client.identity;
    let set = this.users.get(userId);
    if (!set) this.users.set(userId, (set = new Set()));
    set.add(client);
    const loggedOut = this.passedChecks.get(client.identity);
    if (loggedOut) this.tokenChecks.delete(loggedOut);
    const reason = loggedOut?.get(userId);
    if (reason !== undefined) {
      client.closeWith(CloseCode.Unauthorized, reason, { code: ErrorCode.AUTHENTICATION_FAILED, message: reason });
      return;
    }
    if (!this.options.implicitChannels) return;
    for (const ch of [userChannel(userId), BROADCAST_ALL_CHANNEL]) this.addImplicit(client, ch);
  }

  private addImplicit(client: HubClient, ch: string): void {
    const sub = new Subscription(ch, client, this.read, this.options.retention.forChannel(ch).size, true, this.turnsOf(client));
    this.number(sub, this.addSub(client, sub));
  }

  /**
   * On a backend whose fan-out can lapse (Redis), an implicit subscription reads the number it starts after once its
   * channel is watched, to catch up from there after an outage; one that failed is kept to read again (`again`: logged
   * the first time only, not at every heartbeat while the backend refuses).
   */
  private number(sub: Subscription, watching: Promise<void>, again = false): void {
    const started = this.options.backend.kind === 'redis' ? watching.then(() => sub.startAtCurrent()) : watching;
    started.catch((error: unknown) => {
      if (!sub.closed && sub.lastSeq === undefined) this.unnumbered.add(sub);
      if (!again) this.options.logger.warn({ ch: sub.ch, err: errorText(error) }, 'implicit subscription failed');
    });
  }

  /** Reads again the start numbers that failed, of the implicit subscriptions still open that no message numbered since; watches their channel again if the backend refused it. */
  private numberAgain(): void {
    for (const sub of [...this.unnumbered]) {
      this.unnumbered.delete(sub);
      const entry = this.channels.get(sub.ch);
      if (sub.closed || sub.lastSeq !== undefined || !entry) continue;
      if (!entry.watched) this.watch(sub.ch, entry);
      this.number(sub, entry.ready, true);
    }
  }

  /** Whether the client receives the channel without subscribing: its user channel and broadcast:all. */
  private isImplicit(client: HubClient, ch: string): boolean {
    return this.options.implicitChannels && (ch === BROADCAST_ALL_CHANNEL || ch === userChannel(client.identity.userId));
  }

  /** Ends a subscription the client made; on its user channel or broadcast:all, the implicit one takes its place. */
  private endSub(client: HubClient, sub: Subscription): void {
    if (!sub.implicit && this.isImplicit(client, sub.ch)) this.addImplicit(client, sub.ch);
    this.removeSub(client, sub);
  }

  async detach(client: HubClient): Promise<void> {
    const set = this.users.get(client.identity.userId);
    set?.delete(client);
    if (set?.size === 0) this.users.delete(client.identity.userId);
    for (const sub of [...client.subscriptions.values()]) this.removeSub(client, sub);
    const typingStops = [...(client.typing?.keys() ?? [])].map((ch) => this.stopTyping(client, ch));
    const channels = [...(client.presence?.keys() ?? [])];
    client.presence?.clear();
    await Promise.all([...typingStops, ...channels.map((ch) => this.leave(ch, client.key, client.identity.userId))]);
  }

  private turnsOf(client: HubClient): HistoryTurns {
    let turns = this.turns.get(client);
    if (!turns) this.turns.set(client, (turns = new HistoryTurns()));
    return turns;
  }

  private addSub(client: HubClient, sub: Subscription): Promise<void> {
    let entry = this.channels.get(sub.ch);
    if (!entry) {
      entry = { subs: new Map(), ready: Promise.resolve(), watched: false };
      this.channels.set(sub.ch, entry);
    }
    if (!entry.watched) this.watch(sub.ch, entry);
    entry.subs.set(sub, client);
    client.subscriptions.set(sub.ch, sub);
    return entry.ready;
  }

  private watch(ch: string, entry: ChannelEntry): void {
    entry.watched = true;
    entry.ready = this.options.backend.watch(ch);
    entry.ready.catch(() => (entry.watched = false));
  }

  private removeSub(client: HubClient, sub: Subscription): void {
    sub.close();
    this.unnumbered.delete(sub);
    if (client.subscriptions.get(sub.ch) === sub) client.subscriptions.delete(sub.ch);
    const entry = this.channels.get(sub.ch);
    if (entry?.subs.delete(sub) && entry.subs.size === 0) {
      this.channels.delete(sub.ch);
      this.replayReads.delete(sub.ch);
      if (entry.watched) this.options.backend.unwatch(sub.ch);
    }
  }

  authorize(identity: Identity, ch: string, action: ChannelAction, event?: string): AuthorizationResult {
    return this.options.authorizer.authorize(identity, ch, action, event);
  }

  /**
   * Subscribes an authorized client. A subscribe past `maxSubscriptions` (not counting its user channel and
   * broadcast:all, which it receives anyway) is refused for good with AUTHORIZATION_FAILED (waiting does not help,
   * as it would for a rate limit); each refusal names the channel and the action.
   */
  async subscribe(client: HubClient, { ch, since }: Frame<'subscribe'>): Promise<void> {
    const existing = client.subscriptions.get(ch);
    if (!existing && [...client.subscriptions.keys()].filter((held) => !this.isImplicit(client, held)).length >= this.options.maxSubscriptions) {
      client.sendError(ErrorCode.AUTHORIZATION_FAILED, 'too many subscriptions', { details: { ch, action: 'subscribe', limit: this.options.maxSubscriptions } });
      return;
    }
    const sub = new Subscription(ch, client, this.read, this.options.retention.forChannel(ch).size, false, this.turnsOf(client));
    const watching = this.addSub(client, sub);
    if (existing) this.removeSub(client, existing);
    try {
      await watching;
      await sub.start(since);
    } catch (error) {
      if (sub.closed) return;
      this.endSub(client, sub);
      this.options.logger.warn({ ch, err: errorText(error) }, 'subscribe failed');
      client.sendError(ErrorCode.SERVER_ERROR, 'subscribe failed: history unavailable, retry', { details: { ch, action: 'subscribe' } });
    }
  }

  unsubscribe(client: HubClient, { ch }: Frame<'unsubscribe'>): void {
    const sub = client.subscriptions.get(ch);
    if (sub && !sub.implicit) this.endSub(client, sub);
    client.send({ type: 'unsubscribed', ch });
  }

  /** Publishes for an authorized client, charging `charge` atomically with the append; acks it when it has an id. Undefined when it failed (answered with SERVER_ERROR). */
  async publish(client: HubClient, { ch, id, data, event }: Frame<'publish'>, charge: AppendCharge): Promise<AppendResult | undefined> {
    try {
      const result = await this.append(ch, data, event, id, client.identity.userId, charge);
      if (result.outcome === 'stored' && id !== undefined) client.send({ type: 'ack', id, seq: result.seq, ...(result.duplicate ? { duplicate: true } : {}) });
      return result;
    } catch (error) {
      this.options.logger.warn({ ch, err: errorText(error) }, 'publish failed');
      client.sendError(ErrorCode.SERVER_ERROR, 'publish failed, retry', { details: { ch }, ...(id === undefined ? {} : { id }) });
      return undefined;
    }
  }

  /** The seq a client's publish id was first stored with, while its dedup window lasts. */
  repeatOf(client: HubClient, ch: string, id: string): Promise<number | undefined> {
    return this.options.backend.repeatOf(dedupKey(client.identity.userId, ch, id));
  }

  /** Numbers, keeps and fans out one message; with an `id`, a repeat inside the dedup window returns the first seq. */
  append(ch: string, data: unknown, event: string | undefined, id: string | undefined, from: string | undefined, charge?: AppendCharge): Promise<AppendResult> {
    return this.options.backend.append(ch, {
      ...(charge === undefined ? {} : { charge }),
      dataJson: encodeData(data),
      ts: Date.now(),
      ...(id === undefined ? {} : { id, dedupKey: dedupKey(from, ch, id) }),
      ...(event === undefined ? {} : { event }),
      ...(from === undefined ? {} : { from }),
    });
  }

  /** Presence of an authorized client. */
  async presence(client: HubClient, { ch, action, meta }: Frame<'presence'>): Promise<void> {
    try {
      if (action === 'join') {
        if (meta !== undefined && Buffer.byteLength(JSON.stringify(meta)) > MAX_META_BYTES) {
          client.sendError(ErrorCode.MESSAGE_TOO_LARGE, `presence meta is limited to ${MAX_META_BYTES} bytes`, { details: { ch, action } });
          return;
        }
        const joined = client.presence?.get(ch);
        if (!joined && (client.presence?.size ?? 0) >= this.options.maxSubscriptions) {
          client.sendError(ErrorCode.AUTHORIZATION_FAILED, 'too many presence channels', { details: { ch, action, limit: this.options.maxSubscriptions } });
          return;
        }
        const member: PresenceMember = meta === undefined ? { userId: client.identity.userId } : { userId: client.identity.userId, meta };
        if (!joined) await this.join(client, ch, member);
        else await this.update(client, ch, joined, member);
      } else if (action === 'leave' && client.presence?.delete(ch)) {
        await this.leave(ch, client.key, client.identity.userId);
      }
      await this.list(client, ch);
    } catch (error) {
      this.options.logger.warn({ ch, err: errorText(error) }, 'presence failed');
      client.sendError(ErrorCode.SERVER_ERROR, 'presence failed, retry', { details: { ch, action } });
    }
  }

  /**
   * Answers with the channel's members, in pages (`more: true` on all but the last) for a large room, each
   * written once the socket is not backlogged; the diffs announced meanwhile follow the answer.
   */
  private async list(client: HubClient, ch: string): Promise<void> {
    const key = `${client.key} ${ch}`;
    const held: string[] = [];
    this.heldPresence.set(key, held);
    try {
      for (const page of presencePages(ch, await this.options.backend.presenceList(ch))) {
        while (client.open && client.backlogged) await client.writable();
        client.sendText(page, 'presence_state');
      }
    } finally {
      this.heldPresence.delete(key);
      for (const text of held) {
        client.hold(-Buffer.byteLength(text));
        client.sendText(text, 'presence');
      }
    }
  }

  private async join(client: HubClient, ch: string, member: PresenceMember): Promise<void> {
    (client.presence ??= new Map()).set(ch, member);
    this.pendingLeaves.delete(`${client.key} ${ch}`);
    try {
      await this.options.backend.presenceJoin(ch, client.key, member);
    } catch (error) {
      if (client.presence?.get(ch) === member) {
        client.presence.delete(ch);
        this.pendingLeaves.set(`${client.key} ${ch}`, { ch, ref: client.key, userId: member.userId, announceLost: false });
      }
      throw error;
    }
  }

  /** A join again: the member's meta is replaced, and announced as a join when the meta shown changed. */
  private async update(client: HubClient, ch: string, before: PresenceMember, member: PresenceMember): Promise<void> {
    (client.presence ??= new Map()).set(ch, member);
    try {
      await this.options.backend.presenceUpdate(ch, client.key, member);
    } catch (error) {
      if (client.presence?.get(ch) === member) client.presence.set(ch, before);
      throw error;
    }
  }

  /**
   * Removes one connection's presence: the backend announces a leave when it was the user's last connection, a join
   * when the user stays shown with other meta (their connection joined last of those left). A leave that fails
   * is kept and tried again (`retry`) with the next heartbeat or recovery of the backend, which then announces the
   * leave of a member a restarted backend lost, and not again one the failed attempt made unanswered; so does the
   * leave of a connection not joined again since a recovery.
   */
  private async leave(ch: string, ref: string, userId: string, retry?: { announceLost: boolean }): Promise<void> {
    const key = `${ref} ${ch}`;
    this.pendingLeaves.delete(key);
    const unjoined = this.rejoins.delete(key);
    try {
      await this.options.backend.presenceLeave(ch, ref, userId, retry?.announceLost ?? unjoined).catch((error: unknown) => {
        this.pendingLeaves.set(key, { ch, ref, userId, announceLost: retry?.announceLost ?? true });
        throw error;
      });
    } catch (error) {
      this.options.logger.warn({ ch, err: errorText(error) }, 'presence leave failed');
    }
  }

  /**
   * Typing of a client authorized for presence. The backend counts each connection typing, on every node, for
   * `typingTimeoutMs` from its last typing frame; the client's timer stops it here once that time is up.
   */
  async typing(client: HubClient, { ch, typing }: Frame<'typing'>): Promise<void> {
    const timer = client.typing?.get(ch);
    if (!typing) {
      if (timer) await this.stopTyping(client, ch);
      return;
    }
    if (timer) {
      timer.refresh();
    } else {
      (client.typing ??= new Map()).set(
        ch,
        setTimeout(() => {
          try {
            this.stopTyping(client, ch);
          } catch (error) {
            client.fail(error);
          }
        }, this.options.typingTimeoutMs),
      );
    }
    const { userId } = client.identity;
    this.cancelTypingCheck(ch, userId);
    try {
      await this.options.backend.typingStart(ch, userId, client.key, this.options.typingTimeoutMs);
    } catch (error) {
      this.options.logger.debug({ ch, err: errorText(error) }, 'typing start failed');
    }
    await this.signalTyping(ch, userId, true, client.key);
  }

  private stopTyping(client: HubClient, ch: string): Promise<void> {
    const timer = client.typing?.get(ch);
    if (!timer) return Promise.resolve();
    clearTimeout(timer);
    client.typing?.delete(ch);
    return this.typingStopped(ch, client.identity.userId, client.key).catch(logFailure(this.options.logger, 'typing signal failed'));
  }

  /**
   * One connection stopped typing (`ref`), or (without one) a check that the typing another node keeps for the user has run
   * out: the stop is told when no connection of the user types on the channel any more, on any node. While one on another
   * node still types, the user is checked again a little after its time is up, in case its node is gone.
   */
  private async typingStopped(ch: string, userId: string, ref?: string): Promise<void> {
    let left: TypingLeft;
    try {
      left = await this.options.backend.typingStop(ch, userId, ref);
    } catch (error) {
      this.options.logger.debug({ ch, err: errorText(error) }, 'typing stop failed');
      left = { removed: 0, untilMs: 0 };
      if (ref === undefined) return;
    }
    if ([...(this.users.get(userId) ?? [])].some((other) => other.typing?.has(ch))) return;
    if (left.untilMs > 0) {
      this.checkTypingLater(ch, userId, left.untilMs);
      return;
    }
    if (ref === undefined && left.removed === 0) return;
    await this.signalTyping(ch, userId, false, ref ?? '');
  }

  private checkTypingLater(ch: string, userId: string, untilMs: number): void {
    this.cancelTypingCheck(ch, userId);
    if (this.closed) return;
    const key = JSON.stringify([ch, userId]);
    const margin = Math.min(TYPING_CHECK_MARGIN_MS, this.options.typingTimeoutMs / 4);
    const timer = setTimeout(() => {
      this.typingChecks.delete(key);
      this.typingStopped(ch, userId).catch(logFailure(this.options.logger, 'typing signal failed'));
    }, untilMs + margin);
    timer.unref();
    this.typingChecks.set(key, timer);
  }

  private cancelTypingCheck(ch: string, userId: string): void {
    if (this.typingChecks.size === 0) return;
    const key = JSON.stringify([ch, userId]);
    clearTimeout(this.typingChecks.get(key));
    this.typingChecks.delete(key);
  }

  private async signalTyping(ch: string, userId: string, typing: boolean, origin: string): Promise<void> {
    try {
      await this.options.backend.signalChannel(ch, { kind: 'typing', userId, typing, origin });
    } catch (error) {
      this.options.logger.debug({ ch, err: errorText(error) }, 'typing signal failed');
    }
  }

  /**
   * After a token refresh: drops subscriptions, presence and typing the new claims no longer allow; presence in the
   * channel's presence order, so that the refusal follows the answers to the presence frames before it.
   */
  reauthorize(client: HubClient): void {
    for (const sub of [...client.subscriptions.values()]) {
      if (sub.implicit || this.options.authorizer.authorize(client.identity, sub.ch, 'subscribe').ok) continue;
      this.endSub(client, sub);
      client.send({ type: 'unsubscribed', ch: sub.ch, reason: 'forbidden' });
    }
    for (const ch of [...(client.presence?.keys() ?? [])]) {
      if (!this.options.authorizer.authorize(client.identity, ch, 'presence').ok) client.presenceTurn(ch, () => void this.revokePresence(client, ch));
    }
    for (const ch of [...(client.typing?.keys() ?? [])]) {
      if (!this.options.authorizer.authorize(client.identity, ch, 'presence').ok) this.stopTyping(client, ch);
    }
  }

  /** Presence its claims no longer allow, in its turn: left, and the client told (unless a later refresh allows it again). */
  private revokePresence(client: HubClient, ch: string): void {
    if (!client.presence?.has(ch) || this.options.authorizer.authorize(client.identity, ch, 'presence').ok) return;
    client.presence.delete(ch);
    client.sendError(ErrorCode.AUTHORIZATION_FAILED, 'presence on this channel is no longer allowed', { details: { ch, action: 'presence' } });
    this.leave(ch, client.key, client.identity.userId).catch(logFailure(this.options.logger, 'presence leave failed'));
  }

  message(ch: string, message: StoredMessage): void {
    this.replayReads.delete(ch);
    const entry = this.channels.get(ch);
    if (!entry) return;
    this.options.metrics.deliveryLatency.observe(Math.max(0, Date.now() - message.ts) / 1000);
    const text = Buffer.from(encodeMessage(ch, message));
    for (const sub of entry.subs.keys()) sub.offer(message, text);
  }

  channelSignal(ch: string, signal: ChannelSignal): void {
    const entry = this.channels.get(ch);
    if (!entry) return;
    const texts =
      signal.kind === 'presence'
        ? presenceDiffs(ch, signal.joins, signal.leaves)
        : [JSON.stringify({ type: 'typing', ch, userId: signal.userId, typing: signal.typing } satisfies ServerFrame)];
    const holding = signal.kind === 'presence' && this.heldPresence.size > 0;
    for (const [sub, client] of entry.subs) {
      if (sub.closed || (signal.kind === 'typing' && client.key === signal.origin)) continue;
      const held = holding ? this.heldPresence.get(`${client.key} ${ch}`) : undefined;
      for (const text of texts) {
        if (!held) client.sendText(text, signal.kind);
        else if (client.hold(Buffer.byteLength(text))) held.push(text);
        else break;
      }
    }
  }

  globalSignal(signal: GlobalSignal): void {
    if (signal.kind !== 'logout') return;
    for (const loggedOut of this.tokenChecks) loggedOut.set(signal.userId, signal.reason);
    for (const client of [...(this.users.get(signal.userId) ?? [])]) {
      client.closeWith(CloseCode.Unauthorized, signal.reason, { code: ErrorCode.AUTHENTICATION_FAILED, message: signal.reason });
    }
  }

  recovered(reaped = false): void {
    this.replayReads.clear();
    for (const [ch, entry] of this.channels) {
      if (!entry.watched) this.watch(ch, entry);
      for (const sub of entry.subs.keys()) sub.resync();
    }
    this.numberAgain();
    this.retryLeaves(reaped);
    for (const set of this.users.values()) {
      for (const client of set) {
        for (const ch of client.presence?.keys() ?? []) this.rejoins.set(`${client.key} ${ch}`, { client, ch });
      }
    }
    void this.rejoin();
    this.leaveStalePresence();
  }

  /** Joins again, `REJOIN_BATCH` at a time, the connections still present of those to join again; keeps those that failed. */
  private async rejoin(): Promise<void> {
    if (this.rejoining) return;
    this.rejoining = true;
    const failed: [string, Rejoin][] = [];
    try {
      while (this.rejoins.size > 0) {
        const batch: [string, Rejoin][] = [];
        for (const entry of this.rejoins) {
          if (batch.push(entry) === REJOIN_BATCH) break;
        }
        await Promise.all(
          batch.map(async ([key, rejoin]) => {
            this.rejoins.delete(key);
            const member = rejoin.client.presence?.get(rejoin.ch);
            if (member) await this.options.backend.presenceJoin(rejoin.ch, rejoin.client.key, member).catch(() => failed.push([key, rejoin]));
          }),
        );
      }
    } finally {
      this.rejoining = false;
      for (const [key, rejoin] of failed) if (rejoin.client.presence?.has(rejoin.ch)) this.rejoins.set(key, rejoin);
    }
  }

  /**
   * Leaves the presence the backend keeps for connections here that no longer hold it: a store restarted from an older
   * snapshot brings back those that left after it, which nothing would remove while this node lives.
   */
  private leaveStalePresence(): void {
    this.options.backend.presenceHeld?.().then(
      (held) => {
        for (const { ch, ref, userId } of held) {
          if (this.pendingLeaves.has(`${ref} ${ch}`) || [...(this.users.get(userId) ?? [])].some((client) => client.key === ref && client.presence?.has(ch))) continue;
          this.leave(ch, ref, userId).catch(logFailure(this.options.logger, 'presence leave failed'));
        }
      },
      (error: unknown) => this.options.logger.warn({ err: errorText(error) }, 'listing the presence of this node failed'),
    );
  }

  beat(): void {
    this.retryLeaves();
    if (this.unnumbered.size > 0) this.numberAgain();
    if (this.rejoins.size > 0) void this.rejoin();
  }

  /**
   * A pending leave of a connection present again (it joined once more while the leave failed) is dropped. Once
   * this node was `reaped`, or while another connection of the user here is present, a member found gone is not
   * announced: its reaper did, or the user stays shown.
   */
  private retryLeaves(reaped = false): void {
    for (const [key, { ch, ref, userId, announceLost }] of [...this.pendingLeaves]) {
      const present = [...(this.users.get(userId) ?? [])].filter((client) => client.presence?.has(ch));
      if (present.some((client) => client.key === ref)) {
        this.pendingLeaves.delete(key);
        continue;
      }
      this.leave(ch, ref, userId, { announceLost: announceLost && !reaped && present.length === 0 }).catch(logFailure(this.options.logger, 'presence leave failed'));
    }
  }

  status(up: boolean): void {
    this.options.metrics.backendUp.set(up ? 1 : 0);
  }
}
