export interface HeartbeatInput {
  /** How long the probe waits for its pong. */
  readonly timeoutMs: number;
}

export interface HeartbeatContext {
  readonly timeoutMs: number;
  /** Traffic arrived since the ping: proof enough that the link is alive. */
  heard: boolean;
}

export type HeartbeatEvent =
  /** A pong; `stale` when it answers an earlier ping. */
  | { type: 'heartbeat.pong'; stale?: boolean }
  /** The first inbound frame since the ping. */
  | { type: 'heartbeat.traffic' }
  /** The pong deadline passed; `elapsedMs` is the wall-clock time since it was set (a throttled timer fires late). */
  | { type: 'heartbeat.deadline'; elapsedMs: number };

export interface DeadlineInput {
  readonly ms: number;
}
