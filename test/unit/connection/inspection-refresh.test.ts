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
