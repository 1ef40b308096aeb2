// @vitest-environment happy-dom
import { Suspense, act, createElement, startTransition, useState } from 'react';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../src/index.js';
import { useConnection, useConnectionStatus } from '../../../src/react/index.js';
import { harness } from '../../support/harness.js';
import { flush, render } from '../../support/react-dom.js';

describe('useMadeOnce, through useConnection(options): a render React throws away changes nothing', () => {
  it('a suspended transition to another url, abandoned for the current url, keeps the current connection', async () => {
    const h = harness();
    const never = new Promise<never>(() => {});
    let setUrl: ((url: string) => void) | undefined;
    let bump: (() => void) | undefined;
    const used: Connection[] = [];
    const Feed = ({ url }: { url: string; n: number }) => {
      const connection = useConnection({ url, WebSocket: h.server.WebSocket, clock: h.clock, environment: h.env });
      used.push(connection);
      return createElement('b', null, useConnectionStatus(connection));
    };
    const Data = ({ url }: { url: string }) => {
      if (url.endsWith('/b')) throw never; // the next room's data is not there yet
      return null;
    };
    const App = () => {
      const [url, set] = useState('ws://mock.test/a');
      const [n, setN] = useState(0);
      setUrl = set;
      bump = () => setN((x) => x + 1);
      return createElement(Suspense, { fallback: 'loading' }, createElement(Feed, { url, n }), createElement(Data, { url }));
    };
    const container = await render(createElement(App), false);
    await flush(h);
    expect(container.textContent).toBe('connected');
    const first = used.at(-1)!;
    await act(async () => startTransition(() => setUrl!('ws://mock.test/b'))); // suspends: React keeps showing room a
    await flush(h);
    await act(async () => setUrl!('ws://mock.test/a')); // the user goes back to room a before b loaded
    await flush(h);
    expect(container.textContent).toBe('connected');
    await act(async () => bump!()); // any later re-render of Feed, url still a
    await flush(h);
    expect({ sameConnection: used.at(-1) === first, firstStatus: first.status, sockets: h.server.sockets.length }).toEqual({ sameConnection: true, firstStatus: 'connected', sockets: 1 });
  });
});
