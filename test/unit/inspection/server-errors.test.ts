import type { Server } from 'node:http';
import { afterEach, expect, it, vi } from 'vitest';
import { startTestInspector, stillAnswers } from './support.js';

/** The inspector server's listener failing after start (accepting a socket with no file descriptor left). */

const made = vi.hoisted(() => ({ servers: [] as Server[] }));
vi.mock('node:http', async (importOriginal) => {
  const http = await importOriginal<typeof import('node:http')>();
  const createServer = ((...args: Parameters<typeof http.createServer>) => {
    const server = http.createServer(...args);
    made.servers.push(server);
    return server;
  }) as typeof http.createServer;
  return { ...http, default: { ...http, createServer }, createServer };
});

const closing: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closing.length) await closing.pop()!();
});

it('an error of its listener after start (accept EMFILE) crashes nothing, and the server still answers', async () => {
  const inspector = await startTestInspector();
  closing.push(() => inspector.close());
  const server = made.servers.at(-1)!;
  expect(() => server.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' }))).not.toThrow();
  expect(await stillAnswers(inspector.wsUrl)).toBe(true);
});
