// @vitest-environment happy-dom
import { createApp, defineComponent, effectScope, h as el, nextTick, shallowRef, type Ref } from 'vue';
import { describe, expect, it } from 'vitest';
import { createOptimisticStore, type ConnectionStatus } from '../../../src/index.js';
import {
  createSocketchart,
  provideSocketchart,
  useChannelMessages,
  useConnection,
  useConnectionError,
  useConnectionEvent,
  useConnectionSelector,
  useConnectionStatus,
  useOptimistic,
  usePoolHealth,
  usePoolStatus,
  usePresence,
  useTyping,
} from '../../../src/vue/index.js';
import { harness, poolOfOne, presenceServer, type Harness } from '../../support/harness.js';
import { countListeners, liveTotal } from '../../support/listeners.js';

/** socketchart/vue: what a composable leaves when its scope ends, the options users rely on, and state that changes before mount. */

const connectionOptions = (h: Harness) => ({ url: 'ws://mock.test/socket', WebSocket: h.server.WebSocket, clock: h.clock, environment: h.env });

describe('useConnectionError', () => {
  it('is cleared once the connection is connected again, and leaves no listener when the scope ends', async () => {
    const h = harness();
    await h.connect();
    const live = countListeners(h.connection);
    const scope = effectScope();
    const error = scope.run(() => useConnectionError(h.connection))!;
    h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: 'boom' });
    expect(error.value?.code).toBe('SERVER_ERROR');
    h.connection.stop();
    await h.settle();
    await h.connect();
    expect(error.value).toBeNull();
    scope.stop();
    expect(Object.fromEntries([...live].filter(([, n]) => n !== 0))).toEqual({});
  });
});

it('useConnectionError: an error reported while connected is shown by a scope begun later too, until the connection is connected again', async () => {
  const h = harness();
  await h.connect();
  const first = effectScope();
  const early = first.run(() => useConnectionError(h.connection))!;
  h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: 'boom' });
  const second = effectScope();
  const late = second.run(() => useConnectionError(h.connection))!;
  expect(h.connection.status).toBe('connected');
  expect([early.value?.code, late.value?.code]).toEqual(['SERVER_ERROR', 'SERVER_ERROR']);
  first.stop();
  second.stop();
  h.connection.stop();
  await h.settle();
  await h.connect();
  const third = effectScope();
  expect(third.run(() => useConnectionError(h.connection))!.value).toBeNull();
  third.stop();
});

describe('useConnectionSelector', () => {
  it('with a compare function, the ref changes only when the selected value differs by it', async () => {
    const h = harness();
    const scope = effectScope();
    const selected = scope.run(() => useConnectionSelector((snapshot) => ({ started: snapshot.value !== 'idle' }), h.connection, (a, b) => a.started === b.started))!;
    const first = selected.value;
    await h.connect();
    const afterStart = selected.value;
    h.connection.stop();
    await h.settle();
    expect(first).toEqual({ started: false });
    expect(afterStart).toEqual({ started: true });
    expect(selected.value).toBe(afterStart);
    scope.stop();
  });
});

describe('useChannelMessages', () => {
  it('switching channel empties the list', async () => {
    const h = harness();
    await h.connect();
    const channel = shallowRef('feed:a');
    const scope = effectScope();
    const messages = scope.run(() => useChannelMessages<string>(channel, {}, h.connection))!;
    h.server.last!.push({ type: 'message', ch: 'feed:a', seq: 1, data: 'a1' });
    expect(messages.value.map((m) => m.data)).toEqual(['a1']);
    channel.value = 'feed:b';
    await nextTick();
    expect(messages.value).toEqual([]);
    scope.stop();
  });
});

describe('usePresence, usePresenceListener', () => {
  it('usePresence with join: false watches the members without joining', async () => {
    const h = harness();
    const members = presenceServer(h);
    await h.connect();
    const scope = effectScope();
    const { members: shown } = scope.run(() => usePresence('chat:a', { join: false }, h.connection))!;
    await h.settle();
    expect(shown.value.map((m) => m.userId)).toEqual(['bob']);
    expect({ actions: h.server.last!.sentOfType('presence').map((f) => f.action), serverHasMe: members.has('me') }).toEqual({ actions: ['list'], serverHasMe: false });
    scope.stop();
  });

  it('join(meta) joins with that meta', async () => {
    const h = harness();
    presenceServer(h);
    await h.connect();
    const scope = effectScope();
    const api = scope.run(() => usePresence('chat:a', { join: false }, h.connection))!;
    await api.join({ name: 'Me' });
    expect(h.server.last!.sentOfType('presence').filter((f) => f.action === 'join').map((f) => f.meta)).toEqual([{ name: 'Me' }]);
    scope.stop();
  });
});

/** useTyping in a scope of its own, on a channel ref starting at chat:a, over a connected harness. */
async function typingOnChannelRef() {
  const h = harness();
  await h.connect();
  const channel = shallowRef('chat:a');
  const scope = effectScope();
  const api = scope.run(() => useTyping(channel, {}, h.connection))!;
  return { h, channel, scope, api };
}

describe('useTyping', () => {
  it('shows only who types on its own channel', async () => {
    const h = harness();
    await h.connect();
    const scope = effectScope();
    const { typing } = scope.run(() => useTyping('chat:a', {}, h.connection))!;
    h.server.last!.push({ type: 'typing', ch: 'chat:a', userId: 'ann', typing: true });
    h.server.last!.push({ type: 'typing', ch: 'chat:b', userId: 'bob', typing: true });
    expect(typing.value).toEqual(['ann']);
    scope.stop();
  });

  it('timeoutMs: this user is told to have stopped timeoutMs after the last start()', async () => {
    const h = harness();
    await h.connect();
    const scope = effectScope();
    const api = scope.run(() => useTyping('chat:a', { timeoutMs: 1_000 }, h.connection))!;
    api.start();
    await h.advance(999);
    expect(h.connection.presence.isTyping('chat:a')).toBe(true);
    await h.advance(1);
    expect(h.connection.presence.isTyping('chat:a')).toBe(false);
    scope.stop();
  });

  it('start() while the channel ref moves a→b→a before the watcher runs: the typing on b stops when the ref leaves b', async () => {
    const { h, channel, scope, api } = await typingOnChannelRef();
    channel.value = 'chat:b';
    api.start(); // a keystroke in b's composer
    channel.value = 'chat:a'; // back before the watcher ran
    await nextTick();
    expect(h.connection.presence.isTyping('chat:b')).toBe(false);
    expect(h.server.last!.sentOfType('typing').map((f) => `${f.ch}:${f.typing}`)).toEqual(['chat:b:true', 'chat:b:false']);
    scope.stop();
  });

  it('start() after the channel ref moved, the scope ending before the watcher runs: the typing on the new channel stops', async () => {
    const { h, channel, scope, api } = await typingOnChannelRef();
    channel.value = 'chat:b';
    api.start();
    scope.stop();
    await nextTick();
    expect(h.connection.presence.isTyping('chat:b')).toBe(false);
  });
});

describe('connections and pools started and disposed', () => {
  it('useConnection(options, { start: false }) does not start it', async () => {
    const h = harness();
    const scope = effectScope();
    const connection = scope.run(() => useConnection(connectionOptions(h), { start: false }))!;
    await h.settle();
    expect(connection.status).toBe('idle');
    expect(h.server.sockets).toHaveLength(0);
    scope.stop();
  });

  it('useConnection(connection) starts the connection it is given once mounted, as in React', async () => {
    const h = harness();
    const App = defineComponent(() => {
      const connection = useConnection(h.connection);
      return () => el('i', connection.status);
    });
    const app = createApp(App);
    app.mount(document.createElement('div'));
    await h.settle();
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(h.server.sockets).toHaveLength(1);
    app.unmount();
  });

  it('a connection the app stopped is not started again by a component mounted later', async () => {
    const h = harness();
    const App = defineComponent((props: { n: number }) => {
      provideSocketchart({ connection: h.connection });
      return () => el('i', props.n);
    }, { props: ['n'] });
    const first = createApp(App, { n: 1 });
    first.mount(document.createElement('div'));
    await h.settle();
    await h.settle();
    expect(h.connection.status).toBe('connected');
    h.connection.stop();
    await h.settle();
    first.unmount();
    const second = createApp(App, { n: 2 });
    second.mount(document.createElement('div'));
    await h.settle();
    expect(h.connection.status).toBe('closed');
    expect(h.server.sockets).toHaveLength(1);
    second.unmount();
  });

  it('the plugin with options disposes its connection when the app unmounts', async () => {
    const h = harness();
    const App = defineComponent(() => {
      useConnection();
      return () => el('i');
    });
    const app = createApp(App).use(createSocketchart({ options: connectionOptions(h) }));
    app.mount(document.createElement('div'));
    await h.settle();
    await h.settle();
    expect(h.server.sockets.filter((s) => s.isLive)).toHaveLength(1);
    app.unmount();
    await h.settle();
    expect(h.server.sockets.filter((s) => s.isLive)).toHaveLength(0);
  });

  it('the plugin with a pool: a component that only reads usePoolHealth() starts the pool', async () => {
    const h = harness();
    const pool = poolOfOne(h);
    const App = defineComponent(() => {
      const health = usePoolHealth();
      return () => el('i', health.value);
    });
    const container = document.createElement('div');
    const app = createApp(App).use(createSocketchart({ pool }));
    app.mount(container);
    await h.settle();
    await h.settle();
    await nextTick();
    expect(container.textContent).toBe('up');
    app.unmount();
    pool.dispose();
  });

  it('a scope begun in a component and stopped before it mounts attaches nothing', async () => {
    const h = harness();
    await h.connect();
    const seen: string[] = [];
    const App = defineComponent(() => {
      const scope = effectScope();
      scope.run(() => useConnectionEvent('error', (error) => seen.push(error.message), h.connection));
      scope.stop();
      return () => el('i');
    });
    const app = createApp(App);
    app.mount(document.createElement('div'));
    h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: 'after mount' });
    expect(seen).toEqual([]);
    app.unmount();
  });
});

describe('usePoolStatus', () => {
  it('shows the pool stopped when the app stops it after closing its only member', async () => {
    const h = harness();
    const pool = poolOfOne(h, { dialBudget: false });
    const scope = effectScope();
    const status = scope.run(() => usePoolStatus(pool))!;
    pool.start();
    await h.settle();
    await h.settle();
    expect(`${status.value.state}/${status.value.health}/${status.value.connections.a}`).toBe('running/up/connected');
    pool.connection('a')!.stop();
    await h.settle();
    expect(`${status.value.state}/${status.value.health}/${status.value.connections.a}`).toBe('running/down/closed');
    pool.stop();
    await h.settle();
    expect(`${pool.status().state}/${pool.status().health}/${pool.status().connections.a}`).toBe('stopped/down/closed');
    expect(`${status.value.state}/${status.value.health}/${status.value.connections.a}`).toBe('stopped/down/closed');
    scope.stop();
    pool.dispose();
  });
});

describe('usePoolHealth, useOptimistic: a change between setup and mount is shown', () => {
  it('usePoolHealth', async () => {
    const h = harness();
    const pool = poolOfOne(h);
    pool.start();
    await h.settle();
    await h.settle();
    const App = defineComponent(() => {
      const health = usePoolHealth(pool);
      pool.connection('a')!.stop();
      return () => el('i', health.value);
    });
    const container = document.createElement('div');
    const app = createApp(App);
    app.mount(container);
    await nextTick();
    expect(pool.status().health).toBe('down');
    expect(container.textContent).toBe('down');
    app.unmount();
    pool.dispose();
  });

  it('useConnectionStatus', async () => {
    const h = harness();
    let status: Ref<ConnectionStatus> | undefined;
    const App = defineComponent(() => {
      status = useConnectionStatus(h.connection);
      h.connection.start();
      return () => el('i', status!.value);
    });
    const app = createApp(App);
    app.mount(document.createElement('div'));
    expect(h.connection.status).not.toBe('idle');
    expect(status!.value).toBe(h.connection.status);
    app.unmount();
  });

  it('useOptimistic, and pending() is reactive', async () => {
    const h = harness();
    await h.connect();
    const store = createOptimisticStore<{ id: string; n: number }>({ connection: h.connection, channel: 'c:1', key: (v) => v.id });
    const App = defineComponent(() => {
      const api = useOptimistic(store);
      void store.update('x', { id: 'x', n: 1 }).catch(() => {});
      return () => el('i', `${[...api.values.value.values()].map((v) => v.n).join(',')}/${api.pending()}`);
    });
    const container = document.createElement('div');
    const app = createApp(App);
    app.mount(container);
    await nextTick();
    expect(container.textContent).toBe('1/1');
    app.unmount();
    store.dispose();
  });

  it('useOptimistic: a view that reads only pending() follows it', async () => {
    const h = harness();
    await h.connect();
    const store = createOptimisticStore<{ id: string; n: number }>({ connection: h.connection, channel: 'c:1', key: (v) => v.id });
    let api: ReturnType<typeof useOptimistic<{ id: string; n: number }>> | undefined;
    const App = defineComponent(() => {
      api = useOptimistic(store);
      return () => el('i', String(api!.pending('x')));
    });
    const container = document.createElement('div');
    const app = createApp(App);
    app.mount(container);
    void api!.update('x', { id: 'x', n: 1 }).catch(() => {});
    await nextTick();
    expect(container.textContent).toBe('1');
    app.unmount();
    store.dispose();
  });
});

describe('useOptimistic of a store the app disposes while the view shows it', () => {
  it('the view shows what the store reads then (no values, nothing pending)', async () => {
    const h = harness();
    await h.connect();
    const store = createOptimisticStore<{ id: string; n: number }>({ connection: h.connection, channel: 'c:1', key: (v) => v.id, initial: { y: { id: 'y', n: 7 } } });
    const App = defineComponent(() => {
      const api = useOptimistic(store);
      return () => el('i', `${[...api.values.value.values()].map((v) => v.n).join(',')}/${api.pending()}`);
    });
    const container = document.createElement('div');
    const app = createApp(App);
    app.mount(container);
    void store.update('x', { id: 'x', n: 1 }).catch(() => {});
    await nextTick();
    expect(container.textContent).toBe('7,1/1');
    store.dispose();
    await nextTick();
    expect({ values: store.snapshot().size, pending: store.pending() }).toEqual({ values: 0, pending: 0 });
    expect(container.textContent).toBe('/0');
    app.unmount();
  });
});

describe('usePresence, useTyping in a component: the first render shows what the connection knows already', () => {
  it('the members and the typers of the channel, not an empty list until mounted', async () => {
    const h = harness();
    presenceServer(h, ['alice']);
    await h.connect();
    const store = effectScope(); // e.g. a store that already watches the room
    store.run(() => {
      usePresence('room', { join: false }, h.connection);
      useTyping('room', {}, h.connection);
    });
    await h.settle();
    h.server.last!.push({ type: 'typing', ch: 'room', userId: 'bob', typing: true });
    expect({ members: h.connection.presence.members('room').map((m) => m.userId), typing: h.connection.presence.typingUsers('room') }).toEqual({ members: ['alice'], typing: ['bob'] });
    const rendered: string[] = [];
    const Room = defineComponent(() => {
      const { members } = usePresence('room', { join: false }, h.connection);
      const { typing } = useTyping('room', {}, h.connection);
      return () => {
        rendered.push(`${members.value.map((m) => m.userId).join(',')}|${typing.value.join(',')}`);
        return el('i');
      };
    });
    const app = createApp(Room);
    app.mount(document.createElement('div'));
    await nextTick();
    expect({ first: rendered[0], last: rendered.at(-1) }).toEqual({ first: 'alice|bob', last: 'alice|bob' });
    app.unmount();
    store.stop();
  });
});
