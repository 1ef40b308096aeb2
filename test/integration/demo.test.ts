import { spawn, spawnSync } from 'node:child_process';
import { createServer as listenOn, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInspectorPage } from '../../inspector/build.mjs';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { until } from '../support/until.js';

const demoCommand = [process.execPath, ['--import', 'tsx', 'src/cli/demo.ts']] as const;
const demoEnv = { ...process.env, FORCE_COLOR: '0' };

const run = (args: string[]) => spawnSync(demoCommand[0], [...demoCommand[1], ...args], { encoding: 'utf8', timeout: 60_000, env: demoEnv });

/** The demo running in a process of its own: what it printed so far, and how it exited. */
function startDemo(args: string[]) {
  const child = spawn(demoCommand[0], [...demoCommand[1], ...args], { env: demoEnv });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
  child.stderr.on('data', (chunk: Buffer) => (err += String(chunk)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, out: () => out, err: () => err, exited };
}

/** A line of a stack trace, as printing an error itself shows it. */
const stackFrame = /^\s+at .+:\d+:\d+\)?$/m;

/** The report at the end of what the demo printed. */
const reportOf = (stdout: string) => stdout.slice(stdout.lastIndexOf('\nreport'));

/** The faults the demo announced while it ran (`fault: <name>: …`). */
const announcedFaults = (stdout: string) => [...stdout.matchAll(/ fault: ([a-z ]+):/g)].map((match) => match[1]!);

/** Every announced fault has a line in the report saying it happened, when and what it did. */
function expectEveryAnnouncedFaultHappened(stdout: string): void {
  const faults = announcedFaults(stdout);
  expect(faults).toEqual(['server restart', 'blackhole', 'token expiry']);
  const report = stdout.slice(stdout.indexOf('\nreport\n'));
  for (const fault of faults) expect(report).toMatch(new RegExp(`^ +${fault} +happened at +\\d+\\.\\d+ s: \\S`, 'm'));
}

describe('the demo (npm start)', () => {
  it('runs a short scripted cycle with a server restart, a blackhole and a token expiry, then reports no silent loss and no duplicate, its figures in one column', () => {
    const result = run(['--duration', '10']);
    expect(result.status, result.stderr).toBe(0);
    const rows = reportOf(result.stdout).split('\n  faults')[0]!.split('\n').slice(2);
    expect(rows.length).toBeGreaterThan(5);
    expect(new Set(rows.map((row) => row.search(/(?<=\S {2,})\S/))).size, rows.join('\n')).toBe(1);
    expect(result.stdout).toContain('fault: server restart');
    expect(result.stdout).toContain('fault: blackhole');
    expect(result.stdout).toContain('fault: token expiry');
    expect(result.stdout).toMatch(/messages lost silently \/ duplicated\s+0 \/ 0/);
    expect(result.stdout).toMatch(/connections\s+8 \(connects \d+, reconnects [1-9]\d*\)/);
    expectEveryAnnouncedFaultHappened(result.stdout);
    expect(result.stdout).toMatch(/sessions ended by token expiry\s+1\b/);
  }, 60_000);

  it('with one connection at the shortest duration, every fault it announces happens and is reported', () => {
    const result = run(['--duration', '10', '--connections', '1']);
    expect(result.status, result.stderr).toBe(0);
    expectEveryAnnouncedFaultHappened(result.stdout);
    expect(result.stdout).toMatch(/queue +token expired \(4001\)/);
    expect(result.stdout).toMatch(/sessions ended by token expiry\s+1\b/);
  }, 60_000);

  it.each([
    ['on the first of the two SIGINTs npm sends on Ctrl-C, and exits 0 on the second', ['SIGINT', 'SIGINT']],
    ['on a SIGTERM, and exits 0 once it has wound down', ['SIGTERM']],
  ] as const)('with --forever, prints the report %s', async (_, signals) => {
    const { child, out: printed, exited } = startDemo(['--forever', '--duration', '10']);
    try {
      await until(() => / → connected/.test(printed()), 20_000, 'a feed to connect');
      for (const signal of signals) {
        child.kill(signal);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const exit = await Promise.race([exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 5_000))]);
      const out = printed();
      expect(exit, out).toEqual({ code: 0, signal: null });
      expect(out).toMatch(/\nreport \(interrupted\)\n {2}connections +8 /);
      expect(out).toMatch(/ {2}faults\n/);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);

  it('in a terminal, prints no progress line under the report of a Ctrl-C during the server restart', async () => {
    // `script` runs the demo on a pseudo-terminal; a Ctrl-C typed there reaches it as SIGINT
    const command = [...demoCommand[1], '--duration', '10'].join(' ');
    const terminal = spawn('script', ['-qfec', `exec ${demoCommand[0]} ${command}`, '/dev/null'], { env: demoEnv });
    let out = '';
    terminal.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
    const exited = new Promise<number | null>((resolve) => terminal.once('exit', resolve));
    try {
      await until(() => out.includes('fault: server restart'), 20_000, 'the server restart');
      terminal.stdin.write('\x03');
      const exit = await Promise.race([exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 10_000))]);
      expect(exit, out).toBe(0);
      const report = out.slice(out.lastIndexOf('\nreport'));
      expect(report).toMatch(/^report \(interrupted\)/m);
      expect(report).not.toMatch(/health \w+ +connected/);
    } finally {
      terminal.kill('SIGKILL');
    }
  }, 45_000);

  it('winds down and exits 0, with no error, when its output is closed (piped into head)', async () => {
    const { child, out, err, exited } = startDemo(['--duration', '60']);
    try {
      await until(() => / → connected/.test(out()), 20_000, 'a feed to connect');
      child.stdout.destroy();
      const exit = await Promise.race([exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 20_000))]);
      expect(exit, err()).toEqual({ code: 0, signal: null });
      expect(err()).toBe('');
    } finally {
      child.kill('SIGKILL');
    }
  }, 45_000);

  it('prints the usage and exits 2 on a bad flag', () => {
    const result = run(['--duration', 'soon']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('usage: npm start');
  });

  it('exits 1 with one line naming the port and --inspect=<port>, not a stack trace nor a --port it does not have, when the inspector port is taken', async () => {
    await buildInspectorPage({ ifStale: true });
    const taken: Server = listenOn();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as { port: number }).port;
      const result = run(['--duration', '10', `--inspect=${port}`]);
      expect(result.status, result.stderr).toBe(1);
      expect(result.stderr).toBe(`Error: cannot listen on 127.0.0.1:${port} (EADDRINUSE): choose another --inspect=<port> (--inspect=0: any free port)\n`);
      expect(result.stdout).not.toContain('report');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 60_000);
});

describe('the demo with --redis, when Redis goes away before the scripted server restart', () => {
  const password = 'hunter2pw';
  let redis: RedisProcess;
  let demo: ReturnType<typeof startDemo>;
  let exit: { code: number | null; signal: NodeJS.Signals | null };

  beforeAll(async () => {
    redis = await startRedis();
    // Redis's default user has no password and accepts any: the URL can carry one without configuring Redis.
    demo = startDemo(['--duration', '10', '--redis', `redis://default:${password}@127.0.0.1:${redis.port}`]);
    await until(() => /socketchart demo:/.test(demo.out()) || demo.child.exitCode !== null, 30_000, 'the demo to start');
    await redis.kill();
    exit = await Promise.race([demo.exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the demo did not exit:\n${demo.out()}`)), 45_000))]);
  }, 80_000);
  afterAll(async () => {
    demo?.child.kill('SIGKILL');
    await redis?.stop();
  });

  it('names the Redis it runs on without the password of its URL', () => {
    expect(demo.out()).toContain(`socketchart demo: 2 server nodes on redis://127.0.0.1:${redis.port}, `);
    expect(demo.out() + demo.err()).not.toContain(password);
  });

  it('reports the server restart as not happened, with the reason', () => {
    expect(reportOf(demo.out())).toMatch(/^ +server restart +did not happen \(announced at +\d+\.\d+ s\): .*Redis/m);
  });

  it('counts the server broadcasts that failed in the report', () => {
    expect(reportOf(demo.out())).toMatch(/^ +server broadcasts sent \/ failed +\d+ \/ [1-9]\d*$/m);
  });

  it('exits 1, with no stack trace', () => {
    expect(exit, demo.err()).toEqual({ code: 1, signal: null });
    expect(demo.err()).not.toMatch(stackFrame);
  });
});
