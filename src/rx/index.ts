import { Observable, asyncScheduler, interval, type SchedulerLike, type Subscriber } from 'rxjs';
import type { Connection, ConnectionSnapshot } from '../connection/connection.js';
import { snapshotSource } from '../connection/snapshot-source.js';
import type { ConnectionEvents } from '../connection/events.js';
import type { ConnectionStatus } from '../connection/types.js';
import type { PresenceMember } from '../connection/presence.js';
import type { ConnectionMetricsSnapshot } from '../metrics/connection-metrics.js';
import type { InboundMessage } from '../protocol/adapter.js';
import { ErrorCode, type SocketchartError } from '../protocol/errors.js';
import type { Pool } from '../pool/pool.js';
import type { PoolEvents, PoolHealth } from '../pool/runtime.js';
import { MAX_TIMER_MS } from '../environment/clock.js';

/**
 * rxjs views of connections and pools. Each observable listens only while subscribed: unsubscribing
 * removes its listener (and a channel's subscription, sending `unsubscribe` when it was the last).
 * The connection itself is never started or stopped by them. The observables of a connection or a pool
 * complete when it is disposed (at once on one disposed already).
 */

/** A connection or a pool: what can be disposed, and says so. */
interface Disposable {
  readonly isDisposed: boolean;
  on(event: 'disposed', listener: () => void): () => void;
}

/** Runs `listen` while subscribed, until the connection or pool is disposed (then completes, after its own `disposed` event; at once when disposed while `listen` sent the first value). */
function whileAlive<T>(source: Disposable, listen: (subscriber: Subscriber<T>) => () => void): Observable<T> {
  return new Observable<T>((subscriber) => {
    if (source.isDisposed) {
      subscriber.complete();
      return undefined;
    }
    const stop = listen(subscriber);
    const offDisposed = source.on('disposed', () => subscriber.complete());
    if (source.isDisposed) subscriber.complete();
    return () => {
      offDisposed();
      stop();
    };
  });
}

/** One connection event as a stream (`state`, `error`, `gap`, `presence`, `typing`…). */
export function events$<K extends keyof ConnectionEvents>(connection: Connection, event: K): Observable<ConnectionEvents[K]> {
  return whileAlive(connection, (subscriber) => connection.on(event, (payload) => subscriber.next(payload)));
}

/**
 * Errors `subscriber` with the server's refusal of the channel (AUTHORIZATION_FAILED: it is dropped, never
 * subscribed again), and with `presence`, of its presence (its list refused, or presence taken away).
 */
function erroredWhenRefused(connection: Connection, channel: string, subscriber: Subscriber<unknown>, presence = false): () => void {
  const offRefused = connection.on('refused', ({ ch, error }) => ch === channel && subscriber.error(error));
  const offError = connection.on('error', (error) => {
    const { ch, action } = (error.details ?? {}) as { ch?: unknown; action?: unknown };
    if (presence && error.code === ErrorCode.AUTHORIZATION_FAILED && ch === channel && (action === 'list' || action === 'presence')) subscriber.error(error);
  });
  return () => {
    offRefused();
    offError();
  };
}

/** The messages of one channel; subscribing subscribes to the channel, unsubscribing leaves it. Errors with the server's refusal of the channel (AUTHORIZATION_FAILED). */
export function channel$<T = unknown>(connection: Connection, channel: string): Observable<InboundMessage<T>> {
  return whileAlive(connection, (subscriber) => {
    const unsubscribe = connection.subscribe<T>(channel, (_data, message) => subscriber.next(message));
    const offRefused = erroredWhenRefused(connection, channel, subscriber);
    return () => {
      offRefused();
      unsubscribe();
    };
  });
}

/** The status now, then each change (a change made while the first value is handled included). */
export function status$(connection: Connection): Observable<ConnectionStatus> {
  return whileAlive(connection, (subscriber) => {
    const off = connection.on('state', ({ status }) => subscriber.next(status));
    subscriber.next(connection.status);
    return off;
  });
}

/** The machine's snapshot now, then every snapshot (across the actors a connection runs); disposed, a last one that reads `closed`, as `status$` does. */
export function state$(connection: Connection): Observable<ConnectionSnapshot> {
  return whileAlive(connection, (subscriber) => {
    const source = snapshotSource(connection);
    const subscription = source.subscribe((snapshot) => subscriber.next(snapshot));
    subscriber.next(source.getSnapshot());
    return () => subscription.unsubscribe();
  });
}

/** Longest interval a timer keeps (hosts turn a longer one into 1 ms). */
const MAX_INTERVAL_MS = MAX_TIMER_MS;

/** `connection.metrics()` at once (when subscribed), then every `intervalMs` (on `scheduler`: rxjs's async scheduler by default). */
export function metrics$(connection: Connection, intervalMs: number, scheduler: SchedulerLike = asyncScheduler): Observable<ConnectionMetricsSnapshot> {
  if (!(intervalMs > 0 && intervalMs <= MAX_INTERVAL_MS)) throw new RangeError(`metrics$ needs an interval in ms in (0, ${MAX_INTERVAL_MS}], received ${String(intervalMs)}`);
  return whileAlive(connection, (subscriber) => {
    subscriber.next(connection.metrics());
    const ticks = interval(intervalMs, scheduler).subscribe(() => subscriber.next(connection.metrics()));
    return () => ticks.unsubscribe();
  });
}

/** The connection's errors (`on('error')`): a stream of values, never an rxjs error. */
export function errors$(connection: Connection): Observable<SocketchartError> {
  return events$(connection, 'error');
}

/**
 * Emits `now()` and then each `event` of the channel (a change made while the first value is handled
 * included); `hold()` (what sends frames) runs only when more than that first value is wanted. Errors with
 * the server's refusal of the channel, as `channel$`.
 */
function channelView<K extends 'presence' | 'typing', T>(
  connection: Connection,
  channel: string,
  event: K,
  pick: (payload: ConnectionEvents[K]) => T,
  now: () => T,
  hold: () => () => void,
): Observable<T> {
  return whileAlive(connection, (subscriber) => {
    const off = connection.on(event, (payload) => {
      if (payload.ch === channel) subscriber.next(pick(payload));
    });
    const offRefused = erroredWhenRefused(connection, channel, subscriber, event === 'presence');
    let release: (() => void) | undefined;
    try {
      subscriber.next(now());
      if (!subscriber.closed) release = hold();
    } catch (error) {
      off();
      offRefused();
      throw error;
    }
    return () => {
      off();
      offRefused();
      release?.();
    };
  });
}

/** The members present on a channel: watched while subscribed (the channel is subscribed and listed), emitted at once and on each change. Errors with the server's refusal of the channel or of its presence (AUTHORIZATION_FAILED). */
export function presence$(connection: Connection, channel: string): Observable<PresenceMember[]> {
  const { presence } = connection;
  return channelView(connection, channel, 'presence', ({ members }) => members, () => presence.members(channel), () => presence.watch(channel));
}

/** Who else is typing on a channel: subscribed while subscribed, emitted at once and on each change. Errors with the server's refusal of the channel (AUTHORIZATION_FAILED). */
export function typing$(connection: Connection, channel: string): Observable<string[]> {
  const { presence } = connection;
  return channelView(connection, channel, 'typing', ({ users }) => users, () => presence.typingUsers(channel), () => connection.subscribe(channel, () => {}));
}

/** A pool's aggregate health (`up`, `degraded`, `down`) now, then each change. */
export function health$(pool: Pool): Observable<PoolHealth> {
  return whileAlive(pool, (subscriber) => {
    const off = pool.on('health', ({ health }) => subscriber.next(health));
    subscriber.next(pool.status().health);
    return off;
  });
}

/** Every state change of a pool's connections, with the endpoint's name. */
export function poolState$(pool: Pool): Observable<PoolEvents['state']> {
  return whileAlive(pool, (subscriber) => pool.on('state', (change) => subscriber.next(change)));
}
