import type { AnyMachineSnapshot } from 'xstate';
import type { ConnectionTag } from '../../machines/connection.types.js';
import { statusOf } from './status.js';
import type { ConnectionStatus } from './types.js';

/** What the machine's state allows the data plane, read from one snapshot (its status and tags). */
export interface LinkState {
  readonly status: ConnectionStatus;
  /** `send()` may write directly. */
  readonly writable: boolean;
  /** Queued messages wait for a rate limit. */
  readonly throttled: boolean;
  /** The link is up. */
  readonly connected: boolean;
  /** An auth frame waits for its answer. */
  readonly awaitingAuth: boolean;
  /** A heartbeat probe waits for its pong. */
  readonly probing: boolean;
  /** Closed or failed. */
  readonly settled: boolean;
}

type Tagged = Pick<AnyMachineSnapshot, 'value'> & { hasTag(tag: ConnectionTag): boolean };

const flags = ['writable', 'throttled', 'connected', 'awaitingAuth', 'probing', 'settled'] as const;
const known = new Map<string, LinkState>();

/** The link state of a snapshot (one shared frozen object per combination). */
export function linkStateOf(snapshot: Tagged): LinkState {
  const status = statusOf(snapshot);
  let key: string = status;
  for (const flag of flags) if (snapshot.hasTag(flag)) key += ` ${flag}`;
  let state = known.get(key);
  if (!state) {
    state = Object.freeze({
      status,
      writable: snapshot.hasTag('writable'),
      throttled: snapshot.hasTag('throttled'),
      connected: snapshot.hasTag('connected'),
      awaitingAuth: snapshot.hasTag('awaitingAuth'),
      probing: snapshot.hasTag('probing'),
      settled: snapshot.hasTag('settled'),
    });
    known.set(key, state);
  }
  return state;
}

/** Before the machine has run. */
export const IDLE: LinkState = /* @__PURE__ */ Object.freeze({
  status: 'idle',
  writable: false,
  throttled: false,
  connected: false,
  awaitingAuth: false,
  probing: false,
  settled: false,
});

/** After `dispose()`: closed for good. */
export const DISPOSED: LinkState = /* @__PURE__ */ Object.freeze({
  status: 'closed',
  writable: false,
  throttled: false,
  connected: false,
  awaitingAuth: false,
  probing: false,
  settled: true,
});
