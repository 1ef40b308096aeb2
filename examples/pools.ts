/** The README's Pools example, against examples/server.ts: `JWT_SECRET=… npx tsx examples/pools.ts`. */
import { tokenFor } from './token.js';

// #region readme
import { createPool } from 'socketchart';

const pool = createPool({
  endpoints: [
    { name: 'queue', url: 'ws://localhost:8080/queue', priority: 1 },
    { name: 'adw-monitor', url: 'ws://localhost:8080/adw-monitor', priority: 1 },
    { name: 'workflows', url: ['ws://localhost:8080/workflows', 'ws://localhost:8081/workflows'], priority: 2 },
    { name: 'routes', url: 'ws://localhost:8080/routes', priority: 2 },
    { name: 'system-status', url: 'ws://localhost:8080/system-status', priority: 3, group: 'status' },
    { name: 'webhook-status', url: 'ws://localhost:8080/webhook-status', priority: 3, group: 'status' },
  ],
  defaults: { auth: { token: getToken }, heartbeat: { intervalMs: 30_000 } },
  staggerMs: 100,                              // priority 1 first, 100 ms apart
  dialBudget: { ratePerSec: 200, burst: 20 },  // every dial, first or re-, waits for a permit
  balancing: 'least-pending',
});

pool.on('health', ({ health }) => banner(health));   // up | degraded | down
pool.on('failover', ({ name, url }) => console.warn(name, 'now on', url));
const off = pool.subscribe('queue', 'jobs:all', (job) => render(job));
pool.start();
await pool.send('status', { ping: true }, { channel: 'status:pings' }); // a healthy member of the group
pool.stop();
// #endregion

off();
console.log('sent to the status group, stopped');

function getToken(): Promise<string> {
  return tokenFor('alice');
}

function banner(health: string): void {
  console.log('health', health);
}

function render(job: unknown): void {
  console.log('job', JSON.stringify(job));
}
