import type * as IORedis from 'ioredis';
import type { Redis, RedisOptions } from 'ioredis';
import { InvalidOptionError } from '../../protocol/errors.js';
import { dependencies } from '../dependencies.js';
import { errorText, type Logger } from '../logger.js';
import type { HistoryRead, StoredMessage } from '../history.js';
import { messageBytes, type RetentionRules } from '../retention.js';
import type { ResolvedRedisOptions } from '../options.js';
import type { PresenceMember } from '../../protocol/wire.js';
import {
  appendScript,
  heartbeatScript,
  presenceJoinScript,
  presenceLeaveScript,
  presenceUpdateScript,
  readScript,
  reapScript,
  typingStartScript,
  typingStopScript,
  type LuaScript,
} from './redis-scripts.js';
import type { AppendInput, AppendResult, Backend, BackendListener, ChannelSignal, GlobalSignal, PresenceLeave, TypingLeft } from './types.js';

/** How often the channels watched here are kept from expiring: a quarter of `historyTtlMs` (1 s to 10 min), and always within half of it. */
const touchEveryMs = (historyTtlMs: number) => Math.min(historyTtlMs / 2, Math.max(1000, Math.min(historyTtlMs / 4, 600_000)));

export interface RedisBackendConfig {
  redis: ResolvedRedisOptions;
  nodeId: string;
  retention: RetentionRules;
  historyTtlMs: number;
  dedupWindowMs: number;
  logger: Logger;
}

interface Watch {
  count: number;
  ready: Promise<void>;
}

/** How long a reaped node's mark waits for the node to come back and find it. */
const REAPED_MARK_TTL_MS = 86_400_000;

/** Heartbeats in a row that Redis leaves unanswered (past `commandTimeoutMs`) before the link is taken for lost. */
const UNANSWERED_BEATS = 2;

const TIMED_OUT = 'Command timed out';

/** Watched channels touched per pipeline. */
const TOUCH_BATCH = 500;

/** Presence entries of a dead node removed per script: a large node is reaped in steps, none stalling Redis for long. */
const REAP_BATCH = 1000;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A stored message as kept in Redis: a JSON header `{ts, id?, event?, from?}`, a newline, then the data's JSON. */
function toPayload(input: AppendInput): string {
  const header: Record<string, unknown> = { ts: input.ts };
  if (input.id !== undefined) header.id = input.id;
  if (input.event !== undefined) header.event = input.event;
  if (input.from !== undefined) header.from = input.from;
  return `${JSON.stringify(header)}\n${input.dataJson}`;
}

/** A member as kept in Redis (its JSON), by user id alone when it cannot be read. */
function toMember(userId: string, json: string): PresenceMember {
  try {
    const member: unknown = JSON.parse(json);
    return isRecord(member) && isRecord(member.meta) ? { userId, meta: member.meta } : { userId };
  } catch {
    return { userId };
  }
}

function toMessage(seq: number, payload: string): StoredMessage | undefined {
  try {
    const newline = payload.indexOf('\n');
    const header: unknown = JSON.parse(newline < 0 ? payload : payload.slice(0, newline));
    if (!isRecord(header) || typeof header.ts !== 'number') return undefined;
    const dataJson = newline < 0 ? JSON.stringify(header.data) : payload.slice(newline + 1);
    if (dataJson === undefined) return undefined;
    const message: StoredMessage = { seq, dataJson, ts: header.ts };
    if (typeof header.id === 'string') message.id = header.id;
    if (typeof header.event === 'string') message.event = header.event;
    if (typeof header.from === 'string') message.from = header.from;
    return message;
  } catch {
    return undefined;
  }
}

/**
 * Scale-out backend. Per channel: a hash `meta:<ch>` (base, seq (HINCRBY) and the run id of the Redis process
 * numbering it), a stream `hist:<ch>` (XADD MAXLEN, entry id = seq), a pub/sub channel `chan:<ch>` (`db<n>:chan:<ch>`
 * on database n > 0, as pub/sub ignores databases) carrying messages and signals;
 * idempotency keys `dedup:<key>` (SET PX); presence hashes `pm:<ch>` (the member shown per user) with, per channel
 * and user, the connections present `pr:<ch> <userId>` (SET) and the member each joined with `pj:<ch> <userId>`
 * (HASH, see redis-scripts.ts), each connection also listed under its node `pn:<nodeId>` so a dead node's presence
 * is reaped; per channel and user, the connections typing `ty:<ch> <userId>` (ZSET scored by when each runs out,
 * PEXPIRE); nodes alive in `nodes` (ZSET).
 * Appends run as one Lua script, so numbering, history, dedup and fan-out are atomic and in order.
 */
export class RedisBackend implements Backend {
  readonly kind = 'redis';
  private readonly command: Redis;
  private readonly subscriber: Redis;
  private listener: BackendListener | undefined;
  private readonly watches = new Map<string, Watch>();
  /** Of every key and pub/sub channel: ours after the ioredis `keyPrefix`, folded in so Lua scripts see it too. */
  private readonly prefix: string;
  /** Of pub/sub channels: the prefix, then the database unless it is 0. */
  private readonly topicPrefix: string;
  private readonly db: number;
  /** The run id of the Redis process the command connection talks to; '' until a script has read it. */
  private runId = '';
  /** Command connections lost so far: a run id read on an earlier one is not kept. */
  private links = 0;
  private unanswered = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private toucher: NodeJS.Timeout | undefined;
  private touching = false;
  private up = { command: false, subscriber: false };
  /** The last heartbeat was answered with an error (a replica refusing writes after a failover, OOM): Redis is reported down until one is written. */
  private refusing = false;
  private lostSinceRecovery = false;
  private recovering = false;
  private started = false;
  private closed = false;
  private lastErrorLog = 0;

  constructor(private readonly config: RedisBackendConfig) {
    const { redis } = config;
    const { keyPrefix, ...options } = redis.options;
    this.prefix = `${typeof keyPrefix === 'string' ? keyPrefix : ''}${redis.keyPrefix}`;
    const base = {
      ...options,
      lazyConnect: true,
      connectTimeout: redis.connectTimeoutMs,
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    };
    const { Redis: RedisClient } = dependencies.load<typeof IORedis>('ioredis', 'The redis option');
    const connect = (options: RedisOptions) => (redis.url === undefined ? new RedisClient(options) : new RedisClient(redis.url, options));
    this.command = connect({
      ...base,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: redis.commandTimeoutMs,
      connectionName: `socketchart:${config.nodeId}:cmd`,
    });
    this.subscriber = connect({
      ...base,
      enableOfflineQueue: true,
      autoResubscribe: true,
      maxRetriesPerRequest: null,
      connectionName: `socketchart:${config.nodeId}:sub`,
    });
    this.db = Number(this.command.options.db ?? 0);
    this.topicPrefix = this.db === 0 ? this.prefix : `${this.prefix}db${this.db}:`;
    this.command.on('close', () => {
      this.runId = '';
      this.links += 1;
    });
    this.track(this.command, 'command');
    this.track(this.subscriber, 'subscriber');
    this.subscriber.on('message', (channel: string, text: string) => this.onPubSub(channel, text));
  }

  private key(kind: string, name: string): string {
    return `${this.prefix}${kind}:${name}`;
  }

  private topic(kind: 'chan' | 'global', name: string): string {
    return `${this.topicPrefix}${kind}:${name}`;
  }

  /** Keeps the run id a script read on the command connection still open since it was sent. */
  private noteRunId(link: number, runId: unknown): void {
    if (link === this.links && typeof runId === 'string') this.runId = runId;
  }

  private track(client: Redis, role: 'command' | 'subscriber'): void {
    client.on('error', (error: Error) => {
      const now = Date.now();
      if (now - this.lastErrorLog > 5000) {
        this.lastErrorLog = now;
        this.config.logger.warn({ role, err: error.message }, 'redis error');
      }
    });
    client.on('ready', () => {
      this.up[role] = true;
      this.onReachability();
    });
    client.on('close', () => {
      if (this.up[role]) this.config.logger.warn({ role }, 'redis connection lost');
      this.up[role] = false;
      this.onReachability();
    });
  }

  private onReachability(): void {
    if (this.closed || !this.started) return;
    const up = this.linksUp();
    this.listener?.status(this.isUp());
    if (!up) {
      this.lostSinceRecovery = true;
      return;
    }
    if (!this.lostSinceRecovery) return;
    this.lostSinceRecovery = false;
    this.recover().catch(() => undefined);
  }

  /** Rejects when it failed (it is tried again with the next heartbeat), so a heartbeat counts a recovery that timed out. */
  private async recover(): Promise<void> {
    this.recovering = true;
    try {
      await this.subscriber.ping();
      this.config.logger.info('redis reachable again; resuming from history');
      const { reaped } = await this.beat();
      this.noteRefusal(undefined);
      this.listener?.recovered(reaped);
      if (reaped) await this.command.del(this.reapedMark(this.config.nodeId));
    } catch (error) {
      this.lostSinceRecovery = true;
      this.config.logger.warn({ err: (error as Error).message }, 'redis recovery failed; trying again with the next heartbeat');
      throw error;
    } finally {
      this.recovering = false;
    }
  }

  /**
   * A link to Redis that hangs without closing (every command timing out) is taken for lost after a few
   * unanswered heartbeats: Redis is reported down, both connections are dropped and reconnect, and the node
   * recovers as after an outage. A heartbeat answered in time lets the node try again what failed meanwhile.
   */
  private async onHeartbeat(): Promise<void> {
    const [beat, ping] = await Promise.allSettled([this.beatOnSchedule(), this.linksUp() ? this.pingSubscriber() : undefined]);
    // only an error Redis answered is a refusal: a beat cut by a lost link or a timeout tells nothing of it
    const refusal = beat.status === 'rejected' ? (beat.reason as Error | undefined) : undefined;
    if (!refusal || refusal.name === 'ReplyError') this.noteRefusal(refusal);
    if (![beat, ping].some((result) => result.status === 'rejected' && (result.reason as Error | undefined)?.message === TIMED_OUT)) {
      this.unanswered = 0;
      if (beat.status === 'fulfilled' && this.linksUp() && !this.lostSinceRecovery) this.listener?.beat?.();
      return;
    }
    this.unanswered += 1;
    if (this.unanswered < UNANSWERED_BEATS || this.closed || !this.linksUp()) return;
    this.unanswered = 0;
    this.config.logger.warn({ timeoutMs: this.config.redis.commandTimeoutMs }, 'redis not answering; reconnecting');
    this.up = { command: false, subscriber: false };
    this.onReachability();
    // Destroyed, not ended: a graceful close would wait for the hung peer.
    this.command.stream.destroy();
    this.subscriber.stream.destroy();
  }

  private async pingSubscriber(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(TIMED_OUT)), this.config.redis.commandTimeoutMs)));
    try {
      await Promise.race([this.subscriber.ping(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A beat that finds this node reaped (taken for dead while it was only silent) asks its node to recover, then clears
   * the mark; one that finds it gone from Redis unmarked (Redis lost its data, the connection kept) asks its node to recover.
   */
  private async beatOnSchedule(): Promise<void> {
    if (this.lostSinceRecovery && this.linksUp() && !this.recovering) {
      this.lostSinceRecovery = false;
      return this.recover();
    }
    const { reaped, lost } = await this.beat();
    // A recovery under way, or still to come, finds the mark itself and tells its node.
    if (!(reaped || lost) || this.recovering || this.lostSinceRecovery || this.closed) return;
    if (!reaped) {
      this.config.logger.warn('this node was gone from Redis, which lost its data; registering it again');
      this.listener?.recovered(false);
      return;
    }
    this.config.logger.warn('this node was taken for dead and its presence reaped; registering it again');
    this.listener?.recovered(true);
    await this.command.del(this.reapedMark(this.config.nodeId));
  }

  private reapedMark(nodeId: string): string {
    return this.key('reaped', nodeId);
  }

  /** Both connections are up, and Redis takes this node's writes. */
  isUp(): boolean {
    return this.linksUp() && !this.refusing;
  }

  private linksUp(): boolean {
    return this.up.command && this.up.subscriber;
  }

  /** A heartbeat answered with an error (`refusal`), or written: reported down, or up again, once it changes. */
  private noteRefusal(refusal: Error | undefined): void {
    const refusing = refusal !== undefined;
    if (refusing === this.refusing || this.closed || !this.linksUp()) return;
    this.refusing = refusing;
    if (refusal) this.config.logger.warn({ err: refusal.message }, 'redis refuses this node\'s writes; reported down until a heartbeat is written');
    else this.config.logger.info('redis takes this node\'s writes again');
    this.listener?.status(this.isUp());
  }

  async start(listener: BackendListener): Promise<void> {
    this.listener = listener;
    const timeout = this.config.redis.connectTimeoutMs;
    const ready = (client: Redis) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`Redis not reachable within ${timeout} ms`)), timeout);
        client.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
        client.connect().catch(() => undefined);
      });
    try {
      await Promise.all([ready(this.command), ready(this.subscriber)]);
      // ioredis goes on with database 0 when the SELECT of its handshake is refused
      if (this.db !== 0) {
        await this.command.select(this.db).catch((error: unknown) => {
          throw refusedDatabase(this.db, error);
        });
      }
      await this.subscriber.subscribe(this.topic('global', 'signals'));
      // Left by an earlier process of this node id that crashed: this one's beats would keep it from being reaped.
      const { joins, leaves } = await this.reap(this.config.nodeId, 0);
      if (joins + leaves > 0) this.config.logger.info({ leaves, joins }, 'removed the presence an earlier process of this node left');
      if ((await this.beat()).reaped) await this.command.del(this.reapedMark(this.config.nodeId));
    } catch (error) {
      this.closed = true;
      this.command.disconnect();
      this.subscriber.disconnect();
      throw error;
    }
    this.started = true;
    this.onReachability();
    this.heartbeat = setInterval(() => void this.onHeartbeat(), this.config.redis.nodeHeartbeatMs);
    this.heartbeat.unref();
    this.toucher = setInterval(() => void this.touchWatched().catch(() => undefined), touchEveryMs(this.config.historyTtlMs));
    this.toucher.unref();
  }

  /**
   * Keeps the numbering and history of channels with subscribers here from expiring while nobody publishes: in
   * batches of `TOUCH_BATCH` channels, one at a time, so that neither this node nor Redis stalls on them all at once.
   */
  private async touchWatched(): Promise<void> {
    if (this.touching || !this.isUp() || this.watches.size === 0) return;
    this.touching = true;
    try {
      const channels = [...this.watches.keys()];
      for (let i = 0; i < channels.length && this.isUp() && !this.closed; i += TOUCH_BATCH) {
        const pipeline = this.command.pipeline();
        for (const ch of channels.slice(i, i + TOUCH_BATCH)) {
          pipeline.pexpire(this.key('meta', ch), this.config.historyTtlMs).pexpire(this.key('hist', ch), this.config.historyTtlMs);
        }
        await pipeline.exec();
      }
    } finally {
      this.touching = false;
    }
  }

  /** Marks this node alive and reaps the presence of dead nodes; `reaped` when another node reaped this one's, `lost` when it was not marked alive. */
  private async beat(): Promise<{ reaped: boolean; lost: boolean }> {
    const alive = this.key('nodes', 'alive');
    const [reaped, dead, added] = (await heartbeatScript.run(this.command, [alive, this.reapedMark(this.config.nodeId), this.config.nodeId, this.config.redis.nodeTimeoutMs])) as [
      number,
      string[],
      number,
    ];
    for (const node of dead) {
      if (node === this.config.nodeId) continue;
      const { joins, leaves } = await this.reap(node, REAPED_MARK_TTL_MS);
      this.config.logger.info({ node, leaves, joins }, 'reaped presence of a dead node');
    }
    return { reaped: reaped === 1, lost: added === 1 };
  }

  /**
   * Removes a node's presence entries (`markTtlMs` 0: this node's own, as it closes), `REAP_BATCH` at a time, and
   * announces the leaves, and as joins the users who stay shown with other meta; returns their counts.
   */
  private async reap(node: string, markTtlMs: number): Promise<{ joins: number; leaves: number }> {
    const counts = { joins: 0, leaves: 0 };
    for (let left = 1; left === 1; ) {
      const flat = (await reapScript.run(this.command, [
        this.key('nodes', 'alive'),
        this.key('pn', node),
        this.reapedMark(node),
        node,
        this.prefix,
        markTtlMs,
        this.topic('chan', ''),
        this.config.redis.nodeTimeoutMs,
        REAP_BATCH,
      ])) as [number?, ...string[]];
      left = flat[0] ?? 0;
      for (let i = 3; i < flat.length; i += 3) counts[flat[i] === '' ? 'leaves' : 'joins'] += 1;
    }
    return counts;
  }

  private onPubSub(channel: string, text: string): void {
    try {
      this.deliver(channel, text);
    } catch (error) {
      this.config.logger.error({ err: errorText(error) }, 'delivering a pub/sub message failed');
    }
  }

  private deliver(channel: string, text: string): void {
    const listener = this.listener;
    if (!listener) return;
    if (channel === this.topic('global', 'signals')) {
      try {
        const signal = JSON.parse(text) as GlobalSignal;
        if (signal.kind === 'logout') listener.globalSignal(signal);
      } catch {
        return;
      }
      return;
    }
    const chanPrefix = this.topic('chan', '');
    if (!channel.startsWith(chanPrefix)) return;
    const ch = channel.slice(chanPrefix.length);
    if (text.startsWith('m')) {
      const space = text.indexOf(' ');
      const seq = Number(text.slice(1, space));
      const message = space > 1 && Number.isSafeInteger(seq) ? toMessage(seq, text.slice(space + 1)) : undefined;
      if (message) listener.message(ch, message);
    } else if (text.startsWith('s')) {
      try {
        listener.channelSignal(ch, JSON.parse(text.slice(1)) as ChannelSignal);
      } catch {
        return;
      }
    }
  }

  private run(script: LuaScript, args: readonly (string | number)[]): Promise<unknown> {
    return script.run(this.command, args);
  }

  async append(ch: string, input: AppendInput): Promise<AppendResult> {
    const dedupKey = input.dedupKey === undefined ? this.key('dedup', '-') : this.key('dedup', input.dedupKey);
    const { charge } = input;
    const retention = this.config.retention.forChannel(ch);
    const link = this.links;
    const [outcome, value, runId] = (await this.run(appendScript, [
      this.key('meta', ch),
      this.key('hist', ch),
      dedupKey,
      charge === undefined ? this.key('rl', '-') : this.key('rl', charge.key),
      toPayload(input),
      messageBytes(input),
      retention.size,
      retention.maxBytes,
      this.config.historyTtlMs,
      this.config.dedupWindowMs,
      input.dedupKey === undefined ? '0' : '1',
      this.topic('chan', ch),
      charge === undefined ? '0' : String(charge.limit.perMinute / 60_000),
      charge === undefined ? '0' : String(charge.limit.burst),
      this.runId,
    ])) as [number, string, string?];
    this.noteRunId(link, runId);
    if (outcome === 2) return { outcome: 'refused', retryAfterMs: Number(value) };
    return { outcome: 'stored', seq: Number(value), duplicate: outcome === 1 };
  }

  async repeatOf(dedupKey: string): Promise<number | undefined> {
    const seen = await this.command.get(this.key('dedup', dedupKey));
    return seen === null ? undefined : Number(seen);
  }

  async read(ch: string, since: number, limit: number): Promise<HistoryRead> {
    const link = this.links;
    const [base, current, raw, runId] = (await this.run(readScript, [
      this.key('meta', ch),
      this.key('hist', ch),
      String(since + 1),
      limit,
      this.config.historyTtlMs,
      this.runId,
    ])) as [string, string, [string, string[]][], string];
    this.noteRunId(link, runId);
    const entries: StoredMessage[] = [];
    for (const [id, fields] of raw) {
      const message = toMessage(Number(id.slice(0, id.indexOf('-'))), fields[1] ?? '');
      if (message) entries.push(message);
    }
    return { base: Number(base), current: Number(current), entries };
  }

  /** A PING on the subscriber connection is answered after every message Redis pushed to it before. */
  async caughtUp(): Promise<void> {
    await this.subscriber.ping();
  }

  /** Refused while the subscriber connection is down (its SUBSCRIBE would wait for as long as the outage lasts): the channel is watched again once Redis is back. */
  watch(ch: string): Promise<void> {
    let watch = this.watches.get(ch);
    if (!watch) {
      const created: Watch = { count: 0, ready: Promise.resolve() };
      const subscribed = this.up.subscriber ? this.subscriber.subscribe(this.topic('chan', ch)) : Promise.reject(new Error('redis unreachable'));
      created.ready = subscribed.then(
        () => undefined,
        (error: unknown) => {
          if (this.watches.get(ch) === created) this.watches.delete(ch);
          throw error;
        },
      );
      this.watches.set(ch, (watch = created));
      this.touch(ch);
    }
    watch.count += 1;
    return watch.ready;
  }

  unwatch(ch: string): void {
    const watch = this.watches.get(ch);
    if (!watch) return;
    watch.count -= 1;
    if (watch.count > 0) return;
    this.watches.delete(ch);
    if (this.closed) return;
    this.subscriber.unsubscribe(this.topic('chan', ch)).catch(() => undefined);
    this.touch(ch);
  }

  /** Keeps the channel's numbering and history for `historyTtlMs` from now: as it starts being watched here, and once it no longer is. */
  private touch(ch: string): void {
    for (const kind of ['meta', 'hist']) this.command.pexpire(this.key(kind, ch), this.config.historyTtlMs).catch(() => undefined);
  }

  async signalChannel(ch: string, signal: ChannelSignal): Promise<void> {
    await this.command.publish(this.topic('chan', ch), `s${JSON.stringify(signal)}`);
  }

  async signalGlobal(signal: GlobalSignal): Promise<void> {
    await this.command.publish(this.topic('global', 'signals'), JSON.stringify(signal));
  }

  private presenceKeys(ch: string, userId: string): string[] {
    return [this.key('pm', ch), this.key('pr', `${ch} ${userId}`), this.key('pj', `${ch} ${userId}`), this.key('pn', this.config.nodeId)];
  }

  async presenceJoin(ch: string, ref: string, member: PresenceMember): Promise<boolean> {
    const entry = JSON.stringify([ch, member.userId, ref]);
    const joined = await this.run(presenceJoinScript, [...this.presenceKeys(ch, member.userId), member.userId, ref, JSON.stringify(member), entry, this.topic('chan', ch)]);
    return joined === 1;
  }

  async presenceUpdate(ch: string, ref: string, member: PresenceMember): Promise<boolean> {
    const keys = this.presenceKeys(ch, member.userId).slice(0, 3);
    return (await this.run(presenceUpdateScript, [...keys, member.userId, ref, JSON.stringify(member), this.topic('chan', ch)])) === 1;
  }

  async presenceLeave(ch: string, ref: string, userId: string, again = false): Promise<PresenceLeave> {
    const entry = JSON.stringify([ch, userId, ref]);
    const keys = [...this.presenceKeys(ch, userId), this.key('pl', `${ch} ${ref}`)];
    const args = [userId, ref, entry, this.topic('chan', ch), again ? '1' : '0', this.config.redis.nodeTimeoutMs];
    const [outcome, json] = (await this.run(presenceLeaveScript, [...keys, ...args])) as [number, string?];
    if (outcome === 1) return { outcome: 'left' };
    return outcome === 2 ? { outcome: 'shown', member: toMember(userId, json ?? '') } : { outcome: 'none' };
  }

  async presenceList(ch: string): Promise<PresenceMember[]> {
    const all = await this.command.hgetall(this.key('pm', ch));
    return Object.entries(all).map(([userId, json]) => toMember(userId, json));
  }

  async presenceHeld(): Promise<{ ch: string; ref: string; userId: string }[]> {
    const held: { ch: string; ref: string; userId: string }[] = [];
    for (const raw of await this.command.smembers(this.key('pn', this.config.nodeId))) {
      try {
        const [ch, userId, ref] = JSON.parse(raw) as unknown[];
        if (typeof ch === 'string' && typeof userId === 'string' && typeof ref === 'string') held.push({ ch, ref, userId });
      } catch {
        continue;
      }
    }
    return held;
  }

  async typingStart(ch: string, userId: string, ref: string, ttlMs: number): Promise<void> {
    await this.run(typingStartScript, [this.key('ty', `${ch} ${userId}`), ref, ttlMs]);
  }

  async typingStop(ch: string, userId: string, ref?: string): Promise<TypingLeft> {
    const [removed, untilMs] = (await this.run(typingStopScript, [this.key('ty', `${ch} ${userId}`), ref ?? ''])) as [number, number];
    return { removed, untilMs };
  }

  sizes(): Record<string, number> {
    return { watchedChannels: this.watches.size };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    clearInterval(this.toucher);
    if (this.command.status === 'ready') {
      await this.reap(this.config.nodeId, 0).catch((error: unknown) => this.config.logger.warn({ err: errorText(error) }, 'removing the presence of this node failed'));
    }
    this.listener = undefined;
    await Promise.all([quit(this.command), quit(this.subscriber)]);
  }
}

/** A database Redis refused to select (it has fewer), as an invalid option; any other failure as it is. */
function refusedDatabase(db: number, error: unknown): unknown {
  if (!(error instanceof Error) || error.name !== 'ReplyError') return error;
  return new InvalidOptionError('redis', `a database the Redis server has (SELECT ${db}: ${error.message.slice(0, 200)})`, undefined, `database ${db}`);
}

async function quit(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  const timer = setTimeout(() => client.disconnect(), 1000);
  try {
    await client.quit();
  } catch {
    client.disconnect();
  } finally {
    clearTimeout(timer);
  }
}
