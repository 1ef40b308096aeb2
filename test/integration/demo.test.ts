import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const run = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/demo.ts', ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, FORCE_COLOR: '0' } });

describe('the demo (npm start)', () => {
  it('runs a short scripted cycle with a server restart, a blackhole and a token expiry, then reports no silent loss and no duplicate', () => {
    const result = run(['--duration', '10']);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('fault: server restart');
    expect(result.stdout).toContain('fault: blackhole');
    expect(result.stdout).toContain('fault: token expiry');
    expect(result.stdout).toMatch(/messages lost silently \/ duplicated\s+0 \/ 0/);
    expect(result.stdout).toMatch(/connections\s+8 \(connects \d+, reconnects [1-9]\d*\)/);
  }, 60_000);

  it('prints the usage and exits 2 on a bad flag', () => {
    const result = run(['--duration', 'soon']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('usage: npm start');
  });
});
