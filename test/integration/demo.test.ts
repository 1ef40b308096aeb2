import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { until } from '../support/until.js';

const demoCommand = [process.execPath, ['--import', 'tsx', 'src/cli/demo.ts']] as const;
const demoEnv = { ...process.env, FORCE_COLOR: '0' };

const run = (args: string[]) => spawnSync(demoCommand[0], [...demoCommand[1], ...args], { encoding: 'utf8', timeout: 60_000, env: demoEnv });

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
  it('runs a short scripted cycle with a server restart, a blackhole and a token expiry, then reports no silent loss and no duplicate', () => {
    const result = run(['--duration', '10']);
    expect(result.status, result.stderr).toBe(0);
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
    const child = spawn(demoCommand[0], [...demoCommand[1], '--forever', '--duration', '10'], { env: demoEnv });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    try {
      await until(() => / → connected/.test(out), 20_000, 'a feed to connect');
      for (const signal of signals) {
        child.kill(signal);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const exit = await Promise.race([exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 5_000))]);
      expect(exit, out).toEqual({ code: 0, signal: null });
      expect(out).toMatch(/\nreport \(interrupted\)\n {2}connections +8 /);
      expect(out).toMatch(/ {2}faults\n/);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);

  it('prints the usage and exits 2 on a bad flag', () => {
    const result = run(['--duration', 'soon']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('usage: npm start');
  });
});
