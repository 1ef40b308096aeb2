import type { SessionInfo } from '../../machines/connection.types.js';
import type { SocketchartError } from './errors.js';
import type { CloseRule } from './close-codes.js';

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
}

export interface EncodeOptions {
  channel?: string | undefined;
  event?: string | undefined;
  id?: string | undefined;
}

/**
 * Maps socketchart's engine onto a wire protocol: the handshake, the auth frame and its answer,
 * ping/pong, and frame routing. Implement it to drive another server.
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
   * Whether `send(data, { channel })` starts an operation on that channel (as a graphql-transport-ws
   * `subscribe` does): the connection then remembers the payload and sends it again on every connect
   * while the channel has subscribers.
   */
  readonly startsOperations?: boolean;
  /**
   * Classifies the protocol's own close codes: what the connection does and the error code it reports.
   * `undefined` leaves a code to `closeCodeTable`. The app always sees the code that was received
   * (`error.closeCode`); the rule only decides what the connection does about it.
   */
  closeRule?(code: number): CloseRule | undefined;
  /**
   * @deprecated Use `closeRule`. A close with `code` is classified as the code returned; the error still
   * reports the code received.
   */
  normalizeCloseCode?(code: number): number;
  /** Decodes one inbound frame into exactly one call on `sink`. */
  decode(frame: IncomingFrame, sink: FrameSink): void;
}
