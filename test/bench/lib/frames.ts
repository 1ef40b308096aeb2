/**
 * The benchmark's wire messages. Every data message is exactly FRAME_BYTES bytes of JSON, so raw `ws` and
 * socketchart carry identical payloads.
 */

export const FRAME_BYTES = 60;
export const CHANNEL = 'b';

/**
 * Inbound data frame (server → client): a default-protocol `message` frame on the subscribed channel,
 * padded to FRAME_BYTES: `{"type":"message","ch":"b","seq":123456,"data":{"v":"xxxx"}}`.
 * Sequence numbers go up from 1 (the router drops a repeated or older seq as a duplicate).
 */
export function messageFrame(seq: number): string {
  const head = `{"type":"message","ch":"${CHANNEL}","seq":${seq},"data":{"v":"`;
  const tail = '"}}';
  const pad = FRAME_BYTES - head.length - tail.length;
  if (pad < 0) throw new Error(`seq ${seq} does not fit a ${FRAME_BYTES}-byte frame`);
  return head + 'x'.repeat(pad) + tail;
}

/**
 * Outbound data message (client → server), sent as one constant string by both clients: socketchart's
 * `send(string)` without a channel passes the string through unchanged, so both write the same bytes.
 */
export const OUTBOUND_MESSAGE = (() => {
  const head = `{"type":"publish","ch":"${CHANNEL}","data":{"v":"`;
  const tail = '"}}';
  return head + 'x'.repeat(FRAME_BYTES - head.length - tail.length) + tail;
})();

/**
 * The socket.io peer's frames, FRAME_BYTES each: an engine.io `message` packet (`4`) holding a socket.io
 * EVENT (`2`) named CHANNEL. Inbound: `42["b",{"seq":123456,"v":"xxxx"}]`. Outbound: the data object
 * `socket.emit(CHANNEL, IO_OUTBOUND_DATA)` encodes to a FRAME_BYTES frame (socket.io has no raw-string send:
 * the client JSON-encodes every emit).
 */
export function ioMessageFrame(seq: number): string {
  const head = `42["${CHANNEL}",{"seq":${seq},"v":"`;
  const tail = '"}]';
  return head + 'x'.repeat(FRAME_BYTES - head.length - tail.length) + tail;
}

export const IO_OUTBOUND_DATA = { v: 'x'.repeat(FRAME_BYTES - `42["${CHANNEL}",{"v":""}]`.length) };

/**
 * A batch of pre-framed, unmasked server→client WebSocket text frames (RFC 6455 §5.2: FIN+text opcode,
 * 7-bit length), built as one latin1 string: the server writes it straight to the TCP socket so that the
 * server side costs next to nothing and the client is the measured bottleneck.
 */
export function frameBatch(firstSeq: number, count: number, frame: (seq: number) => string = messageFrame): Buffer {
  const header = String.fromCharCode(0x81, FRAME_BYTES);
  let text = '';
  for (let i = 0; i < count; i++) text += header + frame(firstSeq + i);
  return Buffer.from(text, 'latin1');
}

if ([OUTBOUND_MESSAGE, messageFrame(1), messageFrame(9_999_999), ioMessageFrame(1), ioMessageFrame(9_999_999), `42${JSON.stringify([CHANNEL, IO_OUTBOUND_DATA])}`].some((f) => f.length !== FRAME_BYTES)) {
  throw new Error('bench frames are not FRAME_BYTES long');
}
