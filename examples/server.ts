/**
 * The reference server, configured as src/server/README.md shows: `JWT_SECRET=… npx tsx examples/server.ts`
 * (a secret of at least 32 bytes; REDIS_URL to scale out). The other examples run against it.
 */
// #region readme
import { createServer } from 'socketchart/server';

const server = await createServer({
  port: 8080,                                  // or { server: existingHttpServer, path: '/ws' }
  auth: { jwtSecret: process.env.JWT_SECRET }, // or { verify: async (token) => ({ userId, expiresAt }) }
  allowedOrigins: ['https://app.example.com'],
  channels: [
    { pattern: 'chat:*', subscribe: true, publish: true, presence: true, events: ['message', 'typing_start'] },
    { pattern: 'orders:*', subscribe: true, publish: true },
    { pattern: 'todos:*', subscribe: true, publish: true },
    { pattern: 'jobs:*', subscribe: true },
    { pattern: 'status:*', subscribe: true, publish: true },
    { pattern: 'user:{userId}:*', subscribe: true, publish: true },
    { pattern: 'admin:*', subscribe: { roles: ['admin'] }, publish: { roles: ['admin'] } },
  ],
  redis: process.env.REDIS_URL,                // optional: scale out over several nodes
});
// #endregion

console.log(`listening on ws://localhost:${server.address()?.port}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void server.close().then(() => process.exit(0)));
