import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WebSocket } from 'ws';
import type { WebSocketConstructor } from '../../src/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Runs full collections until what nothing references is gone. */
export async function collectGarbage(): Promise<void> {
  for (let round = 0; round < 3; round++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
}

/** A `WebSocket` class that remembers, weakly, every socket a connection opens with it. */
export function weaklyTrackedSockets() {
  const sockets: Array<WeakRef<WebSocket>> = [];
  class TrackedWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(new WeakRef(this));
    }
  }
  return {
    WebSocket: TrackedWebSocket as unknown as WebSocketConstructor,
    get opened() {
      return sockets.length;
    },
    get reachable() {
      return sockets.filter((socket) => socket.deref() !== undefined).length;
    },
  };
}
