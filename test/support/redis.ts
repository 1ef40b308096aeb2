import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/** A real `redis-server` started for a test: no persistence, loopback only, a free port. */
export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  /** SIGKILL; without persistence every key is gone. */
  kill(): Promise<void>;
  /** Starts a fresh (empty) server on the same port. */
  restart(): Promise<void>;
  /** Writes a snapshot of every key now (SAVE, what a periodic RDB save does). */
  snapshot(): Promise<void>;
  /** SIGKILL, then a server on the same port loaded from the last snapshot: the writes made after it are lost. */
  restartFromSnapshot(): Promise<void>;
  /** Stops the server for good and removes its directory. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

/** Sends one inline command; true when the reply starts with `expected`. */
function inline(port: number, command: string, expected: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.once('data', (data) => done(data.toString().startsWith(expected)));
  });
}

const ping = (port: number) => inline(port, 'PING', '+PONG');

async function launch(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', dir, '--loglevel', 'warning'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let exited = false;
  let spawnError: Error | undefined;
  child.once('exit', () => (exited = true));
  child.once('error', (error) => {
    spawnError = error;
    exited = true;
  });
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (spawnError) throw new Error(`cannot run redis-server (apt-get install -y redis-server): ${spawnError.message}`);
    if (exited) throw new Error(`redis-server exited at start on port ${port}`);
    if (await ping(port)) {
      running.add(child);
      child.once('exit', () => running.delete(child));
      return child;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not answer on port ${port} within 5 s`);
}

function exit(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** Starts `redis-server --save '' --appendonly no` on a free loopback port; retries a few ports if one is taken meanwhile. */
export async function startRedis(): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'socketchart-redis-'));
  let port = 0;
  let child: ChildProcess | undefined;
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort();
    try {
      child = await launch(port, dir);
    } catch (error) {
      if (attempt === 4 || String(error).includes('cannot run')) throw error;
    }
  }
  let current: ChildProcess | undefined = child;
  const relaunch = async (snapshot: boolean) => {
    if (current) await exit(current, 'SIGKILL');
    if (!snapshot) rmSync(join(dir, 'dump.rdb'), { force: true });
    for (let attempt = 0; ; attempt++) {
      try {
        current = await launch(port, dir);
        return;
      } catch (error) {
        if (attempt >= 10) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      if (current) await exit(current, 'SIGKILL');
      current = undefined;
    },
    restart: () => relaunch(false),
    async snapshot() {
      if (!(await inline(port, 'SAVE', '+OK', 5000))) throw new Error(`redis-server on port ${port} did not save a snapshot`);
    },
    restartFromSnapshot: () => relaunch(true),
    async stop() {
      if (current) await exit(current, 'SIGTERM');
      current = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
