import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { DEFAULT_INSPECTOR_PORT, HELLO, PAGE_SOCKET_PATH } from './protocol.js';
import { defaultPageDir, loadPageFiles, type PageFile } from './page-files.js';
import { appOriginSet } from './app-origins.js';
import { Recording, type RecordingOptions } from './recording.js';

export interface InspectorServerOptions {
  /** Port to listen on; `0` picks a free one. @default 4242 */
  port?: number;
  /** Interface to listen on. Anything but loopback exposes what the apps send to the network. @default '127.0.0.1' */
  host?: string;
  /** Directory of the built page. @default the package's `dist/inspector/` */
  pageDir?: string;
  /** What is kept for pages that open later. */
  history?: RecordingOptions;
  /** Largest inspection event accepted, in bytes. @default 8 MiB */
  maxPayload?: number;
  /** Records go to the pages in batches this far apart, in ms. @default 50 */
  batchMs?: number;
  /**
   * Web pages whose apps may send, as origins (`https://app.test:5173`; `'null'` for sandboxed frames and `file:`
   * pages), or `'*'` for any page. Apps outside a browser, pages on a loopback host and pages from the host the
   * inspector is reached by (on any port) always may. Another page's socket is closed with 1008 before it is read.
   * @default []
   */
  appOrigins?: readonly string[] | '*';
}

export interface InspectorServerStats {
  /** Inspection events received and stored. */
  received: number;
  /** Frames that were not inspection events (not JSON, unknown type). */
  rejected: number;
  /** Apps sending now. */
  sources: number;
  /** Pages open now. */
  pages: number;
  /** Records kept for pages that open later. */
  stored: number;
  /** Records not sent to a page that could not keep up. */
  droppedForPages: number;
}

export interface InspectorServer {
  /** The page: `http://127.0.0.1:4242/`. */
  readonly url: string;
  /** Where apps send: `ws://127.0.0.1:4242` (`createWebSocketInspector({ url })`, `connectInspector({ url })`). */
  readonly wsUrl: string;
  readonly port: number;
  stats(): InspectorServerStats;
  /** Closes every socket and the listener; resolves when nothing is left open. */
  close(): Promise<void>;
}

/** A page whose socket holds more than this unsent is skipped until it drains. */
const PAGE_BACKLOG = 32 * 1024 * 1024;
/** Records per frame when a page catches up. */
const REPLAY_CHUNK = 1_000;

interface Page {
  socket: WebSocket;
  /** Definitions sent, or queued in `pending`. */
  definitions: Set<string>;
  pending: string[];
  /** Definitions queued in `pending`: to be sent again if it is left out. */
  pendingDefinitions: string[];
  dropped: number;
}

/** A loopback address or name: 127.0.0.0/8 (however written), ::1, IPv4-mapped loopback, localhost. */
const isLoopback = (host: string) => {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || h.startsWith('127.') || h.startsWith('::ffff:127.') || h === '0:0:0:0:0:0:0:1';
};

const LOOPBACK_NAMES: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Whether a page socket's Origin names the host it was opened on (`null` and unparsable origins do not). */
const sameOrigin = (origin: string, host: string | undefined) => {
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
};

const hostname = (url: string) => {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
};

/**
 * Starts the offline inspector: the page over HTTP, and on the same port a WebSocket that takes
 * `@statelyai/inspect`'s events from any number of apps (one JSON event per frame) and passes them on to
 * every open page, in batches. A page opened late first receives what was kept (the live actors and the
 * last events). Only pages of the inspector's own origin may read (`/_page`).
 */
export async function startInspectorServer(options: InspectorServerOptions = {}): Promise<InspectorServer> {
  const host = options.host ?? '127.0.0.1';
  const files = loadPageFiles(options.pageDir ?? defaultPageDir());
  const recording = new Recording(options.history);
  const appOrigins = appOriginSet(options.appOrigins ?? []);
  const batchMs = options.batchMs ?? 50;
  const pages = new Set<Page>();
  const stats = { received: 0, rejected: 0, sources: 0, droppedForPages: 0 };
  let sourcesSeen = 0;
  let batchTimer: NodeJS.Timeout | undefined;
  let closing = false;
  const scheduleFlush = () => {
    if (batchTimer === undefined && pages.size > 0 && !closing) batchTimer = setTimeout(flushPages, batchMs);
  };
  let port = 0;

  /** Bound to loopback, a request must name it (on any port: a tunnel or a relay), never another domain (DNS rebinding). */
  const hostAllowed = (req: IncomingMessage) => {
    if (!isLoopback(host)) return true;
    const name = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    return LOOPBACK_NAMES.has(name) || name === host || name === `[${host}]`;
  };
  const appOriginAllowed = (origin: string, requestHost: string | undefined) => {
    if (appOrigins === '*' || appOrigins.has(origin.toLowerCase())) return true;
    const name = hostname(origin);
    return !!name && (isLoopback(name) || name === hostname(`http://${requestHost}`));
  };

  const serve = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const file: PageFile | undefined = req.method === 'GET' || req.method === 'HEAD' ? files.get(path) : undefined;
    if (!hostAllowed(req) || !file) {
      res.writeHead(file ? 403 : 404, { 'content-type': 'text/plain; charset=utf-8' }).end(file ? 'forbidden host' : 'not found');
      return;
    }
    res.writeHead(200, {
      'content-type': file.type,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'content-security-policy':
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; frame-ancestors *",
    });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  };

  const http = createServer(serve);
  const wss = new WebSocketServer({
    server: http,
    maxPayload: options.maxPayload ?? 8 * 1024 * 1024,
    verifyClient: ({ req }, done) => done(hostAllowed(req), 403, 'forbidden host'),
  });

  const pushTo = (page: Page, text: string, def: string | undefined) => {
    if (def && !page.definitions.has(def)) {
      page.definitions.add(def);
      page.pendingDefinitions.push(def);
      page.pending.push(recording.definitionRecord(def));
    }
    page.pending.push(text);
  };
  const flushPages = () => {
    batchTimer = undefined;
    for (const page of pages) {
      if (page.pending.length === 0) continue;
      const batch = page.pending;
      const definitions = page.pendingDefinitions;
      page.pending = [];
      page.pendingDefinitions = [];
      if (page.socket.bufferedAmount > PAGE_BACKLOG) {
        for (const def of definitions) page.definitions.delete(def);
        page.dropped += batch.length;
        stats.droppedForPages += batch.length;
        continue;
      }
      if (page.dropped > 0) {
        batch.unshift(JSON.stringify({ type: '@socketchart.dropped', count: page.dropped }));
        page.dropped = 0;
      }
      page.socket.send(`[${batch.join(',')}]`);
    }
  };

  const take = (value: unknown, prefix: string, source: number) => {
    let added: ReturnType<Recording['add']>;
    try {
      added = recording.add(value, prefix, source);
    } catch {
      added = undefined;
    }
    if (!added) {
      stats.rejected++;
      return;
    }
    stats.received++;
    for (const page of pages) pushTo(page, added.text, added.def);
  };
  /** One event per frame (as `@statelyai/inspect` sends), or an array of them (socketchart's helper, once greeted). */
  const receive = (data: RawData, prefix: string, source: number) => {
    let value: unknown;
    try {
      value = JSON.parse(data.toString());
    } catch {
      stats.rejected++;
      return;
    }
    if (Array.isArray(value)) for (const item of value) take(item, prefix, source);
    else take(value, prefix, source);
    scheduleFlush();
  };

  const openPage = (socket: WebSocket) => {
    const page: Page = { socket, definitions: new Set(), pending: [], pendingDefinitions: [], dropped: 0 };
    const replay = recording.replay();
    for (let i = 0; i < replay.length; i += REPLAY_CHUNK) {
      const chunk: string[] = [];
      for (const { text, def } of replay.slice(i, i + REPLAY_CHUNK)) {
        if (def && !page.definitions.has(def)) {
          page.definitions.add(def);
          chunk.push(recording.definitionRecord(def));
        }
        chunk.push(text);
      }
      socket.send(`[${chunk.join(',')}]`);
    }
    socket.send(JSON.stringify([{ type: '@socketchart.replayed', count: replay.length }]));
    pages.add(page);
    socket.on('close', () => pages.delete(page));
    socket.on('message', () => {});
  };

  wss.on('connection', (socket, req) => {
    socket.on('error', () => socket.terminate());
    const path = (req.url ?? '/').split('?')[0];
    if (path === PAGE_SOCKET_PATH) {
      const origin = req.headers.origin;
      if (origin !== undefined && !sameOrigin(origin, req.headers.host)) {
        socket.close(1008, 'the page socket is for the inspector page');
        return;
      }
      openPage(socket);
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !appOriginAllowed(origin, req.headers.host)) {
      socket.close(1008, 'this page may not send: see appOrigins');
      return;
    }
    sourcesSeen++;
    const prefix = `a${sourcesSeen}:`;
    stats.sources++;
    socket.send(JSON.stringify(HELLO));
    const source = sourcesSeen;
    socket.on('message', (data) => receive(data, prefix, source));
    socket.on('close', () => {
      stats.sources--;
      for (const ended of recording.endSource(source)) for (const page of pages) pushTo(page, ended.text, ended.def);
      scheduleFlush();
    });
  });

  // what the listener meets after start (accept EMFILE) is passed on here: it goes on listening
  wss.on('error', () => undefined);
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(options.port ?? DEFAULT_INSPECTOR_PORT, host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    wss.close();
    throw error;
  }
  port = (http.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${shownHost}:${port}/`,
    wsUrl: `ws://${shownHost}:${port}`,
    port,
    stats: () => ({ ...stats, pages: pages.size, stored: recording.size }),
    close: async () => {
      closing = true;
      clearTimeout(batchTimer);
      batchTimer = undefined;
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
