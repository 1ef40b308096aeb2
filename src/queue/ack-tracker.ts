import { MAX_TIMER_MS, type Clock, type TimerHandle } from '../environment/clock.js';
import type { OutgoingFrame } from '../protocol/adapter.js';
import { ErrorCode, SocketchartError } from '../protocol/errors.js';
import { exactBytes } from '../protocol/frame-bytes.js';

/** What the server said when it acknowledged a message. */
export interface AckInfo {
  id: string;
  /** Sequence number the message got on its channel, when the server numbers them. */
  seq?: number;
  /** The server had already stored this id (a resend after a lost ack): delivered once all the same. */
  duplicate?: boolean;
  /** What the server answered with, when its ack carries `data`. */
  data?: unknown;
}

/** Writes a frame now: true when written, false when there is no open socket, or the ms until the rate limit lets it go (Infinity: not at its current rate). */
export type AckWrite = (frame: OutgoingFrame, channel: string | undefined) => boolean | number;

interface InFlight {
  frame: OutgoingFrame;
  /** The channel it goes to: the scope of its rate limit. */
  channel: string | undefined;
  resolve: (ack: AckInfo) => void;
  reject: (error: SocketchartError) => void;
  /** Times written to a socket. */
  attempts: number;
  /** Writes the server refused for a rate limit (they do not count toward `maxAttempts`). */
  refusals: number;
  /** Clock time before which the server asked not to send it again (its `retry_after`). */
  heldUntil: number;
  /** Clock time by which the ack is due; Infinity while not written (queued, or waiting for a socket). */
  deadline: number;
  /** Held or deferred by a rate limit, or without a socket: to be written again at `deadline`, not awaiting an ack. */
  waiting: boolean;
}

export interface AckOptions {
  /** How long after a write the server's ack may take before the message is written again. */
  timeoutMs: number;
  /** Writes per message before its promise rejects with TIMEOUT. */
  maxAttempts: number;
}

/**
 * Messages sent with `ack: true`, from their first write until the server acknowledges them, in their
 * original order. One timer at most, armed for the earliest deadline.
 */
export class AckTracker {
  private readonly inFlight = new Map<string, InFlight>();
  private timer: TimerHandle | undefined;
  private timerAt = Infinity;
  /** The latest hold given so far: held messages go again in the order they were held. */
  private lastHold = 0;
  private ids = 0;
  private idPrefix: string | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly options: AckOptions,
    /** Writes a frame again (after a timeout, a hold or a reconnect). */
    private readonly write: AckWrite,
  ) {}

  /** A fresh message id, unique to this tracker. */
  nextId(): string {
    return `${(this.idPrefix ??= Math.random().toString(36).slice(2, 10))}-${++this.ids}`;
  }

  get size(): number {
    return this.inFlight.size;
  }

  has(id: string): boolean {
    return this.inFlight.has(id);
  }

  /** Starts tracking a message; the promise settles with the server's ack or error. */
  track(id: string, frame: OutgoingFrame, channel?: string): Promise<AckInfo> {
    return new Promise<AckInfo>((resolve, reject) => {
      this.inFlight.set(id, { frame, channel, resolve, reject, attempts: 0, refusals: 0, heldUntil: 0, deadline: Infinity, waiting: false });
    });
  }

  /** The message was written to a socket: its ack is due within the timeout. */
  written(id: string): void {
    const entry = this.inFlight.get(id);
    if (!entry) return;
    if (entry.attempts++ === 0) {
      // in flight from its first write on: it goes again in the order written (by priority, a previous run's first), not sent
      this.inFlight.delete(id);
      this.inFlight.set(id, entry);
    }
    entry.waiting = false;
    const now = this.clock.now();
    entry.deadline = entry.heldUntil > now ? entry.heldUntil : now + this.options.timeoutMs;
    this.arm(entry.deadline);
  }

  ack(info: AckInfo): boolean {
    const entry = this.inFlight.get(info.id);
    if (!entry) return false;
    this.inFlight.delete(info.id);
    entry.resolve(info);
    this.disarmWhenIdle();
    return true;
  }

  fail(id: string, error: SocketchartError): boolean {
    const entry = this.inFlight.get(id);
    if (!entry) return false;
    this.inFlight.delete(id);
    entry.reject(error);
    this.disarmWhenIdle();
    return true;
  }

  /**
   * The server refused the message for a rate limit: it is written again at `until` (clock time), never
   * before a message held earlier, and the refused write does not count toward `maxAttempts`. False when
   * the message is not in flight.
   */
  holdUntil(id: string, until: number): boolean {
    const entry = this.inFlight.get(id);
    if (!entry) return false;
    if (this.lastHold > until) until = this.lastHold;
    this.lastHold = until;
    entry.refusals++;
    entry.waiting = true;
    entry.heldUntil = until;
    entry.deadline = until;
    this.arm(until);
    return true;
  }

  /**
   * After a reconnect: writes every message that was written before and not acknowledged, in order (through
   * `write`, the link's writer by default). The old socket's rate-limit holds end with it.
   */
  resendWritten(write: AckWrite = this.write): void {
    this.lastHold = 0;
    for (const entry of this.inFlight.values()) entry.heldUntil = 0;
    let waitUntil: number | undefined;
    for (const [id, entry] of this.inFlight) {
      if (entry.attempts === 0) continue;
      if (waitUntil !== undefined) entry.deadline = waitUntil;
      else if (!this.retry(id, entry, write)) {
        if (entry.deadline === Infinity) return;
        waitUntil = entry.deadline;
      }
    }
  }

  /** The id of the largest message written and not yet acknowledged (the one a server refuses as too big), if any. */
  largestWritten(): string | undefined {
    let largest: string | undefined;
    let size = -1;
    for (const [id, entry] of this.inFlight) {
      if (entry.attempts === 0) continue;
      const bytes = exactBytes(entry.frame);
      if (bytes > size) [largest, size] = [id, bytes];
    }
    return largest;
  }

  rejectAll(error: SocketchartError): void {
    const entries = [...this.inFlight.values()];
    this.inFlight.clear();
    this.disarm();
    for (const entry of entries) entry.reject(error);
  }

  /** Writes the message again; false when it could not go now (no socket, or waiting for the rate limit until its new deadline). */
  private retry(id: string, entry: InFlight, write: AckWrite = this.write): boolean {
    if (entry.attempts - entry.refusals >= this.options.maxAttempts) {
      this.fail(
        id,
        new SocketchartError(ErrorCode.TIMEOUT, {
          message: `No ack after ${entry.attempts} writes`,
          recovery: 'fail',
          messageId: id,
        }),
      );
      return true;
    }
    const outcome = write(entry.frame, entry.channel);
    if (outcome === true) {
      this.written(id);
      return true;
    }
    entry.waiting = true;
    // a limit that grants nothing (a zero rate) may change without a reconnect: asked again after timeoutMs
    entry.deadline = outcome === false ? Infinity : this.clock.now() + (outcome < Infinity ? outcome : this.options.timeoutMs);
    this.arm(entry.deadline);
    return false;
  }

  private arm(at: number): void {
    if (at >= this.timerAt) return;
    this.disarm();
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => this.expire(), Math.min(MAX_TIMER_MS, Math.max(0, at - this.clock.now())));
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private disarmWhenIdle(): void {
    if (this.inFlight.size === 0) this.disarm();
  }

  private expire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.clock.now();
    /** Per channel, when its earliest message still waiting may go: no later one of the channel goes before it. */
    const gates = new Map<string | undefined, number>();
    for (const [id, entry] of [...this.inFlight]) {
      const gate = gates.get(entry.channel);
      if (gate !== undefined) {
        if (entry.deadline < gate) entry.deadline = gate;
        continue;
      }
      if (entry.deadline <= now) this.retry(id, entry);
      if (entry.waiting && this.inFlight.has(id)) gates.set(entry.channel, entry.deadline);
    }
    let next = Infinity;
    for (const entry of this.inFlight.values()) if (entry.deadline < next) next = entry.deadline;
    if (next < Infinity) this.arm(next);
  }
}
