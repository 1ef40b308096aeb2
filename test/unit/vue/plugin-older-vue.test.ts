// @vitest-environment happy-dom
import { createApp, defineComponent, h as el } from 'vue';
import { describe, expect, it } from 'vitest';
import { createSocketchart, useConnectionStatus } from '../../../src/vue/index.js';
import { harness } from '../../support/harness.js';

// The peer range is vue ^3.3.0; app.onUnmount() exists from Vue 3.5 on. An app without it (3.3, 3.4) is
// simulated here by removing it (scripts/check-peer-floors.mjs runs this folder on Vue 3.3.0 itself too).
describe('createSocketchart({ options }) on a Vue 3.3/3.4 app (no app.onUnmount)', () => {
  it('installs, and disposes its connection when the app unmounts', async () => {
    const h = harness();
    const Status = defineComponent(() => {
      const status = useConnectionStatus();
      return () => el('span', status.value);
    });
    const app = createApp(Status);
    const unmount = app.unmount.bind(app);
    Object.defineProperty(app, 'onUnmount', { value: undefined });
    app.unmount = unmount;
    expect(() => app.use(createSocketchart({ options: { url: 'ws://mock.test/socket', WebSocket: h.server.WebSocket, clock: h.clock, environment: h.env } }))).not.toThrow();
    app.mount(document.createElement('div'));
    await h.settle();
    await h.settle();
    expect(h.server.sockets.filter((s) => s.readyState === 1)).toHaveLength(1);
    app.unmount();
    await h.settle();
    expect(h.server.sockets.filter((s) => s.readyState === 1)).toHaveLength(0);
  });
});
