// @vitest-environment happy-dom
import { useActorRef } from '@xstate/react';
import { createElement } from 'react';
import { describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import { InspectionEncoder } from '../../../src/inspection/encoder.js';
import { connectionLogic } from '../../../src/index.js';
import { createMockServer } from '../../../src/testing/index.js';
import { render } from '../../support/react-dom.js';

describe('InspectionEncoder with useActorRef() of @xstate/react under StrictMode', () => {
  it('samples and announces the connection actor that runs, not the one React made and dropped unstarted', async () => {
    const encoder = new InspectionEncoder();
    const server = createMockServer();
    const logic = connectionLogic({ url: 'ws://test.invalid/x', WebSocket: server.WebSocket, environment: false });
    let running: AnyActorRef | undefined;
    const Probe = () => {
      running = useActorRef(logic, { inspect: (event) => encoder.next(event) });
      return null;
    };
    await render(createElement(Probe));
    encoder.drain();
    expect(running!.getSnapshot().status).toBe('active');
    expect(encoder.announceLive().map((record) => record.sessionId)).toEqual([encoder.idOf(running!)]);
    expect(encoder.sample().map((record) => record.sessionId)).toEqual([encoder.idOf(running!)]);
  });
});
