import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
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
