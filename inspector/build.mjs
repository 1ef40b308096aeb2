/**
 * Builds the inspector page into a directory (default `dist/inspector/`): `app.js` and `app.css` bundled
 * by esbuild from `inspector/src/`, `index.html`, and ELK's layout worker. Nothing is fetched at run time.
 *
 *   node inspector/build.mjs [--outdir <dir>] [--if-stale] [--dev]
 */
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** Newest modification time of the page's sources. */
function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else newest = Math.max(newest, stat.mtimeMs);
    }
  };
  walk(join(here, 'src'));
  for (const name of ['index.html', 'build.mjs']) newest = Math.max(newest, statSync(join(here, name)).mtimeMs);
  // what the page imports from the library: the inspection protocol and redaction, and the redaction they build on
  for (const name of ['inspection/protocol.ts', 'inspection/redact.ts', 'protocol/redact.ts']) newest = Math.max(newest, statSync(join(here, '..', 'src', name)).mtimeMs);
  return newest;
}

/** Builds the page into `outdir`; with `ifStale`, only when a source is newer than the last build. */
export async function buildInspectorPage({ outdir = join(here, '..', 'dist', 'inspector'), ifStale = false, minify = true } = {}) {
  const out = resolve(outdir);
  const built = join(out, 'app.js');
  if (ifStale && existsSync(built) && existsSync(join(out, 'index.html')) && statSync(built).mtimeMs >= newestSource()) return { outdir: out, built: false };
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: { app: join(here, 'src', 'main.ts') },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['chrome100', 'firefox100', 'safari15'],
    minify,
    sourcemap: minify ? false : 'inline',
    outdir: out,
    logLevel: 'warning',
    legalComments: 'none',
  });
  copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
  copyFileSync(require.resolve('elkjs/lib/elk-worker.min.js'), join(out, 'elk-worker.min.js'));
  return { outdir: out, built: true };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--outdir');
  const result = await buildInspectorPage({
    outdir: at >= 0 ? args[at + 1] : undefined,
    ifStale: args.includes('--if-stale'),
    minify: !args.includes('--dev'),
  });
  if (result.built && !args.includes('--quiet')) console.log(`inspector page built in ${result.outdir}`);
}
