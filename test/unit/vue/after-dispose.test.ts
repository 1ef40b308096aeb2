// @vitest-environment happy-dom
import { createApp, defineComponent, effectScope, h as el, nextTick } from 'vue';
import { describe, expect, it } from 'vitest';
import { createPool } from '../../../src/index.js';
import { createSocketchart, provideSocketchart, useConnectionStatus, usePoolStatus } from '../../../src/vue/index.js';
import { harness, poolOfOne, type Harness } from '../../support/harness.js';

/** What the composables read of a connection or a pool the app disposes: what their own status says. */

const makePool = (h: Harness) => poolOfOne(h, { dialBudget: false });

describe('vue useConnectionStatus of a connection disposed while connected', () => {
  it('the ref reads closed, as connection.status does', async () => {
    const h = harness();
    await h.connect();
    const scope = effectScope();
    const status = scope.run(() => useConnectionStatus(h.connection))!;
    expect(status.value).toBe('connected');
    h.connection.dispose();
    await h.advance(10_000);
    expect(h.connection.status).toBe('closed');
    expect(status.value, 'useConnectionStatus').toBe('closed');
    scope.stop();
  });

  it('a pool member disposed by the app: useConnectionStatus(name) agrees with usePoolStatus', async () => {
    const h = harness();
    const pool = createPool({ endpoints: [{ name: 'a', url: 'ws://mock.test/a' }, { name: 'b', url: 'ws://mock.test/b' }], defaults: { WebSocket: h.server.WebSocket }, clock: h.clock, environment: h.env, staggerMs: 0, dialBudget: false });
    const scope = effectScope();
    const [a, poolStatus] = scope.run(() => [useConnectionStatus(pool.connection('a')!), usePoolStatus(pool)] as const)!;
    pool.start();
    await h.advance(100);
    await h.advance(100);
    expect(a.value).toBe('connected');
    pool.connection('a')!.dispose();
    await h.advance(10_000);
    expect(poolStatus.value.connections.a).toBe('closed');
    expect(a.value, 'useConnectionStatus(a)').toBe('closed');
    scope.stop();
    pool.dispose();
  });
});

describe('usePoolStatus of a pool the app disposes while it runs', () => {
  it('the ref reads what pool.status() gives (stopped)', async () => {
    const h = harness();
    const pool = makePool(h);
    const scope = effectScope();
    const status = scope.run(() => usePoolStatus(pool))!;
    pool.start();
    await h.settle();
    await h.settle();
    expect(`${status.value.state}/${status.value.connections.a}`).toBe('running/connected');
    pool.dispose();
    await h.settle();
    expect(`${pool.status().state}/${pool.status().connections.a}`).toBe('stopped/closed');
    expect(`${status.value.state}/${status.value.connections.a}`, 'the usePoolStatus ref').toBe('stopped/closed');
    scope.stop();
  });
});

describe('a connection or a pool disposed before it was ever started, handed to the bindings', () => {
  /** Mounts `component`; the errors Vue hands its app's error handler are collected. */
  async function mount(component: ReturnType<typeof defineComponent>, plugin?: { install(app: never): void }) {
    const errors: unknown[] = [];
    const app = createApp(component);
    app.config.errorHandler = (error) => void errors.push(error);
    if (plugin) app.use(plugin as never);
    const container = document.createElement('div');
    app.mount(container);
    await nextTick();
    return { app, container, errors };
  }

  it('provideSocketchart({ connection }) shows it closed instead of throwing CLOSED from onMounted', async () => {
    const h = harness();
    h.connection.dispose();
    const Badge = defineComponent(() => {
      const status = useConnectionStatus();
      return () => el('b', status.value);
    });
    const App = defineComponent(() => {
      provideSocketchart({ connection: h.connection });
      return () => el(Badge);
    });
    const { app, container, errors } = await mount(App);
    expect(errors).toEqual([]);
    expect(container.textContent).toBe('closed');
    app.unmount();
  });

  it('the plugin with a pool shows it stopped instead of throwing CLOSED from onMounted', async () => {
    const h = harness();
    const pool = makePool(h);
    pool.dispose();
    const App = defineComponent(() => {
      const status = usePoolStatus();
      return () => el('b', status.value.state);
    });
    const { app, container, errors } = await mount(App, createSocketchart({ pool }));
    expect(errors).toEqual([]);
    expect(container.textContent).toBe(pool.status().state);
    app.unmount();
  });
});
