import type { SessionInfo } from '../../machines/connection.types.js';
import type { SocketchartError } from './errors.js';
import type { CloseRule } from './close-codes.js';

/** What a presence frame asks: join the channel's members, leave them, or only list them. */
export type PresenceAction = 'join' | 'leave' | 'list';

/** Anything a WebSocket can send. */
export type OutgoingFrame = string | ArrayBufferLike | ArrayBufferView;
/** Anything a WebSocket can deliver (after `binaryType = 'arraybuffer'`; `ws` delivers Buffers). */
export type IncomingFrame = string | ArrayBuffer | ArrayBufferView;

/** How the token reaches the server. */
export type AuthMode = 'message' | 'subprotocol' | 'query';

/** An inbound application message as delivered to subscribers. */
export interface InboundMessage<T = unknown> {
  /** Channel the message belongs to (`undefined` for frames outside any channel, such as raw binary). */
  readonly ch?: string | undefined;
  /** Per-channel sequence number, when the server numbers messages. */
  readonly seq?: number | undefined;
  /** Publisher-side id, when the message carries one. */
  readonly id?: string | undefined;
  /** Application event name, when the message carries one. */
  readonly event?: string | undefined;
  /** The publisher's user id, when the server names it (absent for the server's own publishes). */
  readonly from?: string | undefined;
  readonly data: T;
}

export type { SessionInfo };

/**
 * Where a decoded frame goes. The adapter calls exactly one method per frame and allocates nothing
 * beyond what parsing needs: data frames reach `data` without any wrapper object.
 */
export interface FrameSink {
  data(message: InboundMessage): void;
  authOk(session: SessionInfo): void;
  pong(ts: number | undefined): void;
  ping(ts: number | undefined): void;
  /** A server error frame (with `error.messageId` when it concerns one message). */
  serverError(error: SocketchartError): void;
  /** Control frames the engine understands but the lifecycle does not depend on (ack, subscribed, gap, presence, rate_limit_status, …). */
  control(type: string, frame: Readonly<Record<string, unknown>>): void;
  /** A frame that could not be understood: malformed, unknown type or too large. */
  invalid(error: SocketchartError): void;
  /**
   * Operation `id` is over (protocols with `operations`): the server completed it, or failed it with
   * `error`. Its results arrive before as `data({ ch: id, data })`. The connection's sink always has it.
   */
  end?(id: string, error?: SocketchartError): void;
}

/**
 * How a protocol runs operations (graphql-transport-ws's `subscribe` / `next` / `error` / `complete`): the
 * frame that starts one and the frame that stops it. The connection keeps the live ones, writes each once
 * per socket and starts it again after a reconnect while it is live.
 */
export interface OperationCodec {
  /** The frame that starts operation `id`; throws a SocketchartError (INVALID_MESSAGE_FORMAT) for a payload the protocol refuses. */
  start(id: string, payload: unknown): OutgoingFrame;
  /** The frame that stops operation `id` from the client side; `undefined` when the protocol has none. */
  stop(id: string): OutgoingFrame | undefined;
}

export interface EncodeOptions {
  channel?: string | undefined;
  event?: string | undefined;
  id?: string | undefined;
}

/**
 * Maps socketchart's engine onto a wire protocol: the handshake, the auth frame and its answer,
 * ping/pong, and frame routing. Implement it to drive another server. A frame builder that throws while
 * the connection runs (the auth, refresh, ping or resubscribe frame) sends nothing, as `undefined` would,
 * and its exception is rethrown on a later turn, as an app callback's is: the connection goes on.
 */
export interface ProtocolAdapter {
  readonly name: string;
  /** Subprotocols offered at the handshake; `token` is set in `subprotocol` auth mode. */
  subprotocols(auth: { mode: AuthMode; token: string | undefined }): string[] | undefined;
  /** The frame sent when the socket opens (the token in `message` mode); `undefined` sends nothing. */
  authFrame(auth: { mode: AuthMode; token: string | undefined }): OutgoingFrame | undefined;
  /** Whether the connection waits for an answer (`sink.authOk`) before it counts as connected. */
  awaitsAuthAnswer(auth: { mode: AuthMode; token: string | undefined }): boolean;
  /** An in-band re-authentication frame carrying a fresh token; `undefined` when the protocol has none. */
  refreshFrame(token: string): OutgoingFrame | undefined;
  /** An application-level ping; `undefined` disables the heartbeat for this protocol. */
  pingFrame(ts: number): OutgoingFrame | undefined;
  /** The answer to a server ping. */
  pongFrame(ts: number | undefined): OutgoingFrame | undefined;
  /** Encodes an application message. */
  encode(data: unknown, options: EncodeOptions): OutgoingFrame;
  /** Frame that (re)subscribes to a channel, resuming after `since` when given. */
  subscribeFrame(channel: string, since: number | undefined): OutgoingFrame | undefined;
  unsubscribeFrame(channel: string): OutgoingFrame | undefined;
  /**
   * The protocol's operations, when it has them: `connection.operation()`, `iterate()` and `execute()` run
   * them, and `send(payload, { channel: id })` starts operation `id` for the channel's listeners.
   */
  readonly operations?: OperationCodec;
  /**
   * Whether the server acknowledges messages (an `ack` frame per id): `send(…, { ack: true })` and
   * `request()` need it and reject at once without it.
   * @default true, or false for a protocol with `operations`
   */
  readonly acknowledges?: boolean;
  /**
   * @deprecated Use `operations`. `send(data, { channel: id })` starts operation `id` with the frame
   * `encode(data, { channel: id })`; listeners leaving end it with `unsubscribeFrame(id)`.
   */
  readonly startsOperations?: boolean;
  /**
   * Classifies the protocol's own close codes: what the connection does and the error code it reports.
   * `undefined` leaves a code to `closeCodeTable`, and so does an exception (rethrown on a later turn, as
   * an app callback's is). The app always sees the code that was received
   * (`error.closeCode`); the rule only decides what the connection does about it.
   */
  closeRule?(code: number): CloseRule | undefined;
  /**
   * @deprecated Use `closeRule`. A close with `code` is classified as the code returned; the error still
   * reports the code received.
   */
  normalizeCloseCode?(code: number): number;
  /**
   * The frame that joins, leaves or lists the members present on a channel (answered by a
   * `presence_state` control frame); absent: the protocol has no presence and `connection.presence` refuses.
   */
  presenceFrame?(channel: string, action: PresenceAction, meta?: Record<string, unknown>): OutgoingFrame;
  /** The frame that says the user is typing on a channel, or stopped; absent: the protocol has no typing indicators. */
  typingFrame?(channel: string, typing: boolean): OutgoingFrame;
  /** Decodes one inbound frame into exactly one call on `sink`. */
  decode(frame: IncomingFrame, sink: FrameSink): void;
}
