import type { FrameSink, IncomingFrame, InboundMessage, OutgoingFrame, ProtocolAdapter } from './adapter.js';
import { ErrorCode, SocketchartError, finalFormatError, retryAfterWait, type ErrorCode as ErrorCodeType } from './errors.js';
import { JSON_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX, type ServerFrameType } from './wire.js';

export { JSON_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX };

const knownErrorCodes = /* @__PURE__ */ new Set<string>(/* @__PURE__ */ Object.values(ErrorCode));

type Frame = Record<string, unknown> & { type?: unknown };

const NO_CHANNEL = 'The socketchart protocol publishes data on a channel: send(data, { channel }); without one, only a string or binary frame is written, as it is';

const NOT_JSON = 'Data on a channel is JSON: undefined, a function, a symbol or binary data is not (send null)';

const isRecord = (value: unknown): value is Frame =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const invalid = (message: string, details?: unknown) =>
  new SocketchartError(ErrorCode.INVALID_MESSAGE_FORMAT, { message, recovery: 'none', details });

const finite = (value: unknown) => (Number.isFinite(value) ? (value as number) : undefined);
const seconds = (value: unknown) => (Number.isFinite(value) && (value as number) >= 0 ? retryAfterWait(value as number) : undefined);

/**
 * An error frame, flat (`{ type, code, message, details?, id?, retry_after? }`) or nested
 * (`{ type, id, error: { code, message, details? }, request_id? }`, where `id` names the error itself);
 * `retry_after` (seconds) may also sit in `details`.
 */
function serverError(frame: Frame): SocketchartError {
  const body = isRecord(frame.error) ? frame.error : frame;
  const details = body.details;
  const code = typeof body.code === 'string' && knownErrorCodes.has(body.code) ? (body.code as ErrorCodeType) : ErrorCode.SERVER_ERROR;
  const retryAfter = seconds(body.retry_after) ?? seconds(frame.retry_after) ?? (isRecord(details) ? seconds(details.retry_after) : undefined);
  const id = body === frame ? frame.id : frame.request_id;
  return new SocketchartError(code, {
    message: typeof body.message === 'string' ? body.message : typeof body.code === 'string' || typeof body.code === 'number' ? `Server error ${String(body.code).slice(0, 64)}` : 'Server error',
    details,
    messageId: typeof id === 'string' ? id : undefined,
    retryAfterMs: retryAfter,
  });
}

const controlTypes = new Set<string>(['ack', 'subscribed', 'unsubscribed', 'gap', 'presence', 'presence_state', 'typing', 'rate_limit_status'] satisfies ServerFrameType[]);

/**
 * socketchart's default protocol: JSON text frames `{ "type": ..., ... }` (see the README's protocol table).
 * Binary frames pass through to subscribers untouched.
 */
export const jsonProtocol: ProtocolAdapter = {
  name: JSON_SUBPROTOCOL,
  subprotocols: ({ mode, token }) =>
    mode === 'subprotocol' && token !== undefined ? [JSON_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX + token] : undefined,
  authFrame: ({ mode, token }) => (mode === 'message' && token !== undefined ? JSON.stringify({ type: 'auth', token }) : undefined),
  awaitsAuthAnswer: ({ token }) => token !== undefined,
  refreshFrame: (token) => JSON.stringify({ type: 'auth', token }),
  pingFrame: (ts) => `{"type":"ping","ts":${ts}}`,
  pongFrame: (ts) => (ts === undefined ? '{"type":"pong"}' : `{"type":"pong","ts":${ts}}`),
  encode(data, { channel, event, id }): OutgoingFrame {
    // a copy, as a browser's send() makes: the app may reuse its buffer while the message waits
    const binary = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() : data instanceof ArrayBuffer ? data.slice() : undefined;
    if (channel === undefined) {
      if (typeof data === 'string') return data;
      if (binary) return binary;
      throw finalFormatError(NO_CHANNEL);
    }
    // binary data would be written as the JSON of its object (`{}`): lost
    if (binary || data === undefined || typeof data === 'function' || typeof data === 'symbol') throw finalFormatError(NOT_JSON);
    return JSON.stringify({ type: 'publish', ch: channel, id, event, data });
  },
  subscribeFrame: (ch, since) => JSON.stringify({ type: 'subscribe', ch, since }),
  unsubscribeFrame: (ch) => JSON.stringify({ type: 'unsubscribe', ch }),
  presenceFrame: (ch, action, meta) => JSON.stringify({ type: 'presence', ch, action, meta }),
  typingFrame: (ch, typing) => JSON.stringify({ type: 'typing', ch, typing }),
  decode(raw: IncomingFrame, sink: FrameSink): void {
    if (typeof raw !== 'string') {
      sink.data({ data: raw });
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(raw);
    } catch {
      sink.invalid(invalid('Malformed frame: not JSON', { length: raw.length }));
      return;
    }
    if (!isRecord(frame) || typeof frame.type !== 'string') {
      sink.invalid(invalid('Malformed frame: no "type"'));
      return;
    }
    switch (frame.type) {
      case 'message':
        sink.data(frame as unknown as InboundMessage);
        return;
      case 'pong':
        sink.pong(finite(frame.ts));
        return;
      case 'ping':
        sink.ping(finite(frame.ts));
        return;
      case 'auth_ok':
        sink.authOk({
          userId: typeof frame.userId === 'string' ? frame.userId : undefined,
          sessionId: typeof frame.sessionId === 'string' ? frame.sessionId : undefined,
          expiresAt: Number.isFinite(frame.expiresAt) ? (frame.expiresAt as number) : undefined,
        });
        return;
      case 'error':
        sink.serverError(serverError(frame));
        return;
      default:
        if (controlTypes.has(frame.type)) sink.control(frame.type, frame);
        else sink.invalid(invalid(`Unknown frame type "${frame.type.slice(0, 40)}"`, { type: frame.type.slice(0, 40) }));
    }
  },
};
