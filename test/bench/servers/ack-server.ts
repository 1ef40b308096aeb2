/**
 * The reference server (createServer, in-memory backend) in its own process, for the acked-publish bench
 * (acks.ts): any token is accepted as its user id, channel rule `bench:*` subscribe + publish, the `bench`
 * rate limit raised out of the way, a silent logger, everything else default (idempotent publish by id,
 * history 1,000 per channel).
 *
 * IPC: ← { type: 'listening', port }; → { type: 'exit' }.
 */
import { pino } from 'pino';
import { createServer } from '../../../src/server/index.js';

const server = await createServer({
  port: 0,
  host: '127.0.0.1',
  auth: { verify: async (token) => ({ userId: token }) },
  channels: [{ pattern: 'bench:*', subscribe: true, publish: true }],
  rateLimits: { bench: { perMinute: 1e9, burst: 1e6 } },
  logger: pino({ level: 'silent' }),
});
process.send?.({ type: 'listening', port: server.address()!.port });
process.on('message', (message: { type?: string }) => {
  if (message.type === 'exit') void server.close().then(() => process.exit(0));
});
