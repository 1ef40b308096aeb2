import type { OutgoingFrame, PresenceAction } from '../protocol/adapter.js';
import { ErrorCode, InvalidOptionError, SocketchartError, closedError } from '../protocol/errors.js';
import type { PresenceMember } from '../protocol/wire.js';
import type { TimerHandle } from '../environment/clock.js';
import type { Emitter } from '../events/emitter.js';
import type { ConnectionEvents, PresenceChange } from './events.js';
import type { LinkState } from './link-state.js';
import type { ResolvedOptions } from './options.js';
import type { Router } from './router.js';

export type { PresenceMember };
export type { PresenceChange, TypingChange } from './events.js';

/** What presence and typing need of their connection. */
export interface PresenceHost {
  readonly options: ResolvedOptions;
  readonly events: Emitter<ConnectionEvents>;
  readonly link: LinkState;
  readonly router: Router;
  write(frame: OutgoingFrame | undefined): boolean;
  /** Tells `on('error')` of an error no call waits on, counting it in the metrics. */
  reportError(error: SocketchartError): void;
  /** The session the server confirmed (this user's id): typing of this user in another tab is not "others typing". */
  readonly session: { readonly userId?: string } | null;
  /** Hands server errors to `claim` first: one it returns true for concerns a call of its own and goes no further. */
  claimErrors(claim: (error: SocketchartError) => boolean): () => void;
}

interface Request {
  action: PresenceAction;
  frame: OutgoingFrame;
  /** Written on the current socket (an unwritten one goes when the link is up). */
  written: boolean;
  timer: TimerHandle | undefined;
  /** Timed out (rejected with TIMEOUT), its answer still owed on this socket: that answer, late, is this one's (it settles nothing); a new socket owes none. */
  expired?: true;
  /** A join of a channel joined already, with its meta: in force once answered; refused, the member the server has stays (false: a first join; none: a leave followed). */
  again?: { meta: Record<string, unknown> | undefined } | false;
  /** A join again waiting at a reconnect, which stands in for the rejoin: refused, the server has no member, and the channel is joined again with the meta in force. */
  rejoin?: boolean;
  /** Absent for the joins and lists the connection sends on its own (after a reconnect; the first list of a watched channel). */
  resolve?: (members: PresenceMember[]) => void;
  reject?: (error: SocketchartError) => void;
}

const isMember = (value: unknown): value is PresenceMember =>
  typeof value === 'object' && value !== null && typeof (value as PresenceMember).userId === 'string';

const membersOf = (value: unknown): PresenceMember[] => (Array.isArray(value) ? value.filter(isMember) : []);

/** Whether a member joins anew or with other meta (as the server tells watchers of a join with other meta). */
function changed(before: PresenceMember | undefined, member: PresenceMember): boolean {
  try {
    return JSON.stringify(before) !== JSON.stringify(member);
  } catch {
    return true; // a meta nested thousands of levels deep (a 40 KB frame) is past what JSON.stringify walks: counted as changed
  }
}

const noop = () => {};

/** Longest wait between two `typing: true` of this user while typing goes on: under the reference server's 6 s `typingTimeoutMs`. */
const TYPING_REFRESH_MS = 2_500;
/** Another user not heard typing for this long has stopped (their end was lost with their server). */
const TYPER_SILENCE_MS = 10_000;

function checkChannel(channel: unknown): asserts channel is string {
  if (typeof channel !== 'string' || channel === '') throw new InvalidOptionError('channel', 'a non-empty channel name', channel);
}

/**
 * Presence and typing on a connection, against a server that has them (the reference server: the
 * `presence` grant of a channel rule). The channels joined are joined again after every reconnect (the
 * server forgets a socket's presence with it) and the members of the channels watched are listed again, so
 * what `members()` says catches up with what happened while the link was down.
 */
export class PresenceSession {
  private readonly joined = new Map<string, Record<string, unknown> | undefined>();
  private readonly present = new Map<string, Map<string, PresenceMember>>();
  /** Channels watched (by `watch()`), with how many watchers. */
  private readonly watched = new Map<string, number>();
  private readonly requests = new Map<string, Request[]>();
  /** The pages of a list answer received so far (a large room's list comes in several frames, `more: true` on all but the last). */
  private readonly pages = new Map<string, PresenceMember[]>();
  /** Others typing, by channel, each with the timer that ends their typing if they go silent. */
  private readonly typers = new Map<string, Map<string, TimerHandle>>();
  /** This connection's own typing, by channel: when it ends on its own, and when the server last heard of it. */
  private readonly typingNow = new Map<string, { sentAt: number; timer: TimerHandle }>();
  private readonly releases: Array<() => void>;
  private up: boolean;

  constructor(private readonly host: PresenceHost) {
    const { events } = host;
    this.up = host.link.connected;
    this.releases = [
      events.on('control', ({ type, frame }) => this.control(type, frame)),
      events.on('state', ({ status }) => this.follow(status)),
      host.claimErrors((error) => this.refused(error)),
    ];
  }

  private protocol() {
    const { protocol } = this.host.options;
    if (typeof protocol.presenceFrame !== 'function' || typeof protocol.typingFrame !== 'function') {
      throw new InvalidOptionError('protocol', `a protocol with presence (the ${protocol.name} protocol has none)`, protocol.name);
    }
    return protocol as Required<Pick<typeof protocol, 'presenceFrame' | 'typingFrame'>>;
  }

  /**
   * Joins the channel's members (with `meta`, at most 1 KB on the reference server); resolves with the
   * members present once the server has it. Joined again after each reconnect until `leave()`.
   */
  join(channel: string, meta?: Record<string, unknown>): Promise<PresenceMember[]> {
    checkChannel(channel);
    const frame = this.protocol().presenceFrame(channel, 'join', meta);
    if (this.host.link.settled) return this.refusedClosed();
    const again = this.joined.has(channel) && { meta };
    if (!again) this.joined.set(channel, meta);
    return this.ask(channel, 'join', frame, again);
  }

  /**
   * Leaves the channel's members; resolves with those still present. On a closed or failed connection it
   * rejects with CLOSED (the server forgot this socket's presence with it) and is not joined again on start.
   * A join not sent yet (the link is down) is not sent: it resolves with the leave's answer.
   */
  leave(channel: string): Promise<PresenceMember[]> {
    checkChannel(channel);
    const frame = this.protocol().presenceFrame(channel, 'leave');
    this.joined.delete(channel);
    if (this.host.link.settled) return this.refusedClosed();
    const left = this.ask(channel, 'leave', frame);
    for (const r of [...(this.requests.get(channel) ?? [])]) {
      if (r.action !== 'join') continue;
      // a join before the leave changes nothing of the channel joined; one not sent yet (the link is down) goes no
      // more (watchers would see this user come and go): the leave answers it
      r.again = undefined;
      if (!r.written && r.resolve) {
        this.remove(channel, r);
        left.then(r.resolve, r.reject);
      }
    }
    return left;
  }

  /** Asks the server who is present on the channel. */
  list(channel: string): Promise<PresenceMember[]> {
    checkChannel(channel);
    return this.ask(channel, 'list', this.protocol().presenceFrame(channel, 'list'));
  }

  /** The members present as last heard (from answers and from `presence` events of a watched channel). */
  members(channel: string): PresenceMember[] {
    return [...(this.present.get(channel)?.values() ?? [])];
  }

  /** Whether this connection has joined the channel. */
  isJoined(channel: string): boolean {
    return this.joined.has(channel);
  }

  /**
   * Follows the channel's members: subscribes to the channel (the server tells subscribers of joins,
   * leaves and typing), lists the members, and calls `listener` with each change. Returns the function that stops.
   */
  watch(channel: string, listener: (change: PresenceChange) => void = noop): () => void {
    checkChannel(channel);
    this.protocol();
    const unsubscribe = this.subscribeChannel(channel);
    const off = this.host.events.on('presence', (change) => {
      if (change.ch === channel) listener(change);
    });
    const count = this.watched.get(channel) ?? 0;
    this.watched.set(channel, count + 1);
    // its own list, as after a reconnect (which lists it when the link is down now)
    if (count === 0 && this.up) this.own(channel, 'list');
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      off();
      // others typing are heard while anything subscribes the channel: told stopped once nothing does
      if (unsubscribe()) this.untype(channel);
      const left = (this.watched.get(channel) ?? 1) - 1;
      if (left > 0) this.watched.set(channel, left);
      else {
        this.watched.delete(channel);
        if (!this.joined.has(channel)) this.present.delete(channel);
      }
    };
  }

  /** Users typing on the channel now (others; from a channel this connection is subscribed to). */
  typingUsers(channel: string): string[] {
    return [...(this.typers.get(channel)?.keys() ?? [])];
  }

  /**
   * This user is typing on the channel: the server is told at once, and told again before its timeout
   * (the reference server's `typingTimeoutMs`, 6 s by default) while `startTyping()` keeps being called;
   * `timeoutMs` after the last call the connection says it stopped.
   */
  startTyping(channel: string, { timeoutMs = 5000 }: { timeoutMs?: number } = {}): void {
    checkChannel(channel);
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new InvalidOptionError('timeoutMs', 'a number of milliseconds > 0', timeoutMs);
    const protocol = this.protocol();
    if (this.host.link.settled) return;
    const { clock } = this.host.options;
    const now = clock.now();
    const current = this.typingNow.get(channel);
    if (current) clock.clearTimeout(current.timer);
    // said at once, and again once half its timeout (at most TYPING_REFRESH_MS) has gone by
    const due = !current || now - current.sentAt >= Math.min(timeoutMs / 2, TYPING_REFRESH_MS);
    const said = due && this.up && this.host.write(protocol.typingFrame(channel, true));
    this.typingNow.set(channel, { sentAt: current && !said ? current.sentAt : now, timer: clock.setTimeout(() => this.stopTyping(channel), timeoutMs) });
  }

  /** This user stopped typing on the channel. */
  stopTyping(channel: string): void {
    const current = this.typingNow.get(channel);
    if (!current) return;
    this.host.options.clock.clearTimeout(current.timer);
    this.typingNow.delete(channel);
    if (this.up) this.host.write(this.protocol().typingFrame(channel, false));
  }

  /** Whether this user is typing on the channel. */
  isTyping(channel: string): boolean {
    return this.typingNow.has(channel);
  }

  /** Everything let go, as when the link drops for good: timers, listeners, others typing (told stopped), waiting calls (CLOSED). */
  dispose(): void {
    for (const release of this.releases) release();
    this.dropped();
    this.failAll(closedError('disposed'));
  }

  /** Subscribes; the function returned unsubscribes, and says whether the channel is subscribed no more. */
  private subscribeChannel(channel: string): () => boolean {
    const { first, unsubscribe } = this.host.router.subscribe(channel, () => {});
    const { protocol } = this.host.options;
    if (first && this.host.link.connected) this.host.write(protocol.subscribeFrame(channel, undefined));
    return () => {
      const last = unsubscribe();
      if (last && this.host.link.connected) this.host.write(protocol.unsubscribeFrame(channel));
      return last;
    };
  }

  /** A call on a closed or failed connection: rejected with CLOSED, and nothing about it remembered. */
  private refusedClosed(): Promise<never> {
    return Promise.reject(closedError(this.host.link.status));
  }

  private ask(channel: string, action: PresenceAction, frame: OutgoingFrame, again?: Request['again']): Promise<PresenceMember[]> {
    if (this.host.link.settled) return this.refusedClosed();
    return new Promise((resolve, reject) => this.enqueue(channel, { action, frame, written: false, timer: undefined, resolve, reject, again }));
  }

  /** A join or list of the connection's own, that no call waits on. */
  private own(channel: string, action: PresenceAction, meta?: Record<string, unknown>): void {
    this.enqueue(channel, { action, frame: this.protocol().presenceFrame(channel, action, meta), written: false, timer: undefined });
  }

  private enqueue(channel: string, request: Request, write = this.up): void {
    let queue = this.requests.get(channel);
    if (!queue) this.requests.set(channel, (queue = []));
    queue.push(request);
    if (write) this.writeRequest(channel, request);
  }

  private writeRequest(channel: string, request: Request): void {
    request.written = true;
    if (!this.host.write(request.frame)) {
      request.written = false;
      return;
    }
    if (this.requests.get(channel)?.includes(request)) this.awaitAnswer(channel, request);
  }

  /** Each page of a list answer gives the rest another `acks.timeoutMs`. */
  private awaitAnswer(channel: string, request: Request): void {
    const { clock, acks } = this.host.options;
    if (request.timer !== undefined) clock.clearTimeout(request.timer);
    request.timer = clock.setTimeout(() => {
      request.timer = undefined;
      request.expired = true;
      request.reject?.(new SocketchartError(ErrorCode.TIMEOUT, { message: `No answer to presence ${request.action} on "${channel}" within ${acks.timeoutMs} ms`, recovery: 'fail' }));
    }, acks.timeoutMs);
  }

  /**
   * The connection's own rejoin or list, refused by the control rate limit: written again after `ms` while the
   * channel is joined (watched, for a list); a drop forgets it (the reconnect rejoins and lists).
   */
  private retryLater(channel: string, request: Request, ms = this.host.options.reconnect.baseMs): void {
    request.written = false;
    this.enqueue(channel, request, false);
    request.timer = this.host.options.clock.setTimeout(() => {
      request.timer = undefined;
      if ((request.action === 'join' ? this.joined : this.watched).has(channel)) this.writeRequest(channel, request);
      else this.remove(channel, request);
    }, ms);
  }

  private remove(channel: string, request: Request): void {
    const queue = this.requests.get(channel);
    const index = queue?.indexOf(request) ?? -1;
    if (index < 0) return;
    queue!.splice(index, 1);
    if (queue!.length === 0) this.requests.delete(channel);
    if (request.timer !== undefined) this.host.options.clock.clearTimeout(request.timer);
  }

  private control(type: string, frame: Readonly<Record<string, unknown>>): void {
    const ch = frame.ch;
    if (typeof ch !== 'string') return;
    if (type === 'presence_state') {
      const request = this.requests.get(ch)?.find((r) => r.written);
      // the list of a channel neither asked for, joined nor watched is not kept, nor are its pages
      if (!request && !this.joined.has(ch) && !this.watched.has(ch)) return void this.pages.delete(ch);
      const members = this.pages.get(ch) ?? [];
      members.push(...membersOf(frame.members));
      if (frame.more === true) {
        if (request?.timer !== undefined) this.awaitAnswer(ch, request);
        return void this.pages.set(ch, members);
      }
      this.pages.delete(ch);
      if (request) this.remove(ch, request);
      if (request?.again && this.joined.has(ch)) this.joined.set(ch, request.again.meta);
      request?.resolve?.(members);
      // the members of a channel neither joined nor watched are not kept: its diffs would not keep them up to date
      if (this.joined.has(ch) || this.watched.has(ch)) this.replace(ch, members);
      else this.present.delete(ch);
    } else if (type === 'presence') {
      this.change(ch, membersOf(frame.joins), membersOf(frame.leaves));
    } else if (type === 'typing' && typeof frame.userId === 'string') {
      this.typed(ch, frame.userId, frame.typing === true);
    }
  }

  private replace(ch: string, members: PresenceMember[]): void {
    const before = this.present.get(ch) ?? new Map<string, PresenceMember>();
    const after = new Map(members.map((m) => [m.userId, m]));
    this.present.set(ch, after);
    const joins = members.filter((m) => changed(before.get(m.userId), m));
    this.tell(ch, joins, [...before.values()].filter((m) => !after.has(m.userId)), after);
  }

  /** Tells `presence` listeners of a change, if anything changed. */
  private tell(ch: string, joins: PresenceMember[], leaves: PresenceMember[], members: Map<string, PresenceMember>): void {
    if (joins.length > 0 || leaves.length > 0) this.host.events.emit('presence', { ch, joins, leaves, members: [...members.values()] });
  }

  /** A diff of a channel this connection watches or joined; one of another channel (merely subscribed) tells nothing of its members. */
  private change(ch: string, joins: PresenceMember[], leaves: PresenceMember[]): void {
    if (!this.joined.has(ch) && !this.watched.has(ch)) return;
    let map = this.present.get(ch);
    if (!map) this.present.set(ch, (map = new Map()));
    // a leave of a user not among the members (told twice), or a join of one the members hold as is (a list had it), changes nothing
    leaves = leaves.filter((member) => map!.delete(member.userId));
    joins = joins.filter((member) => changed(map!.get(member.userId), member));
    for (const member of joins) map.set(member.userId, member);
    this.tell(ch, joins, leaves, map);
  }

  /** @internal Nobody is known to type on the channel any more (it is subscribed no more): each one typing is told stopped. */
  untype(channel: string): void {
    for (const userId of this.typingUsers(channel)) this.typed(channel, userId, false);
  }

  private typed(ch: string, userId: string, typing: boolean): void {
    if (userId === this.host.session?.userId) return;
    const { clock } = this.host.options;
    let users = this.typers.get(ch);
    const timer = users?.get(userId);
    if (timer !== undefined) clock.clearTimeout(timer);
    if (typing) {
      if (!users) this.typers.set(ch, (users = new Map()));
      users.set(userId, clock.setTimeout(() => this.typed(ch, userId, false), TYPER_SILENCE_MS));
      if (timer !== undefined) return;
    } else {
      if (!users?.delete(userId)) return;
      if (users.size === 0) this.typers.delete(ch);
    }
    this.host.events.emit('typing', { ch, userId, typing, users: [...(this.typers.get(ch)?.keys() ?? [])] });
  }

  /**
   * An error frame about a presence call of this connection rejects that call only: the reference server
   * names the channel (`details.ch`) and the action (`join`, `leave`, `list`; `presence` for a refusal by
   * the channel rules). An error about another frame on the channel (a publish, a subscribe) is not theirs.
   */
  private refused(error: SocketchartError): boolean {
    const details = error.details as { ch?: unknown; action?: unknown; scope?: unknown } | undefined;
    if (typeof details?.ch !== 'string' || error.messageId !== undefined) return false;
    if (details.action !== 'join' && details.action !== 'leave' && details.action !== 'list' && details.action !== 'presence') return false;
    if (details.action === 'presence' && error.code === ErrorCode.AUTHORIZATION_FAILED) this.joined.delete(details.ch);
    const queue = this.requests.get(details.ch);
    const action = details.action === 'presence' ? undefined : details.action;
    const request = queue?.find((r) => r.written && (action === undefined || r.action === action));
    if (!request) return false;
    this.remove(details.ch, request);
    // a refused join again (other meta) leaves the member the server has, with the meta in force; the
    // connection's own rejoin or list is made again after the per-user control limit's retry_after, or at the
    // next reconnect, unless refused for good (another rate limit here is an earlier server's limit of channels
    // joined); a refused first join is forgotten
    const limited = error.code === ErrorCode.RATE_LIMIT_EXCEEDED;
    const control = limited && details.scope === 'control';
    if (control && !request.resolve) this.retryLater(details.ch, request, error.retryAfterMs);
    const retry = error.recovery === 'retry' && (control || !limited);
    if (request.action === 'join' && (request.resolve ? request.again === false : !retry)) this.joined.delete(details.ch);
    else if (request.rejoin && this.joined.has(details.ch)) this.own(details.ch, 'join', this.joined.get(details.ch));
    if (request.reject) request.reject(error.with({ recovery: 'fail' }));
    else this.host.reportError(error.with({ recovery: 'none' }));
    return true;
  }

  private follow(status: string): void {
    const up = this.host.link.connected;
    if (up === this.up) {
      if (this.host.link.settled) this.failAll(closedError(status));
      return;
    }
    this.up = up;
    if (up) this.resume();
    else this.dropped();
  }

  /** The link is up: what waited is written, channels joined are joined again, watched ones listed again, typing said again. */
  private resume(): void {
    const protocol = this.protocol();
    /** Channels with a join or a list waiting (either lists the members). */
    const listing = new Set<string>();
    // a join waiting stands in for the rejoin; the rejoin goes before what waits (a list then lists this user)
    for (const [channel, meta] of this.joined) {
      if (!this.requests.get(channel)?.some((r) => r.action === 'join')) {
        this.own(channel, 'join', meta);
        const queue = this.requests.get(channel)!;
        queue.unshift(queue.pop()!);
      }
      listing.add(channel);
    }
    for (const [channel, queue] of [...this.requests]) {
      for (const request of [...queue]) {
        request.rejoin = !!request.again;
        if (request.action !== 'leave') listing.add(channel);
        if (!request.written) this.writeRequest(channel, request);
      }
    }
    for (const channel of this.watched.keys()) {
      if (!listing.has(channel)) this.own(channel, 'list');
    }
    const now = this.host.options.clock.now();
    for (const [channel, typing] of this.typingNow) {
      if (this.host.write(protocol.typingFrame(channel, true))) typing.sentAt = now;
    }
  }

  /**
   * The link is down: what was written on it waits to go again (the connection's own rejoins are sent anew),
   * and nobody is known to type any more (the server would tell a subscriber of the end, but not this one).
   */
  private dropped(): void {
    const { clock } = this.host.options;
    this.pages.clear();
    for (const [channel, queue] of [...this.requests]) {
      const kept = queue.filter((request) => {
        if (request.timer !== undefined) clock.clearTimeout(request.timer);
        request.timer = undefined;
        request.written = false;
        return request.resolve !== undefined && !request.expired;
      });
      if (kept.length > 0) this.requests.set(channel, kept);
      else this.requests.delete(channel);
    }
    for (const channel of [...this.typers.keys()]) this.untype(channel);
    if (this.host.link.settled) this.failAll(closedError(this.host.link.status));
  }

  /** Closed or failed: waiting calls reject, and this user types no more. */
  private failAll(error: SocketchartError): void {
    const { clock } = this.host.options;
    for (const { timer } of this.typingNow.values()) clock.clearTimeout(timer);
    this.typingNow.clear();
    const requests = [...this.requests.values()].flat();
    this.requests.clear();
    for (const request of requests) {
      if (request.timer !== undefined) clock.clearTimeout(request.timer);
      request.reject?.(error);
    }
  }
}
