import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startInspectorProcess } from '../../../src/cli/inspector-process.js';
import { freePort } from '../../support/ports.js';
import { startTestInspector, stillAnswers } from './support.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const depth = 200_000;
const frame = `{"type":"@xstate.event","sessionId":"x:1","_version":"0.7.2","createdAt":"1","id":null,"event":{"type":"deep","p":${'['.repeat(depth)}${']'.repeat(depth)}}}`;

async function sendFrom(wsUrl: string): Promise<void> {
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(frame);
  await new Promise((resolve) => setTimeout(resolve, 300));
  ws.terminate();
}

describe('inspector server: a deeply nested (valid JSON) frame from an app', () => {
  it('in process: is rejected and counted, no uncaught exception', async () => {
    const server = await startTestInspector();
    // close() hangs after the crash (the app socket is left mid-frame): bounded here
    cleanups.push(() => Promise.race([server.close(), new Promise((resolve) => setTimeout(resolve, 2_000))]));
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.prependListener('uncaughtException', onUncaught);
    cleanups.push(() => process.off('uncaughtException', onUncaught));
    await sendFrom(server.wsUrl);
    expect(uncaught.map(String)).toEqual([]);
  });

  it('`socketchart inspect` survives it', async () => {
    const inspector = await startInspectorProcess(await freePort());
    cleanups.push(() => inspector.close());
    await sendFrom(inspector.wsUrl);
    expect(await stillAnswers(inspector.wsUrl), 'the inspector process is still listening').toBe(true);
  });
});
