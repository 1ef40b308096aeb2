// @vitest-environment happy-dom
import { Fragment, act, createElement, useEffect } from 'react';
import { describe, expect, it } from 'vitest';
import { createOptimisticStore } from '../../../src/index.js';
import { SocketchartProvider, useChannelMessages, useConnectionError, useConnectionStatus, useOptimistic, usePresence, usePresenceListener, useTyping } from '../../../src/react/index.js';
import { harness, presenceServer } from '../../support/harness.js';
import { countListeners } from '../../support/listeners.js';
import { flush, render, rerender, unmount } from '../../support/react-dom.js';

/** What the hooks show when their arguments change, when state predates them, and when components share a channel. */

const Feed = ({ ch, last }: { ch: string; last: number }) => {
  const messages = useChannelMessages<string>(ch, { last });
  return createElement('ol', null, messages.map((m) => createElement('li', { key: `${m.ch}:${m.seq}` }, `${m.ch}/${m.data}`)));
};
const items = (container: HTMLElement) => Array.from(container.querySelectorAll('li')).map((li) => li.textContent);

describe('useChannelMessages when its arguments change', () => {
  it('switching channel does not show the previous channel\'s messages', async () => {
    const h = harness();
    await h.connect();
    const App = ({ ch }: { ch: string }) => createElement(SocketchartProvider, { connection: h.connection }, createElement(Feed, { ch, last: 20 }));
    const container = await render(createElement(App, { ch: 'feed:a' }));
    await act(async () => {
      h.server.last!.push({ type: 'message', ch: 'feed:a', seq: 1, data: 'a1' });
      h.server.last!.push({ type: 'message', ch: 'feed:a', seq: 2, data: 'a2' });
    });
    expect(items(container)).toEqual(['feed:a/a1', 'feed:a/a2']);
    await rerender(createElement(App, { ch: 'feed:b' }));
    await flush(h);
    await act(async () => h.server.last!.push({ type: 'message', ch: 'feed:b', seq: 1, data: 'b1' }));
    expect(items(container)).toEqual(['feed:b/b1']);
  });

  it('switching connection, on the same channel, does not show the previous connection\'s messages', async () => {
    const first = harness();
    const second = harness();
    await first.connect();
    await second.connect();
    const App = ({ h }: { h: typeof first }) => createElement(SocketchartProvider, { connection: h.connection }, createElement(Feed, { ch: 'feed:a', last: 20 }));
    const container = await render(createElement(App, { h: first }));
    await act(async () => first.server.last!.push({ type: 'message', ch: 'feed:a', seq: 1, data: 'first' }));
    expect(items(container)).toEqual(['feed:a/first']);
    await rerender(createElement(App, { h: second }));
    await flush(second);
    expect(items(container)).toEqual([]);
    await act(async () => second.server.last!.push({ type: 'message', ch: 'feed:a', seq: 1, data: 'second' }));
    expect(items(container)).toEqual(['feed:a/second']);
  });

  it('coming back to a channel (a → b → a) shows it empty: the messages of the first visit are not shown again', async () => {
    const h = harness();
    await h.connect();
    const App = ({ ch }: { ch: string }) => createElement(SocketchartProvider, { connection: h.connection }, createElement(Feed, { ch, last: 20 }));
    const container = await render(createElement(App, { ch: 'feed:a' }));
    await act(async () => {
      h.server.last!.push({ type: 'message', ch: 'feed:a', seq: 1, data: 'a1' });
      h.server.last!.push({ type: 'message', ch: 'feed:a', seq: 2, data: 'a2' });
    });
    await rerender(createElement(App, { ch: 'feed:b' }));
    await flush(h);
    expect(items(container)).toEqual([]);
    await rerender(createElement(App, { ch: 'feed:a' }));
    await flush(h);
    expect(items(container), 'feed:a again: unsubscribed meanwhile, so its list starts anew').toEqual([]);
    await act(async () => h.server.last!.push({ type: 'message', ch: 'feed:a', seq: 5, data: 'a5' }));
    expect(items(container)).toEqual(['feed:a/a5']);
  });

  it('lowering `last` keeps at most `last` messages', async () => {
    const h = harness();
    await h.connect();
    const App = ({ last }: { last: number }) => createElement(SocketchartProvider, { connection: h.connection }, createElement(Feed, { ch: 'feed', last }));
    const container = await render(createElement(App, { last: 5 }));
    await act(async () => {
      for (let seq = 1; seq <= 5; seq++) h.server.last!.push({ type: 'message', ch: 'feed', seq, data: `m${seq}` });
    });
    expect(items(container)).toHaveLength(5);
    await rerender(createElement(App, { last: 2 }));
    expect(items(container)).toEqual(['feed/m4', 'feed/m5']);
  });
});

describe('a channel switch: no render pairs the new channel with the old channel\'s data', () => {
  it('usePresenceListener', async () => {
    const h = harness();
    h.server.onFrame = (socket, frame) => {
      const json = frame.json;
      if (json?.type !== 'presence') return;
      socket.push({ type: 'presence_state', ch: json.ch, members: json.ch === 'room:a' ? [{ userId: 'alice' }] : [{ userId: 'bob' }] });
    };
    await h.connect();
    const rendered: string[] = [];
    const Room = ({ ch }: { ch: string }) => {
      const members = usePresenceListener(ch);
      rendered.push(`${ch}=${members.map((m) => m.userId).join(',')}`);
      return null;
    };
    const App = ({ ch }: { ch: string }) => createElement(SocketchartProvider, { connection: h.connection }, createElement(Room, { ch }));
    await render(createElement(App, { ch: 'room:a' }), false);
    await flush(h);
    expect(rendered.at(-1)).toBe('room:a=alice');
    await rerender(createElement(App, { ch: 'room:b' }));
    await flush(h);
    expect(rendered.at(-1)).toBe('room:b=bob');
    expect(rendered.filter((r) => r.startsWith('room:b='))).not.toContain('room:b=alice');
  });

  it('useTyping', async () => {
    const h = harness();
    await h.connect();
    const rendered: string[] = [];
    const Box = ({ ch }: { ch: string }) => {
      const { typing } = useTyping(ch);
      rendered.push(`${ch}=${typing.join(',')}`);
      return null;
    };
    const App = ({ ch }: { ch: string }) => createElement(SocketchartProvider, { connection: h.connection }, createElement(Box, { ch }));
    await render(createElement(App, { ch: 'chat:a' }), false);
    await flush(h);
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'alice', typing: true });
    await flush(h);
    expect(rendered.at(-1)).toBe('chat:a=alice');
    await rerender(createElement(App, { ch: 'chat:b' }));
    await flush(h);
    expect(rendered.filter((r) => r.startsWith('chat:b='))).not.toContain('chat:b=alice');
  });
});


const Room = ({ tag }: { tag: string }) => {
  const { members } = usePresence('chat:a', { meta: { name: 'Me' } });
  return createElement('p', { 'data-tag': tag }, members.map((m) => m.userId).sort().join(','));
};

describe('usePresence: components that join one channel share the join', () => {
  it('a remount in one commit (a new key) keeps the user in the room', async () => {
    const h = harness();
    const members = presenceServer(h);
    await h.connect();
    const App = ({ k }: { k: number }) => createElement(SocketchartProvider, { connection: h.connection }, createElement(Room, { key: k, tag: String(k) }));
    await render(createElement(App, { k: 1 }));
    await flush(h);
    expect(members.has('me')).toBe(true);
    await rerender(createElement(App, { k: 2 })); // e.g. a route param used as key
    await flush(h);
    const actions = h.server.last!.sentOfType('presence').map((f) => f.action);
    expect({ isJoined: h.connection.presence.isJoined('chat:a'), serverHasMe: members.has('me'), actions }).toEqual({ isJoined: true, serverHasMe: true, actions: expect.any(Array) });
  });

  it('two components on one channel: unmounting one keeps the user in the room for the other', async () => {
    const h = harness();
    const members = presenceServer(h);
    await h.connect();
    const App = ({ both }: { both: boolean }) =>
      createElement(SocketchartProvider, { connection: h.connection }, createElement(Fragment, null, createElement(Room, { tag: 'header' }), both ? createElement(Room, { tag: 'sidebar' }) : null));
    const container = await render(createElement(App, { both: true }));
    await flush(h);
    expect(members.has('me')).toBe(true);
    await rerender(createElement(App, { both: false }));
    await flush(h);
    expect(container.querySelectorAll('p')).toHaveLength(1); // the header's usePresence is still mounted
    expect({ isJoined: h.connection.presence.isJoined('chat:a'), serverHasMe: members.has('me') }).toEqual({ isJoined: true, serverHasMe: true });
  });
});

it('usePresence mounted while the connection is stopped joins once the connection is started again', async () => {
  const h = harness();
  const members = presenceServer(h);
  await h.connect();
  await act(async () => void h.connection.stop());
  const container = await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Room, { tag: 'room' })));
  await flush(h);
  await act(async () => void h.connection.start());
  await flush(h);
  await flush(h);
  const joins = h.server.last!.sentOfType('presence').filter((f) => f.action === 'join');
  expect({ joins: joins.length, isJoined: h.connection.presence.isJoined('chat:a'), serverHasMe: members.has('me'), shown: container.textContent }).toEqual({ joins: 1, isJoined: true, serverHasMe: true, shown: 'bob,me' });
});

it('usePresence unmounted while the connection is stopped leaves: the connection does not join the room again when started', async () => {
  const h = harness();
  const members = presenceServer(h);
  await h.connect();
  await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Room, { tag: 'room' })));
  await flush(h);
  expect(members.has('me')).toBe(true);
  await act(async () => void h.connection.stop());
  await unmount();
  await flush(h);
  await act(async () => void h.connection.start());
  await flush(h);
  expect({ isJoined: h.connection.presence.isJoined('chat:a'), joins: h.server.last!.sentOfType('presence').filter((f) => f.action === 'join').length }).toEqual({ isJoined: false, joins: 0 });
});

it('useTyping: start() after unmount (a late keystroke handler) sends no typing and leaves this user not typing', async () => {
  const h = harness();
  await h.connect();
  let api: ReturnType<typeof useTyping> | undefined;
  const Box = () => {
    api = useTyping('chat:a');
    return null;
  };
  await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Box)));
  act(() => api!.start());
  await unmount();
  await flush(h);
  api!.start();
  expect(h.server.last!.sentOfType('typing').map((f) => f.typing)).toEqual([true, false]);
  expect(h.connection.presence.isTyping('chat:a')).toBe(false);
});

it('useChannelMessages: a push onto the empty list one component got throws, and changes no other component\'s list', async () => {
  const h = harness();
  await h.connect();
  const lists: Record<string, unknown[]> = {};
  const Probe = ({ ch }: { ch: string }) => {
    lists[ch] = useChannelMessages(ch);
    return null;
  };
  await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Probe, { ch: 'feed:a' }), createElement(Probe, { ch: 'feed:b' })));
  expect(() => lists['feed:a']!.push({ ch: 'feed:a', data: 'draft' })).toThrow(TypeError);
  expect(lists['feed:b']).toEqual([]);
});

describe('useConnectionError', () => {
  it('an error banner shown only once the connection failed shows that failure', async () => {
    const h = harness();
    await h.connect();
    const Banner = () => createElement('em', null, useConnectionError()?.code ?? 'no error');
    const App = () => {
      const status = useConnectionStatus();
      return createElement('div', null, status, ' ', status === 'connected' ? null : createElement(Banner));
    };
    const container = await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(App)));
    await flush(h);
    h.server.last!.closeFromServer(4003, 'forbidden');
    await flush(h);
    await flush(h);
    expect(h.connection.lastError).not.toBeNull(); // the connection knows its last error
    expect(container.textContent).toBe(`${h.connection.status} ${h.connection.lastError!.code}`);
  });
});

type Todo = { id: string; done: boolean };

describe('useOptimistic: a change made between render and subscription', () => {
  it('a store change made in an earlier sibling\'s mount effect is shown', async () => {
    const h = harness();
    await h.connect();
    const store = createOptimisticStore<Todo>({ connection: h.connection, channel: 'todos:1', key: (todo) => todo.id });
    const AutoCheck = () => {
      useEffect(() => {
        store.update('t1', { id: 't1', done: true }).catch(() => {});
      }, []);
      return null;
    };
    const List = () => {
      const api = useOptimistic(store);
      return createElement('span', null, [...api.values.values()].map((t) => `${t.id}:${t.done}:${api.pending(t.id)}`).join(','));
    };
    const container = await render(createElement(Fragment, null, createElement(AutoCheck), createElement(List)), false);
    await flush(h);
    expect(store.snapshot().get('t1')).toEqual({ id: 't1', done: true }); // the store has it
    expect(container.textContent).toBe('t1:true:1'); // the component should show it
    store.dispose();
  });
});

it('useTyping on a channel name the connection refuses (empty) leaves no listener on the connection', async () => {
  const h = harness();
  await h.connect();
  const live = countListeners(h.connection);
  const Box = () => {
    useTyping('');
    return null;
  };
  await expect(render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Box)), false)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  await unmount();
  await flush(h);
  expect(Object.fromEntries([...live].filter(([, n]) => n !== 0))).toEqual({});
});

it('useTyping mounted again on a channel it left does not show a user whose typing stopped meanwhile', async () => {
  const h = harness();
  await h.connect();
  const Box = () => createElement('p', null, useTyping('chat:a').typing.join(','));
  const App = ({ show }: { show: boolean }) => createElement(SocketchartProvider, { connection: h.connection }, show ? createElement(Box) : null);
  const container = await render(createElement(App, { show: true }), false);
  await flush(h);
  await act(async () => h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'alice', typing: true }));
  expect(container.textContent).toBe('alice');
  await rerender(createElement(App, { show: false }));
  await flush(h);
  expect(h.server.last!.sentOfType('unsubscribe').map((f) => f.ch)).toEqual(['chat:a']); // alice's stop is told to subscribers only
  await rerender(createElement(App, { show: true }));
  await flush(h);
  expect(container.textContent).toBe('');
});
