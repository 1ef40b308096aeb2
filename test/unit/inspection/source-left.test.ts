import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { INSPECTION_FORMAT_VERSION } from '../../../src/inspection/protocol.js';
import { until } from '../../support/until.js';
import { openPage, startTestInspector } from './support.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const actor = (i: number) =>
  JSON.stringify({ type: '@xstate.actor', name: `conn-${i}`, sessionId: `x:${i}`, createdAt: '1', _version: INSPECTION_FORMAT_VERSION, id: null, definition: '{"id":"conn"}', snapshot: { status: 'active', context: { blob: 'x'.repeat(2_000) } } });

describe('inspector server: actors of an app that has gone', () => {
  it('are not replayed as live to a page opened after 5 runs of the app, nor kept beyond history.maxBytes', async () => {
    const maxBytes = 100_000;
    const server = await startTestInspector({ history: { maxEvents: 50, maxBytes } });
    cleanups.push(() => server.close());
    for (let run = 0; run < 5; run++) {
      const ws = new WebSocket(server.wsUrl);
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const frames = Array.from({ length: 100 }, (_, i) => actor(i));
      ws.send(`[${frames.join(',')}]`);
      await until(() => server.stats().received >= (run + 1) * 100, 5_000, `run ${run} received`);
      ws.terminate(); // the app exits without stopping its actors
      await until(() => server.stats().sources === 0, 5_000, 'the app left');
    }
    const page = await openPage(server);
    cleanups.push(() => page.close());
    await page.find((r) => r.type === '@socketchart.replayed', 'the replay');
    const announced = page.records.filter((r) => r.type === '@xstate.actor' && (r.snapshot as { status?: string }).status === 'active');
    const bytes = JSON.stringify(page.records).length;
    expect({ liveActorsReplayed: announced.length, replayBytesWithinHistory: bytes <= 2 * maxBytes }).toEqual({ liveActorsReplayed: 0, replayBytesWithinHistory: true });
  });
});
