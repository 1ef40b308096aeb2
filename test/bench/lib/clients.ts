/** Client-side helpers shared by the throughput and memory benches. */
import WebSocket from 'ws';
import type { Socket } from 'node:net';
import type { Connection } from '../../../src/index.node.js';

/** Opens a raw `ws` client (default options, like socketchart's own dial) and waits for `open`. */
export function openRaw(url: string, timeoutMs = 10_000): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`raw ws did not open within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.once('open', () => {
      clearTimeout(timer);
      ws.removeAllListeners('error');
      ws.on('error', () => {});
      resolve(ws);
    });
    ws.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Resolves once the connection is `connected`; rejects on `failed` or timeout. */
export function whenConnected(connection: Connection, timeoutMs = 10_000): Promise<void> {
  if (connection.isConnected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${connection.name} not connected within ${timeoutMs} ms (status ${connection.status})`));
    }, timeoutMs);
    const off = connection.on('state', ({ status }) => {
      if (status === 'connected') {
        clearTimeout(timer);
        off();
        resolve();
      } else if (status === 'failed') {
        clearTimeout(timer);
        off();
        reject(new Error(`${connection.name} failed: ${connection.lastError?.message}`));
      }
    });
  });
}

/** The `ws` object under a socketchart connection (bench-only peek at a private field). */
export function socketOfConnection(connection: Connection): WebSocket {
  const ws = (connection as unknown as { rt: { ws: WebSocket | null } }).rt.ws;
  if (!ws) throw new Error(`${connection.name} has no open socket`);
  return ws;
}

/** The TCP socket under a `ws` client (for its `drain` event). */
export const tcpOf = (ws: WebSocket) => (ws as unknown as { _socket: Socket })._socket;

/** Waits for the TCP socket to drain (or close); rejects after `timeoutMs`. */
export function drained(socket: Socket, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`socket did not drain within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('drain', done);
      socket.off('close', done);
    };
    const done = () => {
      cleanup();
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
