import { createSSRApp, defineComponent, effectScope, h as el } from 'vue';
import { renderToString } from 'vue/server-renderer';
import { describe, expect, it } from 'vitest';
import { createPool } from '../../../src/index.js';
import { createSocketchart, useConnectionError, useConnectionEvent, useConnectionSelector, useConnectionStatus, usePoolHealth, usePoolStatus, usePresence, useTyping } from '../../../src/vue/index.js';
import { harness, presenceServer, refuseAuth } from '../../support/harness.js';
import { countListeners, liveTotal } from '../../support/listeners.js';

/** socketchart/vue: what a server render leaves (nothing), scopes that share a listener, a join or typing, and state that predates a composable. */

describe('a server render (never mounted, never unmounted) attaches nothing to a shared connection or pool', () => {
  it('useConnectionEvent: the listener is not called on the server after renderToString', async () => {
    const h = harness(); // the app's module-scope connection
    const calls: string[] = [];
    const App = defineComponent(() => {
      useConnectionEvent('state', ({ status }) => calls.push(status), h.connection);
      return () => el('i');
    });
    await renderToString(createSSRApp(App));
    h.connection.start(); // anything later in the server process
    await h.settle();
    expect(calls).toEqual([]);
  });

  it('useConnectionError, usePoolHealth, usePoolStatus: no listener is left after each server render', async () => {
    const h = harness();
    const pool = createPool({ endpoints: [{ name: 'a', url: 'ws://mock.test/a' }], defaults: { WebSocket: h.server.WebSocket }, clock: h.clock, environment: h.env });
    const poolListeners = countListeners(pool);
    const connectionListeners = countListeners(pool.connection('a')!);
    const App = defineComponent(() => {
      useConnectionError('a');
      usePoolHealth();
      usePoolStatus();
      return () => el('i');
    });
    for (let request = 0; request < 3; request++) await renderToString(createSSRApp(App).use(createSocketchart({ pool })));
    expect({ pool: liveTotal(poolListeners), connection: liveTotal(connectionListeners) }).toEqual({ pool: 0, connection: 0 });
  });

  it('usePoolHealth, usePoolStatus: the pool shows idle, and its actor is neither made nor run, not even for an inspector', async () => {
    const h = harness();
    const inspected: string[] = [];
    const poolOptions = { endpoints: [{ name: 'a', url: 'ws://mock.test/a' }], defaults: { WebSocket: h.server.WebSocket }, clock: h.clock, environment: h.env, inspect: (event: { type: string }) => inspected.push(event.type) };
    const App = defineComponent(() => {
      const health = usePoolHealth();
      const status = usePoolStatus();
      return () => el('span', `${health.value} ${status.value.state} ${status.value.connections.a}`);
    });
    expect(await renderToString(createSSRApp(App).use(createSocketchart({ poolOptions })))).toBe('<span>down idle idle</span>');
    expect(inspected).toEqual([]);
  });

  it('useConnectionStatus, useConnectionSelector: no listener is left after each server render', async () => {
    const h = harness();
    const live = countListeners(h.connection);
    const App = defineComponent(() => {
      const status = useConnectionStatus(h.connection);
      const value = useConnectionSelector((snapshot) => snapshot.value, h.connection);
      return () => el('span', `${status.value} ${String(value.value)}`);
    });
    for (let request = 0; request < 3; request++) expect(await renderToString(createSSRApp(App))).toBe('<span>idle idle</span>');
    expect(liveTotal(live)).toBe(0);
  });
});

it('stopping a bare effect scope (a store) that joined with usePresence leaves the channel and ends the scope\'s other listeners', async () => {
  const h = harness();
  presenceServer(h);
  await h.connect();
  const seen: string[] = [];
  const store = effectScope(true);
  store.run(() => {
    usePresence('room:1', {}, h.connection);
    useConnectionEvent('error', (error) => seen.push(error.message), h.connection);
  });
  await h.settle();
  expect(h.connection.presence.isJoined('room:1')).toBe(true);
  expect(() => store.stop()).not.toThrow();
  await h.settle();
  h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: 'after the store ended' });
  expect(h.server.last!.sentOfType('presence').map((f) => f.action)).toEqual(['list', 'join', 'leave']);
  expect(seen).toEqual([]);
});

it('usePresence in a scope begun while the connection has failed joins once retry() connects it', async () => {
  const h = harness();
  const members = presenceServer(h);
  await h.connect();
  h.server.last!.closeFromServer(4003, 'forbidden');
  await h.settle();
  expect(h.connection.status).toBe('failed');
  const scope = effectScope();
  const { members: shown } = scope.run(() => usePresence('room:1', {}, h.connection))!;
  await h.settle();
  h.connection.retry();
  await h.settle();
  await h.settle();
  expect(h.connection.status).toBe('connected');
  expect(h.server.last!.sentOfType('presence').filter((f) => f.action === 'join')).toHaveLength(1);
  expect(members.has('me')).toBe(true);
  expect(shown.value.map((m) => m.userId).sort()).toEqual(['bob', 'me']);
  scope.stop();
});

describe('useConnectionEvent with one handler in two scopes', () => {
  it('the scope still alive keeps receiving events after the other one stops', async () => {
    const h = harness();
    await h.connect();
    const seen: string[] = [];
    const reportError = (error: { message: string }) => seen.push(error.message);
    const a = effectScope();
    const b = effectScope();
    a.run(() => useConnectionEvent('error', reportError as never, h.connection));
    b.run(() => useConnectionEvent('error', reportError as never, h.connection));
    a.stop();
    h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: 'after a stopped' });
    expect(seen).toEqual(['after a stopped']);
    b.stop();
  });
});

describe('usePresence on a channel shared by two scopes', () => {
  it('ending one scope keeps this user joined for the other', async () => {
    const h = harness();
    h.server.onFrame = (socket, frame) => {
      const json = frame.json!;
      if (json.type === 'presence') queueMicrotask(() => socket.push({ type: 'presence_state', ch: json.ch, members: json.action === 'leave' ? [] : [{ userId: 'me' }] }));
    };
    await h.connect();
    const header = effectScope();
    const chat = effectScope();
    header.run(() => usePresence('room:1', {}, h.connection));
    const { members } = chat.run(() => usePresence('room:1', {}, h.connection))!;
    await h.settle();
    header.stop(); // the header unmounts; the chat view is still mounted
    await h.settle();
    expect(h.server.last!.sentOfType('presence').map((f) => f.action)).not.toContain('leave');
    expect(h.connection.presence.isJoined('room:1')).toBe(true);
    expect(members.value).toEqual([{ userId: 'me' }]);
    chat.stop();
  });

  it('useTyping: a scope that ends does not stop the typing another live scope started', async () => {
    const h = harness();
    await h.connect();
    const list = effectScope();
    const composer = effectScope();
    list.run(() => useTyping('room:1', {}, h.connection)); // only shows who types
    const typing = composer.run(() => useTyping('room:1', {}, h.connection))!;
    typing.start(); // this user types in the composer
    list.stop();
    expect(h.connection.presence.isTyping('room:1')).toBe(true);
    expect(h.server.last!.sentOfType('typing').map((f) => f.typing)).toEqual([true]);
    composer.stop();
  });
});

it('useTyping: start() after the scope ended (a late keystroke handler) sends no typing and leaves this user not typing', async () => {
  const h = harness();
  await h.connect();
  const scope = effectScope();
  const typing = scope.run(() => useTyping('room:1', {}, h.connection))!;
  typing.start();
  scope.stop();
  typing.start();
  expect(h.server.last!.sentOfType('typing').map((f) => f.typing)).toEqual([true, false]);
  expect(h.connection.presence.isTyping('room:1')).toBe(false);
});

describe('useConnectionError on a connection that has already failed', () => {
  it('starts with the connection\'s last error', async () => {
    const h = harness({ auth: { token: () => 'bad' } }, { autoAuth: false });
    refuseAuth(h);
    h.connection.start();
    await h.settle();
    await h.settle();
    expect(h.connection.status).toBe('failed');
    expect(h.connection.lastError?.code).toBe('AUTHENTICATION_FAILED');
    const scope = effectScope();
    const error = scope.run(() => useConnectionError(h.connection))!;
    expect(error.value?.code).toBe('AUTHENTICATION_FAILED');
    scope.stop();
  });
});

it('useTyping on a channel name the connection refuses (empty) leaves no listener on the connection once the scope ends', async () => {
  const h = harness();
  await h.connect();
  const live = countListeners(h.connection);
  const scope = effectScope();
  expect(() => scope.run(() => useTyping('', {}, h.connection))).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  scope.stop();
  expect(Object.fromEntries([...live].filter(([, n]) => n !== 0))).toEqual({});
});
