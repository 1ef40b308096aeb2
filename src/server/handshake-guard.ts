import type { Socket } from 'node:net';

/**
 * TCP connections of the server's own port that have not yet upgraded: each is destroyed if it has not within
 * the timeout of its opening, of its last plain HTTP request or of the last answer to one (so a client that
 * never reads its answers is cut too), and while it waits it takes a place under `maxConnections`.
 */
export class HandshakeGuard {
  private readonly pending = new Map<Socket, NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly timeoutMs: number) {}

  get size(): number {
    return this.pending.size;
  }

  /** A new TCP connection: tracked if `admitted`, destroyed at once otherwise. */
  opened(socket: Socket, admitted: boolean): void {
    if (!admitted) {
      socket.destroy();
      return;
    }
    socket.once('close', () => this.settled(socket));
    this.watch(socket);
  }

  /** A plain request arrived, or was answered, on `socket`: it is watched again with a full timeout. */
  watch(socket: Socket): void {
    if (this.closed || socket.destroyed) return;
    clearTimeout(this.pending.get(socket));
    const timer = setTimeout(() => socket.destroy(), this.timeoutMs);
    timer.unref();
    this.pending.set(socket, timer);
  }

  /** The connection upgraded or closed. */
  settled(socket: Socket): void {
    clearTimeout(this.pending.get(socket));
    this.pending.delete(socket);
  }

  close(): void {
    this.closed = true;
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }
}
