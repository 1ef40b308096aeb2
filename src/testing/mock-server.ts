import type { OutgoingFrame } from '../protocol/adapter.js';
import type { WebSocketConstructor, WebSocketLike } from '../transport/websocket-like.js';

/** A frame the client sent, decoded when it is JSON. */
export interface SentFrame {
  raw: OutgoingFrame;
  json: Record<string, unknown> | undefined;
}

export interface MockServerOptions {
  /** Open sockets as soon as they are dialed (otherwise call `socket.accept()`). @default true */
  autoOpen?: boolean;
  /** Answer `auth` frames with `auth_ok` (default protocol). @default true */
  autoAuth?: boolean | ((token: string) => boolean);
  /** Answer `ping` frames with `pong`. @default true */
  autoPong?: boolean;
  /** Session expiry put in `auth_ok`, as epoch ms computed from the time of auth. @default undefined */
  sessionTtlMs?: number;
  /** Clock used for `sessionTtlMs`. @default Date.now */
  now?: () => number;
}

/** The server end of one mock socket. */
export class MockSocket implements WebSocketLike {
  readyState = 0;
  bufferedAmount = 0;
  protocol = '';
  binaryType = 'blob';
  onopen: WebSocketLike['onopen'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  /** Frames the client wrote, in order. */
  readonly sent: SentFrame[] = [];
  /** Close code and reason the client asked for, if it closed. */
  closedByClient: { code: number | undefined; reason: string | undefined } | undefined;

  constructor(
    readonly url: string,
    readonly protocols: string[],
    private readonly server: MockServer,
  ) {}

  send(data: OutgoingFrame): void {
    if (this.readyState !== 1) throw new Error('WebSocket is not open');
    let json: Record<string, unknown> | undefined;
    if (typeof data === 'string') {
      try {
        const parsed: unknown = JSON.parse(data);
        if (typeof parsed === 'object' && parsed !== null) json = parsed as Record<string, unknown>;
      } catch {
        json = undefined;
      }
    }
    const frame = { raw: data, json };
    this.sent.push(frame);
    this.server.handle(this, frame);
  }

  /** Closes the socket; before the handshake completes, the connection fails as in a browser: an error, then 1006. */
  close(code?: number, reason?: string): void {
    if (this.readyState >= 2) return;
    this.closedByClient = { code, reason };
    const connecting = this.readyState === 0;
    this.readyState = 2;
    if (!connecting) {
      this.server.onClientClose(this, code ?? 1005, reason ?? '');
      return;
    }
    queueMicrotask(() => {
      this.onerror?.({ type: 'error' });
      this.finish(1006, '', false);
    });
  }

  // Server-side controls

  /** Completes the handshake (with the subprotocol the server picked). */
  accept(protocol = this.protocols[0] ?? ''): void {
    if (this.readyState !== 0) return;
    this.protocol = protocol;
    this.readyState = 1;
    this.onopen?.({ type: 'open' });
  }

  /** Delivers a frame to the client (objects are JSON-encoded). */
  push(frame: unknown): void {
    if (this.readyState !== 1) return;
    const data =
      typeof frame === 'string' || frame instanceof ArrayBuffer
        ? frame
        : ArrayBuffer.isView(frame)
          ? frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength)
          : JSON.stringify(frame);
    this.onmessage?.({ data });
  }

  /** The server closes the socket with a close frame. */
  closeFromServer(code: number, reason = ''): void {
    this.finish(code, reason, true);
  }

  /** The connection dies without a close frame (1006), as a reset or a failed dial does. */
  drop(): void {
    if (this.readyState === 0) this.onerror?.({ type: 'error' });
    this.finish(1006, '', false);
  }

  /** Frames the client sent with a given `type`. */
  sentOfType(type: string): Array<Record<string, unknown>> {
    return this.sent.flatMap((frame) => (frame.json?.type === type ? [frame.json] : []));
  }

  get isLive(): boolean {
    return this.readyState === 0 || this.readyState === 1;
  }

  finish(code: number, reason: string, wasClean: boolean): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason, wasClean });
  }
}

/**
 * A deterministic in-memory WebSocket server: no network, no timers. Hand `server.WebSocket` to a
 * connection; every step (open, frames, closes) happens when the test says so.
 */
export class MockServer {
  readonly sockets: MockSocket[] = [];
  readonly options: Required<Omit<MockServerOptions, 'sessionTtlMs'>> & { sessionTtlMs: number | undefined };
  /** Custom frame handler run after the automatic answers. */
  onFrame: ((socket: MockSocket, frame: SentFrame) => void) | undefined;
  /** When set, dials fail at once (1006) as if nothing listened. */
  refusing = false;
  /** The constructor to pass as the `WebSocket` option. */
  readonly WebSocket: WebSocketConstructor;

  constructor(options: MockServerOptions = {}) {
    this.options = {
      autoOpen: options.autoOpen ?? true,
      autoAuth: options.autoAuth ?? true,
      autoPong: options.autoPong ?? true,
      sessionTtlMs: options.sessionTtlMs,
      now: options.now ?? Date.now,
    };
    const server = this;
    this.WebSocket = class {
      constructor(url: string, protocols?: string | string[]) {
        const list = protocols === undefined ? [] : Array.isArray(protocols) ? protocols : [protocols];
        const socket = new MockSocket(url, list, server);
        server.sockets.push(socket);
        if (server.refusing) queueMicrotask(() => socket.drop());
        else if (server.options.autoOpen) queueMicrotask(() => socket.accept());
        return socket;
      }
    } as unknown as WebSocketConstructor;
  }

  /** The most recent socket. */
  get last(): MockSocket | undefined {
    return this.sockets[this.sockets.length - 1];
  }

  /** Sockets opening or open (at most one per connection, by invariant). */
  get live(): MockSocket[] {
    return this.sockets.filter((socket) => socket.isLive);
  }

  handle(socket: MockSocket, frame: SentFrame): void {
    const json = frame.json;
    const { autoAuth, autoPong, sessionTtlMs, now } = this.options;
    if (json?.type === 'auth' && autoAuth !== false) {
      const token = String(json.token);
      const accepted = typeof autoAuth === 'function' ? autoAuth(token) : true;
      if (accepted) {
        socket.push({ type: 'auth_ok', userId: 'user-1', sessionId: `s${this.sockets.length}`, ...(sessionTtlMs ? { expiresAt: now() + sessionTtlMs } : {}) });
      } else {
        socket.push({ type: 'error', code: 'AUTHENTICATION_FAILED', message: 'invalid token' });
        socket.closeFromServer(4001, 'unauthorized');
      }
    }
    if (json?.type === 'ping' && autoPong) socket.push({ type: 'pong', ts: json.ts });
    this.onFrame?.(socket, frame);
  }

  onClientClose(socket: MockSocket, code: number, reason: string): void {
    queueMicrotask(() => socket.finish(code, reason, true));
  }

  /** Drops every live socket (a crash or a network cut). */
  dropAll(): void {
    for (const socket of this.live) socket.drop();
  }

  /** Closes every open socket with a close frame. */
  closeAll(code: number, reason = ''): void {
    for (const socket of this.live) socket.closeFromServer(code, reason);
  }
}

export function createMockServer(options?: MockServerOptions): MockServer {
  return new MockServer(options);
}
