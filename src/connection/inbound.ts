import type { ConnectionEvent } from '../../machines/connection.types.js';
import type { FrameSink, IncomingFrame, InboundMessage, OutgoingFrame, SessionInfo } from '../protocol/adapter.js';
import { classifyErrorFrame } from '../protocol/close-codes.js';
import { ErrorCode, SocketchartError, releaseFrames } from '../protocol/errors.js';
import type { ConnectionMetrics } from '../metrics/connection-metrics.js';
import type { Emitter } from '../events/emitter.js';
import type { ConnectionEvents } from './events.js';
import type { LinkState } from './link-state.js';
import type { ResolvedOptions } from './options.js';
import type { Outbound } from './outbound.js';
import { frameBytes } from '../protocol/frame-bytes.js';
import { isSeq } from '../protocol/wire.js';
import type { Router } from './router.js';
import type { Operations } from '../protocol/operations.js';

/** What the inbound side needs of its connection. */
export interface InboundHost {
  readonly options: ResolvedOptions;
  readonly metrics: ConnectionMetrics;
  readonly events: Emitter<ConnectionEvents>;
  readonly link: LinkState;
  readonly outbound: Outbound;
  /** The channel router, when something listens. */
  readonly routes: Router | undefined;
  /** The live operations, for a protocol that runs them. */
  readonly operations: Operations | undefined;
  /** Id of the socket whose frames arrive now. */
  readonly socketId: number;
  toMachine(event: ConnectionEvent): void;
  write(frame: OutgoingFrame | undefined): boolean;
  /** The server's control rate limit refused a subscribe of `channel`: asked again after `ms`. */
  subscribeLater(channel: string, ms: number | undefined): void;
  /** A pong arrived (`ts`: the ping time it echoes, when it carries one). */
  pong(ts: number | undefined): void;
  reportError(error: SocketchartError): void;
  redactError(error: SocketchartError): SocketchartError;
  /** An error frame that a call of the connection's own claims (a presence request): it goes no further. */
  claimed(error: SocketchartError): boolean;
}

/**
 * The inbound data plane: every frame is counted and decoded by the protocol adapter into one call here.
 * Application data goes straight to the router; control frames become machine events (auth, pong) or
 * data-plane updates (acks, rate limits, resume points). The first frame of a heartbeat probe other than a
 * pong tells the machine the link is alive (a pong speaks for itself: a stale one proves nothing); later
 * frames cost no event.
 */
export class Inbound implements FrameSink {
  /** The current probe has heard from the server. */
  private heard = false;
  /** The frame being decoded is a pong: it answers its own ping (a stale one answers none), it is not news of the link. */
  private pongFrame = false;
  /** Bytes of the frame being decoded, not yet counted: counted with its first data message (a control frame is not one). */
  private uncounted = 0;

  constructor(private readonly host: InboundHost) {}

  /** A heartbeat ping went out: the next frame is news again. */
  pinged(): void {
    this.heard = false;
  }

  /** One inbound frame (`size`: its bytes when the socket knows them). */
  receive(data: string | ArrayBuffer, size = frameBytes(data, this.host.options.maxInboundBytes)): void {
    const { host } = this;
    const limit = host.options.maxInboundBytes;
    if (size > limit) {
      host.reportError(
        new SocketchartError(ErrorCode.MESSAGE_TOO_LARGE, {
          message: `Inbound frame of ${size} bytes exceeds maxInboundBytes (${limit})`,
          recovery: 'none',
          details: { size, limit },
        }),
      );
      return;
    }
    this.uncounted = size;
    if (!host.link.probing || this.heard) {
      this.decode(data);
      return;
    }
    this.pongFrame = false;
    try {
      this.decode(data);
    } finally {
      if (!this.pongFrame && host.link.probing && !this.heard) {
        this.heard = true;
        host.toMachine({ type: 'heartbeat.traffic' });
      }
    }
  }

  /** The adapter decodes one frame; one it cannot read is reported, never thrown into the socket's callback. */
  private decode(data: IncomingFrame): void {
    try {
      this.host.options.protocol.decode(data, this);
    } catch (cause) {
      this.host.reportError(new SocketchartError(ErrorCode.INVALID_MESSAGE_FORMAT, { message: 'The protocol adapter could not decode an inbound frame', recovery: 'none', cause }));
    }
  }

  data(message: InboundMessage): void {
    const { host } = this;
    host.metrics.messagesIn++;
    host.metrics.bytesIn += this.uncounted;
    this.uncounted = 0;
    if (host.operations !== undefined && message.ch !== undefined) host.operations.next(message.ch, message.data);
    if (host.routes?.deliver(message) === false) host.metrics.duplicates++;
  }

  /**
   * An operation is over: its sink is told (its promise rejects, its iterator throws). An error of an
   * operation nobody waits on (one `send()` started for channel listeners) reaches `on('error')` instead;
   * one for an operation that is not live (stopped by the app meanwhile) is ignored.
   */
  end(id: string, error?: SocketchartError): void {
    const { host } = this;
    const heard = host.operations?.hears(id) === true;
    host.operations?.end(id, error === undefined ? undefined : host.redactError(error.with({ recovery: 'fail' })));
    if (error === undefined) {
      if (host.events.has('control')) host.events.emit('control', { type: 'complete', frame: { type: 'complete', id } });
    } else if (!heard) host.reportError(error.with({ recovery: 'none' }));
  }

  authOk(session: SessionInfo): void {
    this.host.toMachine({ type: 'auth.ok', socket: this.host.socketId, session, at: this.host.options.clock.now() });
  }

  pong(ts: number | undefined): void {
    this.pongFrame = true;
    this.host.pong(ts);
  }

  ping(ts: number | undefined): void {
    this.host.write(this.host.options.protocol.pongFrame(ts));
  }

  serverError(frame: SocketchartError): void {
    const { host } = this;
    const error = host.redactError(frame);
    if (host.claimed(error)) return;
    const followsServer = error.code === ErrorCode.RATE_LIMIT_EXCEEDED && host.options.rateLimit.followServer;
    if (followsServer && host.outbound.holdForRateLimit(error)) return;
    if (host.outbound.refused(error)) return;
    const details = error.details as { ch?: unknown; action?: unknown; scope?: unknown } | undefined;
    if (details?.action === 'subscribe') {
      if (error.code === ErrorCode.AUTHORIZATION_FAILED) this.refuse(details.ch, error);
      else if (details.scope === 'control' || error.code === ErrorCode.SERVER_ERROR) host.subscribeLater(details.ch as string, error.retryAfterMs);
    }
    host.toMachine({ type: 'server.error', socket: host.socketId, action: classifyErrorFrame(error), error: releaseFrames(error) });
  }

  control(type: string, frame: Readonly<Record<string, unknown>>): void {
    const { host } = this;
    if (type === 'rate_limit_status' && host.options.rateLimit.followServer) host.outbound.adoptServerLimit(frame);
    if (type === 'subscribed' && isSeq(frame.seq)) host.routes?.answered(frame.ch as string, frame.seq);
    if (type === 'unsubscribed') {
      if (frame.reason === 'forbidden') this.refuse(frame.ch, new SocketchartError(ErrorCode.AUTHORIZATION_FAILED, { message: 'The server ended a subscription (forbidden)', details: { ch: frame.ch, action: 'subscribe' } }));
      else host.routes?.answered(frame.ch as string);
    }
    if (type === 'gap' && typeof frame.ch === 'string' && isSeq(frame.from) && isSeq(frame.to)) {
      if (host.routes?.passGap(frame.ch, frame.to)) host.events.emit('gap', { ch: frame.ch, from: frame.from, to: frame.to });
    }
    if (type === 'ack' && typeof frame.id === 'string') {
      host.outbound.acked({
        id: frame.id,
        seq: isSeq(frame.seq) ? frame.seq : undefined,
        duplicate: frame.duplicate === true || undefined,
        data: frame.data,
      });
    }
    if (host.events.has('control')) host.events.emit('control', { type, frame });
  }

  /** The server refused channel `ch` (a subscribe, or a subscription it ended): dropped, and told as `refused`. */
  private refuse(ch: unknown, error: SocketchartError): void {
    if (this.host.routes?.refuse(ch as string)) this.host.events.emit('refused', { ch: ch as string, error });
  }

  invalid(error: SocketchartError): void {
    this.host.reportError(error);
  }
}
