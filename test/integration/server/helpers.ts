import { Writable } from 'node:stream';
import { SignJWT } from 'jose';
import { pino, type Logger } from 'pino';
import { WebSocket, type ClientOptions } from 'ws';
import { createServer, type ServerOptions, type SocketchartServer } from '../../../src/server/index.js';

export const SECRET = 'test-secret-of-at-least-thirty-two-bytes!';

export interface TokenClaims {
  sub: string;
  /** Seconds from now; negative for an already expired token; `null` for a token without `exp`. */
  expiresInSec?: number | null;
  roles?: string[];
  permissions?: string[];
  secret?: string;
}

export async function mintToken({ sub, expiresInSec = 3600, roles, permissions, secret = SECRET }: TokenClaims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...(roles ? { roles } : {}), ...(permissions ? { permissions } : {}) })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt(now);
  if (expiresInSec !== null) jwt.setExpirationTime(now + expiresInSec);
  return jwt.sign(new TextEncoder().encode(secret));
}

export const silentLogger = (): Logger => pino({ level: 'silent' });

/** A pino logger at `trace` writing every line into memory. */
export function captureLogger(): { logger: Logger; text(): string; lines(): Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const logger = pino({ level: 'trace' }, stream);
  return {
    logger,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

export type TestServerOptions = Partial<ServerOptions>;

export function startServer(overrides: TestServerOptions = {}): Promise<SocketchartServer> {
  const { auth, ...rest } = overrides;
  return createServer({
    port: 0,
    logger: silentLogger(),
    channels: [
      { pattern: '*:*', subscribe: true, publish: true, presence: true },
      { pattern: '*:*:*', subscribe: true, publish: true, presence: true },
    ],
    ...rest,
    auth: { jwtSecret: SECRET, ...auth },
  } as ServerOptions);
}

export const wsUrl = (server: SocketchartServer, path = '/'): string => `ws://127.0.0.1:${server.address()!.port}${path}`;
export const httpUrl = (server: SocketchartServer, path = '/'): string => `http://127.0.0.1:${server.address()!.port}${path}`;

export type Frame = Record<string, unknown> & { type: string };

interface Waiter {
  predicate: (frame: Frame) => boolean;
  resolve: (frame: Frame) => void;
}

/** A `ws` client that records every frame and lets a test wait for the next one matching a predicate. */
export class TestClient {
  /** Every frame received, in order. */
  readonly frames: Frame[] = [];
  private unread: Frame[] = [];
  private waiters: Waiter[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  closeCode: number | undefined;

  constructor(readonly ws: WebSocket) {
    ws.on('error', () => undefined);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const frame = JSON.parse(data.toString()) as Frame;
      this.frames.push(frame);
      const index = this.waiters.findIndex((waiter) => waiter.predicate(frame));
      if (index >= 0) {
        const [waiter] = this.waiters.splice(index, 1);
        waiter!.resolve(frame);
      } else {
        this.unread.push(frame);
      }
    });
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        this.closeCode = code;
        resolve({ code, reason: reason.toString() });
      }),
    );
  }

  /** The next unread frame matching the predicate (waits at most `timeoutMs`). */
  next(predicate: (frame: Frame) => boolean, timeoutMs = 3000): Promise<Frame> {
    const index = this.unread.findIndex(predicate);
    if (index >= 0) return Promise.resolve(this.unread.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((candidate) => candidate !== waiter);
        reject(new Error(`no matching frame within ${timeoutMs} ms; received: ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  nextOfType(type: string, match: Record<string, unknown> = {}, timeoutMs = 3000): Promise<Frame> {
    return this.next((frame) => frame.type === type && Object.entries(match).every(([key, value]) => frame[key] === value), timeoutMs);
  }

  /** Frames of a type received so far (read or not). */
  ofType(type: string, ch?: string): Frame[] {
    return this.frames.filter((frame) => frame.type === type && (ch === undefined || frame.ch === ch));
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    return this.closed;
  }
}

/** Opens a socket and resolves once it is open (rejects on an HTTP refusal with the status). */
export function open(url: string, protocols?: string | string[], options: ClientOptions = {}): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    const client = new TestClient(ws);
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_request, response) => {
      reject(Object.assign(new Error(`HTTP ${response.statusCode}`), { status: response.statusCode }));
      ws.terminate();
    });
    ws.once('error', (error) => reject(error));
  });
}

/** Opens a socket, authenticates with the first-message token and waits for `auth_ok`. */
export function connectAs(server: SocketchartServer, userId: string, claims: Omit<TokenClaims, 'sub'> = {}, options: ClientOptions = {}): Promise<TestClient> {
  return connectTo(wsUrl(server), userId, claims, options);
}

/** Like `connectAs`, for a server known only by its URL (a node in another process). */
export async function connectTo(url: string, userId: string, claims: Omit<TokenClaims, 'sub'> = {}, options: ClientOptions = {}): Promise<TestClient> {
  const client = await open(url, undefined, options);
  client.send({ type: 'auth', token: await mintToken({ sub: userId, ...claims }) });
  await client.nextOfType('auth_ok');
  return client;
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls a condition every 10 ms for at most `timeoutMs`. */
export async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await delay(10);
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms`);
}

/** Reads one metric sample value from a Prometheus text exposition. */
export function metricValue(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(labels ? `${name}{${labels}}` : `${name} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}
