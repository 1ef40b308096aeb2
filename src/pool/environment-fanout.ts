import type { EnvironmentEvent, EnvironmentSource } from '../environment/environment.js';

/**
 * One subscription to the real environment for a whole pool, forwarded to every connection: a pool of
 * 10,000 connections registers one `online` listener, not 10,000. Each event reaches them in rank order
 * (the pool's start order): the first dial permits after `online` go to the first in priority.
 */
export class EnvironmentFanout implements EnvironmentSource {
  /** Each listener's rank. */
  private readonly listeners = new Map<(event: EnvironmentEvent) => void, number>();
  private release: (() => void) | undefined;
  /** The pool runs (between `starting` and `stopped`). */
  private wanted = false;

  constructor(private readonly source: EnvironmentSource) {}

  isOnline(): boolean {
    return this.source.isOnline?.() ?? true;
  }

  isHidden(): boolean {
    return this.source.isHidden?.() ?? false;
  }

  /** Forwards the environment to `listener`, after the listeners of a lower `rank`: a connection the app starts while the pool is stopped hears it too. */
  subscribe(listener: (event: EnvironmentEvent) => void, rank = 0): () => void {
    this.listeners.set(listener, rank);
    this.listen();
    return () => {
      this.listeners.delete(listener);
      if (!this.wanted && this.listeners.size === 0) this.close();
    };
  }

  /** The fan-out as the environment of the connection `rank` in the pool's start order. */
  ranked(rank: number): EnvironmentSource {
    return { subscribe: (listener) => this.subscribe(listener, rank), isOnline: () => this.isOnline(), isHidden: () => this.isHidden() };
  }

  /** The pool runs: the real environment is listened to until `unwatch()` (idempotent). */
  watch(): void {
    this.wanted = true;
    this.listen();
  }

  /** The pool stopped: the real environment is let go of once no connection listens any more. */
  unwatch(): void {
    this.wanted = false;
    if (this.listeners.size === 0) this.close();
  }

  /** Lets go of the real environment, whoever listens. */
  close(): void {
    this.wanted = false;
    this.release?.();
    this.release = undefined;
  }

  private listen(): void {
    this.release ??= this.source.subscribe((event) => {
      // A connection that stops listening during the fan-out (disposed by an earlier one's listener) hears no more.
      const ranked = [...this.listeners].sort((a, b) => a[1] - b[1]);
      for (const [listener] of ranked) if (this.listeners.has(listener)) listener(event);
    });
  }

  /** Connections currently listening through the pool. */
  get size(): number {
    return this.listeners.size;
  }
}
