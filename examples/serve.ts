/**
 * Runs an example app against the reference server: `npx tsx examples/serve.ts react-dashboard` (or
 * `vue-chat`) builds it with vite, serves it on http://127.0.0.1:5173 (`--port N`) and the reference server
 * behind /ws. The dashboard's feeds get a numbered message every 700 ms; POST /api/restart restarts the
 * server (1012) so the pool's staggered, budgeted recovery can be watched.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { build } from 'vite';
import { createServer, type SocketchartServer } from '../src/server/index.js';

export type ExampleName = 'react-dashboard' | 'vue-chat';

const feeds = ['queue', 'adw-monitor', 'workflows', 'routes', 'workflow-history', 'planned-features', 'system-status', 'webhook-status'];
const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

export interface RunningExample {
  url: string;
  /** Upgrades to /ws so far, by endpoint (`?e=`). */
  opened: Map<string, number>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Builds the example (unless `build: false`) and serves it with a reference server behind /ws. */
export async function serveExample(name: ExampleName, { port = 5173, buildFirst = true }: { port?: number; buildFirst?: boolean } = {}): Promise<RunningExample> {
  const dir = fileURLToPath(new URL(`./${name}/`, import.meta.url));
  if (buildFirst) await build({ configFile: join(dir, 'vite.config.ts'), logLevel: 'warn' });
  const dist = join(dir, 'dist');

  const serverOptions = {
    port: 0,
    host: '127.0.0.1',
    auth: { verify: async (token: string) => ({ userId: token }) },
    logger: pino({ level: 'silent' }),
    typingTimeoutMs: 4_000,
    channels: [
      { pattern: 'chat:*', subscribe: true, publish: true, presence: true },
      { pattern: 'feed:*', subscribe: true },
    ],
  };
  let reference: SocketchartServer = await createServer(serverOptions);
  let referencePort = reference.address()!.port;
  const opened = new Map<string, number>();
  const pipes = new Set<Socket>();

  const http: Server = createHttpServer(async (request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    if (path === '/api/restart' && request.method === 'POST') {
      await restart();
      response.end('{"restarted":true}');
      return;
    }
    const file = normalize(join(dist, path === '/' ? 'index.html' : path));
    if (!file.startsWith(dist)) {
      response.statusCode = 403;
      response.end();
      return;
    }
    try {
      const body = await readFile(file);
      response.setHeader('content-type', types[extname(file)] ?? 'application/octet-stream');
      response.end(body);
    } catch {
      response.statusCode = 404;
      response.end();
    }
  });

  // /ws is piped to the reference server's own port, so that it can be restarted under the page.
  http.on('upgrade', (request: IncomingMessage, client: Socket, head: Buffer) => {
    const endpoint = new URL(request.url ?? '/', 'http://x').searchParams.get('e') ?? 'default';
    opened.set(endpoint, (opened.get(endpoint) ?? 0) + 1);
    const upstream = connect(referencePort, '127.0.0.1', () => {
      const lines = [`${request.method} ${request.url} HTTP/1.1`, ...Object.entries(request.headers).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}`)];
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      client.pipe(upstream).pipe(client);
    });
    pipes.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      pipes.delete(client);
      pipes.delete(upstream);
    };
    upstream.on('error', end).on('close', end);
    client.on('error', end).on('close', end);
  });

  let n = 0;
  const ticker = name === 'react-dashboard'
    ? setInterval(() => {
        n++;
        for (const feed of feeds) reference.broadcast(`feed:${feed}`, { n, at: new Date().toISOString().slice(11, 19) }).catch(() => {});
      }, 700)
    : undefined;

  async function restart(): Promise<void> {
    await reference.close(); // every socket closed with 1012
    reference = await createServer({ ...serverOptions, port: referencePort });
    referencePort = reference.address()!.port;
  }

  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
  return {
    url,
    opened,
    restart,
    async close() {
      if (ticker) clearInterval(ticker);
      for (const socket of pipes) socket.destroy();
      await reference.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const name = process.argv[2] as ExampleName;
  if (name !== 'react-dashboard' && name !== 'vue-chat') {
    console.error('usage: npx tsx examples/serve.ts react-dashboard|vue-chat [--port N]');
    process.exit(2);
  }
  const portFlag = process.argv.indexOf('--port');
  const running = await serveExample(name, { port: portFlag > 0 ? Number(process.argv[portFlag + 1]) : 5173 });
  console.log(`${name}: ${running.url}${name === 'vue-chat' ? '?user=alice (and ?user=bob in another tab)' : ''}   (Ctrl-C to stop)`);
  process.on('SIGINT', () => running.close().then(() => process.exit(0)));
}
