// @vitest-environment happy-dom
import { Activity, createElement, type ReactElement } from 'react';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../src/index.js';
import { SocketchartProvider, useConnection, useConnectionStatus, useSocketchart } from '../../../src/react/index.js';
import { harness, type Harness } from '../../support/harness.js';
import { connectionOptions, flush, render, rerender } from '../../support/react-dom.js';

// React 19.2+ <Activity mode="hidden"> runs effect cleanups and runs the effects again when shown:
// an owned connection must survive that (or be made again), as it survives StrictMode's double mount.
type Mode = 'visible' | 'hidden';

/** Renders `App` visible (connected), then hidden, then visible again. */
async function hideAndShow(h: Harness, App: (props: { mode: Mode }) => ReactElement) {
  const container = await render(createElement(App, { mode: 'visible' }), false);
  await flush(h);
  expect(container.textContent).toBe('connected');
  await rerender(createElement(App, { mode: 'hidden' }));
  await flush(h);
  await rerender(createElement(App, { mode: 'visible' }));
  await flush(h);
}

describe('an owned connection inside <Activity> hidden, then shown again', () => {
  it('useConnection(options) is usable again', async () => {
    const h = harness();
    let used: Connection | undefined;
    const Feed = () => {
      used = useConnection(connectionOptions(h));
      return createElement('b', null, useConnectionStatus(used));
    };
    const App = ({ mode }: { mode: Mode }) => createElement(Activity, { mode, children: createElement(Feed) });
    await hideAndShow(h, App);
    expect({ disposed: used!.isDisposed, status: used!.status }).toEqual({ disposed: false, status: 'connected' });
  });

  it('<SocketchartProvider options> is usable again', async () => {
    const h = harness();
    let used: Connection | undefined;
    const Feed = () => {
      used = useSocketchart()!.connection;
      return createElement('b', null, useConnectionStatus());
    };
    const App = ({ mode }: { mode: Mode }) => createElement(Activity, { mode, children: createElement(SocketchartProvider, { options: connectionOptions(h) }, createElement(Feed)) });
    await hideAndShow(h, App);
    expect({ disposed: used!.isDisposed, status: used!.status }).toEqual({ disposed: false, status: 'connected' });
  });
});
