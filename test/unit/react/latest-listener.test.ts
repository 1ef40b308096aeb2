// @vitest-environment happy-dom
import { Fragment, createElement, useEffect, type ReactNode } from 'react';
import { describe, expect, it } from 'vitest';
import { SocketchartProvider, useChannel, useChannelMessages, useConnectionEvent } from '../../../src/react/index.js';
import { harness, type Harness } from '../../support/harness.js';
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

/**
 * Renders `feed` (a component body: it may call hooks) for channel feed:a, then for feed:b. The commit of the
 * switch delivers a message of feed:a from a child's effect, which runs before the old subscription is let go.
 */
async function switchChannel(h: Harness, feed: (ch: string) => ReactNode): Promise<HTMLElement> {
  const Pusher = ({ ch }: { ch: string }) => {
    useEffect(() => {
      if (ch === 'feed:b') h.server.last!.push({ type: 'message', ch: 'feed:a', seq: 2, data: 'late-a' });
    }, [ch]);
    return null;
  };
  const Feed = ({ ch }: { ch: string }) => createElement(Fragment, null, feed(ch), createElement(Pusher, { ch }));
  const App = ({ ch }: { ch: string }) => createElement(SocketchartProvider, { connection: h.connection }, createElement(Feed, { ch }));
  const container = await render(createElement(App, { ch: 'feed:a' }), false);
  await flush(h);
  await rerender(createElement(App, { ch: 'feed:b' }));
  await flush(h);
  return container;
}

describe('a channel switch: the listener given with the new channel never gets the old channel\'s messages', () => {
  it('useChannel: the listener given with channel b is not called with a message of channel a', async () => {
    const h = harness();
    await h.connect();
    const log: string[] = [];
    await switchChannel(h, (ch) => {
      useChannel<string>(ch, (data, message) => log.push(`listener for ${ch} got ${message.ch}/${data}`));
      return null;
    });
    expect(log.filter((line) => line.startsWith('listener for feed:b got feed:a'))).toEqual([]);
  });

  it('useChannelMessages: the list of channel b shows no message of channel a', async () => {
    const h = harness();
    await h.connect();
    const container = await switchChannel(h, (ch) => {
      const messages = useChannelMessages<string>(ch, { last: 20 });
      return createElement('ol', null, messages.map((m) => createElement('li', { key: `${m.ch}:${m.seq}` }, `${m.ch}/${m.data}`)));
    });
    const items = Array.from(container.querySelectorAll('li')).map((li) => li.textContent);
    expect(items, 'messages shown for feed:b').toEqual([]);
  });
});
