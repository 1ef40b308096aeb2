import { assign, sendParent } from 'xstate';
import type { ConnectionRuntime } from '../connection/runtime.js';

export interface HeartbeatContext {
  readonly rt: ConnectionRuntime;
  /** Clock time the ping was sent. */
  sentAt: number;
  /** Inbound message count when the ping was sent: any traffic since proves the link alive. */
  inboundAtPing: number;
}

export type HeartbeatEvent = { type: 'heartbeat.pong'; ts?: number };

type Args = { context: HeartbeatContext; event: HeartbeatEvent };

const timeoutOf = (rt: ConnectionRuntime) => (rt.options.heartbeat ? rt.options.heartbeat.timeoutMs : 5_000);

/** A timer that fired this much later than asked was throttled or frozen; its verdict is not trusted. */
const LATE_FACTOR = 2;

export const heartbeatActions = {
  sendPing: assign<HeartbeatContext, HeartbeatEvent, undefined, HeartbeatEvent, never>(({ context: { rt } }) => {
    const now = rt.options.clock.now();
    rt.write(rt.options.protocol.pingFrame(now));
    return { sentAt: now, inboundAtPing: rt.metrics.messagesIn };
  }),
  recordRtt: ({ context }: Args) => {
    context.rt.metrics.rtt.record(context.rt.options.clock.now() - context.sentAt);
  },
  reportTimeout: sendParent<HeartbeatContext, HeartbeatEvent, undefined, { type: 'heartbeat.timeout' }, HeartbeatEvent>({ type: 'heartbeat.timeout' }),
};

export const heartbeatGuards = {
  /** A pong that echoes an older ping's time belongs to an earlier probe. */
  answersThisPing: ({ context, event }: Args) => event.ts === undefined || event.ts >= context.sentAt,
  heardSincePing: ({ context }: Args) => context.rt.metrics.messagesIn !== context.inboundAtPing,
  timerWasLate: ({ context }: Args) => context.rt.options.clock.now() - context.sentAt > timeoutOf(context.rt) * LATE_FACTOR,
};

export const heartbeatDelays = {
  pongTimeout: ({ context }: Args) => timeoutOf(context.rt),
};

export function initialHeartbeatContext(rt: ConnectionRuntime): HeartbeatContext {
  return { rt, sentAt: 0, inboundAtPing: 0 };
}
