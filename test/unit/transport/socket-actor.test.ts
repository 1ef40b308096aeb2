import { EventEmitter } from 'node:events';
import { createActor, setup, type AnyActorRef, type EventObject } from 'xstate';
import { describe, expect, it } from 'vitest';
import type { SocketInput } from '../../../machines/connection.types.js';
import { awaitsToken, liveSocketCount, socketLogic, type SocketCallbacks } from '../../../src/transport/socket-actor.js';
import { ReadyState, type WebSocketLike } from '../../../src/transport/websocket-like.js';

/** The socket actor on its own: a stand-in parent records what it is told, and stand-in sockets play the browser's WebSocket and `ws`. */

const INPUT: SocketInput = { socket: 7, urlIndex: 1, tokenReason: 'rejected' };

/** A browser-style socket: `on…` handlers, `close()` and no `terminate()`. */
class BrowserSocket implements WebSocketLike {
  readyState: number = ReadyState.CONNECTING;
  bufferedAmount = 0;
  protocol = '';
  binaryType = 'blob';
  closes: Array<[number | undefined, string | undefined]> = [];
  onopen: WebSocketLike['onopen'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  send(): void {}
  close(code?: number, reason?: string): void {
    this.closes.push([code, reason]);
  }
  open(): void {
    this.readyState = ReadyState.OPEN;
    this.onopen?.({});
  }
}

/** A `ws`-style socket: an EventEmitter with `terminate()`; `close` carries the reason as a Buffer. */
class EmitterSocket extends EventEmitter {
  readyState: number = ReadyState.CONNECTING;
  bufferedAmount = 0;
  protocol = '';
  binaryType = 'nodebuffer';
  terminated = 0;
  closes = 0;
  onopen = null;
  onclose = null;
  onerror = null;
  onmessage = null;
  send(): void {}
  close(): void {
    this.closes++;
  }
  terminate(): void {
    this.terminated++;
  }
  /** As `ws` does, `readyState` is OPEN once `open` is emitted. */
  override emit(event: string, ...args: unknown[]): boolean {
    if (event === 'open') this.readyState = ReadyState.OPEN;
    return super.emit(event, ...args);
  }
}

type Token = ReturnType<SocketCallbacks['token']>;

function callbacks(socket: WebSocketLike | EmitterSocket, token: () => Token = () => 'tok') {
  const calls = {
    tokens: [] as string[],
    opens: [] as Array<[string | undefined, number]>,
    opened: [] as number[],
    messages: [] as Array<[unknown, number | undefined]>,
    released: [] as unknown[],
    closes: [] as Array<[number, string]>,
  };
  const given: SocketCallbacks = {
    token: (reason) => {
      calls.tokens.push(reason);
      return token();
    },
    open: (value, urlIndex) => {
      calls.opens.push([value, urlIndex]);
      return socket as WebSocketLike;
    },
    opened: (_ws, id) => calls.opened.push(id),
    message: (data, size) => calls.messages.push([data, size]),
    released: (ws) => calls.released.push(ws),
    describeClose: (code, reason) => {
      calls.closes.push([code, reason]);
      return { code: code + 1, reason: `described ${reason}`, action: 'reconnect', error: { code: 'NETWORK_ERROR', message: 'described', recovery: 'retry' } };
    },
    describeTokenFailure: () => ({ action: 'reconnect', error: { code: 'AUTHENTICATION_FAILED', message: 'no token', recovery: 'retry' } }),
    describeOpenFailure: (cause) => ({ action: 'reconnect', error: { code: 'CONNECTION_FAILED', message: `cannot open: ${String(cause)}`, recovery: 'retry' } }),
  };
  return { calls, given };
}

/** Runs the socket actor as the connection does: invoked by a parent, stopped when the parent leaves the state. */
function invoke(given: SocketCallbacks) {
  const heard: EventObject[] = [];

  const parent = createActor(
    setup({ actors: { socket: socketLogic(() => given) } }).createMachine({
      initial: 'link',
      on: { '*': { actions: ({ event }) => heard.push(event) } },
      states: {
        link: { invoke: { id: 'socket', src: 'socket', input: INPUT }, on: { 'test.leave': 'gone' } },
        gone: {},
      },
    }),
  );
  parent.start();
  const child = parent.getSnapshot().children.socket as AnyActorRef | undefined;
  const leave = () => parent.send({ type: 'test.leave' });
  return { heard, child: () => child!, leave, parent };
}

const flush = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe('the socket actor', () => {
  it('asks the token for its dial\'s reason, opens the url it is given, and tells the connection when the socket opens', () => {
    const socket = new BrowserSocket();
    const { calls, given } = callbacks(socket);
    const { heard } = invoke(given);
    expect(calls.tokens).toEqual(['rejected']);
    expect(calls.opens).toEqual([['tok', 1]]);
    expect(socket.binaryType).toBe('arraybuffer');
    expect(heard).toEqual([]);
    socket.open();
    expect(calls.opened).toEqual([7]);
    expect(heard).toEqual([{ type: 'socket.open', socket: 7 }]);
  });

  it('waits for a token that comes later, and says so until it comes', async () => {
    let resolve!: (token: string) => void;
    const socket = new BrowserSocket();
    const { calls, given } = callbacks(socket, () => new Promise<string>((r) => (resolve = r)));
    const { child } = invoke(given);
    expect(awaitsToken(child())).toBe(true);
    expect(calls.opens).toEqual([]);
    resolve('later');
    await flush();
    expect(calls.opens).toEqual([['later', 1]]);
    expect(awaitsToken(child())).toBe(false);
    expect(awaitsToken(undefined)).toBe(false);
  });

  it('a token request that fails is told to the connection as auth.error, stamped with its socket', async () => {
    const socket = new BrowserSocket();
    const { calls, given } = callbacks(socket, () => Promise.reject(new Error('down')));
    const { heard } = invoke(given);
    await flush();
    expect(calls.opens).toEqual([]);
    expect(heard).toEqual([{ type: 'auth.error', socket: 7, action: 'reconnect', error: { code: 'AUTHENTICATION_FAILED', message: 'no token', recovery: 'retry' } }]);
  });

  it('stopped before its token comes, it dials nothing and tells nothing, whether the token comes or fails', async () => {
    for (const outcome of ['comes', 'fails'] as const) {
      let settle!: () => void;
      const socket = new BrowserSocket();
      const pending = new Promise<string>((resolve, reject) => (settle = () => (outcome === 'comes' ? resolve('late') : reject(new Error('late')))));
      const { calls, given } = callbacks(socket, () => pending);
      const { heard, child, leave } = invoke(given);
      const ref = child();
      leave();
      expect(awaitsToken(ref)).toBe(false);
      settle();
      await flush();
      expect(calls.opens, outcome).toEqual([]);
      expect(heard.filter((event) => event.type !== 'test.leave'), outcome).toEqual([]);
    }
  });

  it('a socket that cannot be created is a close of 1006 with what its callbacks make of the failure, and counts no socket', () => {
    const { given } = callbacks(new BrowserSocket());
    const before = liveSocketCount();
    const failure = new SyntaxError('invalid subprotocol');
    const { heard } = invoke({
      ...given,
      open: () => {
        throw failure;
      },
      describeOpenFailure: (cause) => ({ action: cause === failure ? 'fail' : 'reconnect', error: { code: 'CONNECTION_FAILED', message: 'described', recovery: 'fail' } }),
    });
    expect(liveSocketCount()).toBe(before);
    expect(heard).toEqual([
      { type: 'socket.close', socket: 7, code: 1006, reason: 'described', wasClean: false, action: 'fail', error: { code: 'CONNECTION_FAILED', message: 'described', recovery: 'fail' } },
    ]);
  });

  it('a browser socket\'s close reaches the connection as describeClose tells it, clean only when the event says so', () => {
    for (const [wasClean, expected] of [[true, true], [false, false], [undefined, false]] as const) {
      const socket = new BrowserSocket();
      const { calls, given } = callbacks(socket);
      const { heard } = invoke(given);
      socket.open();
      socket.onclose!({ code: 4001, reason: 'expired', ...(wasClean === undefined ? {} : { wasClean }) });
      expect(calls.closes).toEqual([[4001, 'expired']]);
      expect(calls.released).toEqual([socket]);
      expect(heard.at(-1)).toEqual({ type: 'socket.close', socket: 7, code: 4002, reason: 'described expired', wasClean: expected, action: 'reconnect', error: { code: 'NETWORK_ERROR', message: 'described', recovery: 'retry' } });
    }
  });

  it('a close event without a reason is described with an empty one', () => {
    const socket = new BrowserSocket();
    const { calls, given } = callbacks(socket);
    invoke(given);
    socket.onclose!({ code: 1006 } as { code: number; reason: string });
    expect(calls.closes).toEqual([[1006, '']]);
  });

  it('frames of a browser socket go to message(), never to the connection\'s machine', () => {
    const socket = new BrowserSocket();
    const { calls, given } = callbacks(socket);
    const { heard } = invoke(given);
    socket.open();
    const binary = new ArrayBuffer(3);
    socket.onmessage!({ data: '{"type":"message"}' });
    socket.onmessage!({ data: binary });
    expect(calls.messages).toEqual([['{"type":"message"}', undefined], [binary, undefined]]);
    expect(heard).toEqual([{ type: 'socket.open', socket: 7 }]);
  });

  it('a ws socket is followed through its events: frames once open and until it closes, with their size, and a close without handshake (1006) not clean', () => {
    const socket = new EmitterSocket();
    const { calls, given } = callbacks(socket);
    const { heard } = invoke(given);
    expect(socket.onopen).toBeNull();
    socket.emit('message', Buffer.from('early'), false);
    expect(calls.messages).toEqual([]);
    socket.emit('open');
    expect(socket.listenerCount('open')).toBe(0);
    expect(heard).toEqual([{ type: 'socket.open', socket: 7 }]);
    const binary = new ArrayBuffer(5);
    socket.emit('message', Buffer.from('héllo'), false);
    socket.emit('message', binary, true);
    expect(calls.messages).toEqual([['héllo', 6], [binary, 5]]);
    socket.readyState = ReadyState.CLOSING;
    socket.emit('message', Buffer.from('after close()'), false);
    expect(calls.messages).toHaveLength(2);
    socket.emit('close', 1006, Buffer.from(''));
    expect(heard.at(-1)).toMatchObject({ type: 'socket.close', code: 1007, wasClean: false });
    expect(calls.released).toEqual([socket]);
  });

  it('a ws socket closed with a code other than 1006 closed cleanly, its reason read from the Buffer', () => {
    const socket = new EmitterSocket();
    const { calls, given } = callbacks(socket);
    const { heard } = invoke(given);
    socket.emit('open');
    socket.emit('close', 1012, Buffer.from('restart'));
    expect(calls.closes).toEqual([[1012, 'restart']]);
    expect(heard.at(-1)).toMatchObject({ type: 'socket.close', code: 1013, reason: 'described restart', wasClean: true });
  });

  it('a socket with only part of the ws API (on, removeAllListeners, terminate) is followed through its on… handlers', () => {
    const parts = { on: () => undefined, removeAllListeners: () => undefined, terminate: () => undefined };
    for (const missing of Object.keys(parts) as Array<keyof typeof parts>) {
      const socket = Object.assign(new BrowserSocket(), parts, { [missing]: undefined });
      const { heard } = invoke(callbacks(socket).given);
      socket.open();
      expect(heard, `without ${missing}`).toEqual([{ type: 'socket.open', socket: 7 }]);
    }
  });

  it('stopping a browser socket detaches its handlers, lets it go, and closes it with 1000', () => {
    const socket = new BrowserSocket();
    const { calls, given } = callbacks(socket);
    const { heard, leave } = invoke(given);
    socket.open();
    leave();
    expect([socket.onopen, socket.onclose, socket.onmessage]).toEqual([null, null, null]);
    expect(calls.released).toEqual([socket]);
    expect(socket.closes).toEqual([[1000, 'client closed']]);
    expect(heard.filter((event) => event.type === 'socket.close')).toEqual([]);
  });

  it('stopping a socket that is closed already does not close it again', () => {
    const socket = new BrowserSocket();
    const { given } = callbacks(socket);
    const { leave } = invoke(given);
    socket.readyState = ReadyState.CLOSED;
    leave();
    expect(socket.closes).toEqual([]);
  });

  it('stopping a socket whose close throws lets it go all the same: released, no longer counted, nothing told', () => {
    const before = liveSocketCount();
    const socket = Object.assign(new BrowserSocket(), {
      close: () => {
        throw new Error('already torn down');
      },
    });
    const { calls, given } = callbacks(socket);
    const { heard, leave, parent } = invoke(given);
    socket.open();
    expect(() => leave()).not.toThrow();
    expect(calls.released).toEqual([socket]);
    expect(liveSocketCount()).toBe(before);
    expect(parent.getSnapshot().status).toBe('active');
    expect(heard.filter((event) => event.type !== 'socket.open' && event.type !== 'test.leave')).toEqual([]);
  });

  it('stopping a ws socket removes its listeners but the error guard, and terminates it', () => {
    const socket = new EmitterSocket();
    const { calls, given } = callbacks(socket);
    const { heard, leave } = invoke(given);
    socket.emit('open');
    leave();
    expect(['open', 'close', 'message'].map((event) => socket.listenerCount(event))).toEqual([0, 0, 0]);
    expect(() => socket.emit('error', new Error('late reset'))).not.toThrow();
    expect(socket.terminated).toBe(1);
    expect(socket.closes).toBe(0);
    expect(calls.released).toEqual([socket]);
    expect(heard.filter((event) => event.type === 'socket.close')).toEqual([]);
  });

  it('counts a socket as live from its dial to its close or its stop, once', () => {
    const before = liveSocketCount();
    const closed = new BrowserSocket();
    const first = invoke(callbacks(closed).given);
    const stopped = new BrowserSocket();
    const second = invoke(callbacks(stopped).given);
    expect(liveSocketCount()).toBe(before + 2);
    closed.onclose!({ code: 1000, reason: '', wasClean: true });
    expect(liveSocketCount()).toBe(before + 1);
    first.leave();
    expect(liveSocketCount()).toBe(before + 1);
    second.leave();
    second.leave();
    expect(liveSocketCount()).toBe(before);
  });

  it('a close that comes after its stop is not told to the connection', () => {
    const socket = new BrowserSocket();
    const { calls, given } = callbacks(socket);
    const { heard, leave } = invoke(given);
    const onclose = socket.onclose!;
    leave();
    onclose({ code: 1006, reason: '' });
    expect(calls.closes).toEqual([]);
    expect(heard.filter((event) => event.type === 'socket.close')).toEqual([]);
  });

  it('runs without a parent, and its snapshot says active, then stopped, and persists as its status alone', () => {
    const socket = new BrowserSocket();
    const { given } = callbacks(socket);
    const actor = createActor(socketLogic(() => given), { input: INPUT });
    actor.start();
    expect(() => socket.open()).not.toThrow();
    actor.send({ type: 'anything' });
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getPersistedSnapshot()).toEqual({ status: 'active', output: undefined, error: undefined });
    actor.stop();
    expect(actor.getSnapshot().status).toBe('stopped');
    expect(socket.closes).toEqual([[1000, 'client closed']]);
  });
});
