// @vitest-environment happy-dom
import '../../support/react-refresh.js';
import { act, createElement } from 'react';
import { describe, expect, it } from 'vitest';
import { SocketchartProvider, useChannelMessages, useConnection, usePresence, useTyping } from '../../../src/react/index.js';
import { harness, presenceServer } from '../../support/harness.js';
import { edit, refresh } from '../../support/react-refresh.js';
import { connectionOptions, flush, render } from '../../support/react-dom.js';

/** socketchart/react under React Fast Refresh: editing a component keeps what it shows and what it holds on the connection. */

describe('Fast Refresh', () => {
  it('keeps the messages useChannelMessages shows, and the channel subscribed once', async () => {
    const h = harness();
    await h.connect();
    let shown: number[] = [];
    const Feed = edit('Feed', () => {
      shown = useChannelMessages<number>('feed').map((m) => m.data);
      return createElement('ul', null, shown.length);
    });
    const container = await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Feed)));
    await act(async () => {
      for (let seq = 1; seq <= 3; seq++) h.server.last!.push({ type: 'message', ch: 'feed', seq, data: seq });
    });
    expect(shown).toEqual([1, 2, 3]);
    edit('Feed', () => {
      shown = useChannelMessages<number>('feed').map((m) => m.data);
      return createElement('ol', null, shown.length);
    });
    await refresh();
    await flush(h);
    await act(async () => h.server.last!.push({ type: 'message', ch: 'feed', seq: 4, data: 4 }));
    expect(shown).toEqual([1, 2, 3, 4]);
    expect(container.innerHTML).toBe('<ol>4</ol>');
    expect(h.server.last!.sentOfType('subscribe')).toHaveLength(1);
    expect(h.server.last!.sentOfType('unsubscribe')).toEqual([]);
  });

  it('keeps the connection a component owns, its one socket, and its presence joined once', async () => {
    const h = harness();
    presenceServer(h);
    let members: string[] = [];
    const Room = edit('Room', () => {
      const connection = useConnection(connectionOptions(h));
      members = usePresence('room', {}, connection).members.map((m) => m.userId);
      return createElement('p', null, members.join());
    });
    const container = await render(createElement(Room));
    await flush(h);
    expect(members).toEqual(['bob', 'me']);
    edit('Room', () => {
      const connection = useConnection(connectionOptions(h));
      members = usePresence('room', {}, connection).members.map((m) => m.userId);
      return createElement('div', null, members.join());
    });
    await refresh();
    await flush(h);
    expect(container.innerHTML).toBe('<div>bob,me</div>');
    expect(h.server.sockets).toHaveLength(1);
    expect(members).toEqual(['bob', 'me']);
    const joins = h.server.last!.sentOfType('presence').filter((f) => f.action === 'join');
    expect(joins).toHaveLength(1);
    expect(h.server.last!.sentOfType('presence').filter((f) => f.action === 'leave')).toEqual([]);
  });

  it('keeps useTyping\'s channel subscribed, others shown typing, and this user typing', async () => {
    const h = harness();
    await h.connect();
    let api: ReturnType<typeof useTyping> | undefined;
    const Box = edit('Box', () => {
      api = useTyping('chat:a');
      return createElement('em', null, api.typing.join());
    });
    const container = await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Box)));
    await act(async () => h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'ann', typing: true }));
    act(() => api!.start());
    edit('Box', () => {
      api = useTyping('chat:a');
      return createElement('i', null, api.typing.join());
    });
    await refresh();
    await flush(h);
    expect(container.innerHTML).toBe('<i>ann</i>');
    expect(h.connection.presence.isTyping('chat:a')).toBe(true);
    expect(h.server.last!.sentOfType('typing')).toEqual([{ type: 'typing', ch: 'chat:a', typing: true }]);
    expect(h.server.last!.sentOfType('unsubscribe')).toEqual([]);
  });
});
