import type { WebSocket } from 'ws';

type Corkable = { cork(): void; uncork(): void };

/** A socket's writes are held at most this many bytes before they go out, even within one event-loop turn. */
const CORK_FLUSH_BYTES = 64 * 1024;

/** Sockets corked in this event-loop turn, with the bytes written to each since. */
const corked = new Map<Corkable, number>();
let uncorkScheduled = false;

function uncorkAll(): void {
  uncorkScheduled = false;
  for (const socket of corked.keys()) socket.uncork();
  corked.clear();
}

const socketOf = (ws: WebSocket) => (ws as unknown as { _socket?: Partial<Corkable> })._socket;

/** Bytes held back by the current cork (at most 64 KiB): they are not a slow consumer's backlog. */
export function corkedBytes(ws: WebSocket): number {
  const socket = socketOf(ws);
  return socket ? (corked.get(socket as Corkable) ?? 0) : 0;
}

/** A text frame of UTF-8 bytes: sockets count them as bytes (a string is counted in characters, a third of CJK text's bytes). */
const TEXT = { binary: false } as const;

/**
 * Holds a socket's writes until the end of this event-loop turn, or until 64 KiB are held, so that the
 * frames a turn sends to one client (a burst of broadcasts) leave in few writes instead of one system call
 * each, while what the socket cannot take shows in its `bufferedAmount` however long the turn lasts.
 */
export function writeCorked(ws: WebSocket, text: Buffer): void {
  const socket = socketOf(ws) as Corkable | undefined;
  if (!socket?.cork || !socket.uncork) {
    ws.send(text, TEXT);
    return;
  }
  const held = corked.get(socket);
  if (held === undefined) socket.cork();
  ws.send(text, TEXT);
  const total = (held ?? 0) + text.length;
  if (total >= CORK_FLUSH_BYTES) {
    corked.delete(socket);
    socket.uncork();
    return;
  }
  corked.set(socket, total);
  if (!uncorkScheduled) {
    uncorkScheduled = true;
    setImmediate(uncorkAll);
  }
}
