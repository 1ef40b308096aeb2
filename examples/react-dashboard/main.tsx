import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { SocketchartProvider, useChannelMessages, useConnectionStatus, usePool, usePoolHealth } from 'socketchart/react';
import type { PoolOptions } from 'socketchart';

/** The seeds' eight feeds by priority in one pool: status badges, pool health, and a server restart that shows the staggered, budgeted recovery. */

const feeds: Array<[string, number]> = [
  ['queue', 1], ['adw-monitor', 1], ['workflows', 2], ['routes', 2],
  ['workflow-history', 2], ['planned-features', 2], ['system-status', 3], ['webhook-status', 3],
];
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;

const poolOptions: PoolOptions = {
  endpoints: feeds.map(([name, priority]) => ({ name, priority, url: `${wsUrl}?e=${name}` })),
  defaults: { auth: { token: async () => 'dashboard' }, heartbeat: { intervalMs: 10_000, timeoutMs: 3_000 }, reconnect: { baseMs: 300, capMs: 3_000, restartWindowMs: 1_500 } },
  staggerMs: 100,
  dialBudget: { ratePerSec: 4, burst: 2 },
};

function Feed({ name, priority }: { name: string; priority: number }) {
  const status = useConnectionStatus(name);
  const messages = useChannelMessages<{ n: number; at: string }>(`feed:${name}`, { last: 4 }, name);
  return (
    <article className="card" data-feed={name} data-status={status}>
      <h2>
        {name} <span className={`badge ${status}`}>{status}</span>
      </h2>
      <div className="priority">priority {priority}</div>
      <ol>{messages.map((m) => <li key={m.seq}>#{m.data.n} at {m.data.at}</li>)}</ol>
    </article>
  );
}

/** A restart takes each feed through three events (reconnecting, queued, connected), a failed dial two more: its drops stay in view with the recovery. */
const timelineLength = feeds.length * 5;

function Timeline() {
  const pool = usePool();
  const [events, setEvents] = useState<string[]>([]);
  useEffect(() => {
    const started = performance.now();
    return pool.on('state', ({ name, status }) => {
      if (status === 'connected' || status === 'reconnecting' || status === 'queued')
        setEvents((list) => [...list.slice(1 - timelineLength), `${((performance.now() - started) / 1000).toFixed(2)} s  ${name} → ${status}`]);
    });
  }, [pool]);
  return <pre className="timeline">{events.join('\n')}</pre>;
}

function Dashboard() {
  const health = usePoolHealth();
  const [restarting, setRestarting] = useState(false);
  const [restartError, setRestartError] = useState('');
  const restart = async () => {
    setRestarting(true);
    setRestartError('');
    try {
      const response = await fetch('/api/restart', { method: 'POST' });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
    } catch (error) {
      setRestartError(`Restart failed: ${(error as Error).message}`);
    } finally {
      setRestarting(false);
    }
  };
  return (
    <>
      <header>
        <h1>socketchart · eight feeds</h1>
        <span id="health" className={`badge ${health}`}>pool {health}</span>
        <button id="restart" disabled={restarting} onClick={restart}>Restart the server</button>
        <span id="restart-error" role="alert">{restartError}</span>
      </header>
      <main>{feeds.map(([name, priority]) => <Feed key={name} name={name} priority={priority} />)}</main>
      <Timeline />
    </>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <SocketchartProvider poolOptions={poolOptions}>
      <Dashboard />
    </SocketchartProvider>
  </StrictMode>,
);
