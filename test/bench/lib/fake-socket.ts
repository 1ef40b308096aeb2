/**
 * An in-memory WebSocket with `ws`'s EventEmitter-style `on('open' | 'close' | 'message')`, so a socketchart
 * connection takes exactly the path it takes on a real `ws` socket, minus the network. Opens on the next
 * microtask; `send()` only counts.
 */
export class FakeSocket {
  static last: FakeSocket | undefined;
  readyState = 0;
  bufferedAmount = 0;
  protocol = '';
  binaryType = 'nodebuffer';
  onopen: ((event: unknown) => void) | null = null;
  onclose: ((event: { code: number; reason: string; wasClean?: boolean }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  messageListener: ((data: Buffer, isBinary: boolean) => void) | undefined;
  private listeners: Record<string, ((...args: never[]) => void) | undefined> = {};
  sent = 0;

  constructor(_url: string, _protocols?: string | string[]) {
    FakeSocket.last = this;
    queueMicrotask(() => {
      if (this.readyState !== 0) return;
      this.readyState = 1;
      this.onopen?.({});
      this.listeners.open?.();
    });
  }

  send(_data: unknown): void {
    this.sent++;
  }

  close(code = 1005, reason = ''): void {
    if (this.readyState >= 2) return;
    this.readyState = 3;
    queueMicrotask(() => {
      this.onclose?.({ code, reason, wasClean: true });
      (this.listeners.close as ((code: number, reason: string) => void) | undefined)?.(code, reason);
    });
  }

  terminate(): void {
    this.readyState = 3;
  }

  on(event: string, listener: (...args: never[]) => void): this {
    if (event === 'message') this.messageListener = listener as (data: Buffer, isBinary: boolean) => void;
    else this.listeners[event] = listener;
    return this;
  }

  removeAllListeners(event?: string): this {
    if (event === undefined || event === 'message') this.messageListener = undefined;
    if (event === undefined) this.listeners = {};
    else delete this.listeners[event];
    return this;
  }
}
