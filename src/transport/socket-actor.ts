import type { ActorLogic, AnyActorRef, EventObject, Snapshot } from 'xstate';
import type { ConnectionEvent, Failure, FailureAction, SocketInput, TokenReason } from '../../machines/connection.types.js';
import { ReadyState, type WebSocketLike } from './websocket-like.js';

/** What the socket actor is told how to do, and whom it tells what its socket does. */
export interface SocketCallbacks {
  /** The token for this dial (possibly async); `undefined` without auth. */
  token(reason: TokenReason): string | undefined | Promise<string | undefined>;
  /** Opens the WebSocket for this dial; throws when it cannot be opened. */
  open(token: string | undefined, urlIndex: number): WebSocketLike;
  /** The socket is open: writes may go to it. */
  opened(ws: WebSocketLike, socket: number): void;
  /** One inbound frame (`size`: its bytes when the socket knows them). */
  message(data: string | ArrayBuffer, size?: number): void;
  /** The socket is gone, or is being let go: nothing may be written to it any more. */
  released(ws: WebSocketLike): void;
  /** What a close asks of the connection, as the machine hears of it: its reason and error redacted (a server may echo a token in a reason). */
  describeClose(code: number, reason: string): { code: number; reason: string; action: FailureAction; error: Failure };
  /** What a failed token request asks of the connection. */
  describeTokenFailure(cause: unknown): { action: FailureAction; error: Failure };
  /** What a socket that could not be opened asks of the connection (`open()` threw `cause`). */
  describeOpenFailure(cause: unknown): { action: FailureAction; error: Failure };
}

let openSockets = 0;
/** Sockets opened by any connection in this process and not yet closed (leak checks). */
export const liveSocketCount = () => openSockets;

const ignore = () => {};

/** A `ws` frame: a Buffer (text), an ArrayBuffer (binary), or a string (text, in `ws` 7). */
type WsMessage = { byteLength?: number; toString(): string } | ArrayBuffer;
type EmitterSocket = WebSocketLike & {
  on(event: string, listener: (...args: never[]) => void): unknown;
  removeAllListeners(event?: string): unknown;
  terminate(): void;
};

/** `ws` (Node): its EventEmitter API is used directly, without the wrappers its `on…` setters add. */
const isEmitter = (ws: WebSocketLike): ws is EmitterSocket =>
  typeof ws.on === 'function' && typeof ws.removeAllListeners === 'function' && typeof ws.terminate === 'function';

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> => typeof (value as Promise<T>)?.then === 'function';

/**
 * One dial of the socket actor, and its snapshot: the token, the socket and its handlers (methods, so
 * that a link costs few closures).
 */
class SocketLink {
  status: Snapshot<undefined>['status'] = 'active';
  #ws: WebSocketLike | undefined;
  #live = false;
  #stopped = false;
  #dialed = false;
  readonly #callbacks: SocketCallbacks;
  readonly #input: SocketInput;
  readonly #self: AnyActorRef;

  get output(): undefined {
    return undefined;
  }

  get error(): undefined {
    return undefined;
  }

  constructor(callbacks: SocketCallbacks, input: SocketInput, self: AnyActorRef) {
    this.#callbacks = callbacks;
    this.#input = input;
    this.#self = self;
  }

  /** Tells the connection (the actor's parent). */
  #sendBack(event: ConnectionEvent): void {
    if (!this.#stopped) this.#self._parent?.send(event);
  }

  start(): void {
    const token = this.#callbacks.token(this.#input.tokenReason);
    if (!isPromise(token)) this.#dial(token);
    else
      token.then(
        (value) => this.#dial(value),
        (cause: unknown) => this.#sendBack({ type: 'auth.error', socket: this.#input.socket, ...this.#callbacks.describeTokenFailure(cause) }),
      );
  }

  /** The token has not come yet: nothing is dialed. */
  get awaitingToken(): boolean {
    return !this.#dialed && !this.#stopped;
  }

  #dial(token: string | undefined): void {
    if (this.#stopped) return;
    this.#dialed = true;
    const callbacks = this.#callbacks;
    const input = this.#input;
    let ws: WebSocketLike;
    try {
      ws = callbacks.open(token, input.urlIndex);
    } catch (cause) {
      const { action, error } = callbacks.describeOpenFailure(cause);
      this.#sendBack({ type: 'socket.close', socket: input.socket, code: 1006, reason: error.message, wasClean: false, action, error });
      return;
    }
    this.#ws = ws;
    this.#live = true;
    openSockets++;
    ws.binaryType = 'arraybuffer';
    if (isEmitter(ws)) this.#listen(ws);
    else {
      ws.onopen = () => this.#opened(ws);
      ws.onclose = (event) => this.#closed(event.code, event.reason ?? '', event.wasClean ?? false);
      ws.onerror = ignore;
      ws.onmessage = (event) => callbacks.message(event.data as string | ArrayBuffer);
    }
  }

  /**
   * `ws` reports every close without a closing handshake as 1006; `message` is listened to once `open` is no
   * longer, and, as in a browser, no frame is taken once the socket closes.
   */
  #listen(ws: EmitterSocket): void {
    const callbacks = this.#callbacks;
    ws.on('error', ignore);
    ws.on('close', (code: number, reason: { toString(): string }) => this.#closed(code, reason.toString(), code !== 1006));
    ws.on('open', () => {
      ws.removeAllListeners('open');
      ws.on('message', (data: WsMessage, isBinary: boolean) => {
        if (ws.readyState === ReadyState.OPEN) callbacks.message(isBinary ? (data as ArrayBuffer) : data.toString(), data.byteLength);
      });
      this.#opened(ws);
    });
  }

  #opened(ws: WebSocketLike): void {
    this.#callbacks.opened(ws, this.#input.socket);
    this.#sendBack({ type: 'socket.open', socket: this.#input.socket });
  }

  #closed(code: number, reason: string, wasClean: boolean): void {
    if (!this.#settle()) return;
    this.#callbacks.released(this.#ws!);
    const described = this.#callbacks.describeClose(code, reason);
    this.#sendBack({ type: 'socket.close', socket: this.#input.socket, code: described.code, reason: described.reason, wasClean, action: described.action, error: described.error });
  }

  #settle(): boolean {
    if (!this.#live) return false;
    this.#live = false;
    openSockets--;
    return true;
  }

  /** Leaving `link`: every handler detached, the socket let go and closed. */
  stop(): this {
    this.#stopped = true;
    this.status = 'stopped';
    const ws = this.#ws;
    if (!ws) return this;
    this.#ws = undefined;
    if (isEmitter(ws)) for (const event of ['open', 'close', 'message']) ws.removeAllListeners(event);
    else {
      ws.onopen = null;
      ws.onclose = null;
      ws.onmessage = null;
    }
    this.#callbacks.released(ws);
    if (ws.readyState !== ReadyState.CLOSED) {
      try {
        if (ws.terminate) ws.terminate();
        else ws.close(1000, 'client closed');
      } catch {
        // a socket that cannot be closed is already gone
      }
    }
    this.#settle();
    return this;
  }

  toJSON(): Snapshot<undefined> {
    return { status: this.status, output: undefined, error: undefined };
  }
}

/** Whether the socket actor `ref` is still waiting for its token. */
export const awaitsToken = (ref: AnyActorRef | undefined): boolean => (ref?.getSnapshot() as SocketLink | undefined)?.awaitingToken === true;

/** The socket actor's logic, as the connection machine invokes it. */
export type SocketLogic = ActorLogic<Snapshot<undefined>, EventObject, SocketInput>;

/**
 * The socket actor of `link`: a callback actor (XState's `fromCallback` contract, with the link as its
 * snapshot so that an open link costs one small object besides the socket). It obtains the token,
 * dials, and calls back: open and close go to the connection as events stamped with the actor's socket
 * id; inbound frames go to `callbacks.message`, never through the machine. Stopping it (leaving `link`)
 * detaches every handler and closes the socket. `callbacksFor` finds the callbacks of the connection
 * that runs it.
 */
export function socketLogic(callbacksFor: (self: AnyActorRef) => SocketCallbacks): SocketLogic {
  const logic: ActorLogic<SocketLink, EventObject, SocketInput> = {
    getInitialSnapshot: ({ self }, input) => new SocketLink(callbacksFor(self), input, self),
    start: (link) => link.start(),
    transition: (link, event) => (event.type === 'xstate.stop' ? link.stop() : link),
    getPersistedSnapshot: (link) => link.toJSON(),
  };
  return logic as unknown as SocketLogic;
}
