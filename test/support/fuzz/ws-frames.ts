import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export const Opcode = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;

export interface RawFrame {
  opcode: number;
  payload: Buffer;
  /** Last fragment of a message. @default true */
  fin?: boolean;
  /** RSV1–3 bits (a compliant client sends 0). @default 0 */
  rsv?: number;
  /** Clients must mask; an unmasked frame is a protocol error. @default true */
  masked?: boolean;
}

/** Encodes one WebSocket frame as a client sends it (RFC 6455 §5.2), masked with `maskKey`. */
export function encodeFrame(frame: RawFrame, maskKey: Buffer): Buffer {
  const { opcode, payload, fin = true, rsv = 0, masked = true } = frame;
  const length = payload.length;
  const extended = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const header = Buffer.alloc(2 + extended + (masked ? 4 : 0));
  header[0] = (fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | (opcode & 0x0f);
  header[1] = (masked ? 0x80 : 0) | (extended === 0 ? length : extended === 2 ? 126 : 127);
  if (extended === 2) header.writeUInt16BE(length, 2);
  if (extended === 8) header.writeBigUInt64BE(BigInt(length), 2);
  if (!masked) return Buffer.concat([header, payload]);
  maskKey.copy(header, 2 + extended, 0, 4);
  const body = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) body[i] = payload[i]! ^ maskKey[i & 3]!;
  return Buffer.concat([header, body]);
}

/** Server frames read from a byte stream: only what a fuzz client needs (the close code, if any). */
export class ServerFrameReader {
  private buffer: Buffer = Buffer.alloc(0);
  closeCode: number | undefined;
  frames = 0;

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.buffer.length < 2) return;
      const opcode = this.buffer[0]! & 0x0f;
      let length = this.buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.buffer.length < offset + length) return;
      if (opcode === Opcode.Close) this.closeCode = length >= 2 ? this.buffer.readUInt16BE(offset) : 1005;
      this.frames += 1;
      this.buffer = this.buffer.subarray(offset + length);
    }
  }
}

/** Opens a TCP connection and performs the WebSocket opening handshake by hand; resolves with the socket once upgraded. */
export function rawUpgrade(port: number, key: Buffer, timeoutMs = 5000): Promise<{ socket: Socket; reader: ServerFrameReader }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.setNoDelay(true);
    const nonce = key.toString('base64');
    const accept = createHash('sha1').update(`${nonce}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no upgrade'));
    }, timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.once('error', fail);
    socket.once('close', () => fail(new Error('closed during the handshake')));
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.removeAllListeners('close');
      socket.removeListener('error', fail);
      clearTimeout(timer);
      const response = head.subarray(0, end).toString();
      if (!response.startsWith('HTTP/1.1 101') || !response.includes(accept)) {
        socket.destroy();
        reject(new Error(`upgrade refused: ${response.split('\r\n')[0]}`));
        return;
      }
      const reader = new ServerFrameReader();
      reader.push(head.subarray(end + 4));
      socket.on('data', (more: Buffer) => reader.push(more));
      resolve({ socket, reader });
    };
    socket.on('data', onData);
    socket.once('connect', () =>
      socket.write(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${nonce}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
  });
}
