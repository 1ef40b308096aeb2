import type { EnvironmentEvent, EnvironmentSource } from '../environment/environment.js';

/**
 * One subscription to the real environment for a whole pool, forwarded to every connection: a pool of
 * 10,000 connections registers one `online` listener, not 10,000.
 */
export class EnvironmentFanout implements EnvironmentSource {
  private readonly listeners = new Set<(event: EnvironmentEvent) => void>();
  private release: (() => void) | undefined;

  constructor(private readonly source: EnvironmentSource) {}

  isOnline(): boolean {
    return this.source.isOnline?.() ?? true;
  }

  isHidden(): boolean {
    return this.source.isHidden?.() ?? false;
  }

  subscribe(listener: (event: EnvironmentEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts listening to the real environment (idempotent). */
  watch(): void {
    this.release ??= this.source.subscribe((event) => {
      for (const listener of [...this.listeners]) listener(event);
    });
  }

  unwatch(): void {
    this.release?.();
    this.release = undefined;
  }

  /** Connections currently listening through the pool. */
  get size(): number {
    return this.listeners.size;
  }
}
