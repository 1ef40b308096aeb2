import { WebSocketServer, type WebSocket } from 'ws';

/** A minimal server speaking socketchart's default protocol, for client integration tests. */
export class ProtocolServer {
  wss: WebSocketServer | undefined;
  port = 0;
  readonly clients = new Set<WebSocket>();
  connections = 0;
  answerPings = true;
  acceptToken: (token: string) => boolean = () => true;
  /** Sent in answer to a refused token instead of closing with 4001. */
  refusalFrame: unknown = undefined;

  async listen(port = 0): Promise<number> {
    const wss = new WebSocketServer({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => wss.once('listening', resolve).once('error', reject));
    this.wss = wss;
    this.port = (wss.address() as { port: number }).port;
    wss.on('connection', (socket) => {
      this.connections++;
      this.clients.add(socket);
      socket.on('close', () => this.clients.delete(socket));
      socket.on('message', (raw, isBinary) => {
        if (isBinary) return socket.send(raw, { binary: true });
        const frame = JSON.parse(String(raw)) as Record<string, unknown>;
        if (frame.type === 'auth') {
          if (this.acceptToken(String(frame.token))) socket.send(JSON.stringify({ type: 'auth_ok', userId: 'u1', sessionId: `s${this.connections}` }));
          else if (this.refusalFrame !== undefined) socket.send(JSON.stringify(this.refusalFrame));
          else socket.close(4001, 'unauthorized');
        } else if (frame.type === 'ping') {
          if (this.answerPings) socket.send(JSON.stringify({ type: 'pong', ts: frame.ts }));
        } else if (frame.type === 'publish') {
          socket.send(JSON.stringify({ type: 'message', ch: frame.ch, data: frame.data }));
        } else if (frame.type === 'subscribe') {
          socket.send(JSON.stringify({ type: 'subscribed', ch: frame.ch, seq: 0 }));
        }
      });
    });
    return this.port;
  }

  broadcast(frame: unknown): void {
    for (const client of this.clients) client.send(JSON.stringify(frame));
  }

  /** Stops the server: every client sees its socket closed with `code`, or dropped when `code` is undefined. */
  async stop(code?: number): Promise<void> {
    for (const client of this.clients) code === undefined ? client.terminate() : client.close(code, 'server stopping');
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
    this.wss = undefined;
  }
}
