import { pino } from 'pino';
import { afterEach } from 'vitest';
import { createServer, type ServerOptions, type SocketchartServer } from '../../src/server/index.js';

/** The reference server on 127.0.0.1 (an OS port), any token accepted as its user id, logging nothing. */
export function startReferenceServer(options: Partial<ServerOptions> = {}): Promise<SocketchartServer> {
  return createServer({
    port: 0,
    host: '127.0.0.1',
    auth: { verify: async (token) => ({ userId: token }) },
    logger: pino({ level: 'silent' }),
    ...options,
  });
}

/** Cleanups registered by a spec, run last-in first-out after each test. */
export function cleanupsAfterEach(): Array<() => Promise<void> | void> {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });
  return cleanups;
}
