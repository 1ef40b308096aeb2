import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startInspectorProcess } from '../../../src/cli/inspector-process.js';
import { freePort } from '../../support/ports.js';
import { startTestInspector, stillAnswers } from './support.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function dialPage(wsUrl: string, origin: string): Promise<string> {
  const socket = new WebSocket(`${wsUrl}/_page`, { origin });
  return new Promise<string>((resolve) => {
    socket.on('close', (code) => resolve(`close ${code}`));
    socket.on('error', (error) => resolve(`error ${error.message}`));
    setTimeout(() => resolve('timeout'), 3_000);
  }).finally(() => socket.terminate());
}

describe('inspector server: a page-socket upgrade with Origin: null', () => {
  it('in process: refused with 1008, no uncaught exception', async () => {
    const server = await startTestInspector();
    cleanups.push(() => server.close());
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.prependListener('uncaughtException', onUncaught);
    cleanups.push(() => process.off('uncaughtException', onUncaught));
    const outcome = await dialPage(server.wsUrl, 'null');
    expect(uncaught.map(String)).toEqual([]);
    expect(outcome).toBe('close 1008');
  });

  it('`socketchart inspect` survives it', async () => {
    const inspector = await startInspectorProcess(await freePort());
    cleanups.push(() => inspector.close());
    await dialPage(inspector.wsUrl, 'null');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await stillAnswers(inspector.wsUrl), 'the inspector process is still listening').toBe(true);
  });
});
