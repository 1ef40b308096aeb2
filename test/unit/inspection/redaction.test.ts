import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { INSPECTION_FORMAT_VERSION } from '../../../src/inspection/protocol.js';
import { openPage, startTestInspector } from './support.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const secret = 'hunter2-SECRET-deep';

async function seen(record: Record<string, unknown>): Promise<string> {
  const server = await startTestInspector();
  cleanups.push(() => server.close());
  const ws = new WebSocket(server.wsUrl);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  cleanups.push(() => ws.close());
  ws.send(JSON.stringify({ type: '@xstate.event', sessionId: 'x:1', createdAt: '1', _version: INSPECTION_FORMAT_VERSION, id: null, ...record }));
  const page = await openPage(server);
  cleanups.push(() => page.close());
  await page.find((r) => r.type === '@xstate.event', 'the event');
  return JSON.stringify(page.records);
}

describe('inspector server redaction', () => {
  it('removes a password nested 40 levels deep in an event', async () => {
    let payload: Record<string, unknown> = { password: secret };
    for (let i = 0; i < 40; i++) payload = { nested: payload };
    const text = await seen({ event: { type: 'deep', payload } });
    expect(text).toContain('"type":"deep"');
    expect(text).not.toContain(secret);
  });

  it('removes a password in a member other than snapshot/event/data/sample/name', async () => {
    const text = await seen({ event: { type: 'login' }, meta: { password: secret } });
    expect(text).toContain('"type":"login"');
    expect(text).not.toContain(secret);
  });
});
