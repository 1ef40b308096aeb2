// @vitest-environment happy-dom
import { act, createElement, useState } from 'react';
import { renderToString } from 'react-dom/server';
import { afterEach, describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { createOptimisticStore, createPool, type Connection } from '../../../src/index.js';
import {
  SocketchartProvider,
  useChannel,
  useChannelMessages,
  useConnection,
  useConnectionStatus,
  useOptimistic,
  usePool,
  usePoolHealth,
  usePoolStatus,
  usePresence,
  useSend,
  useTyping,
} from '../../../src/react/index.js';
import { liveSocketCount } from '../../../src/testing/index.js';
import { harness, presenceServer } from '../../support/harness.js';
import { connectionOptions, flush, render, rerender, unmount } from '../../support/react-dom.js';

/** socketchart/react in a DOM (happy-dom): what each hook renders, what it sends, and what it leaves after unmount. */

describe('SocketchartProvider and useConnection', () => {
  it('StrictMode: a provider that owns its connection opens one socket, and none is left after unmount', async () => {
    const h = harness();
    const before = liveSocketCount();
    let seen: Connection | undefined;
    const Probe = () => {
      seen = useConnection();
      return createElement('span', null, useConnectionStatus());
    };
    const container = await render(createElement(SocketchartProvider, { options: connectionOptions(h) }, createElement(Probe)));
    await flush(h);
    expect(h.server.sockets).toHaveLength(1);
    expect(container.textContent).toBe('connected');
    await unmount();
    await flush(h);
    expect(h.server.sockets).toHaveLength(1);
    expect(liveSocketCount()).toBe(before);
    expect(seen!.status).toBe('closed');
    expect(() => seen!.start()).toThrow(/disposed/);
  });

  it('StrictMode: a provider given poolOptions runs one pool, and none is left running after unmount', async () => {
    const h = harness();
    const pools = new Set<InspectionEvent['actorRef']>();
    const inspect = (event: InspectionEvent) => {
      if (event.type === '@xstate.actor' && (event.actorRef as { logic?: { id?: string } }).logic?.id === 'pool') pools.add(event.actorRef);
    };
    const endpoints = [
      { name: 'a', url: 'ws://mock.test/a' },
      { name: 'b', url: 'ws://mock.test/b' },
    ];
    const poolOptions = { endpoints, defaults: { WebSocket: h.server.WebSocket }, clock: h.clock, environment: h.env, staggerMs: 0, inspect };
    await render(createElement(SocketchartProvider, { poolOptions }, createElement('i')));
    await flush(h);
    expect(h.server.sockets).toHaveLength(2);
    expect(pools.size).toBe(1);
    await unmount();
    await flush(h);
    expect([...pools].map((actor) => actor.getSnapshot().status)).toEqual(['stopped']);
    expect(h.server.sockets.filter((socket) => socket.isLive)).toHaveLength(0);
  });

  it('StrictMode: a provider whose connection an inspector follows announces one connection actor, stopped after unmount', async () => {
    const h = harness();
    const announced: InspectionEvent['actorRef'][] = [];
    const inspect = (event: InspectionEvent) => {
      if (event.type === '@xstate.actor' && (event.actorRef as { logic?: { id?: string } }).logic?.id === 'connection') announced.push(event.actorRef);
    };
    await render(createElement(SocketchartProvider, { options: { ...connectionOptions(h), inspect } }, createElement('i')));
    await flush(h);
    expect(h.server.sockets).toHaveLength(1);
    expect(announced).toHaveLength(1);
    await unmount();
    await flush(h);
    expect(announced.map((actor) => actor.getSnapshot().status)).toEqual(['stopped']);
  });

  it('useConnection(options) owns a connection per component: one socket under StrictMode, closed on unmount', async () => {
    const h = harness();
    const Feed = () => createElement('b', null, useConnectionStatus(useConnection(connectionOptions(h))));
    const container = await render(createElement(Feed));
    await flush(h);
    expect(container.textContent).toBe('connected');
    expect(h.server.sockets).toHaveLength(1);
    await unmount();
    await flush(h);
    expect(h.server.sockets.filter((socket) => socket.isLive)).toHaveLength(0);
  });

  it('an adopted connection is started once: a remount does not reopen one the user stopped', async () => {
    const h = harness();
    const App = ({ n }: { n: number }) => createElement(SocketchartProvider, { connection: h.connection, key: n }, createElement('i', null, n));
    await render(createElement(App, { n: 1 }));
    await flush(h);
    expect(h.connection.status).toBe('connected');
    h.connection.stop();
    await flush(h);
    await rerender(createElement(App, { n: 2 })); // a new provider instance
    await flush(h);
    expect(h.connection.status).toBe('closed');
    expect(h.server.sockets).toHaveLength(1);
  });

  it('server render: no socket, the status is idle', () => {
    const h = harness();
    const Probe = () => createElement('span', null, useConnectionStatus());
    const html = renderToString(createElement(SocketchartProvider, { options: connectionOptions(h) }, createElement(Probe)));
    expect(html).toBe('<span>idle</span>');
    expect(h.server.sockets).toHaveLength(0);
  });

  it('server render of usePoolHealth and usePoolStatus: the pool shows idle, and its actor is neither made nor run, not even for an inspector', () => {
    const h = harness();
    const inspected: string[] = [];
    const poolOptions = { endpoints: [{ name: 'a', url: 'ws://mock.test/a' }], defaults: { WebSocket: h.server.WebSocket }, clock: h.clock, environment: h.env, inspect: (event: InspectionEvent) => inspected.push(event.type) };
    const Probe = () => {
      const status = usePoolStatus();
      return createElement('span', null, `${usePoolHealth()} ${status.state} ${status.connections.a}`);
    };
    const html = renderToString(createElement(SocketchartProvider, { poolOptions }, createElement(Probe)));
    expect(html).toBe('<span>down idle idle</span>');
    expect(inspected).toEqual([]);
  });
});

describe('useConnectionStatus', () => {
  it('re-renders only when the status changes, not on messages', async () => {
    const h = harness();
    let renders = 0;
    const Status = () => {
      renders++;
      return createElement('span', null, useConnectionStatus());
    };
    const container = await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Status)), false);
    await flush(h);
    const afterConnect = renders;
    expect(h.connection.status).toBe('connected');
    h.connection.subscribe('feed', () => {});
    await act(async () => {
      for (let seq = 1; seq <= 50; seq++) h.server.last!.push({ type: 'message', ch: 'feed', seq, data: seq });
      await h.advance(10);
    });
    expect(renders).toBe(afterConnect);
    await act(async () => {
      h.connection.stop();
      await h.settle();
    });
    expect(renders).toBeGreaterThan(afterConnect); // closing and closed, batched by React or not
    expect(renders).toBeLessThanOrEqual(afterConnect + 2);
    expect(container.textContent).toBe('closed');
  });
});

describe('useChannel, useChannelMessages, useSend', () => {
  it('StrictMode: one subscribe frame, the latest listener, one unsubscribe on unmount', async () => {
    const h = harness();
    await h.connect();
    const seen: string[] = [];
    const Listener = ({ tag }: { tag: string }) => {
      useChannel<number>('feed', (n) => seen.push(`${tag}${n}`));
      return null;
    };
    await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Listener, { tag: 'a' })));
    await flush(h);
    h.server.last!.push({ type: 'message', ch: 'feed', seq: 1, data: 1 });
    await rerender(createElement(SocketchartProvider, { connection: h.connection }, createElement(Listener, { tag: 'b' })));
    h.server.last!.push({ type: 'message', ch: 'feed', seq: 2, data: 2 });
    expect(seen).toEqual(['a1', 'b2']);
    expect(h.server.last!.sentOfType('subscribe')).toHaveLength(1);
    await unmount();
    await flush(h);
    expect(h.server.last!.sentOfType('unsubscribe')).toEqual([{ type: 'unsubscribe', ch: 'feed' }]);
  });

  it('useChannelMessages keeps the last N messages; useSend publishes on the channel', async () => {
    const h = harness();
    await h.connect();
    let send: ((data: unknown) => Promise<void>) | undefined;
    const Feed = () => {
      send = useSend('feed');
      const messages = useChannelMessages<number>('feed', { last: 3 });
      return createElement('ol', null, messages.map((m) => createElement('li', { key: m.seq }, m.data)));
    };
    const container = await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Feed)));
    await act(async () => {
      for (let seq = 1; seq <= 5; seq++) h.server.last!.push({ type: 'message', ch: 'feed', seq, data: seq * 10 });
    });
    expect(Array.from(container.querySelectorAll('li')).map((li) => li.textContent)).toEqual(['30', '40', '50']);
    await act(async () => send!({ text: 'hi' }));
    expect(h.server.last!.sentOfType('publish')).toEqual([{ type: 'publish', ch: 'feed', data: { text: 'hi' } }]);
  });
});

describe('usePresence and useTyping', () => {
  it('StrictMode: joins once while mounted, shows the members, leaves once on unmount', async () => {
    const h = harness();
    const members = presenceServer(h);
    await h.connect();
    const Room = () => {
      const { members: present } = usePresence('chat:a', { meta: { name: 'Me' } });
      return createElement('p', null, present.map((m) => m.userId).sort().join(','));
    };
    const container = await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Room)));
    await flush(h);
    expect(container.textContent).toBe('bob,me');
    const presence = () => h.server.last!.sentOfType('presence').map((f) => f.action);
    expect(presence()).toEqual(['list', 'join']);
    await act(async () => h.server.last!.push({ type: 'presence', ch: 'chat:a', joins: [{ userId: 'carol' }], leaves: [{ userId: 'bob' }] }));
    expect(container.textContent).toBe('carol,me');
    await unmount();
    await flush(h);
    expect(presence()).toEqual(['list', 'join', 'leave']);
    expect(h.server.last!.sentOfType('unsubscribe')).toEqual([{ type: 'unsubscribe', ch: 'chat:a' }]);
  });

  it('usePresence joins again with the new meta when meta changes while joined; a re-render with meta of the same value sends nothing', async () => {
    const h = harness();
    presenceServer(h);
    await h.connect();
    const Room = ({ status }: { status: string }) => {
      usePresence('chat:a', { meta: { status } });
      return null;
    };
    const app = (status: string) => createElement(SocketchartProvider, { connection: h.connection }, createElement(Room, { status }));
    await render(app('online'));
    await flush(h);
    await rerender(app('online'));
    await rerender(app('away'));
    await flush(h);
    const joins = h.server.last!.sentOfType('presence').filter((f) => f.action === 'join').map((f) => f.meta);
    expect(joins).toEqual([{ status: 'online' }, { status: 'away' }]);
  });

  it('useTyping shows who else types and says when this user types', async () => {
    const h = harness();
    await h.connect();
    let api: ReturnType<typeof useTyping> | undefined;
    const Box = () => {
      api = useTyping('chat:a');
      return createElement('em', null, api.typing.join(','));
    };
    const container = await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Box)));
    await act(async () => h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'bob', typing: true }));
    expect(container.textContent).toBe('bob');
    act(() => api!.start());
    act(() => api!.stop());
    expect(h.server.last!.sentOfType('typing').map((f) => f.typing)).toEqual([true, false]);
  });
});

describe('usePool, usePoolHealth, useOptimistic', () => {
  it("follows the provider's pool health", async () => {
    const h = harness();
    const pool = createPool({ endpoints: [{ name: 'a', url: 'ws://mock.test/a' }, { name: 'b', url: 'ws://mock.test/b' }], defaults: { WebSocket: h.server.WebSocket }, clock: h.clock, environment: h.env, staggerMs: 0 });
    let renders = 0;
    const Health = () => {
      renders++;
      const health = usePoolHealth();
      return createElement('span', null, `${health}:${usePool().connections.length}`);
    };
    const container = await render(createElement(SocketchartProvider, { pool }, createElement(Health)), false);
    await flush(h);
    expect(container.textContent).toBe('up:2');
    await act(async () => {
      h.server.sockets[0]!.closeFromServer(4003, 'forbidden');
      await h.settle();
    });
    expect(container.textContent).toBe('degraded:2');
    expect(renders).toBe(3); // down (first render), up, degraded
    pool.dispose();
  });

  it('useOptimistic shows a change at once and its confirmation', async () => {
    const h = harness();
    const unanswered: string[] = [];
    h.server.onFrame = (_socket, frame) => {
      if (frame.json?.type === 'publish') unanswered.push(frame.json.id as string);
    };
    await h.connect();
    const store = createOptimisticStore<{ id: string; done: boolean }>({ connection: h.connection, channel: 'todos:1', key: (todo) => todo.id });
    let api: ReturnType<typeof useOptimistic<{ id: string; done: boolean }>> | undefined;
    const List = () => {
      api = useOptimistic(store);
      return createElement('span', null, [...api.values.values()].map((t) => `${t.id}:${t.done}:${api!.pending(t.id)}`).join(','));
    };
    const container = await render(createElement(List));
    let confirmed: Promise<unknown> | undefined;
    act(() => {
      confirmed = api!.update('t1', { id: 't1', done: true });
    });
    expect(container.textContent).toBe('t1:true:1');
    await act(async () => {
      await h.settle();
      h.server.last!.push({ type: 'ack', id: unanswered[0], seq: 1 });
      await confirmed;
    });
    expect(container.textContent).toBe('t1:true:0');
    store.dispose();
  });
});

describe('component state does not reach the connection', () => {
  it('re-rendering a parent does not resubscribe', async () => {
    const h = harness();
    await h.connect();
    let bump: (() => void) | undefined;
    const Child = () => {
      useChannel('feed', () => {});
      return null;
    };
    const Parent = () => {
      const [n, setN] = useState(0);
      bump = () => setN(n + 1);
      return createElement(SocketchartProvider, { connection: h.connection }, createElement(Child), String(n));
    };
    await render(createElement(Parent));
    for (let i = 0; i < 5; i++) await act(async () => bump!());
    expect(h.server.last!.sentOfType('subscribe')).toHaveLength(1);
    expect(h.server.last!.sentOfType('unsubscribe')).toHaveLength(0);
  });
});
