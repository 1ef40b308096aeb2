import { createConnection, indexedDbStore, webStorageStore, type ConnectionOptions } from 'socketchart';

/** One connection with the browser's own environment (online/offline, visibility, freeze/resume, pageshow), driven by the spec. */

const config = JSON.parse(new URLSearchParams(location.search).get('c') ?? '{}') as {
  url: string;
  user?: string;
  heartbeat?: ConnectionOptions['heartbeat'];
  closeWhenHidden?: boolean;
  store?: 'local' | 'indexeddb';
  start?: boolean;
};

const states: Array<{ status: string; previous: string; reason?: string; at: number }> = [];
const errors: Array<{ code: string; message: string }> = [];
const pageshows: boolean[] = [];
addEventListener('pageshow', (event) => pageshows.push((event as PageTransitionEvent).persisted));

const connection = createConnection({
  url: config.url,
  auth: { token: async () => config.user ?? 'alice' },
  heartbeat: config.heartbeat ?? { intervalMs: 1_000, timeoutMs: 1_000 },
  reconnect: { baseMs: 200, capMs: 500 },
  closeWhenHidden: config.closeWhenHidden ?? false,
  ...(config.store === 'local' ? { persistence: { store: webStorageStore({ key: 'spec:outbox' }) } } : {}),
  ...(config.store === 'indexeddb' ? { persistence: { store: indexedDbStore({ name: 'spec-outbox' }) } } : {}),
});
const restored: Array<{ messages: number; expired: number }> = [];
connection.on('restored', (event) => restored.push(event));
connection.on('state', (change) => states.push({ ...change, at: Math.round(performance.now()) }));
connection.on('error', (error) => errors.push({ code: error.code, message: error.message }));
if (config.start !== false) connection.start();

const settled: string[] = [];
Object.assign(window, {
  sc: {
    connection,
    states,
    errors,
    pageshows,
    restored,
    settled,
    /** Acknowledged sends of `from..to` on `ch`; how each one settled is recorded. */
    sendRange(ch: string, from: number, to: number) {
      for (let n = from; n <= to; n++) {
        connection.send({ n }, { channel: ch, ack: true }).then(
          () => settled.push(`ok:${n}`),
          (error: { code: string }) => settled.push(`${error.code}:${n}`),
        );
      }
    },
  },
});
