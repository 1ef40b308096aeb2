import type { FrameSink, IncomingFrame, OutgoingFrame, ProtocolAdapter } from './adapter.js';
import { InvalidOptionError } from './errors.js';

/** Name of the plain protocol (it offers no subprotocol of its own). */
export const PLAIN_PROTOCOL = 'plain';

/** An application-level ping/pong pair: text frames the client and the server exchange to prove the link alive. */
export interface PlainHeartbeat {
  /** The text frame the heartbeat sends (and that the server may send, answered with `pong`). */
  ping: string;
  /** The text frame that answers `ping`; it counts as the pong and is not delivered to the app. */
  pong: string;
}

export interface PlainProtocolOptions {
  /**
   * A ping/pong pair the server answers: the heartbeat then runs, timed by the connection's `heartbeat`
   * option. Without it the heartbeat is off, whatever `heartbeat` says: nothing the server does not
   * understand is sent, and no frame the server does not send is waited for (the server's own WebSocket
   * pings, answered by the browser or `ws`, keep the link).
   * @default undefined (heartbeat off)
   */
  heartbeat?: PlainHeartbeat;
  /** Subprotocols offered at the handshake. @default [] */
  subprotocols?: readonly string[];
  /** In `subprotocol` auth mode, the entry carrying the token, offered after `subprotocols`. @default (token) => token */
  tokenSubprotocol?: (token: string) => string;
  /**
   * In `message` auth mode, the first frame, carrying the token; the connection does not wait for an
   * answer. Without it `message` mode is refused at creation (InvalidOptionError on `auth.mode`): a plain
   * server has no auth frame, so the token would never reach it.
   * @default undefined
   */
  authFrame?: (token: string) => OutgoingFrame;
}

const isBuffer = (data: unknown): data is ArrayBuffer | SharedArrayBuffer =>
  data instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && data instanceof SharedArrayBuffer);

function checkOptions(options: unknown): PlainProtocolOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new InvalidOptionError('plainProtocol', 'an options object', options);
  const { heartbeat, subprotocols, tokenSubprotocol, authFrame } = options as Record<string, unknown>;
  const known = ['heartbeat', 'subprotocols', 'tokenSubprotocol', 'authFrame'];
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new InvalidOptionError(`plainProtocol.${key}`, `one of ${known.join(', ')}`, undefined, 'an unknown option');
  }
  if (heartbeat !== undefined) {
    if (typeof heartbeat !== 'object' || heartbeat === null) throw new InvalidOptionError('plainProtocol.heartbeat', 'a { ping, pong } pair of text frames', heartbeat);
    const { ping, pong } = heartbeat as Record<string, unknown>;
    if (typeof ping !== 'string' || ping === '') throw new InvalidOptionError('plainProtocol.heartbeat.ping', 'a non-empty string', ping);
    if (typeof pong !== 'string' || pong === '') throw new InvalidOptionError('plainProtocol.heartbeat.pong', 'a non-empty string', pong);
  }
  if (subprotocols !== undefined && (!Array.isArray(subprotocols) || subprotocols.some((p) => typeof p !== 'string' || p === ''))) {
    throw new InvalidOptionError('plainProtocol.subprotocols', 'an array of non-empty strings', subprotocols);
  }
  if (tokenSubprotocol !== undefined && typeof tokenSubprotocol !== 'function') throw new InvalidOptionError('plainProtocol.tokenSubprotocol', 'a function', tokenSubprotocol);
  if (authFrame !== undefined && typeof authFrame !== 'function') throw new InvalidOptionError('plainProtocol.authFrame', 'a function', authFrame);
  return options as PlainProtocolOptions;
}

/**
 * For a server that speaks no protocol of socketchart's (a plain `ws` server, most WebSocket APIs):
 * frames pass untouched both ways. Every inbound frame, text or binary, reaches `on('message')` as
 * `{ data }` (no channel: `subscribe()` listeners receive nothing); `send()` writes strings as they are,
 * binary as its bytes when sent (a copy, as a browser takes: the app may reuse its buffer while the message
 * waits), and other values as JSON text, ignoring `channel` on the wire (it still names the rate-limit
 * scope). No auth frame unless `authFrame` is given; tokens in `query` and `subprotocol` modes work as
 * usual. The heartbeat is off unless a ping/pong pair is given. The server has no acks: `request()` and
 * `ack: true` reject. Close codes follow the common table.
 */
export function plainProtocol(options?: PlainProtocolOptions): ProtocolAdapter {
  const { heartbeat, subprotocols = [], tokenSubprotocol = (token: string) => token, authFrame } = checkOptions(options);
  const offered = [...subprotocols];
  return {
    name: PLAIN_PROTOCOL,
    subprotocols: ({ mode, token }) => {
      const list = mode === 'subprotocol' && token !== undefined ? [...offered, tokenSubprotocol(token)] : offered;
      return list.length > 0 ? list : undefined;
    },
    authFrame: ({ mode, token }) => (mode === 'message' && token !== undefined && authFrame !== undefined ? authFrame(token) : undefined),
    awaitsAuthAnswer: ({ mode, token }) => {
      if (mode === 'message' && token !== undefined && authFrame === undefined) {
        throw new InvalidOptionError('auth.mode', "'query' or 'subprotocol' with plainProtocol() (or plainProtocol({ authFrame }) for 'message')", mode);
      }
      return false;
    },
    refreshFrame: () => undefined,
    acknowledges: false,
    pingFrame: () => heartbeat?.ping,
    pongFrame: () => heartbeat?.pong,
    encode(data): OutgoingFrame {
      if (typeof data === 'string') return data;
      // a copy, as a browser's send() makes: the app may reuse its buffer while the message waits
      if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
      if (isBuffer(data)) return new Uint8Array(data as ArrayBuffer).slice().buffer;
      const text = JSON.stringify(data) as string | undefined;
      if (text === undefined) throw new TypeError(`A ${typeof data} has no JSON text`);
      return text;
    },
    subscribeFrame: () => undefined,
    unsubscribeFrame: () => undefined,
    decode(raw: IncomingFrame, sink: FrameSink): void {
      if (heartbeat !== undefined && typeof raw === 'string') {
        if (raw === heartbeat.pong) {
          sink.pong(undefined);
          return;
        }
        if (raw === heartbeat.ping) {
          sink.ping(undefined);
          return;
        }
      }
      sink.data({ data: raw });
    },
  };
}
