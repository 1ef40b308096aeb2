import type { Clock } from '../environment/clock.js';

/** What a look at a socket's backlog finds: whether replays must wait for it, and the bytes it holds. */
export interface BacklogState {
  waiting: boolean;
  buffered: number;
}

/** How often replays waiting for a socket to take its backlog look again. */
const LOOK_MS = 10;

/**
 * The looks of the replays waiting on one socket's backlog (one timer, however many replays wait), and the
 * judge of a backlog that no longer moves: one that has not shrunk for `stallMs` calls `stalled`.
 */
export class BacklogWatch {
  private look: Promise<void> | undefined;
  private stuck: { since: number; buffered: number } | undefined;
  /** When the last look was: a replay asking longer after it than a look takes waits anew (none waited meanwhile). */
  private lookedAt = -Infinity;

  constructor(
    private readonly state: () => BacklogState,
    private readonly stallMs: number,
    private readonly stalled: () => void,
    /** Time that never goes back: a wall clock stepped forward does not stall a backlog at once, nor one stepped back hold off the verdict. */
    private readonly clock: Pick<Clock, 'now'>,
  ) {}

  /** Resolves at the next look. */
  next(): Promise<void> {
    if (!this.look && this.clock.now() - this.lookedAt > LOOK_MS) this.stuck = undefined;
    return (this.look ??= new Promise((resolve) =>
      setTimeout(() => {
        this.look = undefined;
        this.lookedAt = this.clock.now();
        this.judge(this.lookedAt);
        resolve();
      }, LOOK_MS),
    ));
  }

  private judge(now: number): void {
    const { waiting, buffered } = this.state();
    if (!waiting) this.stuck = undefined;
    else if (!this.stuck || buffered < this.stuck.buffered) this.stuck = { since: now, buffered };
    else if (now - this.stuck.since >= this.stallMs) this.stalled();
  }
}
