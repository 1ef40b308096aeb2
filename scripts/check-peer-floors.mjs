#!/usr/bin/env node
/**
 * Runs the specs that use each peer dependency against the lowest version package.json's peer range allows,
 * so that the ranges claim nothing untested: a copy of the project (without node_modules and builds) in a
 * temporary folder, `npm ci`, the floors installed over it, then the specs. React's floor has its own fixture
 * (test/fixtures/react18).
 *
 *   node scripts/check-peer-floors.mjs [--keep]
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FLOORED = ['xstate', '@xstate/react', 'vue', 'zod', 'pino', 'prom-client', 'jose', 'ioredis', 'rxjs'];
const SPECS = ['test/unit/connection', 'test/unit/pool', 'test/model', 'test/unit/react', 'test/unit/vue', 'test/unit/rx', 'test/unit/server', 'test/integration/server'];

/** The lowest version a range such as `^5.3.0 || ^6.0.0` allows. */
export function floorOf(range) {
  const versions = range.split('||').map((part) => /^\s*[\^~]?(\d+\.\d+\.\d+)\s*$/.exec(part)?.[1]);
  if (versions.some((version) => version === undefined)) throw new Error(`cannot find the floor of ${JSON.stringify(range)}`);
  const key = (version) => version.split('.').map(Number);
  return versions.sort((a, b) => { const [x, y] = [key(a), key(b)]; return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]; })[0];
}

const root = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const floors = FLOORED.map((name) => `${name}@${floorOf(manifest.peerDependencies[name])}`);

const copy = mkdtempSync(join(tmpdir(), 'socketchart-floors-'));
const removeCopy = () => {
  if (!process.argv.includes('--keep')) rmSync(copy, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    removeCopy();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}
const run = (command, args, env = process.env) => execFileSync(command, args, { cwd: copy, stdio: 'inherit', env });
try {
  // What git has of the project (tracked, and new files it does not ignore): no builds, reports or installs.
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    try {
      cpSync(join(root, file), join(copy, file));
    } catch (error) {
      if (error.code !== 'ENOENT') throw error; // deleted in the work tree, not yet in git
    }
  }
  run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error']);
  run('npm', ['install', '--no-save', '--save-exact', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', ...floors]);
  const installed = FLOORED.map((name) => `${name}@${JSON.parse(readFileSync(join(copy, 'node_modules', name, 'package.json'), 'utf8')).version}`);
  console.log(`peer floors installed: ${installed.join(' ')}`);
  if (installed.join() !== floors.join()) throw new Error(`expected ${floors.join(' ')}`);
  run('npx', ['vitest', 'run', ...SPECS], { ...process.env, SOCKETCHART_SPECS_NEED_NO_BUILD: '1' });
  console.log(`peer floors: the specs pass with ${floors.join(' ')}`);
} finally {
  removeCopy();
}
