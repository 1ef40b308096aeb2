import { spawn, spawnSync } from 'node:child_process';
import { createServer as listenOn, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createConnection, type Connection } from '../../src/index.node.js';
import { startRedis } from '../support/redis.js';
import { until } from '../support/until.js';

/** `npx socketchart serve` and `npx socketchart token`: the reference server and its tokens, from the command line. */

const SECRET = 'a-secret-of-at-least-32-characters-for-serve';
const cli = [process.execPath, '--import', 'tsx', 'src/cli/main.ts'] as const;
const env = (extra: Record<string, string | undefined>) => {
  const { JWT_SECRET: _secret, REDIS_URL: _redis, ...rest } = process.env;
  return { ...rest, ...extra } as NodeJS.ProcessEnv;
};

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function startServe(args: string[], extra: Record<string, string | undefined> = { JWT_SECRET: SECRET }) {
  const child = spawn(cli[0], [...cli.slice(1), 'serve', ...args], { env: env(extra) });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
  child.stderr.on('data', (chunk: Buffer) => (out += String(chunk)));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanups.push(() => child.kill('SIGKILL'));
  return { child, out: () => out, exit };
}

const token = (userId: string, extra: Record<string, string | undefined> = { JWT_SECRET: SECRET }) =>
  spawnSync(cli[0], [...cli.slice(1), 'token', userId], { env: env(extra), encoding: 'utf8', timeout: 30_000 });

describe('socketchart serve', () => {
  it('runs the server of the README examples: a token from socketchart token connects, and chat channels carry messages', async () => {
    const server = startServe(['--port', '0']);
    await until(() => /socketchart server: ws:\/\/127\.0\.0\.1:\d+/.test(server.out()), 20_000, 'the server URL');
    const url = /socketchart server: (ws:\/\/127\.0\.0\.1:\d+)/.exec(server.out())![1]!;
    const minted = token('alice');
    expect(minted.status, minted.stderr).toBe(0);
    const jwt = minted.stdout.trim();
    expect(jwt.split('.')).toHaveLength(3);

    const connection: Connection = createConnection({ url, auth: { token: jwt } });
    cleanups.push(() => connection.dispose());
    const received: unknown[] = [];
    connection.subscribe('chat:lobby', (data) => received.push(data));
    connection.start();
    await until(() => connection.isConnected, 10_000, 'connected');
    expect(connection.session?.userId).toBe('alice');
    await connection.send({ text: 'hi' }, { channel: 'chat:lobby', ack: true });
    await until(() => received.length === 1, 5_000, 'the message back');
    expect(received).toEqual([{ text: 'hi' }]);
    await expect(connection.send({ text: 'x' }, { channel: 'admin:panel', ack: true })).rejects.toMatchObject({ code: 'AUTHORIZATION_FAILED' });

    server.child.kill('SIGTERM');
    expect(await server.exit).toBe(0);
  }, 45_000);

  it('refuses a token signed with another secret', async () => {
    const server = startServe(['--port', '0']);
    await until(() => /socketchart server: ws:\/\/127\.0\.0\.1:\d+/.test(server.out()), 20_000, 'the server URL');
    const url = /socketchart server: (ws:\/\/127\.0\.0\.1:\d+)/.exec(server.out())![1]!;
    const forged = token('mallory', { JWT_SECRET: 'another-secret-of-at-least-32-characters' }).stdout.trim();
    const connection = createConnection({ url, auth: { token: forged } });
    cleanups.push(() => connection.dispose());
    connection.start();
    await until(() => connection.status === 'failed', 10_000, 'failed');
    expect(connection.lastError?.code).toBe('AUTHENTICATION_FAILED');
  }, 45_000);

  it('without JWT_SECRET, exits 1 saying the variable is not set', async () => {
    const server = startServe(['--port', '0'], {});
    expect(await server.exit).toBe(1);
    expect(server.out()).toContain('is its environment variable set?');
  }, 30_000);

  it('a Redis URL it cannot use ends the start with a message that shows no password', async () => {
    for (const redis of ['redis://:hunter2pw@127.0.0.1:99999', 'redis://%zz:hunter2pw@127.0.0.1:1']) {
      const server = startServe(['--port', '0'], { JWT_SECRET: SECRET, REDIS_URL: redis });
      expect(await server.exit).not.toBe(0);
      expect(server.out()).toMatch(/REDIS_URL expects|URI malformed/);
      expect(server.out()).not.toContain('hunter2pw');
    }
  }, 30_000);

  it('a Redis URL whose query sets a timeout the server sets itself (?connectTimeout=5000) ends the start with a message, not a crash', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const server = startServe(['--port', '0'], { JWT_SECRET: SECRET, REDIS_URL: `redis://:hunter2pw@127.0.0.1:${redis.port}/?connectTimeout=5000` });
    const exited = await Promise.race([server.exit, new Promise((resolve) => setTimeout(resolve, 15_000, 'still running'))]);
    expect(exited, server.out()).toBe(2);
    expect(server.out()).toMatch(/^REDIS_URL expects a Redis URL whose query sets none of the options the server sets itself \(connectTimeout\)/);
    expect(server.out()).not.toMatch(/hunter2pw|\n\s+at /);
  }, 30_000);

  it('scales out over --redis when REDIS_URL holds a URL it cannot read', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const server = startServe(['--port', '0', '--redis', redis.url], { JWT_SECRET: SECRET, REDIS_URL: 'localhost:6379' });
    await until(() => /\(scaled out over Redis\)/.test(server.out()) || server.child.exitCode !== null, 20_000, 'the server URL');
    expect(server.out()).toMatch(/socketchart server: ws:\/\/127\.0\.0\.1:\d+ \(scaled out over Redis\)/);
  }, 30_000);

  it('prints its usage on --help whatever REDIS_URL holds', async () => {
    const server = startServe(['--help'], { REDIS_URL: 'localhost:6379' });
    expect(await server.exit).toBe(0);
    expect(server.out()).toContain('usage: socketchart serve');
  }, 30_000);

  it('on SIGTERM while it waits for Redis at start, exits 0 at once', async () => {
    const accepted: Socket[] = [];
    const silent: Server = listenOn((socket) => accepted.push(socket));
    const reached = new Promise<void>((resolve) => silent.once('connection', () => resolve()));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      accepted.forEach((socket) => socket.destroy());
      silent.close();
    });
    const port = (silent.address() as { port: number }).port;
    const server = startServe(['--port', '0'], { JWT_SECRET: SECRET, REDIS_URL: `redis://127.0.0.1:${port}` });
    await reached;
    server.child.kill('SIGTERM');
    const exited = await Promise.race([server.exit, new Promise((resolve) => setTimeout(resolve, 5_000, 'still running'))]);
    expect(exited, server.out()).toBe(0);
  }, 30_000);

  it('on a port already taken, exits 1 with a clear message', async () => {
    const taken: Server = listenOn();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => taken.close(resolve)));
    const port = (taken.address() as { port: number }).port;
    const server = startServe(['--port', String(port)]);
    expect(await server.exit).toBe(1);
    expect(server.out()).toContain(`cannot listen on 127.0.0.1:${port} (EADDRINUSE)`);
  }, 30_000);

  it('on Ctrl-C under npm (a SIGINT, and the second npm forwards while it closes), closes its sockets and exits 0', async () => {
    const server = startServe(['--port', '0']);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => server.child.once('exit', (code, signal) => resolve({ code, signal })));
    await until(() => /socketchart server: ws:\/\/127\.0\.0\.1:\d+/.test(server.out()), 20_000, 'the server URL');
    const url = /socketchart server: (ws:\/\/127\.0\.0\.1:\d+)/.exec(server.out())![1]!;
    const open = (ws: WebSocket) => new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    // one socket that does not read (the close waits for it), one that tells when the close has begun
    const stalled = new WebSocket(url);
    const watching = new WebSocket(url);
    cleanups.push(() => stalled.terminate(), () => watching.terminate());
    await Promise.all([open(stalled), open(watching)]);
    stalled.pause();
    let closeCode: number | undefined;
    watching.once('close', (code) => (closeCode = code));
    server.child.kill('SIGINT');
    await until(() => closeCode !== undefined, 10_000, 'the server to close its sockets');
    expect(closeCode).toBe(1012);
    server.child.kill('SIGINT');
    stalled.resume();
    expect(await exited, server.out()).toEqual({ code: 0, signal: null });
  }, 45_000);
});

describe('socketchart token', () => {
  it('without JWT_SECRET, exits 1 saying so', () => {
    const result = token('alice', {});
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('JWT_SECRET is not set');
    expect(result.stdout).toBe('');
  });

  it('refuses a user id the server would refuse, and prints no token', () => {
    const result = token('a:b');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/Invalid option `userId`/);
    expect(result.stdout).toBe('');
  });
});
