// What a browser app ships for one entry: esbuild bundle (browser, ESM, es2022, minified), gzip level 9.
// Used by scripts/bundle-size.mjs (the budget) and test/bench/peers.ts (socketchart next to its peers).
import { build } from 'esbuild';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** `contents`: the entry's source, resolved from the repository root; `external`: left out of the bundle. */
export async function measure(contents, external = []) {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    external,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const code = result.outputFiles[0].contents;
  return { min: code.length, gz: gzipSync(code, { level: 9 }).length, metafile: result.metafile, code: result.outputFiles[0].text };
}

/**
 * Whether dist/ can be measured: `missing` when dist/index.js is not built; otherwise the files under src/
 * and machines/ changed after dist/index.js was written (`stale`, paths relative to the root, newest first).
 * A bundle figure from a dist/ older than its sources measures code that is no longer there.
 */
export function distState() {
  const built = join(root, 'dist', 'index.js');
  if (!existsSync(built)) return { missing: true, stale: [] };
  const builtAt = statSync(built).mtimeMs;
  const stale = [];
  const walk = (dir) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else {
        const at = statSync(join(root, path)).mtimeMs;
        if (at > builtAt) stale.push({ path, at });
      }
    }
  };
  for (const dir of ['src', 'machines']) if (existsSync(join(root, dir))) walk(dir);
  return { missing: false, stale: stale.sort((a, b) => b.at - a.at).map((f) => f.path) };
}

/** The reason dist/ cannot be measured (a sentence naming what to run), or undefined when it is up to date. */
export function distProblem() {
  const { missing, stale } = distState();
  if (missing) return 'dist/ is not built (no dist/index.js): run `npm run build` first.';
  if (stale.length === 0) return undefined;
  const shown = stale.slice(0, 5).join(', ') + (stale.length > 5 ? `, and ${stale.length - 5} more` : '');
  return `dist/ is older than its sources: ${stale.length} file(s) under src/ or machines/ changed after dist/index.js was built (${shown}). Run \`npm run build\` first (npm run build && npm run size).`;
}
