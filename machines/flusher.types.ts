export interface FlusherInput {
  /** How long the flusher waits when the socket pushes back (`bufferedAmount` over its high-water mark). */
  readonly retryMs: number;
}

export interface FlusherContext {
  readonly retryMs: number;
  /** How long what is left waits for a rate limit. */
  waitMs: number;
}

export type FlusherEvent =
  /** The queue is empty. */
  | { type: 'flush.empty' }
  /** The socket pushes back: try again after `retryMs`. */
  | { type: 'flush.blocked' }
  /** What is left waits for a rate limit for `waitMs`. */
  | { type: 'flush.throttled'; waitMs: number };

/** How long what is left waits for a rate limit (0: the queue is empty). */
export interface FlusherOutput {
  readonly waitMs: number;
}
