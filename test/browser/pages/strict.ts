import { StrictMode, createElement, useState } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { SocketchartProvider, useChannel, useConnectionStatus, usePool, usePoolHealth } from 'socketchart/react';
import type { PoolOptions } from 'socketchart';

/** The seeds' dashboard of eight feeds under React StrictMode, one pool in a provider; the spec mounts, re-renders and unmounts it. */

const config = JSON.parse(new URLSearchParams(location.search).get('c') ?? '{}') as { url: string };
const feeds = ['queue', 'adw-monitor', 'workflows', 'routes', 'workflow-history', 'planned-features', 'system-status', 'webhook-status'];

const poolOptions = (): PoolOptions => ({
  endpoints: feeds.map((name, i) => ({ name, url: `${config.url}?e=${name}`, priority: i < 2 ? 1 : i < 6 ? 2 : 3 })),
  defaults: { auth: { token: async () => 'viewer' }, heartbeat: { intervalMs: 5_000, timeoutMs: 2_000 } },
  staggerMs: 20,
});

const received: Record<string, number> = {};

function Feed({ name, version }: { name: string; version: number }) {
  const status = useConnectionStatus(name);
  useChannel(`feed:${name}`, () => (received[name] = (received[name] ?? 0) + 1), name);
  return createElement('li', { 'data-feed': name, 'data-status': status }, `${name} ${status} v${version}`);
}

function Dashboard({ version }: { version: number }) {
  const health = usePoolHealth();
  const pool = usePool();
  const [clicks, setClicks] = useState(0);
  return createElement(
    'section',
    null,
    createElement('h1', { id: 'health' }, health),
    createElement('button', { id: 'bump', onClick: () => setClicks(clicks + 1) }, `re-render ${clicks}`),
    createElement('ul', null, pool.connections.map((c) => createElement(Feed, { key: `${c.name}`, name: c.name, version }))),
  );
}

let root: Root | undefined;
let version = 0;
const render = () => root!.render(createElement(StrictMode, null, createElement(SocketchartProvider, { poolOptions: poolOptions() }, createElement(Dashboard, { version }))));

Object.assign(window, {
  app: {
    received,
    mount() {
      root = createRoot(document.getElementById('root')!);
      render();
    },
    /** Renders again with new props and a new options object (as a hot update would). */
    rerender() {
      version++;
      render();
    },
    unmount() {
      root?.unmount();
      root = undefined;
    },
  },
});
(window as unknown as { app: { mount(): void } }).app.mount();
