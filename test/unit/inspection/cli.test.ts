import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildInspectorPage } from '../../../inspector/build.mjs';
import { inheritedFlags, startInspectorProcess } from '../../../src/cli/inspector-process.js';
import { until } from '../../support/until.js';

/** `npx socketchart inspect`: prints where the page and the apps' socket are, serves the page, stops cleanly. */

const startCli = (args: string[]) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'inspect', '--port', '0', ...args]);
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
  child.stderr.on('data', (chunk: Buffer) => (out += String(chunk)));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => out, exit };
};

describe('socketchart inspect', () => {
  beforeAll(async () => {
    await buildInspectorPage({ ifStale: true });
  }, 60_000);

  it('prints the page URL and the apps’ WebSocket on loopback, serves the page, and exits 0 on SIGTERM', async () => {
    const cli = startCli([]);
    await until(() => /apps send to ws:\/\/127\.0\.0\.1:\d+/.test(cli.out()), 15_000, 'the URLs');
    const url = /socketchart inspector: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(cli.out())![1]!;
    const html = await (await fetch(url)).text();
    expect(html).toContain('<title>socketchart inspector</title>');
    expect((await fetch(`${url}app.js`)).status).toBe(200);
    expect((await fetch(`${url}elk-worker.min.js`)).status).toBe(200);
    cli.child.kill('SIGTERM');
    expect(await cli.exit).toBe(0);
  }, 30_000);

  it('started by another process (--exit-with-parent), it ends when its standard input does', async () => {
    const cli = startCli(['--exit-with-parent']);
    await until(() => /apps send to/.test(cli.out()), 15_000, 'the URLs');
    cli.child.stdin.end();
    expect(await cli.exit).toBe(0);
  }, 30_000);

  it('run as a child process (startInspectorProcess), close() resolves once the process has exited', async () => {
    const inspector = await startInspectorProcess(0);
    expect(inspector.wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+/);
    const closed = inspector.close().then(() => 'closed');
    const waited = new Promise((resolve) => setTimeout(resolve, 10_000, 'still waiting'));
    expect(await Promise.race([closed, waited])).toBe('closed');
    await expect(fetch(inspector.url)).rejects.toThrow();
  }, 30_000);

  it('run as a child process of an app under a debugger (--inspect=0), opens no debugger of its own', async () => {
    const script = join(mkdtempSync(join(tmpdir(), 'socketchart-app-')), 'app.mjs');
    writeFileSync(
      script,
      `const { startInspectorProcess } = await import(${JSON.stringify(new URL('../../../src/cli/inspector-process.ts', import.meta.url).href)});
      const inspector = await startInspectorProcess(0);
      console.log('started');
      await inspector.close();`,
    );
    const app = spawn(process.execPath, ['--inspect=0', '--import', 'tsx', script]);
    let err = '';
    let out = '';
    app.stderr.on('data', (chunk: Buffer) => (err += String(chunk)));
    app.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
    const code = await new Promise<number | null>((resolve) => app.once('exit', resolve));
    expect(out, err).toContain('started');
    expect(code).toBe(0);
    expect(err.match(/Debugger listening/g), err).toHaveLength(1);
  }, 30_000);

  it('run as a child process, inherits no flag that would make it run the parent\'s code again (-e, --print, --test, --watch) or wait for a debugger', () => {
    const parent = ['--inspect-brk=0', '--input-type=module', '-e', 'run()', '--import', 'tsx', '--eval=run()', '-p', '1', '--test', '--watch-path=src', '--inspect-port', '9230', '--max-old-space-size=512'];
    expect(inheritedFlags(parent)).toEqual(['--input-type=module', '--import', 'tsx', '--max-old-space-size=512']);
  });

  it('exits 2 with the usage on a bad flag', async () => {
    const cli = startCli(['--port', 'many']);
    expect(await cli.exit).toBe(2);
    expect(cli.out()).toContain('usage: socketchart inspect');
  }, 30_000);

  it('exits 1 with a clear message when the port is taken', async () => {
    const first = startCli([]);
    await until(() => /socketchart inspector: http:\/\/127\.0\.0\.1:\d+/.test(first.out()), 15_000, 'the first inspector');
    const port = /127\.0\.0\.1:(\d+)/.exec(first.out())![1]!;
    const second = startCli(['--port', port]);
    expect(await second.exit).toBe(1);
    expect(second.out()).toContain(`cannot listen on 127.0.0.1:${port} (EADDRINUSE)`);
    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
  }, 30_000);

  it('exits 1 with one line that says to choose another --host, not a stack trace, when --host names nothing it can listen on', async () => {
    const cli = startCli(['--host', 'no-such-host.invalid']);
    try {
      expect(await cli.exit).toBe(1);
      expect(cli.out()).toBe('cannot listen on no-such-host.invalid (ENOTFOUND): choose another --host\n');
    } finally {
      cli.child.kill('SIGKILL');
    }
  }, 30_000);
});

describe('socketchart', () => {
  const run = (args: string[]) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args]);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
    child.stderr.on('data', (chunk: Buffer) => (out += String(chunk)));
    return new Promise<{ code: number | null; out: string }>((resolve) => child.once('exit', (code) => resolve({ code, out })));
  };

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(await run(['--version'])).toEqual({ code: 0, out: `${version}\n` });
  }, 30_000);

  it('refuses an unknown command by its name only, not the value given with = (a flag put before the command: --redis=<url>)', async () => {
    const { code, out } = await run(['--redis=redis://default:hunter2pw@cache.example:6379', 'serve']);
    expect(code).toBe(2);
    expect(out).toContain('unknown command "--redis"');
    expect(out).not.toContain('hunter2pw');
  }, 30_000);

  it('without a command, prints the usage and exits 2', async () => {
    const { code, out } = await run([]);
    expect(code).toBe(2);
    expect(out).toContain('usage: socketchart <command>');
  }, 30_000);
});
