import { InvalidOptionError } from '../protocol/errors.js';

/**
 * The part of the Web Locks API the stores use: `navigator.locks` (a `LockManager`) is one. Declared here,
 * so that the package's types need no DOM lib.
 */
export interface LockManagerLike {
  request<T>(name: string, callback: (lock: unknown) => Promise<T> | T): Promise<T>;
  query(): Promise<{ held?: ReadonlyArray<{ name?: string }>; pending?: ReadonlyArray<{ name?: string }> }>;
}

/** `given`, else `navigator.locks` when the environment has one, else undefined (`false`: none). */
export function resolveLocks(given: unknown): LockManagerLike | undefined {
  if (given === false) return undefined;
  if (given === undefined) {
    const found = (globalThis as { navigator?: { locks?: unknown } }).navigator?.locks;
    return isLockManager(found) ? found : undefined;
  }
  if (!isLockManager(given)) throw new InvalidOptionError('locks', 'a LockManager (request, query), or false', given);
  return given;
}

function isLockManager(value: unknown): value is LockManagerLike {
  if (typeof value !== 'object' || value === null) return false;
  const locks = value as Record<string, unknown>;
  return typeof locks.request === 'function' && typeof locks.query === 'function';
}

/**
 * One store's claim on the messages it writes, among the stores (tabs, windows, workers) sharing a storage
 * under one prefix: it holds the Web Lock `${prefix}owner:${id}` until it is closed or its page goes away, so
 * that another store adopts its messages only once it is gone. Without Web Locks every other owner counts
 * as gone.
 */
export class Owner {
  readonly id = Math.random().toString(36).slice(2, 12);
  readonly #locks: LockManagerLike | undefined;
  readonly #prefix: string;
  /** Ends the hold of the owner lock; until it is granted, tells it to end at once. */
  #release: (() => void) | undefined;
  #released = false;

  constructor(locks: LockManagerLike | undefined, prefix: string) {
    this.#prefix = prefix;
    try {
      locks
        ?.request(this.#lockOf(this.id), () => (this.#released ? undefined : new Promise<void>((release) => (this.#release = release))))
        .catch(() => undefined);
      this.#locks = locks;
    } catch {
      this.#locks = undefined;
    }
  }

  /**
   * Runs `adopt`, one store under the prefix at a time, with `gone(owner)`: whether messages written by
   * `owner` (undefined: an earlier version's) belong to no live store, and may be taken over.
   */
  async adopting<T>(adopt: (gone: (owner: string | undefined) => boolean) => T | Promise<T>): Promise<T> {
    const locks = this.#locks;
    if (!locks) return adopt((owner) => owner !== this.id);
    return locks.request(`${this.#prefix}adopt`, async () => {
      const { held = [], pending = [] } = await locks.query();
      const live = new Set([...held, ...pending].map((lock) => lock.name));
      return adopt((owner) => owner === undefined || (owner !== this.id && !live.has(this.#lockOf(owner))));
    });
  }

  /** Lets other stores adopt what this one leaves. */
  release(): void {
    this.#released = true;
    this.#release?.();
  }

  #lockOf(owner: string): string {
    return `${this.#prefix}owner:${owner}`;
  }
}
