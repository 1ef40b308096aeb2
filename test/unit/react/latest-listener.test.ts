// @vitest-environment happy-dom
import { createElement, useEffect } from 'react';
import { describe, expect, it } from 'vitest';
import { SocketchartProvider, useChannel, useConnectionEvent } from '../../../src/react/index.js';
import { harness } from '../../support/harness.js';
import { flush, render, rerender } from '../../support/react-dom.js';

// An event delivered after the commit and before the passive effects run (a socket message after paint, or
// one raised by an effect of a child, which runs first) reaches the listener of the render just committed.
describe('the latest listener, from the commit on', () => {
  it('useChannel: a message delivered in the commit that changed the listener reaches the new one', async () => {
    const h = harness();
    await h.connect();
    const log: string[] = [];
    let seq = 0;
    const Pusher = ({ room }: { room: string }) => {
      useEffect(() => {
        if (room !== 'a') h.server.last!.push({ type: 'message', ch: 'feed', seq: ++seq, data: seq });
      }, [room]);
      return null;
    };
    const Feed = ({ room }: { room: string }) => {
      useChannel<number>('feed', (data) => log.push(`${room}:${data}`));
      return createElement(Pusher, { room });
    };
    const App = ({ room }: { room: string }) => createElement(SocketchartProvider, { connection: h.connection }, createElement(Feed, { room }));
    await render(createElement(App, { room: 'a' }), false);
    await flush(h);
    await rerender(createElement(App, { room: 'b' }));
    await flush(h);
    expect(log).toEqual(['b:1']);
  });

  it('useConnectionEvent: same', async () => {
    const h = harness();
    await h.connect();
    const log: string[] = [];
    const Pusher = ({ room }: { room: string }) => {
      useEffect(() => {
        if (room !== 'a') h.server.last!.push({ type: 'message', ch: 'feed', seq: 1, data: 1 });
      }, [room]);
      return null;
    };
    const Feed = ({ room }: { room: string }) => {
      useChannel('feed');
      useConnectionEvent('message', (m) => log.push(`${room}:${String(m.data)}`));
      return createElement(Pusher, { room });
    };
    const App = ({ room }: { room: string }) => createElement(SocketchartProvider, { connection: h.connection }, createElement(Feed, { room }));
    await render(createElement(App, { room: 'a' }), false);
    await flush(h);
    await rerender(createElement(App, { room: 'b' }));
    await flush(h);
    expect(log).toEqual(['b:1']);
  });
});
