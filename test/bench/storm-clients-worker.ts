/**
 * The clients of one restart storm (peers.ts section 3), in a fresh process per storm: N clients of ONE
 * library with its defaults. The library is imported here, on demand, and nothing else is: a library that
 * draws randomness when its module loads (reconnecting-websocket draws its minimum reconnection delay,
 * 1–5 s, once per module load) draws it anew for every storm, as it would in a new page.
 *
 * IPC (→ from the bench, ← to the bench):
 *   → { type: 'open', kind, url, n }      opens the N clients
 *                                          ← { type: 'opened', ms } once every one is connected (error after 60 s)
 *   → { type: 'back', since, timeoutMs }  ← { type: 'back', all, back, lastAt } once every client has connected
 *       again after `since` (Date.now(), wall clock: comparable across processes on one host), or at the
 *       timeout (all: false). lastAt: Date.now() of the last client's connected event after `since`.
 *   → { type: 'exit' }                    closes every client and exits
 */
import { toParent } from './lib/proc.js';
import { sleep } from './lib/stats.js';

export type StormKind = 'pool' | 'standalone' | 'socketio' | 'partysocket' | 'rws';

type Command =
  | { type: 'open'; kind: StormKind; url: string; n: number }
  | { type: 'back'; since: number; timeoutMs: number }
  | { type: 'exit' };

/** What partysocket and reconnecting-websocket share: the WebSocket-like API, `ws` passed as the constructor. */
interface Reconnecting {
  addEventListener(type: 'open', listener: () => void): void;
  close(): void;
}
type ReconnectingCtor = new (url: string, protocols: undefined, options: { WebSocket: unknown }) => Reconnecting;

let lastConnected = new Float64Array(0);
let close: () => void = () => {};

/** Opens n clients of a kind; every connect (the first and each reconnect) stamps lastConnected[i]. */
async function openClients(kind: StormKind, url: string, n: number): Promise<() => void> {
  const connected = (i: number) => (lastConnected[i] = Date.now());
  if (kind === 'pool' || kind === 'standalone') {
    const { createConnection, createPool } = await import('../../src/index.node.js');
    if (kind === 'pool') {
      // staggerMs only spaces the pool's first start (default 100 ms apart: 100 s for 1,000); reconnects use the defaults
      const pool = createPool({ endpoints: Array.from({ length: n }, (_, i) => ({ name: String(i), url })), staggerMs: 0 });
      pool.on('state', ({ name, status }: { name: string; status: string }) => {
        if (status === 'connected') connected(Number(name));
      });
      pool.start();
      return () => pool.dispose();
    }
    const all = Array.from({ length: n }, (_, i) => {
      const connection = createConnection({ url, name: String(i) });
      connection.on('state', ({ status }) => {
        if (status === 'connected') connected(i);
      });
      return connection.start();
    });
    return () => all.forEach((c) => c.dispose());
  }
  if (kind === 'socketio') {
    const { io } = await import('socket.io-client');
    const all = Array.from({ length: n }, (_, i) => {
      const socket = io(url.replace('ws:', 'http:'), { forceNew: true });
      socket.on('connect', () => connected(i));
      return socket;
    });
    return () => all.forEach((s) => s.disconnect());
  }
  const { default: WebSocket } = await import('ws');
  const Ctor = (kind === 'partysocket' ? (await import('partysocket/ws')).default : (await import('reconnecting-websocket')).default) as unknown as ReconnectingCtor;
  const all = Array.from({ length: n }, (_, i) => {
    const socket = new Ctor(url, undefined, { WebSocket });
    socket.addEventListener('open', () => connected(i));
    return socket;
  });
  return () => all.forEach((s) => s.close());
}

const count = (since: number) => lastConnected.reduce((k, t) => k + (t > since ? 1 : 0), 0);

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

process.on('message', (message: Command) => {
  const fail = (error: unknown) => toParent({ type: 'error', message: String((error as Error)?.stack ?? error) });
  if (message.type === 'open') {
    const t0 = Date.now();
    lastConnected = new Float64Array(message.n);
    openClients(message.kind, message.url, message.n)
      .then(async (closeAll) => {
        close = closeAll;
        if (!(await until(() => count(0) === message.n, 60_000))) throw new Error(`${message.kind}: only ${count(0)} of ${message.n} connected at the start`);
        toParent({ type: 'opened', ms: Date.now() - t0 });
      })
      .catch(fail);
  } else if (message.type === 'back') {
    until(() => count(message.since) === lastConnected.length, message.timeoutMs)
      .then((all) => {
        const after = [...lastConnected].filter((t) => t > message.since);
        toParent({ type: 'back', all, back: after.length, lastAt: after.length > 0 ? Math.max(...after) : null });
      })
      .catch(fail);
  } else if (message.type === 'exit') {
    try {
      close();
    } finally {
      setTimeout(() => process.exit(0), 200);
    }
  }
});
process.on('disconnect', () => process.exit(0));
toParent({ type: 'ready' });
