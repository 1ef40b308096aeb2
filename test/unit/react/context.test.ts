// @vitest-environment happy-dom
import { createElement } from 'react';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../src/index.js';
import { SocketchartProvider, useConnection, useConnectionStatus, useSocketchart } from '../../../src/react/index.js';
import { harness } from '../../support/harness.js';
import { connectionOptions, flush, render, rerender } from '../../support/react-dom.js';

/** A component that shows the provider's connection status and keeps the connection it was given. */
function probeConnection() {
  const probe: { seen: Connection | undefined; Probe: () => ReturnType<typeof createElement> } = {
    seen: undefined,
    Probe: () => {
      probe.seen = useConnection();
      return createElement('span', null, useConnectionStatus());
    },
  };
  return probe;
}

describe('the start prop of a provider or useConnection(options) that owns its connection', () => {
  it('<SocketchartProvider options start={ready}>: start turning true connects the connection it owns', async () => {
    const h = harness();
    const options = connectionOptions(h);
    const probe = probeConnection();
    const App = ({ ready }: { ready: boolean }) => createElement(SocketchartProvider, { options, start: ready }, createElement(probe.Probe));
    const container = await render(createElement(App, { ready: false }));
    await flush(h);
    expect(container.textContent).toBe('idle');
    let thrown: unknown;
    try {
      await rerender(createElement(App, { ready: true }));
      await flush(h);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeUndefined();
    expect(container.textContent).toBe('connected');
    expect(h.server.sockets).toHaveLength(1);
    expect(() => probe.seen!.status).not.toThrow();
  });

  it('useConnection(options, { start }): start turning true connects', async () => {
    const h = harness();
    const options = connectionOptions(h);
    const Feed = ({ ready }: { ready: boolean }) => createElement('b', null, useConnectionStatus(useConnection(options, { start: ready })));
    const container = await render(createElement(Feed, { ready: false }));
    await flush(h);
    let thrown: unknown;
    try {
      await rerender(createElement(Feed, { ready: true }));
      await flush(h);
    } catch (error) {
      thrown = error;
    }
    expect(String(thrown ?? '')).toBe('');
    expect(container.textContent).toBe('connected');
  });

  it('<SocketchartProvider options start>: start turning false keeps the connection it owns (not disposed)', async () => {
    const h = harness();
    const options = connectionOptions(h);
    const probe = probeConnection();
    const App = ({ on }: { on: boolean }) => createElement(SocketchartProvider, { options, start: on }, createElement(probe.Probe));
    await render(createElement(App, { on: true }));
    await flush(h);
    expect(probe.seen!.status).toBe('connected');
    await rerender(createElement(App, { on: false }));
    await flush(h);
    expect(() => probe.seen!.start()).not.toThrow();
  });
});

describe('a provider that owns what it made, given the other kind of source', () => {
  it('<SocketchartProvider options> given poolOptions instead: its hooks get a pool, and the connection it made is disposed', async () => {
    const h = harness();
    const options = connectionOptions(h);
    const poolOptions = { endpoints: [{ name: 'a', url: 'ws://mock.test/a' }], defaults: { WebSocket: h.server.WebSocket }, clock: h.clock, environment: h.env, staggerMs: 0 };
    const seen: Array<ReturnType<typeof useSocketchart>> = [];
    const Probe = () => {
      seen.push(useSocketchart());
      return null;
    };
    const App = ({ pool }: { pool: boolean }) => createElement(SocketchartProvider, pool ? { poolOptions } : { options }, createElement(Probe));
    await render(createElement(App, { pool: false }));
    await flush(h);
    const made = seen.at(-1)!.connection!;
    expect(made.status).toBe('connected');
    await rerender(createElement(App, { pool: true }));
    await flush(h);
    expect(seen.at(-1)!.pool, 'the pool made from poolOptions').toBeDefined();
    expect(seen.at(-1)!.connection).toBeUndefined();
    expect(made.isDisposed).toBe(true);
  });
});
