// @vitest-environment happy-dom
import { act, createElement } from 'react';
import { describe, expect, it } from 'vitest';
import { SocketchartProvider, useConnection, useConnectionStatus, usePoolStatus } from '../../../src/react/index.js';
import { status$ } from '../../../src/rx/index.js';
import { harness, poolOfOne, type Harness } from '../../support/harness.js';
import { flush, render } from '../../support/react-dom.js';

/** What the hooks show of a connection or a pool the app disposes: what their own status says. */

const makePool = (h: Harness) => poolOfOne(h, { dialBudget: false });

describe('useConnectionStatus of a connection the app disposes while it is connected', () => {
  it('shows closed, as connection.status and status$ do', async () => {
    const h = harness();
    await h.connect();
    const rx: string[] = [];
    status$(h.connection).subscribe((s) => rx.push(s));
    const Badge = () => createElement('b', null, useConnectionStatus());
    const container = await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Badge)), false);
    expect(container.textContent).toBe('connected');
    await act(async () => h.connection.dispose());
    await flush(h);
    await act(async () => h.advance(10_000));
    expect({ status: h.connection.status, rxLast: rx.at(-1) }).toEqual({ status: 'closed', rxLast: 'closed' });
    expect(container.textContent, 'the badge').toBe('closed');
  });
});

describe('usePoolStatus of a pool the app disposes while it runs', () => {
  it('shows the state pool.status() gives (stopped), not the last one before dispose', async () => {
    const h = harness();
    const pool = makePool(h);
    const Status = () => {
      const status = usePoolStatus(pool);
      return createElement('b', null, `${status.state}/${status.connections.a}`);
    };
    const container = await render(createElement(Status), false);
    await act(async () => void pool.start());
    await flush(h);
    await flush(h);
    expect(container.textContent).toBe('running/connected');
    await act(async () => void pool.connection('a')!.stop()); // the app closes its only member: the pool still runs
    await flush(h);
    expect(container.textContent).toBe('running/closed');
    await act(async () => pool.dispose());
    await flush(h);
    const now = pool.status();
    expect(`${now.state}/${now.connections.a}`).toBe('stopped/closed');
    expect(container.textContent, 'what usePoolStatus shows').toBe('stopped/closed');
  });

});

describe('a connection or a pool disposed before it was ever started, handed to the bindings', () => {
  it('<SocketchartProvider connection> shows it closed instead of throwing CLOSED from its effect', async () => {
    const h = harness();
    h.connection.dispose();
    const Badge = () => createElement('b', null, useConnectionStatus());
    const container = await render(createElement(SocketchartProvider, { connection: h.connection }, createElement(Badge)));
    expect(container.textContent).toBe('closed');
  });

  it('useConnection(connection) shows it closed instead of throwing CLOSED from its effect', async () => {
    const h = harness();
    h.connection.dispose();
    const Badge = () => createElement('b', null, useConnectionStatus(useConnection(h.connection)));
    const container = await render(createElement(Badge));
    expect(container.textContent).toBe('closed');
  });

  it('<SocketchartProvider pool> shows it stopped instead of throwing CLOSED from its effect', async () => {
    const h = harness();
    const pool = makePool(h);
    pool.dispose();
    const Status = () => createElement('b', null, usePoolStatus().state);
    const container = await render(createElement(SocketchartProvider, { pool }, createElement(Status)));
    expect(container.textContent).toBe(pool.status().state);
  });
});
