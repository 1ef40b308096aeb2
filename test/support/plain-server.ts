import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

/** One frame as the server received it: text as a string, binary as bytes. */
export type PlainFrame = string | Uint8Array;

/**
 * A plain `ws` server on 127.0.0.1 that speaks no protocol of socketchart's: it records every frame and
 * every handshake, echoes frames back exactly as they came (text as text, binary as binary), and answers
 * a text ping with a text pong when told to.
 */
export class PlainServer {
  port = 0;
  /** Frames received, in order. */
  readonly received: PlainFrame[] = [];
  /** Handshakes: the url and the subprotocol header the client sent. */
  readonly handshakes: Array<{ url: string; protocols: string | undefined }> = [];
  /** Sockets accepted so far. */
  connections = 0;
  /** Echo every frame back. */
  echo = true;
  /** A text frame answered with another (an application-level ping/pong), not echoed. */
  answer: { ping: string; pong: string } | undefined;
  private wss: WebSocketServer | undefined;
  private readonly clients = new Set<WebSocket>();

  async listen(port = 0): Promise<number> {
    const wss = new WebSocketServer({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => wss.once('listening', resolve).once('error', reject));
    this.wss = wss;
    this.port = (wss.address() as { port: number }).port;
    wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
      this.connections++;
      this.handshakes.push({ url: request.url ?? '', protocols: request.headers['sec-websocket-protocol'] });
      this.clients.add(socket);
      socket.on('close', () => this.clients.delete(socket));
      socket.on('message', (raw: Buffer, isBinary: boolean) => {
        const frame: PlainFrame = isBinary ? new Uint8Array(raw) : raw.toString('utf8');
        this.received.push(frame);
        if (this.answer && frame === this.answer.ping) socket.send(this.answer.pong);
        else if (this.echo) socket.send(raw, { binary: isBinary });
      });
    });
    return this.port;
  }

  /** Sends a frame to every client (a string as text, bytes as binary). */
  broadcast(frame: PlainFrame): void {
    for (const client of this.clients) client.send(frame, { binary: typeof frame !== 'string' });
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Stops the server: sockets are cut (the client sees 1006) and the port is free again. */
  async stop(): Promise<void> {
    for (const client of this.clients) client.terminate();
    const wss = this.wss;
    this.wss = undefined;
    if (wss) await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
}
