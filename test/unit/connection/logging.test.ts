import { expect, it } from 'vitest';
import { ErrorCode, type ConnectionOptions } from '../../../src/index.js';
import { harness } from '../../support/harness.js';

type Level = 'debug' | 'info' | 'warn' | 'error';
interface Line {
  level: Level;
  message: string;
  details: Record<string, unknown> | undefined;
}

/** A logger that records every line, and the options of a connection named `feed` that logs to it. */
function recording(levels: readonly Level[] = ['debug', 'info', 'warn', 'error']) {
  const lines: Line[] = [];
  const logger = Object.fromEntries(
    levels.map((level) => [level, (message: string, details?: Record<string, unknown>) => lines.push({ level, message, details })]),
  ) as ConnectionOptions['logger'];
  return { lines, options: { name: 'feed', logger, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } } satisfies Partial<ConnectionOptions> };
}

it('logs each state change at debug as "[name] from → to"', async () => {
  const { lines, options } = recording();
  const h = harness(options);
  await h.connect();
  const changes = lines.filter((line) => line.level === 'debug' && line.message.includes('→')).map((line) => line.message);
  expect(changes[0]).toBe('[feed] idle → connecting');
  expect(changes.at(-1)).toBe('[feed] connecting → connected');
  expect(changes.every((message) => message.startsWith('[feed] '))).toBe(true);
});

it('logs a reconnect at info with its delay, attempt and kind', async () => {
  const { lines, options } = recording();
  const h = harness(options);
  await h.connect();
  h.server.last!.drop();
  await h.settle();
  const reconnecting = lines.filter((line) => line.level === 'info');
  expect(reconnecting).toEqual([{ level: 'info', message: '[feed] reconnecting in 100 ms', details: { attempt: 1, kind: 'backoff' } }]);
});

it("logs what is left of a server's wait when the network comes back before it ends", async () => {
  const { lines, options } = recording(['info']);
  const h = harness(options);
  await h.connect();
  h.server.last!.closeFromServer(4029, '{"retry_after":42}');
  await h.settle();
  h.env.emit('offline');
  await h.advance(30_000);
  h.env.emit('online');
  await h.settle();
  expect(lines.map((line) => line.message)).toEqual(['[feed] reconnecting in 42000 ms', '[feed] reconnecting in 12000 ms']);
});

it('logs each reported error at warn with its message and code', async () => {
  const { lines, options } = recording();
  const h = harness(options);
  await h.connect();
  h.server.last!.push({ type: 'error', code: 'SERVER_ERROR', message: 'disk full' });
  await h.settle();
  expect(h.errors.map((error) => error.code)).toContain(ErrorCode.SERVER_ERROR);
  expect(lines.filter((line) => line.level === 'warn' && line.details?.code === ErrorCode.SERVER_ERROR)).toEqual([
    { level: 'warn', message: `[feed] ${h.errors.find((error) => error.code === ErrorCode.SERVER_ERROR)!.message}`, details: { code: 'SERVER_ERROR' } },
  ]);
});

it('logs an open circuit at warn with its trips and failures', async () => {
  const { lines, options } = recording();
  const h = harness({ ...options, circuit: { failureThreshold: 2, recoveryMs: 10_000 } });
  h.server.refusing = true;
  h.connection.start();
  await h.settle();
  for (let i = 0; i < 3 && h.connection.status !== 'circuitOpen'; i++) await h.advance(100);
  expect(h.connection.status).toBe('circuitOpen');
  expect(lines.filter((line) => line.level === 'warn' && line.message === '[feed] circuit open')).toEqual([
    { level: 'warn', message: '[feed] circuit open', details: { trips: 1, failures: 2 } },
  ]);
});

it('logs a failover at warn, and the way back to the primary url on a dial after primaryRetryMs', async () => {
  const { lines, options } = recording();
  const urls = ['ws://primary.test/ws', 'ws://backup.test/ws'];
  const h = harness({ ...options, url: urls, failover: { after: 1, primaryRetryMs: 1_000 }, circuit: false });
  h.server.refusing = true;
  h.connection.start();
  await h.settle();
  h.server.refusing = false;
  await h.advance(100);
  expect(h.server.last!.url).toBe(urls[1]);
  expect(lines.filter((line) => line.level === 'warn')).toContainEqual({ level: 'warn', message: '[feed] failing over', details: { from: 0, to: 1, url: urls[1] } });
  await h.advance(1_000);
  h.server.last!.drop();
  await h.settle();
  await h.advance(100);
  expect(h.server.last!.url).toBe(urls[0]);
  expect(lines.filter((line) => line.level === 'warn')).toContainEqual({ level: 'warn', message: '[feed] back on the primary url', details: { from: 1, to: 0, url: urls[0] } });
});

it('logs the dial at debug with the url, and a logger without a level gets nothing at that level', async () => {
  const { lines, options } = recording(['warn']);
  const h = harness({ ...options, url: 'ws://mock.test/ws' });
  await h.connect();
  h.server.last!.drop();
  await h.settle();
  expect(lines.map((line) => line.level).every((level) => level === 'warn')).toBe(true);
  const all = recording();
  const h2 = harness({ ...all.options, url: 'ws://mock.test/ws' });
  await h2.connect();
  expect(all.lines).toContainEqual({ level: 'debug', message: '[feed] dial', details: { url: 'ws://mock.test/ws' } });
});
