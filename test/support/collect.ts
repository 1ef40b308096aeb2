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

/** Whether any string on this isolate's heap holds `bytes` (kept by the caller as bytes, so the search itself adds no string). */
export async function heapHoldsText(bytes: Buffer): Promise<boolean> {
  await collectGarbage();
  const { getHeapSnapshot } = await import('node:v8');
  let tail = Buffer.alloc(0);
  for await (const chunk of getHeapSnapshot()) {
    const joined = Buffer.concat([tail, Buffer.from(chunk as Buffer)]);
    if (joined.includes(bytes)) return true;
    tail = joined.subarray(Math.max(0, joined.length - bytes.length));
  }
  return false;
}
