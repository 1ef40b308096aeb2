import { Emitter } from '../events/emitter.js';
import type { InboundMessage } from '../protocol/adapter.js';
import { ErrorCode, InvalidOptionError, SocketchartError, isSocketchartError } from '../protocol/errors.js';
import { isSeq } from '../protocol/wire.js';
import { OptimisticConflictError } from './conflict-error.js';
import { KeyLedger, type LocalChange, type Settlement } from './key-ledger.js';
import { resolveStoreOptions, type ResolvedStoreOptions } from './options.js';
import { RecentIds } from './recent-ids.js';
import type {
  OptimisticChangeInput,
  OptimisticConflict,
  ConflictResolution,
  OptimisticStoreEvents,
  OptimisticStoreOptions,
  OptimisticStoreChange,
  OptimisticUpdateReceipt,
} from './types.js';

/** Ids of settled local changes remembered, so that their late echoes are recognised. */
const REMEMBERED_IDS = 1024;
/** Acknowledged changes kept waiting for their place in the channel at most; beyond, the oldest is folded in. */
const MAX_AWAITING = 256;
/** Rolled-back changes kept at most so that a late ack still applies them; beyond, the oldest is forgotten. */
const MAX_ROLLED_BACK = 256;


/** A conflict resolved as `'theirs'`, with the local changes it gives up: those it found unsettled, in the order they were made. */
interface Lost<Value, Change> {
  conflict: OptimisticConflict<Value, Change>;
  givenUp: LocalChange<Change>[];
}

const isResolution = <Value>(value: unknown): value is ConflictResolution<Value> =>
  value === 'mine' || value === 'theirs' || (typeof value === 'object' && value !== null && 'merged' in value);

/** An `update()` whose promise has not settled: only these make another client's message a conflict. */
const awaited = (local: LocalChange<unknown>): boolean => local.status === 'sent' && local.settlement !== undefined;

function sendFailure(error: unknown): SocketchartError {
  if (isSocketchartError(error)) return error;
  return new SocketchartError(ErrorCode.CONNECTION_FAILED, { message: 'The change could not be sent', recovery: 'fail', cause: error });
}


/**
 * Keyed state over one channel with optimistic updates: a local change shows at once, is published with
 * `ack: true`, is confirmed by the server's ack or by its echo on the channel (whichever comes first),
 * and is rolled back when the server refuses it. Messages from other clients are applied as they come;
 * one that arrives while an `update()` for its key is unsettled is a conflict, resolved by the `conflict` policy.
 */
export class OptimisticStore<Value, Change = Value> {
  readonly channel: string;
  private readonly options: ResolvedStoreOptions<Value, Change>;
  private readonly ledgers = new Map<string, KeyLedger<Value, Change>>();
  private readonly locals = new Map<string, LocalChange<Change>>();
  /** Acknowledged changes whose sequence number the channel has not reached, by sequence number. */
  private readonly awaiting: LocalChange<Change>[] = [];
  private readonly recent = new RecentIds(REMEMBERED_IDS);
  /** Changes rolled back, by id: the server may still store one whose outcome it had not told (TIMEOUT, or `merge` refusing it here). */
  private readonly rolledBack = new RecentIds<LocalChange<Change>>(MAX_ROLLED_BACK);
  private readonly events = new Emitter<OptimisticStoreEvents<Value, Change>>();
  private readonly releases: Array<() => void>;
  /** One per publish not settled, aborted on `dispose()` to give it up (one signal for all would gather a listener per publish). */
  private readonly sending = new Set<AbortController>();
  /** Changes shown and not yet handed to the connection. */
  private readonly unsent: LocalChange<Change>[] = [];
  /** Highest sequence number the channel has reached for this store. */
  private channelSeq: number | undefined;
  private cachedSnapshot: ReadonlyMap<string, Value> | undefined;
  private disposed = false;
  /** The last changes of `dispose()` are told: no listener hears anything more. */
  private ended = false;

  constructor(options: OptimisticStoreOptions<Value, Change>) {
    this.options = resolveStoreOptions(options);
    this.channel = this.options.channel;
    for (const [key, value] of this.options.initial) this.ledgers.set(key, new KeyLedger(key, this.options.merge, value));
    const { connection, channel } = this.options;
    this.releases = [
      connection.subscribe<Change>(channel, (data, message) => this.received(data, message)),
      connection.on('control', ({ type, frame }) => {
        if (type === 'ack' && typeof frame.id === 'string') this.ackFrame(frame.id, isSeq(frame.seq) ? frame.seq : undefined);
      }),
      connection.on('gap', ({ ch, to }) => {
        if (ch === channel && !this.disposed) this.advance(to);
      }),
    ];
  }

  /** The value shown for a key: the confirmed value with every local change still in flight on top. */
  get(key: string): Value | undefined {
    return this.ledgers.get(key)?.value;
  }

  /** The value the server has confirmed for a key (acknowledged local changes included). */
  confirmed(key: string): Value | undefined {
    return this.ledgers.get(key)?.confirmedView();
  }

  /** Local changes waiting for the server: for one key, or for every key. */
  pending(key?: string): number {
    if (key !== undefined) return this.ledgers.get(key)?.pending ?? 0;
    let count = 0;
    for (const local of this.locals.values()) if (local.status === 'sent') count++;
    return count;
  }

  /** Every shown value; the same map until something changes (fit for `useSyncExternalStore`). */
  snapshot(): ReadonlyMap<string, Value> {
    if (this.cachedSnapshot) return this.cachedSnapshot;
    const values = new Map<string, Value>();
    for (const [key, ledger] of this.ledgers) if (ledger.value !== undefined) values.set(key, ledger.value);
    return (this.cachedSnapshot = values);
  }

  /**
   * Shows the change at once and publishes it with `ack: true` and a fresh id. Resolves when the server
   * confirms it; rejects with the server's `SocketchartError` (the change is rolled back, later local
   * changes stay on top of the confirmed value), with `OptimisticConflictError` when it lost a conflict
   * resolved as `'theirs'`, with CONFLICT when `merge` throws on it once another client's message changed
   * the key under it (a delete; the change is rolled back, the exception as `cause`), or with CLOSED on
   * `dispose()` (the change is then not sent any more). A change rolled back without the server's answer
   * (TIMEOUT) still takes its place when its ack or echo comes later. A change must belong to `key`
   * (INVALID_MESSAGE_FORMAT otherwise) and `merge` must accept it (it rejects with what `merge` throws
   * otherwise); in both cases nothing is shown or sent.
   */
  update(key: string, input: OptimisticChangeInput<Value, Change>): Promise<OptimisticUpdateReceipt> {
    if (this.disposed) return Promise.reject(this.closedError());
    let change: Change;
    let owner: string | undefined;
    try {
      change = typeof input === 'function' ? (input as (current: Value | undefined) => Change)(this.get(key)) : input;
      owner = this.options.key(change);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.disposed) return Promise.reject(this.closedError());
    if (owner !== key) {
      return Promise.reject(
        new SocketchartError(ErrorCode.INVALID_MESSAGE_FORMAT, {
          message:
            owner === undefined
              ? `The change names no key; ${this.get(key) === undefined ? `${JSON.stringify(key)} does not exist yet, so ` : ''}the change must carry its key (key(change) returned undefined)`
              : `The change belongs to key ${JSON.stringify(owner)}, not ${JSON.stringify(key)}`,
          recovery: 'fail',
          details: { key, owner },
        }),
      );
    }
    return new Promise<OptimisticUpdateReceipt>((resolve, reject) => this.publish(key, change, 'update', { resolve, reject }));
  }

  /** Listens to changes of shown values and pending counts. Returns the remover. */
  subscribe(listener: (change: OptimisticStoreChange<Value>) => void): () => void {
    return this.on('change', listener);
  }

  /** Listens to `change`, `conflict` (with its resolution) or `rollback`. Returns the remover. */
  on<K extends keyof OptimisticStoreEvents<Value, Change>>(event: K, listener: (payload: OptimisticStoreEvents<Value, Change>[K]) => void): () => void {
    if (typeof listener !== 'function') throw new InvalidOptionError('listener', 'a function (payload) => void', listener);
    if (this.disposed) return () => undefined;
    // disposed from a listener: those after it in the same emit hear nothing after the last changes of dispose
    return this.events.on(event, (payload) => this.ended || listener(payload));
  }

  /**
   * Unsubscribes from the channel and the connection, rejects every unconfirmed change with CLOSED, gives up
   * its publishes still queued or awaiting their ack, and forgets all state: a last `change` for each key
   * shown or pending (`value` undefined, `pending` 0) tells the views, then every listener is removed.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const release of this.releases) release();
    const settlements = [...this.locals.values()].flatMap((local) => (local.settlement ? [local.settlement] : []));
    const shown = [...this.ledgers];
    this.locals.clear();
    this.ledgers.clear();
    this.awaiting.length = 0;
    this.unsent.length = 0;
    this.recent.clear();
    this.rolledBack.clear();
    this.cachedSnapshot = undefined;
    for (const [key, { value, pending }] of shown) if (value !== undefined || pending) this.emit('change', { key, value: undefined, previous: value, pending: 0 });
    this.ended = true;
    this.events.clear();
    const error = this.closedError();
    for (const sending of this.sending) sending.abort(error);
    for (const settlement of settlements) settlement.reject(error);
  }

  private closedError(): SocketchartError {
    return new SocketchartError(ErrorCode.CLOSED, { message: 'The optimistic store was disposed' });
  }

  private ledger(key: string): KeyLedger<Value, Change> {
    let ledger = this.ledgers.get(key);
    if (!ledger) this.ledgers.set(key, (ledger = new KeyLedger(key, this.options.merge)));
    return ledger;
  }

  private publish(
    key: string,
    change: Change,
    kind: LocalChange<Change>['kind'],
    settlement: Settlement | undefined,
    lost?: Lost<Value, Change>,
  ): void {
    const id = this.options.createId();
    if (typeof id !== 'string' || id === '' || this.locals.has(id) || this.recent.has(id)) {
      const error = new InvalidOptionError('createId', 'a function returning a fresh non-empty string', id);
      if (!settlement) throw error;
      settlement.reject(error);
      return;
    }
    const local: LocalChange<Change> = { id, key, change, kind, status: 'sent', seq: undefined, settlement };
    const ledger = this.ledger(key);
    try {
      ledger.check(change);
    } catch (error) {
      if (ledger.isEmpty) this.ledgers.delete(key);
      if (!settlement) throw error;
      settlement.reject(error);
      return;
    }
    ledger.changes.push(local);
    this.locals.set(id, local);
    this.unsent.push(local);
    this.refresh(key, lost);
    this.sendUnsent();
  }

  /** Publishes the changes shown and not sent yet, in the order they were made (a listener may make one while the one before it is shown). */
  private sendUnsent(): void {
    const { connection, channel, event } = this.options;
    for (const local of this.unsent.splice(0)) {
      if (this.disposed) return;
      const { id, change } = local;
      const sending = new AbortController();
      const { signal } = sending;
      this.sending.add(sending);
      let sent: Promise<void>;
      try {
        sent = connection.send(change, event === undefined ? { channel, ack: true, id, signal } : { channel, ack: true, id, event, signal });
      } catch (error) {
        sent = Promise.reject(error);
      }
      sent.then(
        () => this.acknowledged(local, undefined),
        (error: unknown) => this.rejected(local, sendFailure(error)),
      ).finally(() => this.sending.delete(sending));
    }
  }

  private ackFrame(id: string, seq: number | undefined): void {
    const local = this.locals.get(id) ?? this.restored(id);
    if (local) this.acknowledged(local, seq);
  }

  /** A rolled-back change whose ack comes late (the server stored it after all), tracked again to take its place. */
  private restored(id: string): LocalChange<Change> | undefined {
    const local = this.rolledBack.get(id);
    if (!local || this.recent.get(id) !== 'rolledBack') return undefined;
    this.rolledBack.delete(id);
    this.locals.set(id, local);
    this.ledger(local.key).changes.unshift(local);
    return local;
  }

  private acknowledged(local: LocalChange<Change>, seq: number | undefined): void {
    if (this.locals.get(local.id) !== local || local.status === 'acked') return;
    this.resolveSettlement(local, { id: local.id, key: local.key, seq, via: 'ack' });
    if (seq === undefined || (this.channelSeq !== undefined && seq <= this.channelSeq)) {
      this.fold(local);
      return;
    }
    local.status = 'acked';
    local.seq = seq;
    this.ledgers.get(local.key)?.placeAcked(local);
    let index = this.awaiting.length;
    while (index > 0 && this.awaiting[index - 1]!.seq! > seq) index--;
    this.awaiting.splice(index, 0, local);
    if (this.awaiting.length > MAX_AWAITING) this.fold(this.awaiting[0]!);
    this.refresh(local.key);
  }

  private rejected(local: LocalChange<Change>, error: SocketchartError): void {
    if (this.locals.get(local.id) !== local || local.status === 'acked') return;
    this.ledgers.get(local.key)?.remove(local);
    this.forget(local);
    this.refresh(local.key, undefined, local, error);
  }

  /** Stops tracking a rolled-back change, keeping it for a late ack: one comes only if the server stored it after all. */
  private forget(local: LocalChange<Change>): void {
    this.locals.delete(local.id);
    this.recent.set(local.id, 'rolledBack');
    this.rolledBack.set(local.id, local);
  }

  private rollback(local: LocalChange<Change>, error: SocketchartError): void {
    this.emit('rollback', { key: local.key, id: local.id, change: local.change, kind: local.kind, error });
    this.rejectSettlement(local, error);
  }

  /** A message of the channel; one the app's functions throw on is reported as an `error` event and skipped. */
  private received(data: Change, message: InboundMessage<Change>): void {
    try {
      this.apply(data, message);
    } catch (cause) {
      const ledger = this.ledgers.get(this.keyOf(data) ?? '');
      if (ledger?.isEmpty) this.ledgers.delete(ledger.key);
      this.emit('error', this.unapplied(cause, message.id));
    }
  }

  private unapplied(cause: unknown, messageId: string | undefined): SocketchartError {
    return new SocketchartError(ErrorCode.INVALID_MESSAGE_FORMAT, { message: `A message on ${this.channel} could not be applied`, recovery: 'none', cause, ...(messageId === undefined ? {} : { messageId }) });
  }

  private keyOf(data: Change): string | undefined {
    try {
      return this.options.key(data);
    } catch {
      return undefined;
    }
  }

  private apply(data: Change, message: InboundMessage<Change>): void {
    if (this.disposed) return;
    const seq = isSeq(message.seq) ? message.seq : undefined;
    if (seq !== undefined) {
      this.advance(seq - 1);
      this.channelSeq = seq;
    }
    if (this.options.event !== undefined && message.event !== this.options.event) return;
    const id = this.ownId(message);
    if (id !== undefined) {
      const local = this.locals.get(id);
      if (local) {
        if (local.status === 'sent') this.resolveSettlement(local, { id, key: local.key, seq, via: 'echo' });
        this.fold(local);
        return;
      }
      if (this.recent.get(id) === 'confirmed') return;
    }
    const key = this.options.key(data);
    if (typeof key !== 'string') return;
    const ledger = this.ledger(key);
    const lateOwnChange = id !== undefined && this.recent.get(id) === 'rolledBack';
    if (lateOwnChange) {
      this.recent.set(id, 'confirmed');
      this.rolledBack.delete(id);
    }
    if (lateOwnChange || !ledger.changes.some(awaited)) {
      ledger.apply(data);
      this.refresh(key);
      return;
    }
    this.conflict(ledger, data, message);
  }

  /** The message's id, unless the message names another user as its sender: then it cannot be one of this store's publishes. */
  private ownId(message: InboundMessage<Change>): string | undefined {
    const from = message.from;
    const self = this.options.connection.session?.userId;
    return typeof from === 'string' && self !== undefined && from !== self ? undefined : message.id;
  }

  /** The channel reached `seq`: acknowledged changes numbered up to it take their place in the confirmed values. */
  private advance(seq: number): void {
    while (this.awaiting.length > 0 && this.awaiting[0]!.seq! <= seq) this.fold(this.awaiting[0]!);
    if (this.channelSeq === undefined || seq > this.channelSeq) this.channelSeq = seq;
  }

  private fold(local: LocalChange<Change>): void {
    this.locals.delete(local.id);
    const index = this.awaiting.indexOf(local);
    if (index >= 0) this.awaiting.splice(index, 1);
    this.recent.set(local.id, 'confirmed');
    const ledger = this.ledgers.get(local.key);
    if (!ledger?.remove(local)) return;
    let failure: SocketchartError | undefined;
    try {
      ledger.apply(local.change);
    } catch (cause) {
      failure = this.unapplied(cause, local.id);
    }
    this.refresh(local.key);
    if (failure) this.emit('error', failure);
  }

  private conflict(ledger: KeyLedger<Value, Change>, theirChange: Change, message: InboundMessage<Change>): void {
    const key = ledger.key;
    const mine = ledger.value as Value;
    const base = ledger.confirmed;
    const unsettled = ledger.changes.filter(awaited);
    ledger.apply(theirChange);
    const conflict: OptimisticConflict<Value, Change> = { key, mine, theirs: ledger.confirmedView() as Value, base, change: theirChange, message };
    let resolution: ConflictResolution<Value>;
    try {
      const answer: unknown = this.options.resolve(conflict);
      if (!isResolution<Value>(answer)) throw new InvalidOptionError('conflict', "a resolver returning 'mine', 'theirs' or { merged }", answer);
      resolution = answer;
      if (resolution === 'theirs') this.publishResolution(key, conflict.theirs, { conflict, givenUp: unsettled });
      else if (resolution !== 'mine') this.publishResolution(key, resolution.merged);
    } catch (error) {
      this.refresh(key);
      throw error;
    }
    this.refresh(key);
    this.emit('conflict', { ...conflict, resolution, value: ledger.value as Value });
  }

  /** `lost`: the conflict resolved as `'theirs'`, which gives up the local changes it found unsettled. */
  private publishResolution(key: string, value: Value, lost?: Lost<Value, Change>): void {
    const change = this.options.fromValue(value, key);
    const owner = this.options.key(change);
    if (owner !== key) throw new InvalidOptionError('fromValue', `a change of key ${JSON.stringify(key)}`, owner);
    this.publish(key, change, 'resolution', undefined, lost);
  }

  private resolveSettlement(local: LocalChange<Change>, receipt: OptimisticUpdateReceipt): void {
    const settlement = local.settlement;
    local.settlement = undefined;
    settlement?.resolve(receipt);
  }

  private rejectSettlement(local: LocalChange<Change>, error: SocketchartError): void {
    const settlement = local.settlement;
    local.settlement = undefined;
    settlement?.reject(error);
  }

  /**
   * Recomputes a key's shown value. Local changes `merge` no longer accepts there (another client's message
   * changed the key under them) are rolled back with CONFLICT, or with `OptimisticConflictError` when they
   * lost the conflict `lost`, after `first` (refused with `error`): the change they were made on top of.
   * The changes `lost` gives up that `merge` still accepts are rejected with `OptimisticConflictError`
   * among them, in the order the changes were made.
   */
  private refresh(key: string, lost?: Lost<Value, Change>, first?: LocalChange<Change>, error?: SocketchartError): void {
    const ledger = this.ledgers.get(key);
    if (!ledger) {
      if (first) this.rollback(first, error!);
      return;
    }
    const made = lost && [...ledger.changes];
    const { moved, previous, refused } = ledger.recompute();
    for (const { local } of refused) this.forget(local);
    if (ledger.isEmpty) this.ledgers.delete(key);
    if (moved) {
      this.cachedSnapshot = undefined;
      this.emit('change', { key, value: ledger.value, previous, pending: ledger.pending });
    }
    if (first) this.rollback(first, error!);
    for (const local of made ?? refused.map((refusal) => refusal.local)) {
      const refusal = refused.find((r) => r.local === local);
      if (refusal) {
        const { cause } = refusal;
        this.rollback(
          local,
          lost
            ? new OptimisticConflictError(local.id, lost.conflict, cause)
            : new SocketchartError(ErrorCode.CONFLICT, { message: `The change to "${key}" no longer applies to its value`, recovery: 'fail', messageId: local.id, cause }),
        );
      } else if (lost?.givenUp.includes(local) && awaited(local)) this.rejectSettlement(local, new OptimisticConflictError(local.id, lost.conflict));
    }
  }

  private emit<K extends keyof OptimisticStoreEvents<Value, Change>>(event: K, payload: OptimisticStoreEvents<Value, Change>[K]): void {
    this.events.emit(event, payload);
  }

}

/**
 * Creates an optimistic store over `connection` and `channel` (subscribed at once). Options are validated
 * here: a bad one throws `InvalidOptionError` naming it.
 */
export function createOptimisticStore<T>(options: OptimisticStoreOptions<T, T>): OptimisticStore<T, T>;
export function createOptimisticStore<Value, Change>(options: OptimisticStoreOptions<Value, Change>): OptimisticStore<Value, Change>;
export function createOptimisticStore<Value, Change>(options: OptimisticStoreOptions<Value, Change>): OptimisticStore<Value, Change> {
  return new OptimisticStore<Value, Change>(options);
}
