import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { HELLO } from '../../../src/inspection/protocol.js';
import { startInspectorServer, type InspectorServer, type InspectorServerOptions } from '../../../src/inspection/server.js';
import { until } from '../../support/until.js';

/** A page directory with a stand-in page (the server specs do not need the built one). */
export function standInPage(): string {
  const dir = mkdtempSync(join(tmpdir(), 'socketchart-page-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>stand-in</title>');
  writeFileSync(join(dir, 'app.js'), 'void 0;');
  return dir;
}

export type PageRecord = { type: string; sessionId?: string; name?: string; def?: string; [key: string]: unknown };

/** What a page receives from the inspector server: every record of every batch, in order. */
export async function openPage(server: InspectorServer, origin?: string) {
  const socket = new WebSocket(`${server.wsUrl}/_page`, origin ? { origin } : {});
  const records: PageRecord[] = [];
  const closed = new Promise<{ code: number }>((resolve) => socket.on('close', (code) => resolve({ code })));
  socket.on('message', (data) => {
    for (const record of JSON.parse(String(data)) as PageRecord[]) records.push(record);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    records,
    closed,
    /** The page's socket (`pause()` it: a busy tab that stops reading). */
    socket,
    /** Waits until a record satisfies `match`. */
    async find(match: (r: PageRecord) => boolean, what: string, ms = 8_000): Promise<PageRecord> {
      await until(() => records.some(match), ms, what);
      return records.find(match)!;
    },
    close: () => socket.close(),
  };
}

/** An inspector server on an OS port with a stand-in page. */
export function startTestInspector(options: InspectorServerOptions = {}): Promise<InspectorServer> {
  return startInspectorServer({ port: 0, pageDir: standInPage(), batchMs: 10, ...options });
}

/** Whether the inspector at `wsUrl` still greets an app socket (it survived what came before). */
export async function stillAnswers(wsUrl: string): Promise<boolean> {
  const app = new WebSocket(wsUrl);
  const alive = await new Promise<boolean>((resolve) => {
    app.once('message', () => resolve(true));
    app.once('error', () => resolve(false));
  });
  app.terminate();
  return alive;
}

/**
 * A WebSocket for connectInspector() that the spec drives: `open()` opens it (greeted as socketchart's
 * server greets, unless `greet` is false), `drop()` closes it under the helper, `bufferedAmount` is whatever the spec sets, `sent` keeps every frame.
 */
export class FakeInspectorSocket {
  static last: FakeInspectorSocket;
  readyState = 0;
  bufferedAmount = 0;
  protocol = '';
  binaryType = 'blob';
  sent: string[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  constructor(readonly url: string) {
    FakeInspectorSocket.last = this;
  }
  send(text: string) {
    this.sent.push(text);
  }
  close() {
    this.readyState = 3;
  }
  open(greet = true) {
    this.readyState = 1;
    this.onopen?.({});
    if (greet) this.onmessage?.({ data: JSON.stringify(HELLO) });
  }
  /** The inspector goes away: the socket closes under the helper. */
  drop() {
    this.readyState = 3;
    this.onclose?.({ code: 1006, reason: '' });
  }
  /** Every record sent, whether one a frame or in batches. */
  get records(): PageRecord[] {
    return this.sent.flatMap((text) => [JSON.parse(text)].flat() as PageRecord[]);
  }
}

/** A TCP relay on loopback to `port` (a port forward), whose connections can be cut (a network blip). */
export async function relay(port: number) {
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = new Socket();
    outbound.connect(port, '127.0.0.1');
    sockets.add(inbound).add(outbound);
    inbound.pipe(outbound).pipe(inbound);
    const drop = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    cut: () => {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
