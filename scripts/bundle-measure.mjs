// What a browser app ships for one entry: esbuild bundle (browser, ESM, es2022, minified), gzip level 9.
// Used by scripts/bundle-size.mjs (the budget) and test/bench/peers.ts (socketchart next to its peers).
import { build } from 'esbuild';
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
