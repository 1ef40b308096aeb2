import type { OutgoingFrame } from '../protocol/adapter.js';

/** The subset of the WebSocket API socketchart needs; the browser `WebSocket`, `ws` and `mock-socket` all fit. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  readonly protocol: string;
  binaryType: string;
  send(data: OutgoingFrame): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string; wasClean?: boolean }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  /** `ws` only: drops the TCP connection at once. */
  terminate?: () => void;
  /** `ws` only: the EventEmitter API, used instead of the `on…` handlers (with `terminate`). */
  on?: (event: string, listener: (...args: never[]) => void) => unknown;
  removeAllListeners?: (event?: string) => unknown;
}

/** A WebSocket constructor: `globalThis.WebSocket`, `ws`'s default export, or `mock-socket`'s `WebSocket`. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;

let defaultConstructor: WebSocketConstructor | undefined;

/** Sets the constructor used when a connection is created without `WebSocket` (the Node entry sets `ws`). */
export function setDefaultWebSocket(constructor: WebSocketConstructor | undefined): void {
  defaultConstructor = constructor;
}

export function defaultWebSocket(): WebSocketConstructor | undefined {
  if (defaultConstructor) return defaultConstructor;
  const global = (globalThis as { WebSocket?: unknown }).WebSocket;
  return typeof global === 'function' ? (global as WebSocketConstructor) : undefined;
}
