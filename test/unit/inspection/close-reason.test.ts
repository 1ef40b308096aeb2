import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { connectInspector, createConnection } from '../../../src/index.node.js';
import { createMockServer } from '../../../src/testing/index.js';
import { freePort } from '../../support/ports.js';
import { until } from '../../support/until.js';
import { openPage, startTestInspector } from './support.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const token = 'opaque-SECRET-7f3a9c';

async function closedWithTokenInReason(inspect: ReturnType<typeof connectInspector>) {
  const mock = createMockServer({ autoAuth: false });
  const connection = createConnection({ url: 'ws://mock.test/secure', WebSocket: mock.WebSocket, environment: false, auth: { token, mode: 'message' }, inspect });
  cleanups.push(() => connection.dispose());
  connection.start();
  await until(() => mock.last?.readyState === 1, 5_000, 'socket open');
  await new Promise((resolve) => setTimeout(resolve, 20));
  mock.last!.closeFromServer(4001, `rejected token ${token}`);
  await new Promise((resolve) => setTimeout(resolve, 20));
  inspect.flush();
}

describe('a server close reason naming the token', () => {
  it('never leaves the process through connectInspector()', async () => {
    const port = await freePort();
    const wss = new WebSocketServer({ port, host: '127.0.0.1' });
    cleanups.push(() => new Promise((resolve) => {
      for (const client of wss.clients) client.terminate();
      wss.close(resolve);
    }));
    const frames: string[] = [];
    wss.on('connection', (socket) => socket.on('message', (data) => frames.push(String(data))));
    const inspector = connectInspector({ url: `ws://127.0.0.1:${port}`, metricsIntervalMs: false });
    cleanups.push(() => inspector.close());
    await until(() => inspector.status === 'open', 5_000, 'inspector open');
    await closedWithTokenInReason(inspector);
    await until(() => frames.some((f) => f.includes('socket.close')), 5_000, 'the close was sent');
    const leaked = frames.filter((f) => f.includes(token)).map((f) => JSON.parse(f).event?.reason ?? f.slice(0, 120));
    expect(leaked).toEqual([]);
  });

  it('never reaches an inspector page', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const inspector = connectInspector({ url: server.wsUrl, metricsIntervalMs: false });
    cleanups.push(() => inspector.close());
    await until(() => inspector.status === 'open', 5_000, 'inspector open');
    await closedWithTokenInReason(inspector);
    const page = await openPage(server);
    cleanups.push(() => page.close());
    await page.find((r) => JSON.stringify(r).includes('socket.close'), 'the close on the page');
    const leaked = page.records.filter((r) => JSON.stringify(r).includes(token)).map((r) => `${r.type} ${(r.event as { reason?: string })?.reason}`);
    expect(leaked).toEqual([]);
  });
});
