// @vitest-environment happy-dom
import { createApp, createSSRApp, defineComponent, effectScope, h as el, nextTick, onMounted, shallowRef, type EffectScope, type Ref, type ShallowRef } from 'vue';
import { renderToString } from 'vue/server-renderer';
import { describe, expect, it } from 'vitest';
import { createOptimisticStore, createPool, type ConnectionStatus, type InboundMessage } from '../../../src/index.js';
import {
  createSocketchart,
  provideSocketchart,
  useChannel,
  useChannelMessages,
  useConnection,
  useConnectionEvent,
  useConnectionStatus,
  useOptimistic,
  usePoolHealth,
  usePresence,
  useSend,
  useTyping,
} from '../../../src/vue/index.js';
import { liveSocketCount } from '../../../src/testing/index.js';
import { harness, presenceServer, type Harness } from '../../support/harness.js';

/** socketchart/vue: reactive refs, and everything ended with the effect scope. */

const connectionOptions = (h: Harness) => ({ url: 'ws://mock.test/socket', WebSocket: h.server.WebSocket, clock: h.clock, environment: h.env });

function mount(component: ReturnType<typeof defineComponent>, plugin?: { install(app: never): void }) {
  const container = document.createElement('div');
  const app = createApp(component);
  if (plugin) app.use(plugin as never);
  app.mount(container);
  return { app, container };
}

describe('socketchart/vue', () => {
  it('a component providing its own connection: one socket, status as a ref, nothing left after unmount', async () => {
    const h = harness();
    const before = liveSocketCount();
    const Status = defineComponent(() => {
      const status = useConnectionStatus();
      return () => el('span', status.value);
    });
    const App = defineComponent(() => {
      provideSocketchart({ options: connectionOptions(h) });
      return () => el(Status);
    });
    const { app, container } = mount(App);
    await h.settle();
    await nextTick();
    expect(container.textContent).toBe('connected');
    expect(h.server.sockets).toHaveLength(1);
    app.unmount();
    await h.settle();
    expect(liveSocketCount()).toBe(before);
  });

  it('the plugin gives a pool to every component; usePoolHealth is a ref', async () => {
    const h = harness();
    const pool = createPool({ endpoints: [{ name: 'a', url: 'ws://mock.test/a' }], defaults: { WebSocket: h.server.WebSocket }, clock: h.clock, environment: h.env, staggerMs: 0 });
    const App = defineComponent(() => {
      const health = usePoolHealth();
      const status = useConnectionStatus('a');
      return () => el('p', `${health.value}/${status.value}`);
    });
    const { app, container } = mount(App, createSocketchart({ pool }));
    await h.settle();
    await nextTick();
    expect(container.textContent).toBe('up/connected');
    app.unmount();
    pool.dispose();
  });

  it('useChannel follows a channel ref: switching unsubscribes the old one; the scope ends the last', async () => {
    const h = harness();
    await h.connect();
    const channel = shallowRef('chat:a');
    const seen: unknown[] = [];
    const scope = effectScope();
    let messages: ReturnType<typeof useChannelMessages<number>> | undefined;
    let send: ((data: unknown) => Promise<void>) | undefined;
    scope.run(() => {
      useChannel<number>(channel, (n) => seen.push(n), h.connection);
      messages = useChannelMessages<number>(channel, { last: 2 }, h.connection);
      send = useSend(channel, h.connection);
    });
    const socket = h.server.last!;
    socket.push({ type: 'message', ch: 'chat:a', seq: 1, data: 1 });
    socket.push({ type: 'message', ch: 'chat:a', seq: 2, data: 2 });
    socket.push({ type: 'message', ch: 'chat:a', seq: 3, data: 3 });
    expect(messages!.value.map((m) => m.data)).toEqual([2, 3]);
    channel.value = 'chat:b';
    await nextTick();
    await send!('hi');
    expect(socket.sentOfType('unsubscribe')).toEqual([{ type: 'unsubscribe', ch: 'chat:a' }]);
    expect(socket.sentOfType('publish')).toEqual([{ type: 'publish', ch: 'chat:b', data: 'hi' }]);
    scope.stop();
    expect(socket.sentOfType('unsubscribe')).toEqual([
      { type: 'unsubscribe', ch: 'chat:a' },
      { type: 'unsubscribe', ch: 'chat:b' },
    ]);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('usePresence joins until the scope ends; useTyping shows others typing and stops this user at the end', async () => {
    const h = harness();
    h.server.onFrame = (socket, frame) => {
      if (frame.json?.type === 'presence') socket.push({ type: 'presence_state', ch: frame.json.ch, members: frame.json.action === 'leave' ? [] : [{ userId: 'me' }] });
    };
    await h.connect();
    const scope = effectScope();
    let members: ReturnType<typeof usePresence>['members'] | undefined;
    let typing: ReturnType<typeof useTyping> | undefined;
    scope.run(() => {
      members = usePresence('chat:a', { meta: { name: 'Me' } }, h.connection).members;
      typing = useTyping('chat:a', {}, h.connection);
    });
    await h.settle(); // the server's answer to the join
    expect(members!.value).toEqual([{ userId: 'me' }]);
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'bob', typing: true });
    expect(typing!.typing.value).toEqual(['bob']);
    typing!.start();
    scope.stop();
    const socket = h.server.last!;
    expect(socket.sentOfType('presence').map((f) => f.action)).toEqual(['list', 'join', 'leave']);
    expect(socket.sentOfType('typing').map((f) => f.typing)).toEqual([true, false]);
  });

  it('usePresence joins again with the new meta when its meta (a ref or a getter) changes while joined', async () => {
    const h = harness();
    presenceServer(h);
    await h.connect();
    const status = shallowRef('online');
    const scope = effectScope();
    scope.run(() => usePresence('chat:a', { meta: () => ({ status: status.value }) }, h.connection));
    status.value = 'away';
    await nextTick();
    status.value = 'away';
    await nextTick();
    const joins = () => h.server.last!.sentOfType('presence').filter((f) => f.action === 'join').map((f) => f.meta);
    expect(joins()).toEqual([{ status: 'online' }, { status: 'away' }]);
    scope.stop();
    status.value = 'busy';
    await nextTick();
    expect(joins()).toEqual([{ status: 'online' }, { status: 'away' }]);
  });

  it.each([
    ['a meta read from the channel', (room: Ref<string>) => ({ room: room.value })],
    ['a meta changed just before the channel', (room: Ref<string>, status: Ref<string>) => ({ status: status.value })],
  ])('usePresence whose channel and meta change together joins the new channel once, with the new meta: %s', async (_name, meta) => {
    const h = harness();
    presenceServer(h);
    await h.connect();
    const room = shallowRef('chat:a');
    const status = shallowRef('online');
    const scope = effectScope();
    scope.run(() => usePresence(room, { meta: () => meta(room, status) }, h.connection));
    await h.settle();
    status.value = 'away';
    room.value = 'chat:b';
    await nextTick();
    await h.settle();
    const frames = h.server.last!.sentOfType('presence').filter((f) => f.action !== 'list').map((f) => `${f.action} ${f.ch}`);
    const joins = h.server.last!.sentOfType('presence').filter((f) => f.action === 'join').map((f) => f.meta);
    expect({ frames, last: joins.at(-1) }).toEqual({ frames: ['join chat:a', 'leave chat:a', 'join chat:b'], last: meta(room, status) });
    scope.stop();
  });

  it('useConnection(options) in a bare scope: started at once, disposed when the scope stops', async () => {
    const h = harness();
    const scope = effectScope();
    const connection = scope.run(() => useConnection(connectionOptions(h)))!;
    await h.settle();
    expect(connection.status).toBe('connected');
    scope.stop();
    await h.settle();
    expect(connection.status).toBe('closed');
    expect(h.server.sockets.filter((s) => s.isLive)).toHaveLength(0);
  });

  it('useOptimistic: values as a ref', async () => {
    const h = harness();
    await h.connect();
    const store = createOptimisticStore<{ id: string; n: number }>({ connection: h.connection, channel: 'c:1', key: (v) => v.id });
    const scope = effectScope();
    const api = scope.run(() => useOptimistic(store))!;
    void api.update('x', { id: 'x', n: 1 }).catch(() => {});
    expect(api.values.value.get('x')).toEqual({ id: 'x', n: 1 });
    expect(api.pending('x')).toBe(1);
    scope.stop();
    store.dispose();
  });

  it('server render: no socket, no subscription', async () => {
    const h = harness();
    const App = defineComponent(() => {
      provideSocketchart({ options: connectionOptions(h) });
      return () => el(Child);
    });
    const Child = defineComponent(() => {
      const status = useConnectionStatus();
      useChannel('chat:a', () => {});
      usePresence('chat:a');
      return () => el('span', status.value);
    });
    const html = await renderToString(createSSRApp(App));
    expect(html).toBe('<span>idle</span>');
    expect(h.server.sockets).toHaveLength(0);
  });
});

it('a store scope created in onMounted (a Pinia setup store first used there) subscribes its channel and gets the messages', async () => {
  const h = harness();
  await h.connect();
  let store: EffectScope | undefined;
  let messages: ShallowRef<InboundMessage<number>[]> | undefined;
  const { app } = mount(
    defineComponent(() => {
      onMounted(() => {
        store = effectScope(true);
        messages = store.run(() => useChannelMessages<number>('room:1', {}, h.connection));
      });
      return () => el('i');
    }),
  );
  await nextTick();
  await h.settle();
  expect(h.server.last!.sentOfType('subscribe').map((f) => f.ch)).toEqual(['room:1']);
  h.server.last!.push({ type: 'message', ch: 'room:1', seq: 1, data: 7 });
  expect(messages!.value.map((m) => m.data)).toEqual([7]);
  store!.stop();
  app.unmount();
});

it('useConnectionEvent called in onMounted receives the events until unmount', async () => {
  const h = harness();
  await h.connect();
  const seen: string[] = [];
  const { app } = mount(
    defineComponent(() => {
      onMounted(() => useConnectionEvent('error', (error) => seen.push(error.message), h.connection));
      return () => el('i');
    }),
  );
  await nextTick();
  h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: 'while mounted' });
  app.unmount();
  h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: 'after unmount' });
  expect(seen).toEqual(['while mounted']);
});

it('with the plugin, a connection first used by a store created in onMounted is started', async () => {
  const h = harness();
  let status: Ref<ConnectionStatus> | undefined;
  const App = defineComponent(() => {
    onMounted(() => {
      status = effectScope(true).run(() => {
        useConnection();
        return useConnectionStatus();
      });
    });
    return () => el('i');
  });
  const { app } = mount(App, createSocketchart({ connection: h.connection }));
  await h.settle();
  await h.settle();
  expect(h.connection.status).toBe('connected');
  expect(status!.value).toBe('connected');
  app.unmount();
  h.connection.dispose();
});
