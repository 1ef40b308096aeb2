import type { ActorLogic, EventObject, Snapshot } from 'xstate';
import { ErrorCode, SocketchartError } from '../protocol/errors.js';
import type { ConnectionRuntime } from '../connection/runtime.js';
import { ReadyState, type WebSocketLike } from './websocket-like.js';

/** What `link` hands its socket actor: the runtime, and the url to dial. */
export interface SocketInput {
  rt: ConnectionRuntime;
  urlIndex: number;
}

let openSockets = 0;
/** Sockets opened by any connection in this process and not yet closed (leak checks). */
export const liveSocketCount = () => openSockets;

const ignore = () => {};

const asAuthError = (cause: unknown) =>
  cause instanceof SocketchartError
    ? cause
    : new SocketchartError(ErrorCode.AUTHENTICATION_FAILED, { message: 'The token provider failed', recovery: 'retry', cause });

type WsMessage = { length: number; toString(): string } | ArrayBuffer;
type EmitterSocket = WebSocketLike & {
  on(event: string, listener: (...args: never[]) => void): unknown;
  removeAllListeners(event?: string): unknown;
  terminate(): void;
};

/** `ws` (Node): its EventEmitter API is used directly, without the wrappers its `on…` setters add. */
const isEmitter = (ws: WebSocketLike): ws is EmitterSocket =>
  typeof ws.on === 'function' && typeof ws.removeAllListeners === 'function' && typeof ws.terminate === 'function';

/**
 * The socket actor's snapshot, and the socket it owns: it obtains the token, dials, routes the socket's
 * events, and when stopped (its state is left) closes the socket and detaches every handler.
 */
export class SocketSession {
  status: Snapshot<undefined>['status'] = 'active';
  private ws: WebSocketLike | undefined;
  private live = false;
  private id = 0;

  constructor(
    private readonly rt: ConnectionRuntime,
    private readonly urlIndex: number,
  ) {}

  get output(): undefined {
    return undefined;
  }

  get error(): undefined {
    return undefined;
  }

  start(): void {
    const rt = this.rt;
    this.id = rt.beginSocket();
    const auth = rt.options.auth;
    if (!auth || typeof auth.token === 'string') this.dial(auth?.token as string | undefined);
    else
      rt.obtainToken(rt.tokenReason).then(
        (token) => this.dial(token),
        (cause: unknown) => {
          if (this.status === 'active') rt.actor?.send({ type: 'auth.error', socket: this.id, error: asAuthError(cause) });
        },
      );
  }

  private dial(token: string | undefined): void {
    if (this.status !== 'active') return;
    const rt = this.rt;
    rt.tokenReason = 'connect';
    let ws: WebSocketLike;
    try {
      ws = rt.openSocket(token, this.urlIndex);
    } catch (cause) {
      rt.actor?.send({ type: 'socket.close', socket: this.id, code: 1006, reason: rt.redact(cause instanceof Error ? cause.message : 'dial failed'), wasClean: false });
      return;
    }
    this.ws = ws;
    this.live = true;
    openSockets++;
    ws.binaryType = 'arraybuffer';
    if (isEmitter(ws)) this.listen(ws);
    else {
      ws.onopen = () => rt.socketOpened(ws);
      ws.onclose = (event) => this.closed(event.code, event.reason ?? '', event.wasClean ?? false);
      ws.onerror = ignore;
      ws.onmessage = (event) => rt.receive(event.data as string | ArrayBuffer);
    }
  }

  /**
   * `ws` reports every close without a closing handshake as 1006. Its listeners live in a dictionary that
   * grows at a fourth event name, so `message` is listened to only once `open` is no longer.
   */
  private listen(ws: EmitterSocket): void {
    ws.on('error', ignore);
    ws.on('close', (code: number, reason: { toString(): string }) => this.closed(code, reason.toString(), code !== 1006));
    ws.on('open', () => {
      ws.removeAllListeners('open');
      ws.on('message', (data: WsMessage, isBinary: boolean) =>
        this.rt.receive(isBinary ? (data as ArrayBuffer) : data.toString(), isBinary ? (data as ArrayBuffer).byteLength : (data as { length: number }).length),
      );
      this.rt.socketOpened(ws);
    });
  }

  private closed(code: number, reason: string, wasClean: boolean): void {
    if (this.settle()) this.rt.socketClosed(this.ws!, code, reason, wasClean);
  }

  private settle(): boolean {
    if (!this.live) return false;
    this.live = false;
    openSockets--;
    return true;
  }

  stop(): this {
    this.status = 'stopped';
    const ws = this.ws;
    if (!ws) return this;
    this.ws = undefined;
    if (isEmitter(ws)) for (const event of ['open', 'close', 'message']) ws.removeAllListeners(event);
    else {
      ws.onopen = null;
      ws.onclose = null;
      ws.onmessage = null;
    }
    this.rt.releaseSocket(ws);
    if (ws.readyState !== ReadyState.CLOSED) {
      try {
        if (ws.terminate) ws.terminate();
        else ws.close(1000, 'client closed');
      } catch {
        // a socket that cannot be closed is already gone
      }
    }
    this.settle();
    return this;
  }

  toJSON(): Snapshot<undefined> {
    return { status: this.status, output: undefined, error: undefined };
  }
}

/**
 * The socket actor: owns at most one WebSocket for as long as it runs. Its snapshot is the socket
 * session itself, so an open link costs one actor and one small object besides the socket.
 */
export const socketActor: ActorLogic<SocketSession, EventObject, SocketInput> = {
  getInitialSnapshot: (_, input) => new SocketSession(input.rt, input.urlIndex),
  start: (session) => session.start(),
  transition: (session, event) => (event.type === 'xstate.stop' ? session.stop() : session),
  getPersistedSnapshot: (session) => session.toJSON(),
};
