import type { OutgoingFrame } from '../protocol/adapter.js';
import { exactBytes, utf8Length } from '../protocol/frame-bytes.js';
import { TOKEN_SUBPROTOCOL_PREFIX } from '../protocol/wire.js';
import type { WebSocketConstructor, WebSocketLike } from '../transport/websocket-like.js';

/** A frame the client sent, decoded when it is JSON. */
export interface SentFrame {
  raw: OutgoingFrame;
  json: Record<string, unknown> | undefined;
}

export interface MockServerOptions {
  /** Open sockets as soon as they are dialed (otherwise call `socket.accept()`). @default true */
  autoOpen?: boolean;
  /**
   * Authenticate as the reference server does (default protocol): a token the handshake carries (a
   * `socketchart.token.` subprotocol, else the URL's `queryParam`) is answered once the socket opens, an `auth`
   * frame when it comes; `auth_ok` for a token accepted (by this function, when one is given), otherwise the
   * error AUTHENTICATION_FAILED, then the close 4001, or the error alone for a refused refresh on a socket
   * already authenticated (the link stays open).
   * @default true
   */
  autoAuth?: boolean | ((token: string) => boolean);
  /** Query parameter carrying the token in `query` mode, as the reference server's `auth.queryParam`. @default 'token' */
  queryParam?: string;
  /** Answer `ping` frames with `pong`. @default true */
  autoPong?: boolean;
  /** Session expiry put in `auth_ok`, as epoch ms computed from the time of auth. @default undefined */
  sessionTtlMs?: number;
  /** Clock used for `sessionTtlMs`. @default Date.now */
  now?: () => number;
}

/** What the server does to the client: a frame (its bytes still being read when it was a Blob), or the end of the connection. */
type Delivery = { data: string | ArrayBuffer | Promise<ArrayBuffer> } | { code: number; reason: string; wasClean: boolean; failed?: true };

/** A code a close frame can carry, as `ws` (the reference server's sockets) and browsers check it. */
const isWireCloseCode = (code: number): boolean => (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);

/** The largest token the reference server reads in an `auth` frame. */
const MAX_TOKEN_LENGTH = 16_384;
/** The reason the reference server closes with (4001) when a socket sends anything but a valid `auth` or `ping` first. */
const AUTHENTICATE_FIRST = 'authenticate first: the first frame must be auth {token}';

/** A number as WebIDL reads a `[Clamp] unsigned short`, as a browser's `close()` reads its code: clamped, then rounded half to even. */
const clampToUnsignedShort = (value: number): number => {
  const x = Number(value);
  if (Number.isNaN(x)) return 0;
  const clamped = Math.min(65_535, Math.max(0, x));
  const floor = Math.floor(clamped);
  const rest = clamped - floor;
  return rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
};

const isBlob = (value: unknown): value is Blob => typeof Blob === 'function' && value instanceof Blob;

/** A subprotocol name as a browser accepts it: one or more token characters (printable ASCII but separators). */
const isSubprotocol = (name: string): boolean => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name);

/** Throws the SyntaxError a browser's constructor throws for an invalid or duplicated subprotocol. */
function checkSubprotocols(protocols: readonly string[]): void {
  protocols.forEach((protocol, i) => {
    // not named: it may carry a token
    if (!isSubprotocol(protocol)) throw new DOMException(`Subprotocol ${i + 1} is not a valid subprotocol name.`, 'SyntaxError');
    if (protocols.indexOf(protocol) !== i) throw new DOMException(`Subprotocol ${i + 1} is offered twice.`, 'SyntaxError');
  });
}

/**
 * The server end of one mock socket. What the server does reaches the client in the order it was done, and
 * never from inside the client's own `send()`: a frame pushed, or a close, while the client is in `send()`
 * (the automatic answers, what `onFrame` does) or while an earlier one is still queued (a Blob being read)
 * waits its turn; `drop()` does not wait.
 */
export class MockSocket implements WebSocketLike {
  readyState = 0;
  bufferedAmount = 0;
  protocol = '';
  onopen: WebSocketLike['onopen'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  /** Frames the client wrote, in order. */
  readonly sent: SentFrame[] = [];
  /** Close code (as its close frame carries it) and reason the client asked for, if it closed. */
  closedByClient: { code: number | undefined; reason: string | undefined } | undefined;
  /** The session named in this socket's `auth_ok` answers. */
  readonly sessionId: string;
  /** The automatic answers accepted a token on this socket: a refused one is then a refused refresh. */
  authenticated = false;
  /** Deliveries waiting their turn. */
  private readonly queue: Delivery[] = [];
  private flushing = false;
  /** The client is inside `send()`. */
  private sending = false;
  private opened = false;
  private binary: 'blob' | 'arraybuffer' = 'blob';

  constructor(
    readonly url: string,
    readonly protocols: string[],
    private readonly server: MockServer,
  ) {
    this.sessionId = `s${server.sockets.length + 1}`;
  }

  /** 'blob' or 'arraybuffer'; any other value is ignored, as a browser does. */
  get binaryType(): string {
    return this.binary;
  }

  set binaryType(type: string) {
    if (type === 'blob' || type === 'arraybuffer') this.binary = type;
  }

  /** Throws while CONNECTING, as a browser does; once closing or closed, the data is discarded (yet counted in `bufferedAmount`). */
  send(data: OutgoingFrame): void {
    if (this.readyState === 0) throw new DOMException('WebSocket is still in CONNECTING state', 'InvalidStateError');
    if (this.readyState !== 1) {
      this.bufferedAmount += exactBytes(data);
      return;
    }
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
    this.sending = true;
    try {
      this.server.handle(this, frame);
    } finally {
      this.sending = false;
    }
  }

  /**
   * Closes the socket; before the handshake completes, the connection fails as in a browser: an error, then 1006.
   * Throws as a browser does: an InvalidAccessError for a code neither 1000 nor 3000–4999, a SyntaxError for a
   * reason of more than 123 UTF-8 bytes.
   */
  close(code?: number, reason?: string): void {
    // a reason travels only after a code: without one, a browser sends 1000 with it
    const sent = code === undefined ? (reason === undefined || String(reason) === '' ? undefined : 1000) : clampToUnsignedShort(code);
    if (sent !== undefined && sent !== 1000 && (sent < 3000 || sent > 4999)) {
      throw new DOMException(`The close code must be either 1000, or between 3000 and 4999. ${code} is neither.`, 'InvalidAccessError');
    }
    if (reason !== undefined && utf8Length(String(reason)) > 123) throw new DOMException('The close reason must not be greater than 123 UTF-8 bytes.', 'SyntaxError');
    if (this.readyState >= 2) return;
    this.closedByClient = { code: sent, reason };
    const connecting = this.readyState === 0;
    this.readyState = 2;
    if (!connecting) {
      this.server.onClientClose(this, sent ?? 1005, reason ?? '');
      return;
    }
    queueMicrotask(() => this.fail());
  }

  // Server-side controls

  /** Completes the handshake (with the subprotocol the server picked); then `autoAuth` answers a token it carried. */
  accept(protocol = this.protocols[0] ?? ''): void {
    if (this.readyState !== 0) return;
    this.protocol = protocol;
    this.readyState = 1;
    this.opened = true;
    this.onopen?.({ type: 'open' });
    this.server.handleOpen(this);
  }

  /**
   * Delivers a frame to the client: strings and ArrayBuffers as they are, a typed array, a Buffer or a Blob as its
   * bytes, anything else as JSON. Binary data arrives as the client's `binaryType` asks: a Blob (the default) or an
   * ArrayBuffer.
   */
  push(frame: unknown): void {
    if (this.readyState !== 1) return;
    const data =
      typeof frame === 'string' || frame instanceof ArrayBuffer
        ? frame
        : ArrayBuffer.isView(frame)
          ? (frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength) as ArrayBuffer)
          : isBlob(frame)
            ? frame.arrayBuffer()
            : JSON.stringify(frame);
    this.deliver({ data });
  }

  /**
   * The server closes the socket with a close frame (after the frames pushed before it). Before the handshake
   * completes there is no socket to send it on: the connection fails as a refused upgrade does in a browser, an
   * error, then 1006 (to close with a code, `accept()` first, as a server that upgrades then closes). 1005 is a
   * close frame without a code: the client sees 1005 and no reason. A code no close frame can carry (1004, 1006,
   * 1015–2999, or outside 1000–4999) fails the connection as a browser does on receiving it: an error, then 1006.
   */
  closeFromServer(code: number, reason = ''): void {
    if (code === 1005) this.deliver({ code, reason: '', wasClean: true });
    else if (isWireCloseCode(code)) this.deliver({ code, reason, wasClean: true });
    else this.deliver({ code: 1006, reason: '', wasClean: false, failed: true });
  }

  /**
   * The connection dies without a close frame (1006), as a reset or a failed dial does: at once, and what was
   * still queued for the client is lost with it (from inside the client's `send()`, once `send()` has returned).
   */
  drop(): void {
    if (!this.sending) this.queue.length = 0;
    this.deliver({ code: 1006, reason: '', wasClean: false });
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

  /** A handshake that does not complete fails the connection: an error, then 1006; never an error once closed. */
  private fail(): void {
    if (this.readyState === 3) return;
    this.onerror?.({ type: 'error' });
    this.finish(1006, '', false);
  }

  private deliver(delivery: Delivery): void {
    if (this.queue.length === 0 && !this.sending && !('data' in delivery && delivery.data instanceof Promise)) {
      this.run(delivery);
      return;
    }
    this.queue.push(delivery);
    if (this.flushing) return;
    this.flushing = true;
    queueMicrotask(() => void this.flush());
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if ('data' in head && head.data instanceof Promise) head.data = await head.data.catch(() => new ArrayBuffer(0));
      this.queue.shift();
      try {
        this.run(head);
      } catch (error) {
        // a handler that throws is reported, as a browser reports it, and the deliveries behind it still come
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    this.flushing = false;
  }

  private run(delivery: Delivery): void {
    if ('data' in delivery) {
      const { data } = delivery;
      if (this.readyState !== 1 || data instanceof Promise) return;
      this.onmessage?.({ data: typeof data !== 'string' && this.binaryType === 'blob' ? new Blob([data]) : data });
    } else if (!this.opened || delivery.failed) this.fail();
    else this.finish(delivery.code, delivery.reason, delivery.wasClean);
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
      queryParam: options.queryParam ?? 'token',
      autoPong: options.autoPong ?? true,
      sessionTtlMs: options.sessionTtlMs,
      now: options.now ?? Date.now,
    };
    const server = this;
    this.WebSocket = class {
      constructor(url: string, protocols?: string | string[]) {
        const list = protocols === undefined ? [] : Array.isArray(protocols) ? protocols.map(String) : [String(protocols)];
        checkSubprotocols(list);
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

  /**
   * The automatic answers, then `onFrame`. As the reference server, an `auth` frame without a token (a string of 1
   * to 16,384 characters) and a `ping` whose `ts` is not a number are refused with INVALID_MESSAGE_FORMAT, and,
   * before a token was accepted (with `autoAuth`), AUTHENTICATION_FAILED and the close 4001.
   */
  handle(socket: MockSocket, frame: SentFrame): void {
    const json = frame.json;
    if (json?.type === 'auth' && this.options.autoAuth !== false) {
      const { token } = json;
      if (typeof token === 'string' && token.length > 0 && token.length <= MAX_TOKEN_LENGTH) this.authenticate(socket, token);
      else this.refuseInvalid(socket, 'auth', 'token', `expected a string of 1 to ${MAX_TOKEN_LENGTH} characters`);
    }
    if (json?.type === 'ping' && this.options.autoPong) {
      if (json.ts === undefined || typeof json.ts === 'number') socket.push({ type: 'pong', ts: json.ts });
      else this.refuseInvalid(socket, 'ping', 'ts', 'expected a number');
    }
    this.onFrame?.(socket, frame);
  }

  /** Refuses an invalid frame as the reference server does; before authentication, the socket is closed with 4001. */
  private refuseInvalid(socket: MockSocket, type: string, path: string, message: string): void {
    socket.push({ type: 'error', code: 'INVALID_MESSAGE_FORMAT', message: `invalid "${type}" frame`, details: { issues: [{ path, message }] } });
    if (this.options.autoAuth === false || socket.authenticated) return;
    socket.push({ type: 'error', code: 'AUTHENTICATION_FAILED', message: AUTHENTICATE_FIRST });
    socket.closeFromServer(4001, AUTHENTICATE_FIRST);
  }

  handleOpen(socket: MockSocket): void {
    if (this.options.autoAuth === false || socket.readyState !== 1) return;
    const entry = socket.protocols.find((protocol) => protocol.startsWith(TOKEN_SUBPROTOCOL_PREFIX));
    const query = socket.url.indexOf('?');
    const token = entry?.slice(TOKEN_SUBPROTOCOL_PREFIX.length) || new URLSearchParams(query < 0 ? '' : socket.url.slice(query + 1)).get(this.options.queryParam);
    if (token) this.authenticate(socket, token);
  }

  private authenticate(socket: MockSocket, token: string): void {
    const { autoAuth, sessionTtlMs, now } = this.options;
    if (typeof autoAuth === 'function' ? autoAuth(token) : true) {
      socket.authenticated = true;
      socket.push({ type: 'auth_ok', userId: 'user-1', sessionId: socket.sessionId, ...(sessionTtlMs ? { expiresAt: now() + sessionTtlMs } : {}) });
    } else if (socket.authenticated) {
      socket.push({ type: 'error', code: 'AUTHENTICATION_FAILED', message: 'token refresh refused: invalid token' });
    } else {
      socket.push({ type: 'error', code: 'AUTHENTICATION_FAILED', message: 'invalid token' });
      socket.closeFromServer(4001, 'unauthorized');
    }
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
