import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');
const run = (args: string[]) => execFileSync('npm', args, { cwd: root, stdio: 'inherit' });

/**
 * What `npm test` needs besides `npm ci`, so that it runs on a fresh clone: the build in dist/ (the browser
 * specs load it as an app would; `npm run build` makes it again after a change) and React 18 for the
 * StrictMode browser spec. A run of specs that need neither sets SOCKETCHART_SPECS_NEED_NO_BUILD.
 */
export default function setup(): void {
  if (process.env.SOCKETCHART_SPECS_NEED_NO_BUILD) return;
  if (!existsSync(join(root, 'dist', 'index.js'))) run(['run', 'build', '--silent']);
  if (!existsSync(join(root, 'test', 'fixtures', 'react18', 'node_modules', 'react'))) run(['ci', '--prefix', 'test/fixtures/react18', '--no-audit', '--no-fund']);
}
