import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { pino } from 'pino';
import type { Page } from 'playwright-core';
import { createServer, type ServerOptions, type SocketchartServer } from '../../src/server/index.js';

const root = join(import.meta.dirname, '..', '..');
const dist = join(root, 'dist');

/** `socketchart`, `socketchart/react`… resolve to the real build in dist/, as an app bundling the package would. */
const realBuild: Plugin = {
  name: 'socketchart-dist',
  setup(b) {
    b.onResolve({ filter: /^socketchart(\/(react|vue|rx|testing))?$/ }, ({ path }) => {
      const entry = path === 'socketchart' ? 'index.js' : `${path.slice('socketchart/'.length)}.js`;
      const file = join(dist, entry);
      if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build before the browser specs`);
      return { path: file };
    });
  },
};

/** Bundles a page script of test/browser/pages/ for the browser; `react: 18` bundles it against React 18 instead of 19. */
export async function bundlePage(name: string, { react = 19 }: { react?: 18 | 19 } = {}): Promise<string> {
  const react18 = join(root, 'test', 'fixtures', 'react18', 'node_modules');
  if (react === 18 && !existsSync(join(react18, 'react'))) throw new Error('React 18 is missing: npm ci --prefix test/fixtures/react18');
  const result = await build({
    entryPoints: [join(root, 'test', 'browser', 'pages', name)],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    plugins: [realBuild],
    define: { 'process.env.NODE_ENV': '"development"' },
    logLevel: 'silent',
    ...(react === 18 ? { alias: { react: join(react18, 'react'), 'react-dom': join(react18, 'react-dom') } } : {}),
  });
  return result.outputFiles[0]!.text;
}

export interface PageHost {
  /** The page's url (`?c=` carries its config as JSON). */
  pageUrl(config?: Record<string, unknown>): string;
  /** ws:// url of the reference server (`?e=<endpoint>` names the endpoint, for counting). */
  wsUrl: string;
  port: number;
  server: SocketchartServer;
  /** Sockets opened so far, by endpoint (`?e=` of the url, `default` without). */
  opened: Map<string, number>;
  /** Sockets open now, by endpoint. */
  live: Map<string, number>;
  close(): Promise<void>;
}

const endpointOf = (request: IncomingMessage) => new URL(request.url ?? '/', 'http://x').searchParams.get('e') ?? 'default';

/** An HTTP server on loopback serving one bundled page, with the reference server attached on /ws; every upgrade counted. */
export async function hostPage(script: string, serverOptions: Partial<ServerOptions> = {}): Promise<PageHost> {
  const http: Server = createHttpServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    if (path === '/app.js') {
      response.setHeader('content-type', 'text/javascript');
      response.setHeader('cache-control', 'no-store');
      response.end(script);
      return;
    }
    if (path === '/' || path === '/other') {
      response.setHeader('content-type', 'text/html');
      response.end(path === '/other' ? '<!doctype html><title>other</title><p>another page</p>' : '<!doctype html><meta charset="utf-8"><title>socketchart</title><div id="root"></div><script type="module" src="/app.js"></script>');
      return;
    }
    response.statusCode = 404;
    response.end();
  });
  const opened = new Map<string, number>();
  const live = new Map<string, number>();
  http.on('upgrade', (request: IncomingMessage) => {
    const endpoint = endpointOf(request);
    opened.set(endpoint, (opened.get(endpoint) ?? 0) + 1);
    live.set(endpoint, (live.get(endpoint) ?? 0) + 1);
    request.socket.once('close', () => live.set(endpoint, live.get(endpoint)! - 1));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const server = await createServer({
    server: http,
    path: '/ws',
    auth: { verify: async (token) => ({ userId: token }) },
    logger: pino({ level: 'silent' }),
    channels: [{ pattern: '*:*', subscribe: true, publish: true, presence: true }],
    ...serverOptions,
  });
  const port = (http.address() as AddressInfo).port;
  return {
    pageUrl: (config = {}) => `http://127.0.0.1:${port}/?c=${encodeURIComponent(JSON.stringify(config))}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    port,
    server,
    opened,
    live,
    async close() {
      await server.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/**
 * Page-level visibility: headless Chromium keeps every page visible and its DevTools protocol has no
 * visibility emulation, so `document.visibilityState` / `hidden` are overridden and `visibilitychange`
 * is dispatched, as a tab switch does.
 */
export async function emulateVisibility(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((isHidden) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (isHidden ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => isHidden });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

/** Polls `read` in Node until `check` accepts its value; fails after `ms`. */
export async function waitFor<T>(read: () => T | Promise<T>, check: (value: T) => boolean, ms = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
