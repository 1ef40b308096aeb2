import { createInspector } from '@statelyai/inspect';
import { expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { ErrorCode, SocketchartError } from '../../../src/index.js';
import { InspectionEncoder } from '../../../src/inspection/encoder.js';
import { harness } from '../../support/harness.js';

/**
 * A token provider may throw a SocketchartError of its own (to choose the recovery): one quoting the token is
 * redacted before the machine hears of it, at an in-band refresh as at a dial.
 */

/** `@statelyai/inspect` hands events to its adapter when the host is idle. */
const idle = () => new Promise<void>((resolve) => setTimeout(resolve, 30));

it('a token provider that fails an in-band refresh with a SocketchartError quoting the token: the token reaches no inspection event, snapshot or error', async () => {
  const token = 'tok-CURRENT-5b7d31';
  const raw: InspectionEvent[] = [];
  const stately: unknown[] = [];
  const inspector = createInspector({ send: (event) => void stately.push(JSON.parse(JSON.stringify(event))) });
  const encoder = new InspectionEncoder({ now: () => 0 });
  let calls = 0;
  const h = harness(
    {
      auth: {
        token: () => {
          if (++calls === 1) return token;
          throw new SocketchartError(ErrorCode.AUTHENTICATION_FAILED, { message: `the refresh of ${token} was refused`, recovery: 'fail', details: { presented: token } });
        },
        refreshLeadMs: 30_000,
      },
      heartbeat: false,
      inspect: {
        next: (event) => {
          raw.push(event);
          encoder.next(event);
          inspector.inspect.next?.(event);
        },
      },
    },
    { sessionTtlMs: 60_000 },
  );
  await h.connect();
  await h.advance(30_000);
  await idle();
  expect(calls, 'the refresh was asked for').toBe(2);
  expect(h.errors.map((error) => error.message)).toEqual(['the refresh of [redacted] was refused']);
  const failed = raw.flatMap((event) => (event.type === '@xstate.event' && event.event.type.startsWith('xstate.error.actor') ? [event.event] : []));
  expect(failed, 'the machine heard of the failed refresh').toHaveLength(1);
  expect(JSON.stringify(failed)).not.toContain(token);
  expect(JSON.stringify(raw.flatMap((event) => (event.type === '@xstate.snapshot' ? [event.snapshot] : [])))).not.toContain(token);
  expect(JSON.stringify(encoder.drain()), 'what connectInspector() sends').not.toContain(token);
  expect(JSON.stringify(stately), "what @statelyai/inspect's inspector sends").not.toContain(token);
  h.connection.dispose();
});

it('after an in-band refresh, an error frame or a close reason quoting the token it replaced reaches no inspection event or error', async () => {
  const tokens = ['tok-FIRST-a41c9e', 'tok-SECOND-7d02bb'];
  let next = 0;
  const events: InspectionEvent[] = [];
  const h = harness({ auth: { token: () => tokens[next++]!, refreshLeadMs: 30_000 }, heartbeat: false, inspect: (event) => events.push(event) }, { sessionTtlMs: 60_000 });
  await h.connect();
  await h.advance(30_000);
  expect(h.server.last!.sentOfType('auth').map((frame) => frame.token), 'the refresh went in band').toEqual(tokens);
  h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: `session of ${tokens[0]} replaced` });
  await h.settle();
  h.server.last!.closeFromServer(4001, `${tokens[0]} expired`);
  await h.settle();
  const seen = JSON.stringify([events.map((event) => (event as { event?: unknown }).event), h.errors]);
  expect(seen).toContain('session of');
  for (const token of tokens) expect(seen).not.toContain(token);
  h.connection.dispose();
});

it('after two in-band refreshes, an error frame quoting the token the last one replaced reaches no inspection event or error', async () => {
  const tokens = ['tok-FIRST-a41c9e', 'tok-SECOND-7d02bb', 'tok-THIRD-e5f1a0'];
  let next = 0;
  const events: InspectionEvent[] = [];
  const h = harness({ auth: { token: () => tokens[next++]!, refreshLeadMs: 30_000 }, heartbeat: false, inspect: (event) => events.push(event) }, { sessionTtlMs: 60_000 });
  await h.connect();
  await h.advance(30_000);
  await h.advance(30_000);
  expect(h.server.last!.sentOfType('auth').map((frame) => frame.token), 'both refreshes went in band').toEqual(tokens);
  h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: `session of ${tokens[1]} replaced` });
  await h.settle();
  const seen = JSON.stringify([events.map((event) => (event as { event?: unknown }).event), h.errors]);
  expect(seen).toContain('session of');
  expect(seen).not.toContain(tokens[1]);
  h.connection.dispose();
});
