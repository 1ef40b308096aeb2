import { expect } from 'vitest';
import type { DialGate, TokenProvider } from '../../../src/index.js';

interface PendingToken {
  readonly reason: string;
  /** Connection status when the token was asked for. */
  readonly status: string;
  resolve(token: string): void;
  reject(error: unknown): void;
}

/** A token provider the test answers by hand. */
export class TokenGate {
  readonly pending: PendingToken[] = [];
  /** Why each token was asked for, in order. */
  readonly reasons: string[] = [];
  /** Connection status at each request, in order. */
  readonly statuses: string[] = [];
  issued = 0;

  constructor(private readonly statusNow: () => string = () => 'unknown') {}

  readonly provider: TokenProvider = ({ reason }) =>
    new Promise<string>((resolve, reject) => {
      const status = this.statusNow();
      this.reasons.push(reason);
      this.statuses.push(status);
      this.pending.push({ reason, status, resolve, reject });
    });

  give(): void {
    this.pending.pop()?.resolve(`token-${++this.issued}`);
  }

  refuse(error: unknown): void {
    this.pending.pop()?.reject(error);
  }

  /** Answers every request but the latest (those of socket or token actors that are gone), or all of them. */
  answerStale(keepLatest: boolean): void {
    const stale = this.pending.splice(0, keepLatest ? Math.max(0, this.pending.length - 1) : this.pending.length);
    for (const request of stale) request.resolve(`stale-token-${++this.issued}`);
  }
}

/** One request a connection made at the dial gate. */
export interface GateRequest {
  readonly priority: number;
  /** Connection status when it asked. */
  readonly status: string;
  /** Requests of this connection still waiting when it asked (other than this one). */
  readonly waitingBefore: number;
  state: 'waiting' | 'granted' | 'withdrawn';
  /** Times the connection called the withdraw function. */
  withdrawals: number;
  /** Connection status when it first withdrew the request. */
  withdrawnIn: string | undefined;
  readonly grant: () => void;
}

/**
 * A dial gate the model controls. `held`: it grants a waiting request only when the model's
 * `permit.granted` step says so (`grant()`); `open`: it grants every request within `request()`, as a
 * dial budget with permits to spare does. A withdrawn request is never granted.
 */
export class ModelDialGate implements DialGate {
  readonly requests: GateRequest[] = [];
  /** Permits granted so far. */
  granted = 0;

  constructor(
    private readonly mode: 'held' | 'open',
    private readonly statusNow: () => string,
  ) {}

  request(priority: number, grant: () => void): () => void {
    const request: GateRequest = { priority, status: this.statusNow(), waitingBefore: this.waiting().length, state: 'waiting', withdrawals: 0, withdrawnIn: undefined, grant };
    this.requests.push(request);
    if (this.mode === 'open') this.give(request);
    return () => {
      request.withdrawals++;
      request.withdrawnIn ??= this.statusNow();
      if (request.state === 'waiting') request.state = 'withdrawn';
    };
  }

  /** Requests waiting for a permit (neither granted nor withdrawn). */
  waiting(): GateRequest[] {
    return this.requests.filter((request) => request.state === 'waiting');
  }

  /** The model's `permit.granted`: grants the one request that waits. */
  grant(): void {
    const waiting = this.waiting();
    expect(waiting.length, 'permit.granted: requests waiting at the gate').toBe(1);
    this.give(waiting[0] as GateRequest);
  }

  private give(request: GateRequest): void {
    if (request.state !== 'waiting') throw new Error(`the gate must not grant a ${request.state} request`);
    request.state = 'granted';
    this.granted++;
    request.grant();
  }
}
