// @vitest-environment happy-dom
import { Activity, Fragment, act, createElement } from 'react';
import { describe, expect, it } from 'vitest';
import { createOptimisticStore, createPool, type Connection } from '../../../src/index.js';
import {
  SocketchartProvider,
  useChannel,
  useChannelMessages,
  useConnection,
  useConnectionError,
  useConnectionEvent,
  useConnectionSelector,
  useConnectionStatus,
  useOptimistic,
  usePool,
  usePoolStatus,
  usePresence,
  usePresenceListener,
  useTyping,
} from '../../../src/react/index.js';
import { harness, poolOfOne, presenceServer } from '../../support/harness.js';
import { countListeners, liveTotal } from '../../support/listeners.js';
import { connectionOptions, flush, render, rerender, unmount } from '../../support/react-dom.js';

/** socketchart/react: what a hook leaves on the connection after unmount, and the options users rely on. */

describe('listeners after unmount', () => {
  it('useConnectionEvent: the listener is not called after unmount, and none is left on the connection', async () => {
    const h = harness();
    await h.connect();
    const live = countListeners(h.connection);
    const seen: string[] = [];
    const Watcher = () => {
      useConnectionEvent('error', (error) => seen.push(error.message));
      return null;
    };
    await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Watcher)));
    h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: 'while mounted' });
    await unmount();
    h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: 'after unmount' });
    expect(seen).toEqual(['while mounted']);
    expect(liveTotal(live)).toBe(0);
  });

  it('useConnectionError: no listener is left on the connection after unmount', async () => {
    const h = harness();
    await h.connect();
    const live = countListeners(h.connection);
    const Banner = () => createElement('em', null, useConnectionError()?.code ?? 'no error');
    await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Banner)));
    expect(liveTotal(live)).toBeGreaterThan(0);
    await unmount();
    expect(Object.fromEntries([...live].filter(([, n]) => n !== 0))).toEqual({});
  });
});

describe('useConnectionError', () => {
  it('shows the error while the connection is down, and no error once it is connected again', async () => {
    const h = harness();
    await h.connect();
    const Banner = () => createElement('em', null, useConnectionError()?.code ?? 'no error');
    const container = await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Banner)));
    await act(async () => h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: 'boom' }));
    expect(container.textContent).toBe('SERVER_ERROR');
    await act(async () => void h.connection.stop());
    await flush(h);
    await act(async () => void h.connection.start());
    await flush(h);
    await flush(h);
    expect(h.connection.status).toBe('connected');
    expect(container.textContent).toBe('no error');
  });

  it('inside <Activity> hidden while the connection fails, shows that failure when shown again', async () => {
    const h = harness();
    await h.connect();
    const Banner = () => createElement('em', null, useConnectionError()?.code ?? 'no error');
    const App = ({ mode }: { mode: 'visible' | 'hidden' }) => createElement(SocketchartProvider, { connection: h.connection }, createElement(Activity, { mode, children: createElement(Banner) }));
    const container = await render(createElement(App, { mode: 'visible' }), false);
    expect(container.textContent).toBe('no error');
    await rerender(createElement(App, { mode: 'hidden' }));
    await act(async () => h.server.last!.closeFromServer(4003, 'forbidden'));
    await flush(h);
    expect(h.connection.status).toBe('failed');
    await rerender(createElement(App, { mode: 'visible' }));
    await flush(h);
    expect(container.textContent).toBe(h.connection.lastError!.code);
  });

  it('given another connection, shows that connection\'s error from the first render', async () => {
    const failed = harness();
    await failed.connect();
    failed.server.last!.closeFromServer(4003, 'forbidden');
    await failed.settle();
    await failed.settle();
    expect(failed.connection.status).toBe('failed');
    const healthy = harness();
    await healthy.connect();
    const rendered: string[] = [];
    const Banner = ({ connection }: { connection: Connection }) => {
      const code = useConnectionError(connection)?.code ?? 'no error';
      if (connection === failed.connection) rendered.push(code);
      return createElement('em', null, code);
    };
    await render(createElement(Banner, { connection: healthy.connection }), false);
    await rerender(createElement(Banner, { connection: failed.connection }));
    expect(failed.connection.lastError).not.toBeNull();
    expect(rendered.length).toBeGreaterThan(0);
    expect(rendered).toEqual(rendered.map(() => failed.connection.lastError!.code));
  });
});

it('useConnectionError: an error reported while connected is shown by a banner mounted later too, until the connection is connected again', async () => {
  const h = harness();
  await h.connect();
  const Banner = () => createElement('em', null, useConnectionError(h.connection)?.code ?? 'no error');
  const App = ({ banners }: { banners: number }) => createElement(Fragment, null, ...Array.from({ length: banners }, (_, i) => createElement(Banner, { key: i })));
  const container = await render(createElement(App, { banners: 1 }));
  await act(async () => h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: 'boom' }));
  await rerender(createElement(App, { banners: 2 }));
  expect(h.connection.status).toBe('connected');
  expect(container.textContent).toBe('SERVER_ERRORSERVER_ERROR');
  await rerender(createElement(App, { banners: 0 }));
  await act(async () => void h.connection.stop());
  await flush(h);
  await act(async () => void h.connection.start());
  await flush(h);
  await flush(h);
  await rerender(createElement(App, { banners: 1 }));
  expect(h.connection.status).toBe('connected');
  expect(container.textContent).toBe('no error');
});

describe('SocketchartProvider and useConnection', () => {
  it('a provider given a connection leaves it running after unmount: the app owns it', async () => {
    const h = harness();
    await render(createElement(SocketchartProvider, { connection: h.connection }, createElement('i')));
    await flush(h);
    await unmount();
    await flush(h);
    expect({ status: h.connection.status, disposed: h.connection.isDisposed }).toEqual({ status: 'connected', disposed: false });
  });

  it('useConnection(connection) starts the connection it is given once mounted', async () => {
    const h = harness();
    const Feed = () => createElement('b', null, useConnection(h.connection).status);
    await render(createElement(Feed));
    await flush(h);
    expect(h.connection.status).toBe('connected');
    expect(h.server.sockets).toHaveLength(1);
  });

  it('useConnection(options): a new url makes a new connection to it, and the previous one is disposed', async () => {
    const h = harness();
    const used: Connection[] = [];
    const Feed = ({ url }: { url: string }) => {
      used.push(useConnection({ ...connectionOptions(h), url }));
      return null;
    };
    await render(createElement(Feed, { url: 'ws://mock.test/a' }));
    await flush(h);
    await rerender(createElement(Feed, { url: 'ws://mock.test/b' }));
    await flush(h);
    const [first, last] = [used[0]!, used.at(-1)!];
    expect(h.server.sockets.map((s) => s.url)).toEqual(['ws://mock.test/a', 'ws://mock.test/b']);
    expect({ firstDisposed: first.isDisposed, lastStatus: last.status }).toEqual({ firstDisposed: true, lastStatus: 'connected' });
  });

  it('useConnection(options) with a url function: each dial calls the latest render\'s function, on the same connection', async () => {
    const h = harness();
    const used = new Set<Connection>();
    const Room = ({ room }: { room: string }) => {
      used.add(useConnection({ ...connectionOptions(h), url: () => `ws://mock.test/${room}` }));
      return null;
    };
    await render(createElement(Room, { room: 'a' }));
    await flush(h);
    await rerender(createElement(Room, { room: 'b' }));
    await flush(h);
    await act(async () => h.server.last!.drop());
    await act(async () => h.elapse(10_000));
    await flush(h);
    expect(h.server.sockets.map((s) => s.url)).toEqual(['ws://mock.test/a', 'ws://mock.test/b']);
    expect([...used].map((c) => c.status)).toEqual(['connected']);
  });

  it('<SocketchartProvider poolOptions> inside <Activity> hidden, then shown again: its pool is usable again', async () => {
    const h = harness();
    let used: ReturnType<typeof usePool> | undefined;
    const Health = () => {
      used = usePool();
      return null;
    };
    const poolOptions = { endpoints: [{ name: 'a', url: 'ws://mock.test/a' }], defaults: { WebSocket: h.server.WebSocket }, clock: h.clock, environment: h.env, staggerMs: 0 };
    const App = ({ mode }: { mode: 'visible' | 'hidden' }) => createElement(Activity, { mode, children: createElement(SocketchartProvider, { poolOptions }, createElement(Health)) });
    await render(createElement(App, { mode: 'visible' }), false);
    await flush(h);
    await rerender(createElement(App, { mode: 'hidden' }));
    await flush(h);
    await rerender(createElement(App, { mode: 'visible' }));
    await flush(h);
    await flush(h);
    expect({ disposed: used!.isDisposed, a: used!.status().connections.a }).toEqual({ disposed: false, a: 'connected' });
  });
});

describe('a hook given the name of an endpoint of the provider\'s pool', () => {
  it('follows that endpoint\'s connection', async () => {
    const h = harness();
    const pool = createPool({ endpoints: [{ name: 'a', url: 'ws://mock.test/a' }, { name: 'b', url: 'ws://mock.test/b' }], defaults: { WebSocket: h.server.WebSocket }, clock: h.clock, environment: h.env, staggerMs: 0 });
    const Status = () => createElement('b', null, `a=${useConnectionStatus('a')} b=${useConnectionStatus('b')}`);
    const container = await render(createElement(SocketchartProvider, { pool }, createElement(Status)));
    await flush(h);
    await flush(h);
    await act(async () => void pool.connection('a')!.stop());
    await flush(h);
    expect(container.textContent).toBe('a=closed b=connected');
    pool.dispose();
  });
});

describe('useConnectionSelector', () => {
  it('with a compare function, re-renders only when the selected value differs by it', async () => {
    const h = harness();
    let renders = 0;
    const Probe = () => {
      renders++;
      const selected = useConnectionSelector((snapshot) => ({ status: snapshot.value === 'idle' ? 'idle' : 'other' }), undefined, (a, b) => a.status === b.status);
      return createElement('b', null, selected.status);
    };
    const container = await render(createElement(SocketchartProvider, { connection: h.connection, start: false }, createElement(Probe)), false);
    const before = renders;
    await act(async () => void h.connection.start());
    await flush(h);
    const afterStart = renders;
    await act(async () => void h.connection.stop());
    await flush(h);
    expect(container.textContent).toBe('other');
    expect(afterStart - before).toBe(1);
    expect(renders).toBe(afterStart);
  });
});

describe('useChannel, useChannelMessages', () => {
  it('request() publishes on the channel with an ack and resolves with the server\'s answer', async () => {
    const h = harness();
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'publish') socket.push({ type: 'ack', id: frame.json.id, seq: 7, data: { ok: true } });
    };
    await h.connect();
    let api: ReturnType<typeof useChannel> | undefined;
    const Cart = () => {
      api = useChannel('carts:1');
      return null;
    };
    await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Cart)));
    let reply: unknown;
    await act(async () => {
      reply = await api!.request({ add: 1 }, { id: 'r-1' });
    });
    expect(h.server.last!.sentOfType('publish')).toEqual([expect.objectContaining({ ch: 'carts:1', data: { add: 1 }, id: 'r-1' })]);
    expect(reply).toMatchObject({ id: 'r-1', seq: 7, data: { ok: true } });
  });

  it('useChannelMessages keeps the last 50 messages by default', async () => {
    const h = harness();
    await h.connect();
    let shown: number[] = [];
    const Feed = () => {
      shown = useChannelMessages<number>('feed').map((m) => m.data);
      return null;
    };
    await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Feed)));
    await act(async () => {
      for (let seq = 1; seq <= 60; seq++) h.server.last!.push({ type: 'message', ch: 'feed', seq, data: seq });
    });
    expect(shown).toEqual(Array.from({ length: 50 }, (_, i) => i + 11));
  });

  it('useChannelMessages refuses a `last` that is not an integer > 0', async () => {
    const h = harness();
    await h.connect();
    for (const last of [0, -1, 1.5]) {
      const Feed = () => {
        useChannelMessages('feed', { last });
        return null;
      };
      await expect(render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Feed)), false), String(last)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
      await unmount();
    }
  });
});

describe('usePresence, usePresenceListener', () => {
  it('usePresenceListener shows the members without joining', async () => {
    const h = harness();
    const members = presenceServer(h);
    await h.connect();
    const List = () => createElement('p', null, usePresenceListener('chat:a').map((m) => m.userId).join(','));
    const container = await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(List)));
    await flush(h);
    expect(container.textContent).toBe('bob');
    expect({ actions: h.server.last!.sentOfType('presence').map((f) => f.action), serverHasMe: members.has('me') }).toEqual({ actions: ['list'], serverHasMe: false });
  });

  it('usePresence with join: false does not join when its meta changes, even while another component has joined', async () => {
    const h = harness();
    presenceServer(h);
    await h.connect();
    const Member = () => {
      usePresence('chat:a', { meta: { name: 'Me' } });
      return null;
    };
    const Watcher = ({ status }: { status: string }) => {
      usePresence('chat:a', { join: false, meta: { status } });
      return null;
    };
    const app = (status: string) => createElement(SocketchartProvider, { connection: h.connection }, createElement(Fragment, null, createElement(Member), createElement(Watcher, { status })));
    await render(app('online'));
    await flush(h);
    await rerender(app('away'));
    await flush(h);
    expect(h.server.last!.sentOfType('presence').filter((f) => f.action === 'join').map((f) => f.meta)).toEqual([{ name: 'Me' }]);
  });

  it('join(meta) joins with that meta', async () => {
    const h = harness();
    presenceServer(h);
    await h.connect();
    let api: ReturnType<typeof usePresence> | undefined;
    const Room = () => {
      api = usePresence('chat:a', { join: false });
      return null;
    };
    await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Room)));
    await act(async () => {
      await api!.join({ name: 'Me' });
    });
    expect(h.server.last!.sentOfType('presence').filter((f) => f.action === 'join').map((f) => f.meta)).toEqual([{ name: 'Me' }]);
  });
});

describe('useTyping', () => {
  it('subscribes the channel while mounted and unsubscribes it on unmount', async () => {
    const h = harness();
    await h.connect();
    const Box = () => createElement('em', null, useTyping('chat:a').typing.join(','));
    await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Box)));
    await flush(h);
    expect(h.server.last!.sentOfType('subscribe')).toEqual([{ type: 'subscribe', ch: 'chat:a' }]);
    await unmount();
    await flush(h);
    expect(h.server.last!.sentOfType('unsubscribe')).toEqual([{ type: 'unsubscribe', ch: 'chat:a' }]);
  });

  it('shows only who types on its own channel', async () => {
    const h = harness();
    await h.connect();
    const Box = () => createElement('em', null, useTyping('chat:a').typing.join(','));
    const container = await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Box)));
    await act(async () => {
      h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'ann', typing: true });
      h.server.last!.push({ type: 'typing', ch: 'chat:b', userId: 'bob', typing: true });
    });
    expect(container.textContent).toBe('ann');
  });

  it('after a switch of channel, start() says this user types on the new channel', async () => {
    const h = harness();
    await h.connect();
    let api: ReturnType<typeof useTyping> | undefined;
    const Box = ({ ch }: { ch: string }) => {
      api = useTyping(ch);
      return null;
    };
    const app = (ch: string) => createElement(SocketchartProvider, { connection: h.connection }, createElement(Box, { ch }));
    await render(app('chat:a'));
    await rerender(app('chat:b'));
    await flush(h);
    act(() => api!.start());
    expect(h.server.last!.sentOfType('typing')).toEqual([{ type: 'typing', ch: 'chat:b', typing: true }]);
  });

  it('timeoutMs: this user is told to have stopped timeoutMs after the last start()', async () => {
    const h = harness();
    await h.connect();
    let api: ReturnType<typeof useTyping> | undefined;
    const Box = () => {
      api = useTyping('chat:a', { timeoutMs: 1_000 });
      return null;
    };
    await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Box)));
    act(() => api!.start());
    await act(async () => h.advance(999));
    expect(h.connection.presence.isTyping('chat:a')).toBe(true);
    await act(async () => h.advance(1));
    expect(h.connection.presence.isTyping('chat:a')).toBe(false);
  });

  it("stop() in one component ends the typing another component on the channel started", async () => {
    const h = harness();
    await h.connect();
    const apis: Record<string, ReturnType<typeof useTyping>> = {};
    const Box = ({ name }: { name: string }) => {
      apis[name] = useTyping('chat:a');
      return null;
    };
    await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Fragment, null, createElement(Box, { name: 'composer' }), createElement(Box, { name: 'send' }))));
    act(() => apis.composer!.start());
    act(() => apis.send!.stop());
    expect(h.server.last!.sentOfType('typing').map((f) => f.typing)).toEqual([true, false]);
    expect(h.connection.presence.isTyping('chat:a')).toBe(false);
  });
});

describe('usePoolStatus', () => {
  it('shows the pool stopped when the app stops it after closing its only member', async () => {
    const h = harness();
    const pool = poolOfOne(h, { dialBudget: false });
    const Status = () => {
      const status = usePoolStatus(pool);
      return createElement('b', null, `${status.state}/${status.health}/${status.connections.a}`);
    };
    const container = await render(createElement(Status), false);
    await act(async () => void pool.start());
    await flush(h);
    await flush(h);
    expect(container.textContent).toBe('running/up/connected');
    await act(async () => void pool.connection('a')!.stop());
    await flush(h);
    expect(container.textContent).toBe('running/down/closed');
    await act(async () => void pool.stop());
    await flush(h);
    expect(`${pool.status().state}/${pool.status().health}/${pool.status().connections.a}`).toBe('stopped/down/closed');
    expect(container.textContent).toBe('stopped/down/closed');
    pool.dispose();
  });
});

describe('useOptimistic', () => {
  it('pending(key) counts the changes of that key only; pending() counts every key', async () => {
    const h = harness();
    await h.connect();
    const store = createOptimisticStore<{ id: string; n: number }>({ connection: h.connection, channel: 'c:1', key: (v) => v.id });
    let api: ReturnType<typeof useOptimistic<{ id: string; n: number }>> | undefined;
    const List = () => {
      api = useOptimistic(store);
      return null;
    };
    await render(createElement(List));
    act(() => {
      void api!.update('x', { id: 'x', n: 1 }).catch(() => {});
      void api!.update('x', { id: 'x', n: 2 }).catch(() => {});
      void api!.update('y', { id: 'y', n: 1 }).catch(() => {});
    });
    expect({ x: api!.pending('x'), y: api!.pending('y'), all: api!.pending() }).toEqual({ x: 2, y: 1, all: 3 });
    store.dispose();
  });

  it('a store the app disposes while the view shows it: the view shows what the store reads then (no values, nothing pending)', async () => {
    const h = harness();
    await h.connect();
    const store = createOptimisticStore<{ id: string; n: number }>({ connection: h.connection, channel: 'c:1', key: (v) => v.id, initial: { y: { id: 'y', n: 7 } } });
    const List = () => {
      const { values, pending } = useOptimistic(store);
      return createElement('i', null, `${[...values.values()].map((v) => v.n).join(',')}/${pending()}`);
    };
    const container = await render(createElement(List));
    act(() => void store.update('x', { id: 'x', n: 1 }).catch(() => {}));
    expect(container.textContent).toBe('7,1/1');
    await act(async () => store.dispose());
    expect({ values: store.snapshot().size, pending: store.pending() }).toEqual({ values: 0, pending: 0 });
    expect(container.textContent).toBe('/0');
  });
});
